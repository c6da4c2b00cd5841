package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/silences"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

// ManagementStore is what the management API reads from storage besides the webhooks
// (webhooks.Store): the delivery log. Storage failures wrap core.ErrUnavailable.
type ManagementStore interface {
	// DeliveryPage lists one page of deliveries, newest first, with a cursor to the next.
	DeliveryPage(ctx context.Context, f core.DeliveryFilter) (core.DeliveryPage, error)
	// Delivery returns one delivery (EventType set), or core.ErrNotFound.
	Delivery(ctx context.Context, id string) (*core.Delivery, error)
	// AttemptsOf lists the attempts of several deliveries, by delivery id, oldest first.
	AttemptsOf(ctx context.Context, ids []string) (map[string][]core.Attempt, error)
}

// maxPageSize is the largest limit a delivery listing accepts (the default is
// core.DefaultPageSize).
const maxPageSize = 500

// Management is the management API (README.md, "Management API"): webhooks registered per
// account, their tests, delivery logs and replays. Every route needs a Bearer key; an account
// sees only its own webhooks and their deliveries (another account's id is 404, so ids do not
// leak). The handlers decode and encode HTTP; Webhooks does the work, as for the dashboard.
type Management struct {
	Webhooks *webhooks.Service
	Store    ManagementStore // delivery logs
	Keys     *Keys
	Log      *slog.Logger // storage failures (default: discarded)
	// Events serves GET /events, GET /events/{id} (Routes.Handler shares those paths with the
	// dashboard) and POST /deliveries/retry; nil: not served.
	Events EventStore
	// Decide recomputes the route decisions GET /events/{id} shows admins (the bridge's dry run
	// with the config in force); nil: not shown.
	Decide func(ev *event.Event) []RouteDecision
	// Silences serves /silences (admins only); nil: not served.
	Silences *silences.Service
}

