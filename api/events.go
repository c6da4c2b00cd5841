package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// EventStore is what the events API reads and changes (store.DB implements it). Targets
// arguments are nil for an admin (every target) and the account's webhook ids for a tenant.
// Storage failures wrap core.ErrUnavailable.
type EventStore interface {
	// Events lists one page of events, newest received first; a cursor it did not return is
	// core.ErrBadCursor.
	Events(ctx context.Context, f core.EventFilter) (core.EventPage, error)
	// Event returns one stored event, or core.ErrNotFound.
	Event(ctx context.Context, id string) (*event.Event, error)
	// EventDeliveries lists an event's deliveries to targets, oldest first.
	EventDeliveries(ctx context.Context, eventID string, targets []string) ([]*core.Delivery, error)
	// EventHolds lists the routes' holds of an event on targets, recorded at ingest.
	EventHolds(ctx context.Context, eventID string, targets []string) ([]core.Hold, error)
	// RetryDeliveries revives dead deliveries in bulk: how many, and whether some are left.
	RetryDeliveries(ctx context.Context, f core.RetryFilter, now time.Time) (int, bool, error)
}

// RouteDecision is one route's verdict for an event, recomputed on request with the config in
// force (the bridge's dry run): the rules may have changed since the event arrived, the
// deliveries and holds beside it are what happened.
type RouteDecision struct {
	Route   string `json:"route"`
	Matched bool   `json:"matched"`
	// Explanation is the rule's evaluation, one step a line ("" when not evaluated).
	Explanation string `json:"explanation,omitempty"`
	// StoppedBy is the earlier matching route with stop: true that ended the evaluation.
	StoppedBy string        `json:"stopped_by,omitempty"`
	Targets   []RouteTarget `json:"targets,omitempty"`
}

// RouteTarget is a target a matching route names.
type RouteTarget struct {
	Name string `json:"name"`
	// Already: an earlier route already sends the event there (one delivery per target).
	Already bool `json:"already,omitempty"`
	// HeldKey is set when a group, throttle or quiet hours would hold the event back, to the
	// group key ("-" for a route that groups everything); Dropped when quiet hours drop it.
	HeldKey string `json:"held_key,omitempty"`
	Dropped bool   `json:"dropped,omitempty"`
}

// admin reports whether the request's account has RoleAdmin.
func (m *Management) admin(r *http.Request) bool { return m.Keys.Admin(AccountOf(r)) }

// visibleTargets are the targets the caller may see: nil (all) for an admin, its webhooks for a
// tenant.
func (m *Management) visibleTargets(r *http.Request) ([]string, error) {
	if m.admin(r) {
		return nil, nil
	}
	return m.accountTargets(r)
}

// eventFilter reads GET /events' query parameters; it answers 422 naming the parameter and
// returns false when one is wrong.
func eventFilter(w http.ResponseWriter, r *http.Request) (core.EventFilter, bool) {
	q := r.URL.Query()
	f := core.EventFilter{Type: q.Get("type"), Severity: q.Get("severity"), Repository: q.Get("repository"),
		ScanID: q.Get("scan_id"), Delivery: q.Get("delivery"), Text: q.Get("q"), Cursor: q.Get("cursor"), Limit: core.DefaultPageSize}
	bad := map[string]string{}
	if f.Delivery != "" && !slices.Contains(core.EventDeliveryStates, f.Delivery) {
		bad["delivery"] = "must be one of failed, dead, held"
	}
	if len(f.Text) > core.MaxTextBytes {
		bad["q"] = fmt.Sprintf("must be at most %d bytes", core.MaxTextBytes)
	}
	timeRange(q, &f.From, &f.To, bad)
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > core.MaxEventPageSize {
			bad["limit"] = fmt.Sprintf("must be a number from 1 to %d", core.MaxEventPageSize)
		}
		f.Limit = n
	}
	if len(bad) > 0 {
		writeFieldErrors(w, bad)
		return f, false
	}
	return f, true
}

// eventSummaryJSON is one row of GET /events.
type eventSummaryJSON struct {
	ID         string    `json:"id"`
	Event      string    `json:"event"`
	Timestamp  time.Time `json:"timestamp"`
	ReceivedAt time.Time `json:"received_at"`
	Severity   string    `json:"severity,omitempty"`
	Repository string    `json:"repository,omitempty"`
	ScanID     string    `json:"scan_id,omitempty"`
	Title      string    `json:"title,omitempty"`
	File       string    `json:"file,omitempty"`
}

func (m *Management) listEvents(w http.ResponseWriter, r *http.Request) {
	f, ok := eventFilter(w, r)
	if !ok {
		return
	}
	targets, err := m.visibleTargets(r)
	if err != nil {
		m.unavailable(w, err)
		return
	}
	if targets != nil && len(targets) == 0 {
		targets = []string{} // a tenant without webhooks sees nothing (nil would be everything)
	}
	f.Targets = targets
	page, err := m.Events.Events(r.Context(), f)
	switch {
	case errors.Is(err, core.ErrBadCursor):
		writeFieldErrors(w, map[string]string{"cursor": "not a cursor this listing returned"})
		return
	case err != nil:
		m.unavailable(w, err)
		return
	}
	out := make([]eventSummaryJSON, len(page.Events))
	for i, e := range page.Events {
		out[i] = eventSummaryJSON{ID: e.ID, Event: e.Type, Timestamp: e.OccurredAt, ReceivedAt: e.ReceivedAt, Severity: e.Severity,
			Repository: e.Repository, ScanID: e.ScanID, Title: e.Title, File: e.File}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out, "next_cursor": page.NextCursor})
}

