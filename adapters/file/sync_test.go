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

func newNotifier(t *testing.T, opts ...Option) *Notifier {
	t.Helper()
	n, err := New(&Config{Path: filepath.Join(t.TempDir(), "audit.jsonl")}, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func notifyLine(t *testing.T, n *Notifier, i int) {
	msg := adaptertest.Message(t)
	msg.DeliveryID = fmt.Sprint("d", i)
	require.NoError(t, n.Notify(context.Background(), msg))
}

// TestConcurrentLinesShareFsyncs: lines written while an fsync is due wait for it together, so
// 200 concurrent deliveries take a handful of fsyncs, not 200.
func TestConcurrentLinesShareFsyncs(t *testing.T) {
	t.Parallel()
	n := newNotifier(t)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() { notifyLine(t, n, i) })
	}
	wg.Wait()
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	require.Equal(t, uint64(200), n.synced, "every line is on disk when its Notify returns")
	require.LessOrEqual(t, n.syncs, uint64(20), "fsyncs are shared")
	require.GreaterOrEqual(t, n.syncs, uint64(1))
}

// TestLinesInQuickSuccession: one line after another, each right after the last fsync. With
// concurrency 1 nobody could share an fsync, so none waits. Otherwise each fsync after the
// first waits out the rest of SyncInterval even though no other delivery is in progress at that
// moment (at 1 000 lines/s that is the usual case, and the wait is what lets the next line
// share the fsync).
func TestLinesInQuickSuccession(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		opts   []Option
		spaced bool
	}{
		"concurrency 1": {[]Option{WithConcurrency(1)}, false},
		"concurrency 8": {[]Option{WithConcurrency(8)}, true},
		"default":       {nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n := newNotifier(t, tc.opts...)
			start := time.Now()
			for i := range 10 {
				notifyLine(t, n, i)
			}
			elapsed := time.Since(start)
			n.syncMu.Lock()
			defer n.syncMu.Unlock()
			require.Equal(t, uint64(10), n.synced)
			require.Equal(t, uint64(10), n.syncs, "nothing else was written to share an fsync")
			if !tc.spaced {
				require.Zero(t, n.waits, "a concurrency-1 target never waits")
				return
			}
			require.GreaterOrEqual(t, elapsed, 9*SyncInterval, "each fsync after the first waited for the spacing")
		})
	}
}

// TestUnsyncedLinesShareOneSync: lines written with NotifyUnsynced are not on disk until Sync,
// which covers all of them with one fsync and without the spacing; a Sync with nothing new
// does no fsync; Close fsyncs what was left unsynced, so a Sync after it has nothing to do.
func TestUnsyncedLinesShareOneSync(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		lines      int
		syncBefore bool // Sync before Close
	}{
		"one line":                 {1, true},
		"many lines, one fsync":    {50, true},
		"close syncs what is left": {7, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n := newNotifier(t)
			for i := range tc.lines {
				msg := adaptertest.Message(t)
				msg.DeliveryID = fmt.Sprint("d", i)
				require.NoError(t, n.NotifyUnsynced(context.Background(), msg))
			}
			n.syncMu.Lock()
			require.Zero(t, n.synced, "nothing is fsynced by NotifyUnsynced")
			require.Zero(t, n.syncs)
			n.syncMu.Unlock()
			if tc.syncBefore {
				require.NoError(t, n.Sync())
				require.NoError(t, n.Sync(), "nothing new")
				n.syncMu.Lock()
				require.Equal(t, uint64(tc.lines), n.synced)
				require.Equal(t, uint64(1), n.syncs, "one fsync for every line written before it")
				require.Zero(t, n.waits, "Sync does not wait out the spacing")
				n.syncMu.Unlock()
			}
			require.NoError(t, n.Close())
			n.syncMu.Lock()
			require.Equal(t, uint64(tc.lines), n.synced, "on disk after Close")
			n.syncMu.Unlock()
			require.NoError(t, n.Sync(), "a Sync after Close finds its lines on disk")
		})
	}
}
