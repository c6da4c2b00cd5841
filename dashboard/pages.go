package dashboard

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

// healthWindow is how far back target health looks in the attempt log.
const healthWindow = 7 * 24 * time.Hour

// flashes are the messages a redirect after a form can ask for (?done=…); fixed texts, so a
// link cannot make the dashboard say something else.
var flashes = map[string]string{
	"created":       "Webhook added.",
	"saved":         "Changes saved.",
	"deleted":       "Webhook deleted. Its queued deliveries were cancelled.",
	"retried":       "Delivery queued for a new attempt. Reload in a moment to see it.",
	"resent":        "Event queued to be sent again. Reload in a moment to see the attempt.",
	"bulk":          "The matching dead deliveries were queued for a new attempt. Reload in a moment to see them.",
	"bulkmore":      fmt.Sprintf("The first %d matching dead deliveries were queued for a new attempt; retry again for the rest.", core.MaxBulkRetry),
	"silenced":      "Silence created. Matching events are recorded as silenced and not sent.",
	"unsilenced":    "Silence ended. Matching events are delivered again.",
	"already-ended": "That silence had already ended.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }

// ---- Overview ----------------------------------------------------------------------------

type overviewData struct {
	Webhooks     int
	HourCounts   []statusCount
	DayCounts    []statusCount
	HourTotal    int
	DayTotal     int
	Dead         int
	EventsHour   int
	EventsDay    int
	Chart        template.HTML
	ChartRows    []chartRow
	Health       []healthRow
	ShowCircuits bool
	Admin        bool // the health table lists the config's targets too
}

type statusCount struct {
	Status string
	N      int
}

func countsOf(m map[string]int) ([]statusCount, int) {
	out := make([]statusCount, 0, len(core.Statuses))
	total := 0
	for _, s := range core.Statuses {
		out = append(out, statusCount{s, m[s]})
		total += m[s]
	}
	return out, total
}

// healthRow is one target on the overview and webhook list.
type healthRow struct {
	Name        string
	Own         bool   // one of the account's webhooks (else a target of the config)
	Link        string // the webhook's page; "" for a configured target
	Kind        string // the target type
	Label       string // the webhook's URL; "" for configured targets (their URLs may hold tokens)
	Status      string // healthy, failing, circuit open, disabled, paused, no attempts
	Class       string
	LastSuccess time.Time
	LastAttempt time.Time
	Streak      int
	LastError   string
	Circuit     string // open, closed, "" when unknown
	Pending     int
	Dead        int
	Note        string // why disabled
}

// ownTargets lists the account's webhooks and their ids.
func (d *Dashboard) ownTargets(ctx context.Context, account string) ([]*core.Webhook, []string, error) {
	hooks, err := d.cfg.Store.Webhooks(ctx, account)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(hooks))
	for i, h := range hooks {
		ids[i] = h.ID
	}
	return hooks, ids, nil
}

