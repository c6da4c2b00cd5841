package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/silences"
)

// The event page, /events/{id}: the path every built-in template links to. It shows the
// stored event, why each route matched or not and what was held (the dry run of the config in
// force, at the time the event arrived), and every delivery of it with each attempt; retrying a
// delivery and sending the event again to one target are forms on it.
//
// Roles: an admin (api.keys[].role: admin) sees every delivery and the route decisions; any
// other account sees the event only when it has a delivery to one of the account's webhooks,
// and then only those deliveries: never the config's targets, their routes or their errors.

// maxFieldChars bounds each data field's value the page shows (bytes of its JSON), and
// maxFields how many fields it lists (the first by name); the raw event below them is bounded
// by maxPreviewBytes. An event is attacker-influenced: a page of it stays under about 1 MiB of
// HTML whatever it holds.
const (
	maxFieldChars = 2 << 10
	maxFields     = 100
)

type eventField struct{ Name, Value string }

// eventDelivery is one delivery of the event with its attempts.
type eventDelivery struct {
	D        *core.Delivery
	Status   string
	Kind     string // the target's type; "webhook" for a registered webhook
	Label    string // the webhook's URL for its own account; "" otherwise
	Attempts []core.Attempt
	CanRetry bool
	// SilenceID is the silence that kept a silenced delivery from being sent (admins only,
	// like silences).
	SilenceID string
}

// heldRow is a hold of the event recorded at ingest.
type heldRow struct {
	core.Hold
	How []string // the route's group, throttle and quiet hours in the config now (core.Route.Holding)
}

// resendOption is a target the event can be sent again to.
type resendOption struct{ Name, Label string }

type eventData struct {
	Ev         *event.Event
	Title      string // data.title, cut to maxFieldChars
	Admin      bool
	Fields     []eventField
	MoreFields int // fields not listed (see maxFields)
	Raw        string
	Deliveries []eventDelivery
	Routes     []routeVerdict // admins only; each route's Targets are left out
	Sends      map[string][]string
	Held       []heldRow
	Digests    []digestVerdict
	NoConfig   bool
	Resend     []resendOption
	// Record is what people did about the event (admins only, when silences are served).
	Record *eventRecord
	// Findings links to the findings page of the event's repository and branch (admins; an
	// issue.critical whose scan's repository is known, or a finding.* event); "" otherwise.
	Findings string
}

// eventRecord is the event's acknowledgements (oldest first) and audit history (newest
// first), and the "Silence similar" form: the silences service's MuteRuleOf the event, prefilled unless it
// is longer than a silence's rule may be (silences.MaxRuleBytes; MuteRule keeps within it).
type eventRecord struct {
	Acks      []core.Acknowledgement
	History   []core.AuditEntry
	Rule      string
	Durations []string
}

func newEventRecord(rule string, acks []core.Acknowledgement, history []core.AuditEntry) *eventRecord {
	rec := &eventRecord{Acks: acks, History: history, Durations: silenceDurations}
	if len(rule) <= silences.MaxRuleBytes {
		rec.Rule = rule
	}
	return rec
}

// scope is what the signed-in account may see: every target (admin), or its webhooks.
type scope struct {
	admin bool
	hooks map[string]*core.Webhook // the account's webhooks by id
}

func (d *Dashboard) scopeOf(r *http.Request) (scope, error) {
	account := accountOf(r)
	hooks, err := d.cfg.Store.Webhooks(r.Context(), account)
	if err != nil {
		return scope{}, err
	}
	s := scope{admin: d.cfg.Keys.Admin(account), hooks: map[string]*core.Webhook{}}
	for _, h := range hooks {
		s.hooks[h.ID] = h
	}
	return s, nil
}

