package core_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store"
)

// engine is the core alone: a Dispatcher running plan and a Bus on a SQLite file. It is the
// one unit set-up of core's tests, for what a config cannot express: fake or scripted
// notifiers that count attempts, a breaker, queue size or drain timeout of the test's own, a
// plan to Apply, a clock stepped by hand under a scheduler the test drives. Tests of the whole
// path (ingest, store, dispatch, a loopback receiver) start a bridge with bridge/bridgetest.
type engine struct {
	store *store.DB
	disp  *core.Dispatcher
	bus   *core.Bus

	cancel  context.CancelFunc
	done    chan struct{}
	stopped sync.Once
	closed  sync.Once
}

// startEngine opens the database at path ("" for a new one in the test's folder) and runs
// a dispatcher with cfg (Owner defaults to the test's name) and plan, and a bus with the clock
// now (nil: time.Now), until close, which the end of the test calls.
func startEngine(t testing.TB, path string, cfg core.DispatcherConfig, plan *core.Plan, now func() time.Time) *engine {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "bridge.db")
	}
	if cfg.Owner == "" {
		cfg.Owner = "test-" + t.Name()
	}
	db, err := store.Open(context.Background(), "sqlite", path)
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	if plan.Router != nil && plan.Router.Log == nil {
		plan.Router.Log = log
	}
	e := &engine{store: db, disp: core.NewDispatcher(cfg, db, plan, log), done: make(chan struct{})}
	var ctx context.Context
	ctx, e.cancel = context.WithCancel(context.Background())
	go func() { e.disp.Run(ctx); close(e.done) }()
	e.bus = core.NewBus(db, e.disp, now, log)
	t.Cleanup(e.close)
	return e
}

// stop closes the bus and drains the dispatcher, as a shutdown does; the database stays open.
func (e *engine) stop() {
	e.stopped.Do(func() {
		e.bus.Close()
		e.cancel()
		<-e.done
	})
}

// close stops the engine and closes its database.
func (e *engine) close() {
	e.closed.Do(func() {
		e.stop()
		_ = e.store.Close()
	})
}