// health builds the rows for the account's webhooks and, when withConfigured, the config's
// targets.
func (d *Dashboard) health(ctx context.Context, hooks []*core.Webhook, withConfigured bool) ([]healthRow, error) {
	var rows []healthRow
	for _, h := range hooks {
		rows = append(rows, healthRow{Own: true, Name: h.ID, Link: "/ui/webhooks/" + h.ID, Kind: "webhook", Label: h.URL,
			Note: map[bool]string{false: "inactive: receives nothing"}[h.Active]})
	}
	if rt := d.runtime(); withConfigured && rt != nil {
		for _, t := range rt.Targets {
			rows = append(rows, healthRow{Name: t.Name, Kind: t.Type, Note: t.Disabled})
		}
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	now := d.cfg.NowFunc()
	hs, err := d.cfg.Store.TargetHealth(ctx, names, now.Add(-healthWindow))
	if err != nil {
		return nil, err
	}
	byName := map[string]core.TargetHealth{}
	for _, h := range hs {
		byName[h.Target] = h
	}
	stats, err := d.cfg.Store.QueueStats(ctx)
	if err != nil {
		return nil, err
	}
	queue := map[string]core.QueueStats{}
	for _, s := range stats {
		queue[s.Target] = s
	}
	var circuits map[string]bool
	if d.cfg.Circuits != nil {
		circuits = d.cfg.Circuits()
	}
	for i := range rows {
		r := &rows[i]
		h := byName[r.Name]
		r.LastSuccess, r.LastAttempt, r.Streak, r.LastError = h.LastSuccess, h.LastAttempt, h.FailureStreak, notify.RedactURLsIn(h.LastError)
		q := queue[r.Name]
		r.Pending, r.Dead = q.Pending+q.Running, q.Dead
		if d.cfg.Circuits != nil {
			r.Circuit = map[bool]string{true: "open", false: "closed"}[circuits[r.Name]]
		}
		switch {
		case r.Note != "" && !r.Own:
			r.Status, r.Class = "disabled", "muted"
		case r.Note != "":
			r.Status, r.Class = "paused", "muted"
		case r.Circuit == "open":
			r.Status, r.Class = "circuit open", "bad"
		case h.LastAttempt.IsZero():
			r.Status, r.Class = "no attempts yet", "muted"
		case h.FailureStreak > 0:
			r.Status, r.Class = "failing", "bad"
		default:
			r.Status, r.Class = "healthy", "good"
		}
	}
	return rows, nil
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	hooks, ids, err := d.ownTargets(ctx, accountOf(r))
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	now := d.cfg.NowFunc().UTC()
	// Only admins see the config's targets: their names, health and errors (which name hosts);
	// their numbers count the deliveries to every target.
	data := overviewData{Webhooks: len(hooks), ShowCircuits: d.cfg.Circuits != nil, Admin: d.cfg.Keys.Admin(accountOf(r))}
	if data.Admin {
		ids = nil
	}
	hour, err := d.cfg.Store.DeliveryCounts(ctx, ids, now.Add(-time.Hour))
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	day, err := d.cfg.Store.DeliveryCounts(ctx, ids, now.Add(-24*time.Hour))
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	data.HourCounts, data.HourTotal = countsOf(hour)
	data.DayCounts, data.DayTotal = countsOf(day)
	if data.Health, err = d.health(ctx, hooks, data.Admin); err != nil {
		d.unavailable(w, r, err)
		return
	}
	var watched []string // the chart's failures: every target of the health table
	for _, h := range data.Health {
		watched = append(watched, h.Name)
		if h.Own {
			data.Dead += h.Dead
		}
	}
	if data.Admin { // every target's, registered webhooks of other accounts too
		stats, err := d.cfg.Store.QueueStats(ctx)
		if err != nil {
			d.unavailable(w, r, err)
			return
		}
		data.Dead = 0
		for _, s := range stats {
			data.Dead += s.Dead
		}
	}
	if watched == nil {
		watched = []string{}
	}
	// 24 buckets of an hour ending now: the last is the past hour, all of them the past day.
	buckets, err := d.cfg.Store.Activity(ctx, watched, now.Add(-24*time.Hour), now, time.Hour)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	for i, b := range buckets {
		data.EventsDay += b.Events
		if i == len(buckets)-1 {
			data.EventsHour = b.Events
		}
	}
	data.Chart, data.ChartRows = activityChart(buckets, now)
	d.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Flash: flash(r), Data: data})
}

// ---- Webhooks ----------------------------------------------------------------------------

type webhookRow struct {
	Hook   *core.Webhook
	Health healthRow
}

type webhookListData struct {
	Rows  []webhookRow
	Max   int
	Full  bool
	Empty bool
}

func (d *Dashboard) maxWebhooks() int {
	if d.cfg.Webhooks != nil {
		return d.cfg.Webhooks.Limit()
	}
	return 10
}

