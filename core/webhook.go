package core

import (
	"errors"
	"slices"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// Webhook is an endpoint registered through the management API (docs/api.md). It is a webhook target
// named by its ID: it receives the events it subscribed to, signed with its own secret, under the
// same delivery rules as configured targets.
type Webhook struct {
	ID          string        // "wh_" + a UUIDv7
	Account     string        // the API key's account that owns it
	URL         string        // absolute http(s)
	Events      []string      // event types, or ["*"] for every Cortex event
	Secret      notify.Secret // at least 16 bytes; never returned by the API after creation
	Active      bool          // an inactive webhook receives nothing
	Description string
	Version     int // bumped by every change; the API's ETag
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// SignatureScheme is how deliveries are signed: "" or "cortex" (X-Cortex-Signature over the
	// body) or "standard-webhooks" (webhook-id, webhook-timestamp, webhook-signature; Secret is
	// then one or more whsec_<base64 key> separated by spaces). See package adapters/webhook.
	SignatureScheme string
}

// Wants reports whether the webhook subscribed to eventType. "*" covers every event, but not
// the bridge's own digest runs and alerts (they are about the operator's targets, not the
// account's).
func (w *Webhook) Wants(eventType string) bool {
	if eventType == DigestEventType || IsBridgeEvent(eventType) {
		return false
	}
	return slices.Contains(w.Events, "*") || slices.Contains(w.Events, eventType)
}

// Errors of the webhook and delivery store methods.
var (
	ErrNotFound     = errors.New("not found")
	ErrLimitReached = errors.New("limit reached")
	ErrConflict     = errors.New("changed meanwhile") // a version precondition failed
)

// WebhookPrefix starts registered webhooks' ids, and so their target names.
const WebhookPrefix = "wh_"

// webhookMatcher matches the event types a webhook subscribed to.
type webhookMatcher struct{ w *Webhook }

func (m webhookMatcher) Match(ev *event.Event) (bool, error) { return m.w.Wants(ev.Type), nil }

func (m webhookMatcher) String() string { return "event in " + formatList(m.w.Events) }

// Uses implements VarUser: a registered webhook's filter reads the event type only.
func (webhookMatcher) Uses(string) bool { return false }

func formatList(ss []string) string {
	out := "["
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += `"` + s + `"`
	}
	return out + "]"
}

// WithWebhooks returns a copy of base that also delivers to the active registered webhooks:
// each becomes a target built by newTarget and a route sending it the events it subscribed to.
// A webhook newTarget cannot build is left out and reported in skipped.
func WithWebhooks(base *Plan, ws []*Webhook, newTarget func(*Webhook) (*Target, error)) (plan *Plan, skipped map[string]error) {
	plan = &Plan{Renderer: base.Renderer, Retry: base.Retry, Findings: base.Findings, Targets: slices.Clone(base.Targets)}
	router := &Router{Log: base.Router.Log, OnRuleError: base.Router.OnRuleError, Digests: base.Router.Digests,
		Routes: slices.Clone(base.Router.Routes)}
	for _, w := range ws {
		if !w.Active {
			continue
		}
		t, err := newTarget(w)
		if err != nil {
			if skipped == nil {
				skipped = map[string]error{}
			}
			skipped[w.ID] = err
			continue
		}
		plan.Targets = append(plan.Targets, t)
		router.Routes = append(router.Routes, &Route{Name: "webhook:" + w.ID, When: webhookMatcher{w}, Targets: []string{t.Name}})
	}
	plan.Router = router
	return plan, skipped
}
