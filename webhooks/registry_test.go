package webhooks_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

// hookStore is a RegistryStore in memory.
type hookStore struct {
	mu      sync.Mutex
	changed string
	hooks   []*core.Webhook
}

func (s *hookStore) WebhooksChanged(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed, nil
}

func (s *hookStore) Webhooks(context.Context, string) ([]*core.Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*core.Webhook(nil), s.hooks...), nil
}

func (s *hookStore) set(changed string, hooks ...*core.Webhook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changed, s.hooks = changed, hooks
}

// registryBundle records what a Registry puts in force.
type registryBundle struct {
	reg   *webhooks.Registry
	store *hookStore
	mu    sync.Mutex
	plans []*core.Plan
	names [][]string
}

func (b *registryBundle) last() (*core.Plan, []string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.plans) == 0 {
		return nil, nil, 0
	}
	return b.plans[len(b.plans)-1], b.names[len(b.names)-1], len(b.plans)
}

// setupRegistry builds a Registry on an in-memory hookStore that records the plans it applies.
// A unit set-up on purpose: its tests check which plan is put in force and when, which a
// running bridge does not show.
func setupRegistry(t *testing.T, https bool) *registryBundle {
	t.Helper()
	b := &registryBundle{store: &hookStore{}}
	base := &core.Plan{Targets: []*core.Target{{Name: "configured"}}, Router: &core.Router{}}
	b.reg = webhooks.NewRegistry(webhooks.RegistryConfig{
		Store: b.store,
		Base:  func() *core.Plan { return base },
		Apply: func(p *core.Plan) []*core.Target {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.plans = append(b.plans, p)
			return nil
		},
		Targets: func(names []string) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.names = append(b.names, names)
		},
		Timeout: func() time.Duration { return time.Second },
		Version: "test",
	}, webhook.Guard{AllowPrivate: true}, https)
	return b
}

func hook(id string, active bool) *core.Webhook {
	return &core.Webhook{ID: id, Account: "acme", URL: "https://hooks.example.com/" + id, Secret: "registered-secret-0123456789",
		Events: []string{"*"}, Active: active}
}

// TestRegistryReplan: the configured targets plus every active registered webhook are put in
// force, and the metrics are told their names.
func TestRegistryReplan(t *testing.T) {
	t.Parallel()
	b := setupRegistry(t, true)
	b.store.set("v1", hook("wh_a", true), hook("wh_off", false))
	require.NoError(t, b.reg.Replan(context.Background()))
	plan, names, n := b.last()
	require.Equal(t, 1, n)
	require.Equal(t, []string{"configured", "wh_a"}, names)
	require.Len(t, plan.Targets, 2)
	require.Equal(t, "webhook", plan.Targets[1].Type)
	require.Contains(t, plan.Targets[1].Fingerprint, "webhook:")
}

// TestRegistryWatch: a change made elsewhere (another replica) is planned within an interval;
// no change, no re-plan.
func TestRegistryWatch(t *testing.T) {
	t.Parallel()
	b := setupRegistry(t, true)
	b.store.set("v1")
	require.NoError(t, b.reg.Replan(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.reg.Watch(ctx, 10*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	time.Sleep(50 * time.Millisecond)
	_, _, n := b.last()
	require.Equal(t, 1, n, "nothing changed: no re-plan")
	b.store.set("v2", hook("wh_b", true))
	require.Eventually(t, func() bool {
		_, names, _ := b.last()
		return len(names) == 2 && names[1] == "wh_b"
	}, 5*time.Second, 5*time.Millisecond)
}

// TestRegistryCheckURL: the https rule follows Configure.
func TestRegistryCheckURL(t *testing.T) {
	t.Parallel()
	b := setupRegistry(t, true)
	ctx := context.Background()
	require.ErrorContains(t, b.reg.CheckURL(ctx, "http://127.0.0.1:9/x"), "https")
	b.reg.Configure(webhook.Guard{AllowPrivate: true}, false)
	require.NoError(t, b.reg.CheckURL(ctx, "http://127.0.0.1:9/x"))
	b.reg.Configure(webhook.Guard{}, false)
	require.Error(t, b.reg.CheckURL(ctx, "http://127.0.0.1:9/x"), "loopback is refused once private URLs are not allowed")
}