// Register adds the management routes to mux.
func (m *Management) Register(mux *http.ServeMux) {
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
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
	if m.Events != nil {
		mux.Handle("POST /deliveries/retry", auth(http.HandlerFunc(m.retryDead)))
	}
	if m.Silences != nil {
		mux.Handle("GET /silences", auth(http.HandlerFunc(m.listSilences)))
		mux.Handle("POST /silences", auth(http.HandlerFunc(m.createSilence)))
		mux.Handle("GET /silences/{id}", auth(http.HandlerFunc(m.getSilence)))
		mux.Handle("DELETE /silences/{id}", auth(http.HandlerFunc(m.endSilence)))
	}
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

func (m *Management) create(w http.ResponseWriter, r *http.Request) {
	var in webhooks.Input
	if !decodeBody(w, r, &in) {
		return
	}
	hook, secretOnce, err := m.Webhooks.CreateWebhook(r.Context(), AccountOf(r), in)
	var bad webhooks.FieldErrors
	switch {
	case errors.As(err, &bad):
		writeFieldErrors(w, bad)
		return
	case errors.Is(err, core.ErrLimitReached):
		writeError(w, http.StatusConflict, CodeLimitReached, fmt.Sprintf("an account may register at most %d webhooks", m.Webhooks.Limit()))
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
	hooks, err := m.Webhooks.List(r.Context(), AccountOf(r))
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
	hook, err := m.Webhooks.Get(r.Context(), AccountOf(r), r.PathValue("id"))
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
	var in webhooks.Input
	if !decodeBody(w, r, &in) {
		return
	}
	ifVersion := 0
	if match := r.Header.Get("If-Match"); match != "" {
		ifVersion = -1 // never matches: answered after the body's problems
		if v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(match, "W/"), `"`)); err == nil && match == etag(hook) {
			ifVersion = v
		}
	}
	err := m.Webhooks.UpdateWebhook(r.Context(), hook, in, ifVersion)
	var bad webhooks.FieldErrors
	switch {
	case errors.As(err, &bad):
		writeFieldErrors(w, bad)
		return
	case errors.Is(err, webhooks.ErrStale):
		writeError(w, http.StatusPreconditionFailed, CodeConflict, "header If-Match does not match the webhook's current ETag "+etag(hook))
		return
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

func (m *Management) delete(w http.ResponseWriter, r *http.Request) {
	switch err := m.Webhooks.DeleteWebhook(r.Context(), AccountOf(r), r.PathValue("id")); {
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
	a, err := m.Webhooks.TestWebhook(r.Context(), hook, in.Event)
	var bad webhooks.FieldErrors
	switch {
	case errors.As(err, &bad):
		writeFieldErrors(w, bad)
		return
	case errors.Is(err, webhooks.ErrTestRateLimited):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, CodeRateLimited, "too many test sends for this account; retry after the Retry-After seconds")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhook_id": hook.ID, "event": in.Event, "attempt": attemptJSON(a)})
}

func (m *Management) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	if hook, ok := m.own(w, r); ok {
		m.listDeliveries(w, r, []string{hook.ID})
	}
}

func (m *Management) deliveries(w http.ResponseWriter, r *http.Request) {
	ids, err := m.visibleTargets(r)
	if err != nil {
		m.unavailable(w, err)
		return
	}
	m.listDeliveries(w, r, ids)
}

// accountTargets are the target names the caller may see: its webhooks.
func (m *Management) accountTargets(r *http.Request) ([]string, error) {
	hooks, err := m.Webhooks.List(r.Context(), AccountOf(r))
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
// (pending, running, failed, succeeded, dead, cancelled, silenced), event, limit (1–500, default 50), cursor.
func (m *Management) listDeliveries(w http.ResponseWriter, r *http.Request, targets []string) {
	q := r.URL.Query()
	f := core.DeliveryFilter{Targets: targets, EventType: q.Get("event"), Target: q.Get("target"), Cursor: q.Get("cursor"), Limit: core.DefaultPageSize}
	if targets != nil && len(targets) == 0 {
		f.Targets = []string{} // a tenant without webhooks sees nothing (nil would be everything)
	}
	if bad := map[string]string{}; !timeRange(q, &f.From, &f.To, bad) {
		writeFieldErrors(w, bad)
		return
	}
	if !f.SetStatus(q.Get("status")) {
		writeFieldErrors(w, map[string]string{"status": "must be one of " + strings.Join(core.Statuses, ", ")})
		return
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPageSize {
			writeFieldErrors(w, map[string]string{"limit": fmt.Sprintf("must be a number from 1 to %d", maxPageSize)})
			return
		}
		f.Limit = n
	}
	page, err := m.Store.DeliveryPage(r.Context(), f)
	if err != nil {
		if errors.Is(err, core.ErrBadCursor) {
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

// ownDelivery returns the request's delivery {id} if the caller may see it: any for an admin,
// one to the caller's webhooks for a tenant.
func (m *Management) ownDelivery(w http.ResponseWriter, r *http.Request) (*core.Delivery, bool) {
	d, err := m.Store.Delivery(r.Context(), r.PathValue("id"))
	if err == nil && !m.admin(r) {
		if _, herr := m.Webhooks.Get(r.Context(), AccountOf(r), d.Target); herr != nil {
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
	if d, ok := m.ownDelivery(w, r); ok {
		m.writeDelivery(w, r, http.StatusOK, d)
	}
}

// writeDelivery answers status with d and every attempt it has made, retried or not.
func (m *Management) writeDelivery(w http.ResponseWriter, r *http.Request, status int, d *core.Delivery) {
	attempts, err := m.Store.AttemptsOf(r.Context(), []string{d.ID})
	if err != nil {
		m.unavailable(w, err)
		return
	}
	writeJSON(w, status, toDeliveryJSON(d, attempts[d.ID]))
}

func (m *Management) retry(w http.ResponseWriter, r *http.Request) {
	d, ok := m.ownDelivery(w, r)
	if !ok {
		return
	}
	switch err := m.Webhooks.RetryDelivery(r.Context(), AccountOf(r), d); {
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
	// The earlier attempts stay in the answer, as GET shows them: a retry adds to the
	// delivery's history, it does not start a new one.
	m.writeDelivery(w, r, http.StatusAccepted, d)
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

// attemptJSON is a as the API shows it: URLs in the error and the receiver's answer redacted
// (notify.RedactURLsIn), since they may carry a webhook's token.
func attemptJSON(a core.Attempt) attemptOut {
	return attemptOut{Number: a.Number, StartedAt: a.StartedAt, DurationMS: a.Duration.Milliseconds(), Outcome: a.Outcome,
		StatusCode: a.StatusCode, Error: notify.RedactURLsIn(a.Error), Response: notify.RedactURLsIn(a.Response)}
}

type deliveryJSON struct {
	ID string `json:"id"`
	// WebhookID is the target's name: a registered webhook's id, or (admins) a config target's.
	WebhookID     string     `json:"webhook_id"`
	Target        string     `json:"target"`
	Route         string     `json:"route,omitempty"` // the config route that made it ("" for a registered webhook)
	EventID       string     `json:"event_id"`
	Event         string     `json:"event"`
	Status        string     `json:"status"`
	AttemptCount  int        `json:"attempt_count"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	// SilenceID is the silence that kept a delivery of status "silenced" from being sent.
	SilenceID string       `json:"silence_id,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Attempts  []attemptOut `json:"attempts"`
}

func toDeliveryJSON(d *core.Delivery, attempts []core.Attempt) deliveryJSON {
	out := deliveryJSON{ID: d.ID, WebhookID: d.Target, Target: d.Target, Route: d.Route, EventID: d.EventID, Event: d.EventType, Status: d.Status(),
		AttemptCount: d.Attempts, LastError: notify.RedactURLsIn(d.LastError), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Attempts: []attemptOut{},
		SilenceID: d.SilenceID()}
	if d.State == core.StatePending {
		next := d.NextAttemptAt
		out.NextAttemptAt = &next
	}
	for _, a := range attempts {
		out.Attempts = append(out.Attempts, attemptJSON(a))
	}
	return out
}

func (m *Management) unavailable(w http.ResponseWriter, err error) {
	m.Log.Error("management API: storage failed", "err", err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "storage is unavailable; retry later")
}

func etag(h *core.Webhook) string { return `"` + strconv.Itoa(h.Version) + `"` }

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
func writeFieldErrors(w http.ResponseWriter, fields webhooks.FieldErrors) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
		"code": CodeInvalidRequest, "message": fields.Error(), "fields": map[string]string(fields)}})
}

// timeRange sets from and to from the query parameters "from" and "to" (RFC 3339 times with a
// zone; absent: zero), adding a message to bad for each that does not parse. It reports
// whether both parsed.
func timeRange(q url.Values, from, to *time.Time, bad map[string]string) bool {
	ok := true
	for name, at := range map[string]*time.Time{"from": from, "to": to} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad[name] = "must be an RFC 3339 time with a zone, e.g. 2026-01-02T15:04:05Z"
				ok = false
			}
			*at = t
		}
	}
	return ok
}
