package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// ManagementStore is what the management API needs from storage (core.Store has it).
type ManagementStore interface {
	CreateWebhook(ctx context.Context, w *core.Webhook, max int) error
	Webhooks(ctx context.Context, account string) ([]*core.Webhook, error)
	Webhook(ctx context.Context, account, id string) (*core.Webhook, error)
	UpdateWebhook(ctx context.Context, w *core.Webhook, ifVersion int) error
	DeleteWebhook(ctx context.Context, account, id string) error
	DeliveryPage(ctx context.Context, f core.DeliveryFilter) (core.DeliveryPage, error)
	Delivery(ctx context.Context, id string) (*core.Delivery, error)
	AttemptsOf(ctx context.Context, ids []string) (map[string][]core.Attempt, error)
	RetryDelivery(ctx context.Context, id string, now time.Time) error
}

// Management is the management API of SPEC §8: webhooks registered per account, their tests,
// delivery logs and replays. Every route needs a Bearer key; an account sees only its own
// webhooks and their deliveries (another account's id is 404, so ids do not leak).
type Management struct {
	Store         ManagementStore
	Keys          *Keys
	MaxPerAccount int // api.max_webhooks_per_account (default 10)
	// CheckURL vets a URL a user registers (scheme, and the SSRF guard: webhook.Guard.CheckURL).
	CheckURL func(ctx context.Context, url string) error
	// Changed is called after a webhook is created, changed or deleted (the plan is rebuilt).
	Changed func()
	// Test sends a sample event of eventType to w now and returns the attempt.
	Test func(ctx context.Context, w *core.Webhook, eventType string) core.Attempt
	// TestRate limits test sends per account: the seed's 100 events/s burst (default).
	TestRate  rate.Limit
	TestBurst int
	NowFunc   func() time.Time
	Log       *slog.Logger

	once     sync.Once
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// defaults fills the zero fields once, whether Register or an exported method comes first.
func (m *Management) defaults() {
	m.once.Do(func() {
		if m.NowFunc == nil {
			m.NowFunc = time.Now
		}
		if m.MaxPerAccount <= 0 {
			m.MaxPerAccount = 10
		}
		if m.TestRate <= 0 {
			m.TestRate, m.TestBurst = 100, 100
		}
		if m.Log == nil {
			m.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Register adds the management routes to mux.
func (m *Management) Register(mux *http.ServeMux) {
	m.defaults()
	auth := m.Keys.Require
	mux.Handle("POST /webhooks", auth(http.HandlerFunc(m.create)))
	mux.Handle("GET /webhooks", auth(http.HandlerFunc(m.list)))
	mux.Handle("GET /webhooks/{id}", auth(http.HandlerFunc(m.get)))
	mux.Handle("PATCH /webhooks/{id}", auth(http.HandlerFunc(m.patch)))
	mux.Handle("DELETE /webhooks/{id}", auth(http.HandlerFunc(m.delete)))
	mux.Handle("POST /webhooks/{id}/test", auth(http.HandlerFunc(m.test)))
	mux.Handle("GET /webhooks/{id}/deliveries", auth(http.HandlerFunc(m.webhookDeliveries)))
	mux.Handle("GET /deliveries", auth(http.HandlerFunc(m.deliveries)))
	mux.Handle("GET /deliveries/{id}", auth(http.HandlerFunc(m.delivery)))
	mux.Handle("POST /deliveries/{id}/retry", auth(http.HandlerFunc(m.retry)))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
}

// Error codes of the management API.
const (
	CodeUnauthorized   = "unauthorized"
	CodeNotFound       = "not_found"
	CodeInvalidRequest = "invalid_request"
	CodeLimitReached   = "limit_reached"
	CodeConflict       = "conflict"
	CodeForbidden      = "forbidden" // the account's role may not do this
)

// webhookJSON is a webhook as the API shows it: never its secret, except SecretOnce in the
// answer that created it with a generated secret.
type webhookJSON struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Active      bool     `json:"active"`
	Description string   `json:"description"`
	// SignatureScheme is "cortex" or "standard-webhooks" (never "": the default is named).
	SignatureScheme string    `json:"signature_scheme"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	SecretOnce      string    `json:"secret,omitempty"`
}

func toJSON(w *core.Webhook) webhookJSON {
	scheme := w.SignatureScheme
	if scheme == "" {
		scheme = webhook.SchemeCortex
	}
	return webhookJSON{ID: w.ID, URL: w.URL, Events: w.Events, Active: w.Active, Description: w.Description,
		SignatureScheme: scheme, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// WebhookInput is a webhook's fields as a user gives them: the body of POST and PATCH
// /webhooks, or the dashboard's form. Nil fields are absent (a patch leaves them unchanged).
type WebhookInput struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Secret      *string   `json:"secret"`
	Active      *bool     `json:"active"`
	Description *string   `json:"description"`
	// SignatureScheme is "cortex" (the default) or "standard-webhooks"; with the latter the
	// secret must be one or more whsec_<base64 of a 24–64 byte key> separated by spaces.
	SignatureScheme *string `json:"signature_scheme"`
}

// MinSecretBytes is the shortest signing secret a webhook may have (SPEC §8).
const MinSecretBytes = 16

// FieldErrors are a request's problems by field (url, events, secret, description, event, …):
// the API answers them with 422 and the field names, the dashboard shows each beside its field.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + f[k]
	}
	return strings.Join(parts, "; ")
}

// ErrTestRateLimited is returned by TestWebhook when the account sent too many tests.
var ErrTestRateLimited = errors.New("too many test sends for this account; retry in a second")

// validate checks in against the rules of SPEC §8 and returns problems by field. current is
// the webhook a patch changes (nil when creating): the signature scheme and the secret are
// checked together, whichever of them in changes.
func (m *Management) validate(ctx context.Context, in WebhookInput, current *core.Webhook) FieldErrors {
	creating := current == nil
	bad := FieldErrors{}
	if in.URL == nil && creating {
		bad["url"] = "required"
	} else if in.URL != nil {
		if err := m.CheckURL(ctx, *in.URL); err != nil {
			bad["url"] = err.Error()
		}
	}
	if in.Events == nil && creating {
		bad["events"] = `required: a list of event types or ["*"]`
	} else if in.Events != nil {
		if len(*in.Events) == 0 {
			bad["events"] = `must not be empty: list event types or ["*"]`
		}
		for _, e := range *in.Events {
			if e != "*" && !event.IsKnownType(e) {
				bad["events"] = fmt.Sprintf("unknown event type %q (want %s or *)", e, strings.Join(event.Types, ", "))
				break
			}
		}
	}
	if in.Secret != nil && len(*in.Secret) < MinSecretBytes {
		bad["secret"] = fmt.Sprintf("must be at least %d bytes (or leave it out to have one generated)", MinSecretBytes)
	}
	if in.Description != nil && len(*in.Description) > 500 {
		bad["description"] = "at most 500 characters"
	}
	scheme, secret := "", ""
	if current != nil {
		scheme, secret = current.SignatureScheme, current.Secret.Reveal()
	}
	if in.SignatureScheme != nil {
		scheme = *in.SignatureScheme
		if !slices.Contains(webhook.Schemes(), scheme) {
			bad["signature_scheme"] = fmt.Sprintf("must be %s", strings.Join(webhook.Schemes(), " or "))
		}
	}
	if in.Secret != nil {
		secret = *in.Secret
	}
	if scheme == webhook.SchemeStandardWebhooks && secret != "" && bad["secret"] == "" {
		if _, err := webhook.StandardSigners(secret); err != nil {
			bad["secret"] = err.Error()
			if in.Secret == nil {
				bad["secret"] += "; the current secret is not: send a new one with signature_scheme (or leave both out to keep the cortex scheme)"
			}
		}
	}
	return bad
}

// CreateWebhook registers a webhook for account (SPEC §8): in is validated (FieldErrors), a
// secret is generated when in has none and returned as secretOnce (the only time it is shown;
// "" when the user set one), and the plan is rebuilt. It returns an error wrapping
// core.ErrLimitReached when the account has MaxPerAccount webhooks, or a storage error.
func (m *Management) CreateWebhook(ctx context.Context, account string, in WebhookInput) (hook *core.Webhook, secretOnce string, err error) {
	m.defaults()
	if bad := m.validate(ctx, in, nil); len(bad) > 0 {
		return nil, "", bad
	}
	now := m.NowFunc().UTC()
	hook = &core.Webhook{ID: core.WebhookPrefix + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""),
		Account: account, URL: *in.URL, Events: dedupe(*in.Events), Active: true, Version: 1, CreatedAt: now, UpdatedAt: now}
	if in.SignatureScheme != nil {
		hook.SignatureScheme = *in.SignatureScheme
	}
	if in.Secret == nil {
		secretOnce = NewSecret()
		if hook.SignatureScheme == webhook.SchemeStandardWebhooks {
			secretOnce = NewStandardSecret()
		}
		hook.Secret = notify.Secret(secretOnce)
	} else {
		hook.Secret = notify.Secret(*in.Secret)
	}
	if in.Active != nil {
		hook.Active = *in.Active
	}
	if in.Description != nil {
		hook.Description = *in.Description
	}
	switch err := m.Store.CreateWebhook(ctx, hook, m.MaxPerAccount); {
	case errors.Is(err, core.ErrLimitReached):
		return nil, "", fmt.Errorf("%w: an account may register at most %d webhooks", err, m.MaxPerAccount)
	case err != nil:
		return nil, "", err
	}
	m.changed()
	m.Log.Info("webhook registered", "account", hook.Account, "webhook_id", hook.ID, "events", hook.Events, "active", hook.Active)
	return hook, secretOnce, nil
}

func (m *Management) create(w http.ResponseWriter, r *http.Request) {
	var in WebhookInput
	if !decodeBody(w, r, &in) {
		return
	}
	hook, secretOnce, err := m.CreateWebhook(r.Context(), AccountOf(r), in)
	var bad FieldErrors
	switch {
	case errors.As(err, &bad):
		writeFieldErrors(w, bad)
		return
	case errors.Is(err, core.ErrLimitReached):
		writeError(w, http.StatusConflict, CodeLimitReached, fmt.Sprintf("an account may register at most %d webhooks", m.MaxPerAccount))
		return
	case err != nil:
		m.unavailable(w, err)
		return
	}
	out := toJSON(hook)
	out.SecretOnce = secretOnce // shown this once (when generated); store it now
	w.Header().Set("Location", "/webhooks/"+hook.ID)
	w.Header().Set("ETag", etag(hook))
	writeJSON(w, http.StatusCreated, out)
}

func (m *Management) list(w http.ResponseWriter, r *http.Request) {
	hooks, err := m.Store.Webhooks(r.Context(), AccountOf(r))
	if err != nil {
		m.unavailable(w, err)
		return
	}
	out := make([]webhookJSON, len(hooks))
	for i, h := range hooks {
		out[i] = toJSON(h)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// own returns the request's webhook {id} if it belongs to the caller; it answers 404 otherwise.
func (m *Management) own(w http.ResponseWriter, r *http.Request) (*core.Webhook, bool) {
	hook, err := m.Store.Webhook(r.Context(), AccountOf(r), r.PathValue("id"))
	switch {
	case errors.Is(err, core.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "no webhook "+r.PathValue("id"))
		return nil, false
	case err != nil:
		m.unavailable(w, err)
		return nil, false
	}
	return hook, true
}

func (m *Management) get(w http.ResponseWriter, r *http.Request) {
	if hook, ok := m.own(w, r); ok {
		w.Header().Set("ETag", etag(hook))
		writeJSON(w, http.StatusOK, toJSON(hook))
	}
}

func (m *Management) patch(w http.ResponseWriter, r *http.Request) {
	hook, ok := m.own(w, r)
	if !ok {
		return
	}
	var in WebhookInput
	if !decodeBody(w, r, &in) {
		return
	}
	if bad := m.validate(r.Context(), in, hook); len(bad) > 0 {
		writeFieldErrors(w, bad)
		return
	}
	ifVersion := 0
	if match := r.Header.Get("If-Match"); match != "" {
		v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(match, "W/"), `"`))
		if err != nil || match != etag(hook) {
			writeError(w, http.StatusPreconditionFailed, CodeConflict, "header If-Match does not match the webhook's current ETag "+etag(hook))
			return
		}
		ifVersion = v
	}
	switch err := m.update(r.Context(), hook, in, ifVersion); {
	case errors.Is(err, core.ErrConflict):
		writeError(w, http.StatusPreconditionFailed, CodeConflict, "the webhook changed meanwhile; GET it and try again")
		return
	case errors.Is(err, core.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "no webhook "+hook.ID)
		return
	case err != nil:
		m.unavailable(w, err)
		return
	}
	w.Header().Set("ETag", etag(hook))
	writeJSON(w, http.StatusOK, toJSON(hook))
}

// UpdateWebhook changes hook (loaded for its account with Store.Webhook) with the fields in
// gives: in is validated (FieldErrors), hook is updated in place and stored provided its stored
// version is ifVersion (0: any; core.ErrConflict otherwise, core.ErrNotFound when it is gone),
// and the plan is rebuilt.
func (m *Management) UpdateWebhook(ctx context.Context, hook *core.Webhook, in WebhookInput, ifVersion int) error {
	m.defaults()
	if bad := m.validate(ctx, in, hook); len(bad) > 0 {
		return bad
	}
	return m.update(ctx, hook, in, ifVersion)
}

// update applies a validated in to hook and stores it.
func (m *Management) update(ctx context.Context, hook *core.Webhook, in WebhookInput, ifVersion int) error {
	if in.URL != nil {
		hook.URL = *in.URL
	}
	if in.Events != nil {
		hook.Events = dedupe(*in.Events)
	}
	if in.Secret != nil {
		hook.Secret = notify.Secret(*in.Secret)
	}
	if in.Active != nil {
		hook.Active = *in.Active
	}
	if in.Description != nil {
		hook.Description = *in.Description
	}
	if in.SignatureScheme != nil {
		hook.SignatureScheme = *in.SignatureScheme
	}
	hook.UpdatedAt = m.NowFunc().UTC()
	if err := m.Store.UpdateWebhook(ctx, hook, ifVersion); err != nil {
		return err
	}
	m.changed()
	m.Log.Info("webhook changed", "account", hook.Account, "webhook_id", hook.ID, "events", hook.Events, "active", hook.Active)
	return nil
}

// DeleteWebhook removes one of account's webhooks (core.ErrNotFound when it has none with id);
// its queued deliveries are cancelled by the re-plan.
func (m *Management) DeleteWebhook(ctx context.Context, account, id string) error {
	m.defaults()
	if err := m.Store.DeleteWebhook(ctx, account, id); err != nil {
		return err
	}
	m.changed()
	m.Log.Info("webhook deleted; its queued deliveries are cancelled", "account", account, "webhook_id", id)
	return nil
}

func (m *Management) delete(w http.ResponseWriter, r *http.Request) {
	switch err := m.DeleteWebhook(r.Context(), AccountOf(r), r.PathValue("id")); {
	case errors.Is(err, core.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "no webhook "+r.PathValue("id"))
		return
	case err != nil:
		m.unavailable(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Management) test(w http.ResponseWriter, r *http.Request) {
	hook, ok := m.own(w, r)
	if !ok {
		return
	}
	var in struct {
		Event string `json:"event"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &in) {
		return
	}
	if in.Event == "" {
		in.Event = event.ScanCompleted
	}
	a, err := m.TestWebhook(r.Context(), hook, in.Event)
	var bad FieldErrors
	switch {
	case errors.As(err, &bad):
		writeFieldErrors(w, bad)
		return
	case errors.Is(err, ErrTestRateLimited):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, CodeRateLimited, "too many test sends for this account; retry after the Retry-After seconds")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhook_id": hook.ID, "event": in.Event, "attempt": attemptJSON(a)})
}

// TestWebhook sends a signed sample event of eventType to hook now and returns the attempt
// (nothing is stored). It returns FieldErrors for an unknown event type and
// ErrTestRateLimited past the account's test rate.
func (m *Management) TestWebhook(ctx context.Context, hook *core.Webhook, eventType string) (core.Attempt, error) {
	m.defaults()
	if !event.IsKnownType(eventType) {
		return core.Attempt{}, FieldErrors{"event": fmt.Sprintf("unknown event type %q (want %s)", eventType, strings.Join(event.Types, ", "))}
	}
	if !m.limiter(hook.Account).Allow() {
		return core.Attempt{}, ErrTestRateLimited
	}
	return m.Test(ctx, hook, eventType), nil
}

func (m *Management) limiter(account string) *rate.Limiter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.limiters == nil {
		m.limiters = map[string]*rate.Limiter{}
	}
	l := m.limiters[account]
	if l == nil {
		l = rate.NewLimiter(m.TestRate, m.TestBurst)
		m.limiters[account] = l
	}
	return l
}

func (m *Management) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	if hook, ok := m.own(w, r); ok {
		m.listDeliveries(w, r, []string{hook.ID})
	}
}

func (m *Management) deliveries(w http.ResponseWriter, r *http.Request) {
	ids, err := m.accountTargets(r)
	if err != nil {
		m.unavailable(w, err)
		return
	}
	m.listDeliveries(w, r, ids)
}

// accountTargets are the target names the caller may see: its webhooks.
func (m *Management) accountTargets(r *http.Request) ([]string, error) {
	hooks, err := m.Store.Webhooks(r.Context(), AccountOf(r))
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(hooks))
	for _, h := range hooks {
		ids = append(ids, h.ID)
	}
	return ids, nil
}

// listDeliveries answers a page of deliveries to targets, with their attempts. Query: status
// (pending, running, failed, succeeded, dead, cancelled), event, limit (1–500, default 50), cursor.
func (m *Management) listDeliveries(w http.ResponseWriter, r *http.Request, targets []string) {
	q := r.URL.Query()
	f := core.DeliveryFilter{Targets: targets, EventType: q.Get("event"), Cursor: q.Get("cursor"), Limit: 50}
	switch status := q.Get("status"); status {
	case "":
	case "failed":
		f.Failed = true
	case string(core.StatePending), string(core.StateRunning), string(core.StateSucceeded), string(core.StateDead), string(core.StateCancelled):
		f.State = core.State(status)
	default:
		writeFieldErrors(w, map[string]string{"status": "must be one of pending, running, failed, succeeded, dead, cancelled"})
		return
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			writeFieldErrors(w, map[string]string{"limit": "must be a number from 1 to 500"})
			return
		}
		f.Limit = n
	}
	page, err := m.Store.DeliveryPage(r.Context(), f)
	if err != nil {
		if strings.Contains(err.Error(), "cursor") {
			writeFieldErrors(w, map[string]string{"cursor": "not a cursor this listing returned"})
			return
		}
		m.unavailable(w, err)
		return
	}
	ids := make([]string, len(page.Deliveries))
	for i, d := range page.Deliveries {
		ids[i] = d.ID
	}
	attempts, err := m.Store.AttemptsOf(r.Context(), ids)
	if err != nil {
		m.unavailable(w, err)
		return
	}
	out := make([]deliveryJSON, len(page.Deliveries))
	for i, d := range page.Deliveries {
		out[i] = toDeliveryJSON(d, attempts[d.ID])
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out, "next_cursor": page.NextCursor})
}

// ownDelivery returns the request's delivery {id} if it goes to one of the caller's webhooks.
func (m *Management) ownDelivery(w http.ResponseWriter, r *http.Request) (*core.Delivery, bool) {
	d, err := m.Store.Delivery(r.Context(), r.PathValue("id"))
	if err == nil {
		if _, herr := m.Store.Webhook(r.Context(), AccountOf(r), d.Target); herr != nil {
			err = herr
		}
	}
	switch {
	case errors.Is(err, core.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "no delivery "+r.PathValue("id"))
		return nil, false
	case err != nil:
		m.unavailable(w, err)
		return nil, false
	}
	return d, true
}

func (m *Management) delivery(w http.ResponseWriter, r *http.Request) {
	d, ok := m.ownDelivery(w, r)
	if !ok {
		return
	}
	attempts, err := m.Store.AttemptsOf(r.Context(), []string{d.ID})
	if err != nil {
		m.unavailable(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toDeliveryJSON(d, attempts[d.ID]))
}

func (m *Management) retry(w http.ResponseWriter, r *http.Request) {
	d, ok := m.ownDelivery(w, r)
	if !ok {
		return
	}
	switch err := m.RetryDelivery(r.Context(), AccountOf(r), d); {
	case errors.Is(err, core.ErrConflict):
		writeError(w, http.StatusConflict, CodeConflict, "an attempt of this delivery is running; retry once it has finished")
		return
	case err != nil:
		m.unavailable(w, err)
		return
	}
	d, err := m.Store.Delivery(r.Context(), d.ID)
	if err != nil {
		m.unavailable(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, toDeliveryJSON(d, nil))
}

// RetryDelivery makes d (a delivery to one of account's webhooks, checked by the caller) due
// now with a fresh budget of attempts; core.ErrConflict while an attempt of it runs.
func (m *Management) RetryDelivery(ctx context.Context, account string, d *core.Delivery) error {
	m.defaults()
	if err := m.Store.RetryDelivery(ctx, d.ID, m.NowFunc()); err != nil {
		return err
	}
	m.Log.Info("delivery retried on request", "account", account, "delivery_id", d.ID, "webhook_id", d.Target)
	return nil
}

type attemptOut struct {
	Number     int       `json:"number"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Outcome    string    `json:"outcome"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"`
}

func attemptJSON(a core.Attempt) attemptOut {
	return attemptOut{Number: a.Number, StartedAt: a.StartedAt, DurationMS: a.Duration.Milliseconds(), Outcome: a.Outcome,
		StatusCode: a.StatusCode, Error: a.Error, Response: a.Response}
}

type deliveryJSON struct {
	ID            string       `json:"id"`
	WebhookID     string       `json:"webhook_id"`
	EventID       string       `json:"event_id"`
	Event         string       `json:"event"`
	Status        string       `json:"status"`
	AttemptCount  int          `json:"attempt_count"`
	NextAttemptAt *time.Time   `json:"next_attempt_at,omitempty"`
	LastError     string       `json:"last_error,omitempty"`
	CreatedAt     time.Time    `json:"created_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
	Attempts      []attemptOut `json:"attempts"`
}

func toDeliveryJSON(d *core.Delivery, attempts []core.Attempt) deliveryJSON {
	out := deliveryJSON{ID: d.ID, WebhookID: d.Target, EventID: d.EventID, Event: d.EventType, Status: string(d.State),
		AttemptCount: d.Attempts, LastError: d.LastError, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Attempts: []attemptOut{}}
	if d.State == core.StatePending && d.Attempts > d.RetryBase {
		out.Status = "failed" // waiting for its next attempt after a failed one
	}
	if d.State == core.StatePending {
		next := d.NextAttemptAt
		out.NextAttemptAt = &next
	}
	for _, a := range attempts {
		out.Attempts = append(out.Attempts, attemptJSON(a))
	}
	return out
}

func (m *Management) changed() {
	if m.Changed != nil {
		m.Changed()
	}
}

func (m *Management) unavailable(w http.ResponseWriter, err error) {
	m.Log.Error("management API: storage failed", "err", err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "storage is unavailable; retry later")
}

func etag(h *core.Webhook) string { return `"` + strconv.Itoa(h.Version) + `"` }

// NewSecret returns a random signing secret for a webhook: "whsec_" and 48 hex digits.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

// NewStandardSecret returns a random secret for the standard-webhooks scheme: "whsec_" and the
// base64 of a 32-byte key, as Standard Webhooks libraries expect.
func NewStandardSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return webhook.StandardSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

func dedupe(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

// decodeBody reads a JSON object into v (unknown fields refused); it answers 400 or 415 and
// returns false when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "header Content-Type must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidJSON, "the body is not a JSON object of the expected fields: "+err.Error())
		return false
	}
	return true
}

// writeFieldErrors answers 422 with a message per field.
func writeFieldErrors(w http.ResponseWriter, fields FieldErrors) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
		"code": CodeInvalidRequest, "message": fields.Error(), "fields": map[string]string(fields)}})
}