func (d *Dashboard) webhookList(w http.ResponseWriter, r *http.Request) {
	hooks, _, err := d.ownTargets(r.Context(), accountOf(r))
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	health, err := d.health(r.Context(), hooks, false)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	data := webhookListData{Max: d.maxWebhooks(), Full: len(hooks) >= d.maxWebhooks(), Empty: len(hooks) == 0}
	for i, h := range hooks {
		data.Rows = append(data.Rows, webhookRow{Hook: h, Health: health[i]})
	}
	d.render(w, r, http.StatusOK, "webhooks", page{Title: "Webhooks", Nav: "webhooks", Flash: flash(r), Data: data})
}

// webhookForm is the add/edit form with its values and problems. The secret a user typed is
// never rendered back.
type webhookForm struct {
	New         bool
	Hook        *core.Webhook // when editing
	URL         string
	Description string
	Events      map[string]bool
	Active      bool
	SecretMode  string // generate, set (create); keep, generate, set (edit)
	Errors      webhooks.FieldErrors
	EventTypes  []string

	// The webhook page's other parts (edit only).
	TestEvent  string
	TestResult *core.Attempt
	TestError  string
	Recent     []*core.Delivery
	Health     *healthRow
}

type problem struct{ Field, Label, Msg string }

// Problems are the form's errors in the order of its fields, for the summary above it.
func (f *webhookForm) Problems() []problem {
	var out []problem
	for _, p := range []problem{{"url", "URL", ""}, {"events", "Events", ""}, {"secret", "Signing secret", ""}, {"description", "Description", ""}} {
		if msg, ok := f.Errors[p.Field]; ok {
			p.Msg = msg
			out = append(out, p)
		}
	}
	return out
}

// friendlier rewords the management API's messages where the form says it better: the API's
// reader types JSON, the form's user ticks boxes.
func friendlier(bad webhooks.FieldErrors, in webhooks.Input) webhooks.FieldErrors {
	if in.URL != nil && *in.URL == "" {
		bad["url"] = "Enter the URL of your endpoint, e.g. https://example.com/hooks/cortex."
	}
	if in.Events != nil && len(*in.Events) == 0 {
		bad["events"] = "Choose at least one event type, or All events."
	}
	return bad
}

func newForm() *webhookForm {
	return &webhookForm{New: true, Active: true, SecretMode: "generate", Events: map[string]bool{}, EventTypes: event.Types,
		TestEvent: event.ScanCompleted}
}

func formOf(h *core.Webhook) *webhookForm {
	f := newForm()
	f.New, f.Hook, f.URL, f.Description, f.Active, f.SecretMode = false, h, h.URL, h.Description, h.Active, "keep"
	for _, e := range h.Events {
		f.Events[e] = true
	}
	return f
}

// parseForm reads the posted form into f and the management API's input; the secret to show
// once is returned when the user asked for a generated one on an edit.
func parseForm(r *http.Request, f *webhookForm) (webhooks.Input, string) {
	f.URL = strings.TrimSpace(r.PostFormValue("url"))
	f.Description = strings.TrimSpace(r.PostFormValue("description"))
	f.Active = r.PostFormValue("active") == "on"
	f.Events = map[string]bool{}
	events := []string{}
	for _, e := range r.PostForm["events"] {
		f.Events[e] = true
		events = append(events, e)
	}
	if f.Events["*"] {
		events = []string{"*"}
	}
	in := webhooks.Input{URL: &f.URL, Events: &events, Active: &f.Active, Description: &f.Description}
	f.SecretMode = r.PostFormValue("secret_mode")
	generated := ""
	switch f.SecretMode {
	case "set":
		secret := r.PostFormValue("secret")
		in.Secret = &secret
	case "generate":
		if !f.New {
			generated = webhooks.NewSecret()
			in.Secret = &generated
		}
	default:
		if f.New {
			f.SecretMode = "generate"
		} else {
			f.SecretMode = "keep"
		}
	}
	return in, generated
}

func (d *Dashboard) webhookNew(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "webhook_form", page{Title: "Add a webhook", Nav: "webhooks", Data: newForm()})
}

type secretData struct {
	Hook    *core.Webhook
	Secret  string
	Created bool
}

