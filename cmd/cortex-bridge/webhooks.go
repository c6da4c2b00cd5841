package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/sender"
)

// registry delivers to the webhooks registered through the management API: it adds them to
// the config's plan and re-plans when they change, here or on another replica.
type registry struct {
	p      *process
	mu     sync.Mutex    // serialises re-planning
	seen   string        // the store's WebhooksChanged value last planned with
	guard  *webhook.Live // shared by every registered webhook's client: a reload applies to all
	https  bool
	policy *core.RetryPolicy
}

func newRegistry(p *process, cfg *config.Config) *registry {
	r := &registry{p: p, guard: webhook.NewLive(webhook.Guard{})}
	r.configure(cfg)
	return r
}

// configure takes the API settings of a (re)loaded config.
func (r *registry) configure(cfg *config.Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var allow []netip.Prefix
	for _, c := range cfg.API.AllowedCIDRs {
		allow = append(allow, netip.MustParsePrefix(c)) // validated by config
	}
	r.guard.Set(webhook.Guard{AllowPrivate: cfg.API.AllowPrivateURLs, Allow: allow})
	r.https = cfg.API.HTTPSOnly()
}

// checkURL vets a URL a user registers.
func (r *registry) checkURL(ctx context.Context, url string) error {
	r.mu.Lock()
	g, https := r.guard, r.https
	r.mu.Unlock()
	return g.CheckURL(ctx, url, https)
}

// target builds the webhook target of a registered webhook: the generic signed webhook, through
// the SSRF-guarded client.
func (r *registry) target(w *core.Webhook) (*core.Target, error) {
	n, err := webhook.New(&webhook.Config{URL: w.URL, Secret: w.Secret, SignatureScheme: w.SignatureScheme}, r.guard.Client(), version)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(w.URL + "\x00" + w.Secret.Reveal() + "\x00" + w.SignatureScheme))
	return &core.Target{Name: w.ID, Type: webhook.Type.Name, Format: webhook.Type.Format, Notifier: n, Concurrency: webhook.Type.Concurrency,
		Fingerprint: "webhook:" + hex.EncodeToString(sum[:])}, nil
}

// replan puts the config's plan plus the registered webhooks in force.
func (r *registry) replan(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed, err := r.p.db.WebhooksChanged(ctx)
	if err != nil {
		return err
	}
	hooks, err := r.p.db.Webhooks(ctx, "")
	if err != nil {
		return err
	}
	r.p.mu.Lock()
	base := r.p.runtime.Plan()
	r.p.mu.Unlock()
	plan, skipped := core.WithWebhooks(base, hooks, r.target)
	for id, err := range skipped {
		r.p.log.Warn("registered webhook not delivered to", "webhook_id", id, "err", err)
	}
	r.p.metrics.SetTargets(targetNames(plan))
	for _, t := range r.p.disp.Apply(plan) {
		_ = notify.Close(t.Notifier)
	}
	r.seen = changed
	return nil
}

// watch re-plans when another replica changed the webhooks, checking every interval.
func (r *registry) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := r.p.db.WebhooksChanged(ctx)
		r.mu.Lock()
		stale := err == nil && changed != r.seen
		r.mu.Unlock()
		if stale {
			if err := r.replan(ctx); err != nil {
				r.p.log.Warn("registered webhooks not reloaded; retrying", "err", err)
			}
		}
	}
}

// test sends a sample event of eventType to w now, signed with its secret, and returns the
// attempt (POST /webhooks/{id}/test). Nothing is stored.
func (r *registry) test(ctx context.Context, w *core.Webhook, eventType string) core.Attempt {
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
	r.p.mu.Lock()
	timeout := r.p.cfg.Delivery.Timeout
	r.p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = t.Notifier.Notify(ctx, &notify.Message{DeliveryID: a.DeliveryID, Attempt: 1, Target: w.ID, Route: "test", Event: ev, Events: []*event.Event{ev}})
	if err != nil {
		return fail(err)
	}
	a.Duration = time.Since(a.StartedAt)
	return a
}

func targetNames(p *core.Plan) []string {
	out := make([]string, len(p.Targets))
	for i, t := range p.Targets {
		out[i] = t.Name
	}
	return out
}
