package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/sender"
)

// RegistryStore is what the Registry reads from storage.
type RegistryStore interface {
	// WebhooksChanged returns a value that changes whenever a webhook is created, changed or
	// deleted, by any replica.
	WebhooksChanged(ctx context.Context) (string, error)
	Webhooks(ctx context.Context, account string) ([]*core.Webhook, error)
}

// RegistryConfig is what a Registry works with; every field is required but Log.
type RegistryConfig struct {
	Store RegistryStore
	// Base returns the plan of the config in force, to which the registered webhooks are added.
	Base func() *core.Plan
	// Apply puts a plan in force and returns the targets it no longer uses
	// (core.Dispatcher.Apply).
	Apply func(*core.Plan) (unused []*core.Target)
	// Targets is told the target names of each plan put in force (metrics.Metrics.SetTargets).
	Targets func(names []string)
	// Timeout returns the delivery timeout in force (delivery.timeout), for test sends.
	Timeout func() time.Duration
	Version string // sent in the User-Agent of every request
	Log     *slog.Logger
}

// Registry delivers to the registered webhooks: it adds them to the config's plan and re-plans
// when they change, on this replica or on another (Watch). Build it with NewRegistry.
type Registry struct {
	cfg   RegistryConfig
	mu    sync.Mutex    // serialises re-planning; guards seen and https
	seen  string        // the store's WebhooksChanged value last planned with
	guard *webhook.Live // shared by every registered webhook's client: Configure applies to all
	https bool
}

// NewRegistry returns a registry whose clients use guard (the SSRF guard of api.*) and accept
// only https URLs when httpsOnly. Replan puts the webhooks in force.
func NewRegistry(cfg RegistryConfig, guard webhook.Guard, httpsOnly bool) *Registry {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Registry{cfg: cfg, guard: webhook.NewLive(guard), https: httpsOnly}
}

// Configure takes the API settings of a reloaded config: the SSRF guard and whether URLs must
// be https.
func (r *Registry) Configure(guard webhook.Guard, httpsOnly bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.guard.Set(guard)
	r.https = httpsOnly
}

// CheckURL vets a URL a user registers (Service.CheckURL).
func (r *Registry) CheckURL(ctx context.Context, url string) error {
	r.mu.Lock()
	g, https := r.guard, r.https
	r.mu.Unlock()
	return g.CheckURL(ctx, url, https)
}

// target builds the webhook target of a registered webhook: the generic signed webhook, through
// the SSRF-guarded client.
func (r *Registry) target(w *core.Webhook) (*core.Target, error) {
	n, err := webhook.New(&webhook.Config{URL: w.URL, Secret: w.Secret, SignatureScheme: w.SignatureScheme}, r.guard.Client(), r.cfg.Version)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(w.URL + "\x00" + w.Secret.Reveal() + "\x00" + w.SignatureScheme))
	return &core.Target{Name: w.ID, Type: webhook.Type.Name, Format: webhook.Type.Format, Payload: webhook.Type.Payload, Notifier: n, Concurrency: webhook.Type.Concurrency,
		Fingerprint: "webhook:" + hex.EncodeToString(sum[:])}, nil
}

// Replan puts the config's plan plus the registered webhooks in force; a webhook whose target
// cannot be built is logged and left out.
func (r *Registry) Replan(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed, err := r.cfg.Store.WebhooksChanged(ctx)
	if err != nil {
		return err
	}
	hooks, err := r.cfg.Store.Webhooks(ctx, "")
	if err != nil {
		return err
	}
	plan, skipped := core.WithWebhooks(r.cfg.Base(), hooks, r.target)
	for id, err := range skipped {
		r.cfg.Log.Warn("registered webhook not delivered to", "webhook_id", id, "err", err)
	}
	names := make([]string, len(plan.Targets))
	for i, t := range plan.Targets {
		names[i] = t.Name
	}
	r.cfg.Targets(names)
	for _, t := range r.cfg.Apply(plan) {
		_ = notify.Close(t.Notifier)
	}
	r.seen = changed
	return nil
}

// Watch re-plans when another replica changed the webhooks, checking every interval, until
// ctx is done.
func (r *Registry) Watch(ctx context.Context, interval time.Duration) {
	ctx = core.Unhurried(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := r.cfg.Store.WebhooksChanged(ctx)
		r.mu.Lock()
		stale := err == nil && changed != r.seen
		r.mu.Unlock()
		if stale {
			if err := r.Replan(ctx); err != nil {
				r.cfg.Log.Warn("registered webhooks not reloaded; retrying", "err", err)
			}
		}
	}
}

// Test sends a sample event of eventType to w now, signed with its secret, and returns the
// attempt (POST /webhooks/{id}/test; Service.Test). Nothing is stored.
func (r *Registry) Test(ctx context.Context, w *core.Webhook, eventType string) core.Attempt {
	a := core.Attempt{DeliveryID: "test_" + uuid.NewString(), Number: 1, StartedAt: time.Now().UTC(), Outcome: "success"}
	fail := func(err error) core.Attempt {
		de := notify.AsDeliveryError(err)
		a.Outcome, a.StatusCode, a.Error, a.Response = string(de.Reason), de.StatusCode, de.Error(), de.Response
		a.Duration = time.Since(a.StartedAt)
		return a
	}
	t, err := r.target(w)
	if err != nil {
		return fail(&notify.DeliveryError{Err: err, Reason: notify.ReasonConfig})
	}
	body, err := samples.Get(eventType)
	if err == nil {
		body, err = sender.Restamp(body, a.StartedAt)
	}
	var ev *event.Event
	if err == nil {
		ev, err = event.Parse(body)
	}
	if err != nil {
		return fail(&notify.DeliveryError{Err: err, Reason: notify.ReasonTemplate})
	}
	ev.ReceivedAt = a.StartedAt
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout())
	defer cancel()
	err = t.Notifier.Notify(ctx, &notify.Message{DeliveryID: a.DeliveryID, Attempt: 1, Target: w.ID, Route: "test", Event: ev, Events: []*event.Event{ev}})
	if err != nil {
		return fail(err)
	}
	a.Duration = time.Since(a.StartedAt)
	return a
}