func (d *Dashboard) webhookCreate(w http.ResponseWriter, r *http.Request) {
	f := newForm()
	in, _ := parseForm(r, f)
	if f.SecretMode == "set" && *in.Secret == "" {
		f.Errors = webhooks.FieldErrors{"secret": "Enter a secret, or choose “Generate one for me”."}
		d.render(w, r, http.StatusUnprocessableEntity, "webhook_form", page{Title: "Add a webhook", Nav: "webhooks", Data: f})
		return
	}
	hook, secretOnce, err := d.cfg.Webhooks.CreateWebhook(r.Context(), accountOf(r), in)
	var bad webhooks.FieldErrors
	switch {
	case errors.As(err, &bad):
		f.Errors = friendlier(bad, in)
		d.render(w, r, http.StatusUnprocessableEntity, "webhook_form", page{Title: "Add a webhook", Nav: "webhooks", Data: f})
		return
	case errors.Is(err, core.ErrLimitReached):
		d.render(w, r, http.StatusConflict, "webhook_form", page{Title: "Add a webhook", Nav: "webhooks", Data: f,
			Error: fmt.Sprintf("Your account already has %d webhooks, the most it may have. Delete one first.", d.maxWebhooks())})
		return
	case err != nil:
		d.unavailable(w, r, err)
		return
	}
	if secretOnce == "" {
		http.Redirect(w, r, "/ui/webhooks/"+hook.ID+"?done=created", http.StatusSeeOther)
		return
	}
	d.render(w, r, http.StatusCreated, "webhook_secret", page{Title: "Webhook added", Nav: "webhooks",
		Data: secretData{Hook: hook, Secret: secretOnce, Created: true}})
}

// ownWebhook loads the request's webhook {id} if it is the account's; it answers 404 otherwise.
func (d *Dashboard) ownWebhook(w http.ResponseWriter, r *http.Request) (*core.Webhook, bool) {
	hook, err := d.cfg.Store.Webhook(r.Context(), accountOf(r), r.PathValue("id"))
	switch {
	case errors.Is(err, core.ErrNotFound):
		d.fail(w, r, http.StatusNotFound, "Your account has no webhook "+r.PathValue("id")+".")
		return nil, false
	case err != nil:
		d.unavailable(w, r, err)
		return nil, false
	}
	return hook, true
}

// showWebhook renders the webhook page (form, test, recent deliveries) for f.
func (d *Dashboard) showWebhook(w http.ResponseWriter, r *http.Request, status int, f *webhookForm, problem string) {
	ctx := r.Context()
	p, err := d.cfg.Store.DeliveryPage(ctx, core.DeliveryFilter{Targets: []string{f.Hook.ID}, Limit: 5})
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	f.Recent = p.Deliveries
	if rows, err := d.health(ctx, []*core.Webhook{f.Hook}, false); err == nil && len(rows) == 1 {
		f.Health = &rows[0]
	}
	d.render(w, r, status, "webhook_form", page{Title: "Webhook " + f.Hook.ID, Nav: "webhooks", Flash: flash(r), Error: problem, Data: f})
}

func (d *Dashboard) webhookEdit(w http.ResponseWriter, r *http.Request) {
	hook, ok := d.ownWebhook(w, r)
	if !ok {
		return
	}
	d.showWebhook(w, r, http.StatusOK, formOf(hook), "")
}