// targets is the listing restriction of core.DeliveryFilter.Targets: nil (all) for an admin,
// else the account's webhook ids (empty: none).
func (s scope) targets() []string {
	if s.admin {
		return nil
	}
	ids := make([]string, 0, len(s.hooks))
	for id := range s.hooks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// loadEvent resolves the account's scope, then loads event {id} and the deliveries of it the
// account sees; it answers 404 when there is no such event or, for a tenant, none of its
// deliveries is the account's (so ids do not leak). When it returns false it has written the
// answer.
func (d *Dashboard) loadEvent(w http.ResponseWriter, r *http.Request) (scope, *event.Event, []*core.Delivery, bool) {
	sc, err := d.scopeOf(r)
	if err != nil {
		d.unavailable(w, r, err)
		return scope{}, nil, nil, false
	}
	id := r.PathValue("id")
	ev, err := d.cfg.Store.Event(r.Context(), id)
	var ds []*core.Delivery
	if err == nil {
		ds, err = d.cfg.Store.EventDeliveries(r.Context(), id, sc.targets())
	}
	switch {
	case errors.Is(err, core.ErrNotFound):
		d.fail(w, r, http.StatusNotFound, "There is no event "+id+". Events are kept for storage.retention; this one may have been pruned.")
		return scope{}, nil, nil, false
	case err != nil && !errors.Is(err, core.ErrUnavailable):
		// A stored body that no longer parses (a stricter validation after an upgrade).
		d.cfg.Log.Error("dashboard: stored event unreadable", "event_id", id, "err", err)
		d.fail(w, r, http.StatusInternalServerError, "The stored event "+id+" can no longer be read; the log has the reason.")
		return scope{}, nil, nil, false
	case err != nil:
		d.unavailable(w, r, err)
		return scope{}, nil, nil, false
	}
	if !sc.admin && len(ds) == 0 {
		d.fail(w, r, http.StatusNotFound, "There is no event "+id+" delivered to your webhooks.")
		return scope{}, nil, nil, false
	}
	return sc, ev, ds, true
}

func (d *Dashboard) eventPage(w http.ResponseWriter, r *http.Request) {
	sc, ev, ds, ok := d.loadEvent(w, r)
	if !ok {
		return
	}
	d.showEvent(w, r, http.StatusOK, sc, ev, ds, "")
}

func (d *Dashboard) showEvent(w http.ResponseWriter, r *http.Request, status int, sc scope, ev *event.Event, ds []*core.Delivery, problem string) {
	ids := make([]string, len(ds))
	for i, dl := range ds {
		ids[i] = dl.ID
	}
	attempts, err := d.cfg.Store.AttemptsOf(r.Context(), ids)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	data := &eventData{Ev: ev, Title: cut(ev.String("title"), maxFieldChars), Admin: sc.admin, Fields: fieldsOf(ev), Raw: prettyJSON(ev.Raw)}
	if len(data.Fields) > maxFields {
		data.Fields, data.MoreFields = data.Fields[:maxFields], len(data.Fields)-maxFields
	}
	if sc.admin {
		data.Findings = d.findingsLink(r.Context(), ev)
	}
	rt := d.runtime()
	types := map[string]string{}
	if rt != nil {
		for _, t := range rt.Targets {
			types[t.Name] = t.Type
		}
	}
	for _, dl := range ds {
		st := dl.Status()
		row := eventDelivery{D: dl, Status: st, Attempts: attempts[dl.ID], CanRetry: retryable(st), Kind: types[dl.Target]}
		if sc.admin {
			row.SilenceID = dl.SilenceID()
		}
		if h := sc.hooks[dl.Target]; h != nil {
			row.Kind, row.Label = "webhook", h.URL
		} else if row.Kind == "" {
			row.Kind = map[bool]string{true: "webhook", false: "not in the config"}[isWebhook(dl.Target)]
		}
		data.Deliveries = append(data.Deliveries, row)
	}
	data.NoConfig = rt == nil
	if sc.admin && rt != nil {
		// Recomputed with the config in force, at the time the event arrived; no message is
		// rendered.
		res := dryrun.Run(rt, ev, dryrun.Options{Now: ev.ReceivedAt, Render: func(string) bool { return false }})
		data.Sends = map[string][]string{}
		for _, rv := range res.Routes {
			data.Routes = append(data.Routes, verdictOf(rv))
			for _, t := range rv.Targets {
				if !t.Already {
					data.Sends[rv.Route.Name] = append(data.Sends[rv.Route.Name], t.Name)
				}
			}
		}
		for _, dg := range res.Digests {
			data.Digests = append(data.Digests, digestVerdictOf(dg))
		}
	}
	if sc.admin {
		holds, err := d.cfg.Store.EventHolds(r.Context(), ev.ID, nil)
		if err != nil {
			d.unavailable(w, r, err)
			return
		}
		for _, h := range holds {
			row := heldRow{Hold: h}
			if rt != nil {
				if route := rt.Router.Route(h.Route); route != nil {
					row.How = route.Holding(ev.ReceivedAt)
				}
			}
			data.Held = append(data.Held, row)
		}
	}
	if sc.admin && d.cfg.Silences != nil {
		acks, err := d.cfg.Silences.Acknowledgements(r.Context(), ev.ID)
		var history []core.AuditEntry
		if err == nil {
			history, err = d.cfg.Silences.History(r.Context(), ev.ID)
		}
		var rule string
		if err == nil {
			rule, err = d.cfg.Silences.MuteRuleOf(r.Context(), ev)
		}
		if err != nil {
			d.unavailable(w, r, err)
			return
		}
		data.Record = newEventRecord(rule, acks, history)
	}
	data.Resend = d.resendOptions(sc, ev, ds)
	d.render(w, r, status, "event", page{Title: "Event " + ev.ID, Nav: "events", Flash: flash(r), Error: problem, Data: data})
}

// isWebhook reports whether target names a registered webhook (its id) rather than a target
// of the config.
func isWebhook(target string) bool { return strings.HasPrefix(target, core.WebhookPrefix) }

// fieldsOf lists the event's data fields by name, each value as JSON (strings as they are),
// cut to maxFieldChars.
func fieldsOf(ev *event.Event) []eventField {
	out := make([]eventField, 0, len(ev.Data))
	for name, v := range ev.Data {
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				b = []byte(fmt.Sprint(v))
			}
			s = string(b)
		}
		out = append(out, eventField{Name: name, Value: cut(s, maxFieldChars)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// resendOptions are the targets the account may send ev again to: for an admin, the enabled
// targets of the config and the targets of ev's deliveries; for every account, its active
// webhooks that subscribed to ev's type.
func (d *Dashboard) resendOptions(sc scope, ev *event.Event, ds []*core.Delivery) []resendOption {
	var out []resendOption
	seen := map[string]bool{}
	add := func(name, label string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, resendOption{Name: name, Label: label})
		}
	}
	ids := make([]string, 0, len(sc.hooks))
	for id := range sc.hooks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if h := sc.hooks[id]; h.Active && h.Wants(ev.Type) {
			add(id, h.URL)
		}
	}
	if !sc.admin {
		return out
	}
	if rt := d.runtime(); rt != nil {
		for _, t := range rt.Targets {
			if t.Disabled == "" {
				add(t.Name, t.Type)
			}
		}
	}
	for _, dl := range ds {
		if isWebhook(dl.Target) {
			add(dl.Target, "webhook")
		}
	}
	return out
}

