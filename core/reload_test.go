package core_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// blockingNotifier holds each attempt until released, so a test can reload mid-attempt.
type blockingNotifier struct {
	started chan string
	release chan struct{}
	closed  chan struct{}
}

func (b *blockingNotifier) Notify(ctx context.Context, m *notify.Message) error {
	b.started <- m.Event.ID
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *blockingNotifier) Close() error { close(b.closed); return nil }

// TestApplyReload: on a reload an unchanged target keeps its pool, a removed target's running
// attempt finishes with the old config while its waiting deliveries are cancelled, and a new
// target starts working at once. A unit test of Apply: blocking and scripted notifiers show
// which pool ran each attempt and when the old notifier is closed (the whole reload is
// bridge.TestBridgeReload's).
func TestApplyReload(t *testing.T) {
	t.Parallel()
	engine, err := templates.New("")
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	keep, added := &scriptNotifier{}, &scriptNotifier{}
	old := &blockingNotifier{started: make(chan string, 10), release: make(chan struct{}), closed: make(chan struct{})}
	keepTarget := &core.Target{Name: "keep", Type: "webhook", Notifier: keep, Concurrency: 1, Fingerprint: "k1"}
	plan1 := &core.Plan{
		Targets:  []*core.Target{keepTarget, {Name: "gone", Type: "webhook", Notifier: old, Concurrency: 1, Fingerprint: "g1"}},
		Router:   &core.Router{Routes: []*core.Route{{Name: "all", When: matchAll{}, Targets: []string{"keep", "gone", "new"}}}, Log: log},
		Renderer: &core.Renderer{Engine: engine},
	}
	e := startEngine(t, "", core.DispatcherConfig{Owner: "o", PollInterval: 10 * time.Millisecond}, plan1, nil)
	db, disp, bus := e.store, e.disp, e.bus
	accept := func(id string) core.AcceptResult {
		ev, err := event.Parse([]byte(`{"event":"x","id":"` + id + `","timestamp":"2026-01-01T00:00:00Z","data":{}}`))
		require.NoError(t, err)
		res, err := bus.Accept(context.Background(), ev)
		require.NoError(t, err)
		return res
	}
	require.Equal(t, 2, accept("e1").Deliveries, "keep and gone; new is not configured yet")
	accept("e2")
	require.Equal(t, "e1", <-old.started, "gone's worker is busy with e1; e2 waits in its queue")

	newKeep := &core.Target{Name: "keep", Type: "webhook", Notifier: &scriptNotifier{}, Concurrency: 1, Fingerprint: "k1"}
	plan2 := &core.Plan{
		Targets:  []*core.Target{newKeep, {Name: "new", Type: "webhook", Notifier: added, Concurrency: 1, Fingerprint: "n1"}},
		Router:   plan1.Router,
		Renderer: plan1.Renderer,
	}
	unused := disp.Apply(plan2)
	require.Equal(t, []*core.Target{newKeep}, unused, "the unchanged target keeps its notifier; the new copy is for the caller to close")
	require.Same(t, plan2, disp.Plan())
	require.True(t, disp.Enabled("new"))
	require.False(t, disp.Enabled("gone"))

	require.Equal(t, 2, accept("e3").Deliveries, "keep and new")
	require.Eventually(t, func() bool { return len(added.times()) == 1 && len(keep.times()) == 3 }, 5*time.Second, 10*time.Millisecond)

	close(old.release) // the running attempt finishes with the old target
	<-old.closed       // and the retired pool closes its notifier once idle
	require.Eventually(t, func() bool {
		cancelled, err := db.Deliveries(context.Background(), core.DeliveryFilter{State: core.StateCancelled})
		require.NoError(t, err)
		succeeded, err := db.Deliveries(context.Background(), core.DeliveryFilter{State: core.StateSucceeded, Target: "gone"})
		require.NoError(t, err)
		return len(cancelled) == 1 && cancelled[0].EventID == "e2" && cancelled[0].LastError == "target no longer configured" &&
			len(succeeded) == 1 && succeeded[0].EventID == "e1"
	}, 5*time.Second, 20*time.Millisecond, "e1 finished on the old target; e2, still queued, was cancelled with a reason")
}

// TestApplySamePlanTwice: applying a plan whose targets are already in force keeps them and
// returns nothing to close (the caller would otherwise close Notifiers still in use).
// It needs no running engine: Apply on a dispatcher that has not started.
func TestApplySamePlanTwice(t *testing.T) {
	t.Parallel()
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	defer db.Close()
	target := &core.Target{Name: "a", Type: "webhook", Notifier: &scriptNotifier{}, Concurrency: 1, Fingerprint: "f"}
	plan := &core.Plan{Targets: []*core.Target{target}, Router: &core.Router{}}
	disp := core.NewDispatcher(core.DispatcherConfig{Owner: "o"}, db, plan, slog.New(slog.DiscardHandler))
	require.Empty(t, disp.Apply(&core.Plan{Targets: []*core.Target{target}, Router: &core.Router{}}))
	unfingerprinted := &core.Target{Name: "b", Type: "webhook", Notifier: &scriptNotifier{}, Concurrency: 1}
	disp.Apply(&core.Plan{Targets: []*core.Target{target, unfingerprinted}, Router: &core.Router{}})
	require.Empty(t, disp.Apply(&core.Plan{Targets: []*core.Target{target, unfingerprinted}, Router: &core.Router{}}))
	require.True(t, disp.Enabled("a"))
	require.True(t, disp.Enabled("b"))
}