func (d *Dashboard) webhookUpdate(w http.ResponseWriter, r *http.Request) {
	hook, ok := d.ownWebhook(w, r)
	if !ok {
		return
	}
	f := formOf(hook)
	in, generated := parseForm(r, f)
	if f.SecretMode == "set" && *in.Secret == "" {
		f.Errors = webhooks.FieldErrors{"secret": "Enter a new secret, or choose “Keep the current secret”."}
		d.showWebhook(w, r, http.StatusUnprocessableEntity, f, "")
		return
	}
	version, _ := strconv.Atoi(r.PostFormValue("version"))
	err := d.cfg.Webhooks.UpdateWebhook(r.Context(), hook, in, version)
	var bad webhooks.FieldErrors
	switch {
	case errors.As(err, &bad):
		f.Errors = friendlier(bad, in)
		d.showWebhook(w, r, http.StatusUnprocessableEntity, f, "")
		return
	case errors.Is(err, core.ErrConflict):
		fresh, ok := d.ownWebhook(w, r)
		if !ok {
			return
		}
		d.showWebhook(w, r, http.StatusConflict, formOf(fresh),
			"Someone changed this webhook while you were editing it. This is the current version; make your change again.")
		return
	case errors.Is(err, core.ErrNotFound):
		d.fail(w, r, http.StatusNotFound, "This webhook was deleted meanwhile.")
		return
	case err != nil:
		d.unavailable(w, r, err)
		return
	}
	if generated != "" {
		d.render(w, r, http.StatusOK, "webhook_secret", page{Title: "New secret", Nav: "webhooks", Data: secretData{Hook: hook, Secret: generated}})
		return
	}
	http.Redirect(w, r, "/ui/webhooks/"+hook.ID+"?done=saved", http.StatusSeeOther)
}

func (d *Dashboard) webhookDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	hook, ok := d.ownWebhook(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, "webhook_delete", page{Title: "Delete webhook", Nav: "webhooks", Data: hook})
}

