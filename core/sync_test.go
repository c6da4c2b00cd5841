package core_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/file"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// gatedSyncer is a real audit file whose Sync the test controls: each call first takes an
// answer from answers (nil: do the real fsync; an error: fail with it, writing nothing), and it
// records how many times Notify (the durable path the dispatcher must not take) was called.
type gatedSyncer struct {
	*file.Notifier
	answers chan error
	mu      sync.Mutex
	notify  int
	syncs   int
}

func (g *gatedSyncer) Notify(ctx context.Context, msg *notify.Message) error {
	g.mu.Lock()
	g.notify++
	g.mu.Unlock()
	return g.Notifier.Notify(ctx, msg)
}

func (g *gatedSyncer) Sync() error {
	err := <-g.answers
	g.mu.Lock()
	g.syncs++
	g.mu.Unlock()
	if err != nil {
		return err
	}
	return g.Notifier.Sync()
}

func (g *gatedSyncer) counts() (notifies, syncs int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.notify, g.syncs
}

func startAudit(t *testing.T) (*engine, *gatedSyncer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	n, err := file.New(&file.Config{Path: path})
	require.NoError(t, err)
	g := &gatedSyncer{Notifier: n, answers: make(chan error, 4)}
	engine, err := templates.New("")
	require.NoError(t, err)
	e := startEngine(t, "", core.DispatcherConfig{PollInterval: 20 * time.Millisecond}, &core.Plan{
		Targets:  []*core.Target{{Name: "audit", Type: "file", Notifier: g, Concurrency: 4, Breaker: core.BreakerPolicy{Failures: -1}}},
		Router:   &core.Router{Routes: []*core.Route{{Name: "all", When: matchAll{}, Targets: []string{"audit"}}}},
		Renderer: &core.Renderer{Engine: engine},
		Retry:    core.RetryPolicy{MaxAttempts: 3, Initial: 10 * time.Millisecond, Max: time.Second},
	}, nil)
	return e, g, path
}

func auditLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return bytes.Count(b, []byte("\n"))
}

// TestSyncerSuccessIsRecordedOnlyAfterSync: a file target's line is written by the attempt
// but fsynced by the completion writer, which records the delivery as succeeded only after
// that Sync returned: while Sync is held, the delivery stays running.
func TestSyncerSuccessIsRecordedOnlyAfterSync(t *testing.T) {
	t.Parallel()
	e, g, path := startAudit(t)
	accept(t, e, "e1")
	require.Eventually(t, func() bool { return auditLines(t, path) == 1 }, 5*time.Second, 5*time.Millisecond)
	// The writer now waits in Sync (no answer yet): nothing can be recorded.
	ds, err := e.store.Deliveries(context.Background(), core.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, core.StateRunning, ds[0].State, "not succeeded before its line is on disk")
	g.answers <- nil
	d := waitDelivery(t, e, "e1", 5*time.Second)
	require.Equal(t, core.StateSucceeded, d.State)
	notifies, syncs := g.counts()
	require.Zero(t, notifies, "the dispatcher writes unsynced and syncs in the completion writer")
	require.Equal(t, 1, syncs)
	require.Len(t, attempts(t, e, d), 1)
}

// TestFailedSyncIsARetryableAttempt: when the fsync fails, the attempt is recorded as a
// retryable server error carrying the fsync's error, and the retry writes the line again
// (same delivery id) and succeeds.
func TestFailedSyncIsARetryableAttempt(t *testing.T) {
	t.Parallel()
	e, g, path := startAudit(t)
	g.answers <- errors.New("no space left on device")
	g.answers <- nil
	accept(t, e, "e1")
	d := waitDelivery(t, e, "e1", 5*time.Second)
	require.Equal(t, core.StateSucceeded, d.State)
	as := attempts(t, e, d)
	require.Len(t, as, 2)
	require.Equal(t, string(notify.ReasonServerError), as[0].Outcome)
	require.Contains(t, as[0].Error, "no space left on device")
	require.Equal(t, "success", as[1].Outcome)
	require.Equal(t, 2, auditLines(t, path), "the retry wrote its line again; readers drop repeats by delivery_id")
}
