package samples_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func TestSamplesParse(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"issue.critical", "scan.completed", "scan.failed", "scan.progress", "scan.started", "scan.timeout"}, samples.Types())
	for _, typ := range samples.Types() {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			b, err := samples.Get(typ)
			require.NoError(t, err)
			ev, err := core.ParseEvent(b)
			require.NoError(t, err)
			require.Equal(t, typ, ev.Type)
			require.Equal(t, b, ev.Raw)
		})
	}
	_, err := samples.Get("scan.nope")
	require.ErrorContains(t, err, "scan.completed")
}

// TestSamplesMatchShared guards the copies against drift from ../shared/samples when it is there.
func TestSamplesMatchShared(t *testing.T) {
	t.Parallel()
	shared := filepath.Join("..", "..", "shared", "samples")
	if _, err := os.Stat(shared); err != nil {
		t.Skip("no ../shared/samples in this checkout")
	}
	for _, name := range append([]string{"stream.jsonl"}, func() []string {
		var out []string
		for _, typ := range samples.Types() {
			out = append(out, typ+".json")
		}
		return out
	}()...) {
		want, err := os.ReadFile(filepath.Join(shared, name))
		require.NoError(t, err)
		got, err := os.ReadFile(name)
		require.NoError(t, err)
		require.Equal(t, want, got, name)
	}
}
