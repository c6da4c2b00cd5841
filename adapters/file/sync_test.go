package file

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

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

// TestALoneWriterSyncsEachLine: with one delivery at a time there is nobody to wait for, so each
// line gets its own fsync straight away.
func TestALoneWriterSyncsEachLine(t *testing.T) {
	t.Parallel()
	n, err := New(&Config{Path: filepath.Join(t.TempDir(), "audit.jsonl")})
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