// eventRetry retries one of the event's deliveries, then shows the event again.
func (d *Dashboard) eventRetry(w http.ResponseWriter, r *http.Request) {
	sc, ev, ds, ok := d.loadEvent(w, r)
	if !ok {
		return
	}
	i := slices.IndexFunc(ds, func(dl *core.Delivery) bool { return dl.ID == r.PostFormValue("delivery") })
	if i < 0 {
		d.showEvent(w, r, http.StatusNotFound, sc, ev, ds, "This event has no such delivery to retry.")
		return
	}
	dl := ds[i]
	if !retryable(dl.Status()) {
		d.showEvent(w, r, http.StatusConflict, sc, ev, ds, "Only dead or failed deliveries can be retried; the one to "+dl.Target+" is "+dl.Status()+".")
		return
	}
	switch err := d.cfg.Webhooks.RetryDelivery(r.Context(), accountOf(r), dl); {
	case errors.Is(err, core.ErrConflict):
		d.showEvent(w, r, http.StatusConflict, sc, ev, ds, "An attempt of this delivery is running; retry once it has finished.")
		return
	case err != nil:
		d.unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, eventPath(ev.ID)+"?done=retried#delivery-"+dl.ID, http.StatusSeeOther)
}

// eventResend sends the event again to one target the account may send it to.
func (d *Dashboard) eventResend(w http.ResponseWriter, r *http.Request) {
	sc, ev, ds, ok := d.loadEvent(w, r)
	if !ok {
		return
	}
	target := r.PostFormValue("target")
	if !slices.ContainsFunc(d.resendOptions(sc, ev, ds), func(o resendOption) bool { return o.Name == target }) {
		d.showEvent(w, r, http.StatusUnprocessableEntity, sc, ev, ds, "Choose a target from the list to send this event to.")
		return
	}
	route := ""
	if isWebhook(target) {
		route = "webhook:" + target
	} else if rt := d.runtime(); rt != nil {
		if t := dryrun.Run(rt, ev, dryrun.Options{Now: ev.ReceivedAt, Render: func(string) bool { return false }}).Delivery(target); t != nil {
			route = t.Route.Name
		}
	}
	dl, err := d.cfg.Store.Resend(r.Context(), ev.ID, target, route, d.cfg.NowFunc())
	switch {
	case errors.Is(err, core.ErrConflict):
		d.showEvent(w, r, http.StatusConflict, sc, ev, ds, "An attempt to "+target+" is running; send again once it has finished.")
		return
	case errors.Is(err, core.ErrNotFound):
		d.fail(w, r, http.StatusNotFound, "The event was pruned meanwhile.")
		return
	case err != nil:
		d.unavailable(w, r, err)
		return
	}
	d.cfg.Log.Info("event sent again from the dashboard", "account", accountOf(r), "event_id", ev.ID, "target", target, "delivery_id", dl.ID)
	http.Redirect(w, r, eventPath(ev.ID)+"?done=resent#delivery-"+dl.ID, http.StatusSeeOther)
}

// eventPath is the event page's path (the path templates link to), its id escaped.
func eventPath(id string) string { return "/events/" + url.PathEscape(id) }
