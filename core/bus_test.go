package core_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/store"
)

// watchedStore is a real SQLite store whose Ingest records each transaction's size and can hold
// the first one until released.
type watchedStore struct {
	*store.DB
	hold  chan struct{} // nil: no hold; else the first Ingest waits for it to close
	held  chan struct{} // closed when the first Ingest started
	first sync.Once
	mu    sync.Mutex
	sizes []int
}

func (w *watchedStore) Ingest(ctx context.Context, items []core.IngestItem) ([]bool, error) {
	if w.hold != nil {
		w.first.Do(func() { close(w.held); <-w.hold })
	}
	w.mu.Lock()
	w.sizes = append(w.sizes, len(items))
	w.mu.Unlock()
	return w.DB.Ingest(ctx, items)
}

func newWatchedBus(t *testing.T, hold bool) (*core.Bus, *watchedStore) {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	w := &watchedStore{DB: db}
	if hold {
		w.hold, w.held = make(chan struct{}), make(chan struct{})
	}
	log := slog.New(slog.DiscardHandler)
	disp := core.NewDispatcher(core.DispatcherConfig{Owner: "test"}, db, &core.Plan{}, log) // no targets: nothing to run
	bus := core.NewBus(w, disp, nil, log)
	t.Cleanup(func() { bus.Close(); _ = db.Close() })
	return bus, w
}

func busEvent(t *testing.T, id string) *event.Event {
	t.Helper()
	ev, err := event.Parse([]byte(`{"event":"scan.failed","id":"` + id + `","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s","error":"boom"}}`))
	require.NoError(t, err)
	return ev
}

// TestEventsQueuedDuringACommitShareTheNext: while one commit is held, 40 more events queue;
// they are committed together in a few transactions (group commit), and none is answered
// before a commit.
func TestEventsQueuedDuringACommitShareTheNext(t *testing.T) {
	t.Parallel()
	bus, w := newWatchedBus(t, true)
	const more = 40
	var answered atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := bus.Accept(context.Background(), busEvent(t, "first"))
		require.NoError(t, err)
		answered.Add(1)
	})
	<-w.held
	var started sync.WaitGroup
	for i := range more {
		started.Add(1)
		wg.Go(func() {
			started.Done()
			res, err := bus.Accept(context.Background(), busEvent(t, fmt.Sprint("e", i)))
			require.NoError(t, err)
			require.False(t, res.Duplicate)
			answered.Add(1)
		})
	}
	started.Wait()
	require.Never(t, func() bool { return answered.Load() > 0 }, 50*time.Millisecond, 5*time.Millisecond, "nobody is answered before a commit")
	close(w.hold)
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	total := 0
	for _, n := range w.sizes {
		total += n
	}
	require.Equal(t, 1+more, total, "every event committed once")
	require.LessOrEqual(t, len(w.sizes), 1+more/4, "queued events shared transactions: %v", w.sizes)
}