func (d *Dashboard) webhookDelete(w http.ResponseWriter, r *http.Request) {
	switch err := d.cfg.Webhooks.DeleteWebhook(r.Context(), accountOf(r), r.PathValue("id")); {
	case errors.Is(err, core.ErrNotFound):
		d.fail(w, r, http.StatusNotFound, "Your account has no webhook "+r.PathValue("id")+".")
		return
	case err != nil:
		d.unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/webhooks?done=deleted", http.StatusSeeOther)
}

func (d *Dashboard) webhookTest(w http.ResponseWriter, r *http.Request) {
	hook, ok := d.ownWebhook(w, r)
	if !ok {
		return
	}
	f := formOf(hook)
	f.TestEvent = r.PostFormValue("event")
	a, err := d.cfg.Webhooks.TestWebhook(r.Context(), hook, f.TestEvent)
	var bad webhooks.FieldErrors
	status := http.StatusOK
	switch {
	case errors.As(err, &bad):
		f.TestError, status = "Choose one of the six event types.", http.StatusUnprocessableEntity
		f.TestEvent = event.ScanCompleted
	case errors.Is(err, webhooks.ErrTestRateLimited):
		w.Header().Set("Retry-After", "1")
		f.TestError, status = "Too many test sends from your account; wait a second and send again.", http.StatusTooManyRequests
	case err != nil:
		d.unavailable(w, r, err)
		return
	default:
		f.TestResult = &a
	}
	d.showWebhook(w, r, status, f, "")
}

// ---- Deliveries --------------------------------------------------------------------------

type deliveryFilter struct {
	Status, Webhook, Event, From, To string
	Errors                           map[string]string
}

type deliveryListData struct {
	Filter     deliveryFilter
	Admin      bool     // every target's deliveries are listed
	Configured []string // the config's targets (admins only)
	Hooks      []*core.Webhook
	HookURL    map[string]string
	Rows       []*core.Delivery
	Attempts   map[string][]core.Attempt
	Next       string // the next page's URL
	First      bool   // this is the first page
	Statuses   []string
	EventTypes []string
}

const dateInput = "2006-01-02T15:04" // <input type="datetime-local">, read as UTC

// dateHint is the error a list filter shows for a from/to value that is not a dateInput.
const dateHint = "Use a date and time like 2026-01-02T15:04 (UTC)."

// dateBound reads v, a dateInput value, as one bound of a time range: the minute's start, or
// with end its last millisecond so the whole minute is in. The error is time.Parse's.
func dateBound(v string, end bool) (time.Time, error) {
	t, err := time.Parse(dateInput, v)
	if err != nil || !end {
		return t, err
	}
	return t.Add(time.Minute - time.Millisecond), nil
}

// dateRange reads a list filter's from and to (dateInput values; empty for no bound) as
// [lo, hi]; a value that does not parse leaves its bound zero and sets errs["from"] or
// errs["to"] to dateHint.
func dateRange(from, to string, errs map[string]string) (lo, hi time.Time) {
	var err error
	if from != "" {
		if lo, err = dateBound(from, false); err != nil {
			errs["from"] = dateHint
		}
	}
	if to != "" {
		if hi, err = dateBound(to, true); err != nil {
			errs["to"] = dateHint
		}
	}
	return lo, hi
}

func (d *Dashboard) deliveryList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	hooks, ids, err := d.ownTargets(ctx, accountOf(r))
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	admin := d.cfg.Keys.Admin(accountOf(r))
	data := deliveryListData{Admin: admin, Hooks: hooks, HookURL: map[string]string{}, Statuses: core.Statuses, EventTypes: event.Types,
		First: q.Get("cursor") == "",
		Filter: deliveryFilter{Status: q.Get("status"), Webhook: q.Get("webhook"), Event: q.Get("event"),
			From: q.Get("from"), To: q.Get("to"), Errors: map[string]string{}}}
	for _, h := range hooks {
		data.HookURL[h.ID] = h.URL
	}
	f := core.DeliveryFilter{Targets: ids, Cursor: q.Get("cursor"), Limit: 25}
	if admin {
		f.Targets = nil // every target
		if rt := d.runtime(); rt != nil {
			for _, t := range rt.Targets {
				data.Configured = append(data.Configured, t.Name)
			}
		}
	}
	fl := &data.Filter
	if !f.SetStatus(fl.Status) {
		fl.Errors["status"] = "Choose a status from the list."
	}
	if fl.Webhook != "" {
		if !admin && !slices.Contains(ids, fl.Webhook) {
			fl.Errors["webhook"] = "Choose one of your webhooks."
		}
		f.Targets = []string{fl.Webhook}
	}
	if fl.Event != "" {
		f.EventType = fl.Event
	}
	f.From, f.To = dateRange(fl.From, fl.To, fl.Errors)
	if len(fl.Errors) > 0 {
		d.render(w, r, http.StatusBadRequest, "deliveries", page{Title: "Deliveries", Nav: "deliveries", Data: data})
		return
	}
	p, err := d.cfg.Store.DeliveryPage(ctx, f)
	if err != nil {
		if errors.Is(err, core.ErrBadCursor) {
			d.fail(w, r, http.StatusBadRequest, "That page link is not valid any more. Start again from the first page.")
			return
		}
		d.unavailable(w, r, err)
		return
	}
	data.Rows = p.Deliveries
	if p.NextCursor != "" {
		next := url.Values{}
		for k, v := range map[string]string{"status": fl.Status, "webhook": fl.Webhook, "event": fl.Event, "from": fl.From, "to": fl.To} {
			if v != "" {
				next.Set(k, v)
			}
		}
		next.Set("cursor", p.NextCursor)
		data.Next = "/ui/deliveries?" + next.Encode()
	}
	d.render(w, r, http.StatusOK, "deliveries", page{Title: "Deliveries", Nav: "deliveries", Flash: flash(r), Data: data})
}

