package file

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/adaptertest"
)

// TestConcurrentLinesShareFsyncs: lines written while an fsync is due wait for it together, so
// 200 concurrent deliveries take a handful of fsyncs, not 200.
func TestConcurrentLinesShareFsyncs(t *testing.T) {
	t.Parallel()
	n, err := New(&Config{Path: filepath.Join(t.TempDir(), "audit.jsonl")})
	require.NoError(t, err)
	defer n.Close()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			msg := adaptertest.Message(t)
			msg.DeliveryID = fmt.Sprint("d", i)
			require.NoError(t, n.Notify(context.Background(), msg))
		})
	}
	wg.Wait()
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	require.Equal(t, uint64(200), n.synced, "every line is on disk when its Notify returns")
	require.LessOrEqual(t, n.syncs, uint64(20), "fsyncs are shared")
	require.GreaterOrEqual(t, n.syncs, uint64(1))
}

// TestALoneWriterSyncsEachLine: with concurrency 1 there is nobody to wait for, so each line
// gets its own fsync straight away.
func TestALoneWriterSyncsEachLine(t *testing.T) {
	t.Parallel()
	n, err := New(&Config{Path: filepath.Join(t.TempDir(), "audit.jsonl")}, WithConcurrency(1))
	require.NoError(t, err)
	defer n.Close()
	for i := range 20 {
		msg := adaptertest.Message(t)
		msg.DeliveryID = fmt.Sprint("d", i)
		require.NoError(t, n.Notify(context.Background(), msg))
	}
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	require.Equal(t, uint64(20), n.syncs)
}

// TestLinesInQuickSuccessionAreSpaced: with concurrency above 1, a line that comes within
// SyncInterval of the last fsync waits out the rest of it even when no other delivery is in
// progress at that moment (at 1 000 lines/s that is the usual case, and the wait is what lets
// the next line share the fsync).
func TestLinesInQuickSuccessionAreSpaced(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		opts      []Option
		minLength time.Duration
	}{
		"default":       {nil, 9 * SyncInterval},
		"concurrency 8": {[]Option{WithConcurrency(8)}, 9 * SyncInterval},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n, err := New(&Config{Path: filepath.Join(t.TempDir(), "audit.jsonl")}, tc.opts...)
			require.NoError(t, err)
			defer n.Close()
			start := time.Now()
			for i := range 10 {
				msg := adaptertest.Message(t)
				msg.DeliveryID = fmt.Sprint("d", i)
				require.NoError(t, n.Notify(context.Background(), msg))
			}
			require.GreaterOrEqual(t, time.Since(start), tc.minLength, "each fsync after the first waited for the spacing")
			n.syncMu.Lock()
			defer n.syncMu.Unlock()
			require.Equal(t, uint64(10), n.synced)
		})
	}
}