type holdJSON struct {
	Target string `json:"target"`
	Route  string `json:"route"`
	Key    string `json:"key"`
	Member bool   `json:"member"`
	// GroupID is the group event that delivered the held event; "" while the group is open.
	GroupID string `json:"group_id,omitempty"`
}

type eventJSON struct {
	ID             string          `json:"id"`
	Event          string          `json:"event"`
	Timestamp      time.Time       `json:"timestamp"`
	ReceivedAt     time.Time       `json:"received_at"`
	SenderDelivery string          `json:"sender_delivery,omitempty"`
	Body           json.RawMessage `json:"body"`
}

func (m *Management) getEvent(w http.ResponseWriter, r *http.Request) {
	ctx, id := r.Context(), r.PathValue("id")
	targets, err := m.visibleTargets(r)
	if err != nil {
		m.unavailable(w, err)
		return
	}
	if targets != nil && len(targets) == 0 {
		targets = []string{}
	}
	ev, err := m.Events.Event(ctx, id)
	var deliveries []*core.Delivery
	if err == nil {
		deliveries, err = m.Events.EventDeliveries(ctx, id, targets)
		if err == nil && targets != nil && len(deliveries) == 0 {
			err = core.ErrNotFound // a tenant sees only the events delivered to its webhooks
		}
	}
	var holds []core.Hold
	if err == nil {
		holds, err = m.Events.EventHolds(ctx, id, targets)
	}
	ids := make([]string, len(deliveries))
	for i, d := range deliveries {
		ids[i] = d.ID
	}
	var attempts map[string][]core.Attempt
	if err == nil {
		attempts, err = m.Store.AttemptsOf(ctx, ids)
	}
	switch {
	case errors.Is(err, core.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "no event "+id)
		return
	case errors.Is(err, core.ErrUnavailable):
		m.unavailable(w, err)
		return
	case err != nil: // stored, but its body no longer parses
		m.Log.Error("events API: stored event unreadable", "event_id", id, "err", err)
		writeError(w, http.StatusInternalServerError, "unreadable_event", "the stored event "+id+" no longer parses; see the bridge's log")
		return
	}
	out := map[string]any{
		"event": eventJSON{ID: ev.ID, Event: ev.Type, Timestamp: ev.Timestamp, ReceivedAt: ev.ReceivedAt, SenderDelivery: ev.Delivery,
			Body: json.RawMessage(ev.Raw)},
	}
	dl := make([]deliveryJSON, len(deliveries))
	for i, d := range deliveries {
		dl[i] = toDeliveryJSON(d, attempts[d.ID])
	}
	out["deliveries"] = dl
	hl := make([]holdJSON, len(holds))
	for i, h := range holds {
		hl[i] = holdJSON{Target: h.Target, Route: h.Route, Key: h.Key, Member: h.Member, GroupID: h.GroupID}
	}
	out["holds"] = hl
	// The routes name the config's targets: admins only.
	if targets == nil && m.Decide != nil {
		out["routes"] = m.Decide(ev)
	}
	// Acknowledgements and the audit log come from Slack's buttons and silences: admins only,
	// like silences.
	if targets == nil && m.Silences != nil {
		acks, history, err := m.eventRecord(ctx, id)
		if err != nil {
			m.unavailable(w, err)
			return
		}
		out["acknowledgements"], out["history"] = acks, history
	}
	writeJSON(w, http.StatusOK, out)
}

// ackJSON is an acknowledgement of an event (Slack's Acknowledge button).
type ackJSON struct {
	Source   string    `json:"source"`
	UserID   string    `json:"user_id"`
	UserName string    `json:"user_name,omitempty"`
	At       time.Time `json:"at"`
}

// eventRecord is what people did about event id: its acknowledgements, oldest first, and its
// audit log (acknowledged, muted), newest first.
func (m *Management) eventRecord(ctx context.Context, id string) ([]ackJSON, []auditJSON, error) {
	acks, err := m.Silences.Acknowledgements(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	history, err := m.Silences.History(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	ao := make([]ackJSON, len(acks))
	for i, a := range acks {
		ao[i] = ackJSON{Source: a.Source, UserID: a.UserID, UserName: a.UserName, At: a.At}
	}
	return ao, toAuditJSON(history), nil
}

// retryRequest is the body of POST /deliveries/retry.
type retryRequest struct {
	Target string     `json:"target"`
	From   *time.Time `json:"from"`
	To     *time.Time `json:"to"`
}

// retryDead revives dead deliveries in bulk: an admin's of any target, a tenant's of its own
// webhooks.
func (m *Management) retryDead(w http.ResponseWriter, r *http.Request) {
	var in retryRequest
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Target == "" && in.From == nil && in.To == nil {
		writeFieldErrors(w, map[string]string{"target": "give target, from or to (a bulk retry of every dead delivery must be asked for by a time range)"})
		return
	}
	f := core.RetryFilter{Target: in.Target}
	if in.From != nil {
		f.From = *in.From
	}
	if in.To != nil {
		f.To = *in.To
	}
	targets, err := m.visibleTargets(r)
	if err != nil {
		m.unavailable(w, err)
		return
	}
	if targets != nil {
		if in.Target != "" && !slices.Contains(targets, in.Target) {
			writeError(w, http.StatusNotFound, CodeNotFound, "no webhook "+in.Target)
			return
		}
		f.Targets = append([]string{}, targets...)
	}
	n, more, err := m.Events.RetryDeliveries(r.Context(), f, time.Now())
	if err != nil {
		m.unavailable(w, err)
		return
	}
	m.Log.Info("dead deliveries retried on request", "account", AccountOf(r), "target", in.Target, "from", f.From, "to", f.To, "retried", n)
	writeJSON(w, http.StatusOK, map[string]any{"retried": n, "more": more})
}