// deliveryRetryMany retries the dead deliveries of one target (or every target the account
// sees) created in a time range: an admin's of any target, another account's of its webhooks.
func (d *Dashboard) deliveryRetryMany(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	_, ids, err := d.ownTargets(ctx, accountOf(r))
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	f := core.RetryFilter{Target: r.PostFormValue("webhook"), Targets: ids}
	if d.cfg.Keys.Admin(accountOf(r)) {
		f.Targets = nil
	} else if f.Target != "" && !slices.Contains(ids, f.Target) {
		d.fail(w, r, http.StatusNotFound, "Your account has no webhook "+f.Target+".")
		return
	}
	back := url.Values{"status": {"dead"}}
	for _, name := range []string{"webhook", "from", "to"} {
		v := r.PostFormValue(name)
		if v == "" {
			continue
		}
		back.Set(name, v)
		if name == "webhook" {
			continue
		}
		t, err := dateBound(v, name == "to")
		if err != nil {
			d.fail(w, r, http.StatusBadRequest, "The time range of the retry is not valid: use a date and time like 2026-01-02T15:04 (UTC).")
			return
		}
		if name == "from" {
			f.From = t
		} else {
			f.To = t
		}
	}
	n, more, err := d.cfg.Store.RetryDeliveries(ctx, f, d.cfg.NowFunc())
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	d.cfg.Log.Info("dead deliveries retried from the dashboard", "account", accountOf(r), "target", f.Target, "from", f.From, "to", f.To, "retried", n, "more", more)
	back.Set("done", map[bool]string{false: "bulk", true: "bulkmore"}[more])
	http.Redirect(w, r, "/ui/deliveries?"+back.Encode(), http.StatusSeeOther)
}

type deliveryData struct {
	D        *core.Delivery
	Status   string
	Hook     *core.Webhook
	Attempts []core.Attempt
	CanRetry bool
}

// ownDelivery loads delivery {id} if it goes to one of the account's webhooks, or to any
// target for an admin (hook is then nil unless it is the admin's own webhook); 404 otherwise.
func (d *Dashboard) ownDelivery(w http.ResponseWriter, r *http.Request) (*core.Delivery, *core.Webhook, bool) {
	dl, err := d.cfg.Store.Delivery(r.Context(), r.PathValue("id"))
	var hook *core.Webhook
	if err == nil {
		hook, err = d.cfg.Store.Webhook(r.Context(), accountOf(r), dl.Target)
		if errors.Is(err, core.ErrNotFound) && d.cfg.Keys.Admin(accountOf(r)) {
			hook, err = nil, nil
		}
	}
	switch {
	case errors.Is(err, core.ErrNotFound):
		d.fail(w, r, http.StatusNotFound, "There is no delivery "+r.PathValue("id")+" to your webhooks.")
		return nil, nil, false
	case err != nil:
		d.unavailable(w, r, err)
		return nil, nil, false
	}
	return dl, hook, true
}

func retryable(status string) bool { return status == "dead" || status == "failed" }

func (d *Dashboard) showDelivery(w http.ResponseWriter, r *http.Request, status int, dl *core.Delivery, hook *core.Webhook, problem string) {
	attempts, err := d.cfg.Store.AttemptsOf(r.Context(), []string{dl.ID})
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	st := dl.Status()
	d.render(w, r, status, "delivery", page{Title: "Delivery " + dl.ID, Nav: "deliveries", Flash: flash(r), Error: problem,
		Data: deliveryData{D: dl, Status: st, Hook: hook, Attempts: attempts[dl.ID], CanRetry: retryable(st)}})
}

func (d *Dashboard) deliveryDetail(w http.ResponseWriter, r *http.Request) {
	dl, hook, ok := d.ownDelivery(w, r)
	if !ok {
		return
	}
	d.showDelivery(w, r, http.StatusOK, dl, hook, "")
}

func (d *Dashboard) deliveryRetry(w http.ResponseWriter, r *http.Request) {
	dl, hook, ok := d.ownDelivery(w, r)
	if !ok {
		return
	}
	if !retryable(dl.Status()) {
		d.showDelivery(w, r, http.StatusConflict, dl, hook, "Only dead or failed deliveries can be retried; this one is "+dl.Status()+".")
		return
	}
	switch err := d.cfg.Webhooks.RetryDelivery(r.Context(), accountOf(r), dl); {
	case errors.Is(err, core.ErrConflict):
		d.showDelivery(w, r, http.StatusConflict, dl, hook, "An attempt of this delivery is running; retry once it has finished.")
		return
	case err != nil:
		d.unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/deliveries/"+dl.ID+"?done=retried", http.StatusSeeOther)
}
