package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// A route can hold events back instead of delivering each at once (routes[] in docs/configuration.md):
//
//   - group: events with the same key go out together as one message, wait after the last one
//     (at most max_wait after the first), or at once when a close_on event arrives;
//   - throttle: at most one message per key per interval; what arrives meanwhile goes out as one
//     message when the interval ends ("+5 similar since 10:02"), never silently dropped;
//   - quiet hours (mute_time, active_time): while muted, events are held until the window ends
//     (on_mute: hold) or not sent on that route (on_mute: drop).
//
// Held events are group items, stored in the event's ingest transaction like deliveries. The
// scheduler fires a group when it is due: in one transaction it closes the items and stores a
// group event (GroupEventType) with one delivery, which the queue then delivers like any other.
// So an acknowledged event in an open group survives a restart, and with several replicas a
// group fires once.

// Keyer computes the key a route groups or throttles events by (rules.Key implements it). An
// error counts as a failed rule: the event is delivered on its own.
type Keyer interface {
	Value(ev *event.Event) (string, error)
}

// TimeInterval is a recurring window of time (Alertmanager's timeinterval.TimeInterval).
type TimeInterval interface {
	ContainsTime(t time.Time) bool
}

// GroupPolicy is routes[].group.
type GroupPolicy struct {
	By      []Keyer       // the key is the values of By joined; no By: one group per target
	Wait    time.Duration // the group fires Wait after its last event…
	MaxWait time.Duration // …but at most MaxWait after its first
	CloseOn Matcher       // optional: an event matching it fires its key's group at once
}

// ThrottlePolicy is routes[].throttle.
type ThrottlePolicy struct {
	Key      Keyer
	Interval time.Duration // at most one message per key per Interval
}

// MutePolicy is a route's quiet hours: routes[].mute_time, active_time and on_mute.
type MutePolicy struct {
	Mute   []TimeInterval // muted inside any of these
	Active []TimeInterval // when set: muted outside all of these
	Drop   bool           // on_mute: drop (false: hold until the window ends)
}

// Muted reports whether the route is muted at t.
func (m *MutePolicy) Muted(t time.Time) bool {
	if m == nil {
		return false
	}
	if len(m.Active) > 0 && !anyContains(m.Active, t) {
		return true
	}
	return anyContains(m.Mute, t)
}

func anyContains(ivs []TimeInterval, t time.Time) bool {
	for _, iv := range ivs {
		if iv.ContainsTime(t) {
			return true
		}
	}
	return false
}

// GroupItem is an event held in a group of (Target, Route, Key) instead of delivered at once.
type GroupItem struct {
	Target, Route, Key string
	// Member is false for an event that only closes the group (it matched close_on but not the
	// route): it fires the group and is not listed in it.
	Member bool
	Closes bool // fire the group now
}

// hold decides what happens to ev on its way to target via rt at now: delivered at once
// (item nil, drop false), held in a group (item set) or dropped by quiet hours.
func (r *Router) hold(rt *Route, target string, ev *event.Event, now time.Time) (item *GroupItem, drop bool) {
	muted := rt.Mute.Muted(now)
	if muted && rt.Mute.Drop {
		return nil, true
	}
	if rt.Group == nil && rt.Throttle == nil && !muted {
		return nil, false
	}
	key, err := r.groupKey(rt, ev)
	if err != nil {
		return nil, false // never lose it: delivered on its own
	}
	return &GroupItem{Target: target, Route: rt.Name, Key: key, Member: true, Closes: r.closes(rt, ev)}, false
}

// bridgeKey starts the group keys of the bridge's own alerts, so that they never share a group
// with Cortex events and a fired group says whether it carries alerts (GroupRun.Bridge).
const bridgeKey = "\x1ebridge\x1e"

// groupKey is ev's key on rt; an error (a key expression failing at run time) is counted and
// logged.
func (r *Router) groupKey(rt *Route, ev *event.Event) (string, error) {
	key, err := rt.key(ev)
	if err != nil {
		r.logRuleError(rt.Name, ev, err, "group or throttle key failed at run time; the event is sent on its own (logged once a minute)")
		return "", err
	}
	if IsBridgeEvent(ev.Type) {
		key = bridgeKey + key
	}
	return key, nil
}

// closers returns the items by which ev closes open groups of routes it is not a member of.
func (r *Router) closers(ev *event.Event, member map[[2]string]bool, enabled func(string) bool) []GroupItem {
	var out []GroupItem
	for _, rt := range r.Routes {
		if rt.Group == nil || rt.Group.CloseOn == nil || !r.closes(rt, ev) {
			continue
		}
		key, err := r.groupKey(rt, ev)
		if err != nil {
			continue
		}
		for _, t := range rt.Targets {
			if !member[[2]string{t, rt.Name}] && enabled(t) {
				out = append(out, GroupItem{Target: t, Route: rt.Name, Key: key, Closes: true})
			}
		}
	}
	return out
}

func (r *Router) closes(rt *Route, ev *event.Event) bool {
	if rt.Group == nil || rt.Group.CloseOn == nil {
		return false
	}
	ok, err := rt.Group.CloseOn.Match(ev)
	if err != nil {
		r.ruleError(rt.Name+" (close_on)", ev, err)
	}
	return ok
}

// key is ev's group or throttle key on rt ("" when rt has neither: one group per target).
func (rt *Route) key(ev *event.Event) (string, error) {
	var keyers []Keyer
	switch {
	case rt.Group != nil:
		keyers = rt.Group.By
	case rt.Throttle != nil && rt.Throttle.Key != nil:
		keyers = []Keyer{rt.Throttle.Key}
	}
	switch len(keyers) {
	case 0:
		return "", nil
	case 1:
		return keyers[0].Value(ev)
	}
	parts := make([]string, len(keyers))
	for i, k := range keyers {
		v, err := k.Value(ev)
		if err != nil {
			return "", err
		}
		parts[i] = v
	}
	b, _ := json.Marshal(parts) // unambiguous whatever the values contain
	return string(b), nil
}

// OpenGroup is what the store knows of a group not fired yet: its items so far.
type OpenGroup struct {
	Target, Route, Key string
	Members            int       // events to list (items that only close it are not counted)
	First, Last        time.Time // received_at of its first and last item
	Closing            bool      // an item asked to fire it now
	LastFired          time.Time // when the previous group of the same key fired; zero if none
}

// due reports whether g should fire at now under rt's policy (rt nil: the route is gone), and
// with which policy name.
func groupDue(rt *Route, g OpenGroup, now time.Time) (bool, string) {
	switch {
	case rt == nil || rt.Group == nil && rt.Throttle == nil && rt.Mute == nil:
		return true, notify.PolicyRelease
	case rt.Mute.Muted(now) && !rt.Mute.Drop:
		return false, notify.PolicyHold
	case g.Members == 0: // only closers: nothing to send, the items are cleared
		return true, notify.PolicyGroup
	case rt.Group != nil:
		fire := g.Last.Add(rt.Group.Wait)
		if limit := g.First.Add(rt.Group.MaxWait); rt.Group.MaxWait > 0 && limit.Before(fire) {
			fire = limit
		}
		return g.Closing || !now.Before(fire), notify.PolicyGroup
	case rt.Throttle != nil:
		return g.LastFired.IsZero() || !now.Before(g.LastFired.Add(rt.Throttle.Interval)), notify.PolicyThrottle
	default:
		return true, notify.PolicyHold // quiet hours are over
	}
}

// GroupEventType is the type of the event the scheduler stores when a group fires: the
// bridge's own event, delivered to the group's target through the queue like any other.
const GroupEventType = "cortex_bridge.group"

// CarriesAlerts reports whether ev is one of the bridge's own alerts, or a group of them: a
// failure to deliver it raises no further alert.
func CarriesAlerts(ev *event.Event) bool {
	if IsBridgeEvent(ev.Type) {
		return true
	}
	if ev.Type != GroupEventType {
		return false
	}
	run, err := GroupRunOf(ev)
	return err == nil && run.Bridge
}

// GroupRunOf reads the run a group event carries.
func GroupRunOf(ev *event.Event) (notify.GroupRun, error) {
	var wrapper struct {
		Data notify.GroupRun `json:"data"`
	}
	err := json.Unmarshal(ev.Raw, &wrapper)
	return wrapper.Data, err
}

// newGroupEvent builds the event stored when a group fires.
func newGroupEvent(id string, run notify.GroupRun, now time.Time) (*event.Event, error) {
	body, err := json.Marshal(map[string]any{"event": GroupEventType, "id": id, "timestamp": now.UTC().Format(time.RFC3339Nano), "data": run})
	if err != nil {
		return nil, err
	}
	ev, err := event.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("group event: %w", err)
	}
	ev.ReceivedAt = now.UTC()
	return ev, nil
}

// groupMessage fills msg, the delivery of a fired group, with the group's events (msg.Events,
// oldest first) and its run with the count (msg.Group). One event goes out as itself (its own
// template, as if it had not been held). Several go out under the target's template with the
// latest of them as msg.Event, so a template written for one event still finds real fields at
// top level and .Events and .Group.Count for the rest; a target without a template (envelope
// reports it: a plain webhook, a file) gets instead one event of GroupEventType whose data holds
// the run, the count, every event in "events" and the fields all of them share (scan_id,
// repo_url, …).
func groupMessage(msg *notify.Message, events []*event.Event, envelope func(*notify.Message) bool) error {
	group := msg.Event
	run, err := GroupRunOf(group)
	if err != nil {
		return fmt.Errorf("group %s: %w", group.ID, err)
	}
	if len(events) == 0 {
		return fmt.Errorf("group %s: its events are gone (pruned?)", group.ID)
	}
	run.Count = len(events)
	msg.Group, msg.Events, msg.Event = &run, events, events[len(events)-1]
	if len(events) == 1 || !envelope(msg) {
		return nil
	}
	data := map[string]any{}
	for _, f := range event.ShortcutFields() {
		if v, ok := sharedValue(events, f.Name); ok {
			data[f.Name] = v
		}
	}
	data["route"], data["target"], data["key"], data["policy"] = run.Route, run.Target, run.Key, run.Policy
	data["count"], data["first"], data["last"] = run.Count, run.First, run.Last
	if !run.Previous.IsZero() {
		data["previous"] = run.Previous
	}
	env := map[string]any{"event": GroupEventType, "id": group.ID,
		"timestamp": group.Timestamp.UTC().Format(time.RFC3339Nano), "data": data}
	// The envelope without its events is parsed as any event (its Data as templates and rules
	// see values); the events are added to it as they were stored and parsed. The whole body
	// is not parsed again: a group of 1 000 events holds more values than event.MaxValues
	// allows a body from a sender, and every event in it passed that limit already.
	head, err := json.Marshal(env)
	if err != nil {
		return err
	}
	ev, err := event.Parse(head)
	if err != nil {
		return fmt.Errorf("group %s: %w", group.ID, err)
	}
	raw, items := make([]json.RawMessage, len(events)), make([]any, len(events))
	for i, e := range events {
		raw[i] = e.Raw
		items[i] = map[string]any{"event": e.Type, "id": e.ID, "timestamp": e.Timestamp.UTC().Format(time.RFC3339Nano), "data": e.Data}
	}
	data["events"] = raw
	if ev.Raw, err = json.Marshal(env); err != nil {
		return err
	}
	ev.Data["events"] = items
	ev.ReceivedAt = group.ReceivedAt
	msg.Event = ev
	return nil
}

// The events a template lists in a group message (.Events, and the latest of them at top level)
// are group items: each is cut (event.Event.Cut) to these bounds as the group is loaded, so a
// group of events that each carry up to ingest.max_body_bytes costs a few KiB per event, not
// its bodies and their parsed values (BENCHMARKS.md, hostile input). The built-in group
// templates show less than this of any field: a Slack section text holds 3 000 characters
// (https://docs.slack.dev/reference/block-kit/blocks/section-block), a Discord embed field 1 024
// and a whole embed 6 000 (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
// A group of one event, and a group sent without a template (its envelope carries every event's
// body: a plain webhook, a file), get the events whole.
const (
	GroupItemMaxString = 4 << 10  // bytes of one string value, CutMark included
	GroupItemMaxBytes  = 16 << 10 // bytes of data values per event (keys and strings; other values count 8)
)

// groupHold returns what the group msg's events are loaded with (DispatcherStore.GroupEvents):
// each event of a group of two or more cut to a group item when a template renders the group
// (envelope false for a message of several events), nil (events whole) otherwise.
func groupHold(msg *notify.Message, envelope func(*notify.Message) bool) func(*event.Event, int) *event.Event {
	probe := *msg
	probe.Events = []*event.Event{msg.Event, msg.Event}
	if envelope(&probe) {
		return nil
	}
	return func(ev *event.Event, members int) *event.Event {
		if members < 2 {
			return ev
		}
		return ev.Cut(GroupItemMaxString, GroupItemMaxBytes)
	}
}

// sharedValue returns the value of data field name when every event has the same one.
func sharedValue(events []*event.Event, name string) (any, bool) {
	first, ok := events[0].Data[name]
	switch first.(type) {
	case string, float64, int64, bool: // comparable
	default:
		return nil, false
	}
	for _, ev := range events[1:] {
		if v, ok := ev.Data[name]; !ok || v != first {
			return nil, false
		}
	}
	return first, ok
}

// fireGroups fires the open groups that are due under router's routes.
func (s *Scheduler) fireGroups(ctx context.Context, plan *Plan) error {
	groups, err := s.Store.OpenGroups(ctx)
	if err != nil || len(groups) == 0 {
		return err
	}
	configured := map[string]bool{}
	for _, t := range plan.Targets {
		configured[t.Name] = true
	}
	now := s.now()
	var errs []error
	for _, g := range groups {
		rt := plan.Router.Route(g.Route)
		due, policy := groupDue(rt, g, now)
		if !due {
			continue
		}
		run := notify.GroupRun{Route: g.Route, Target: g.Target, Policy: policy, First: g.First, Last: g.Last}
		run.Key, run.Bridge = strings.CutPrefix(g.Key, bridgeKey)
		through := g.Last
		if policy == notify.PolicyThrottle {
			run.Previous, run.Interval = g.LastFired, rt.Throttle.Interval.String()
			if g.LastFired.IsZero() || g.First.After(g.LastFired.Add(rt.Throttle.Interval)) {
				// A new interval starts: its first event goes out now, on its own; the ones after
				// it wait for the interval's end.
				through = g.First
			}
		}
		id := "group_" + uuid.Must(uuid.NewV7()).String()
		ev, err := newGroupEvent(id, run, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dl := &Delivery{ID: uuid.Must(uuid.NewV7()).String(), EventID: id, Target: g.Target, Route: g.Route,
			State: StatePending, NextAttemptAt: now, CreatedAt: now}
		if !configured[g.Target] { // removed by a reload: kept, visible and replayable, not sent
			dl.State, dl.LastError = StateCancelled, "target no longer configured"
		}
		n, err := s.Store.FireGroup(ctx, FireGroupRequest{Target: g.Target, Route: g.Route, Key: g.Key,
			Through: through, LastFired: g.LastFired, Event: ev, Delivery: dl})
		if err != nil {
			errs = append(errs, fmt.Errorf("group %s/%s: %w", g.Route, g.Target, err))
			continue
		}
		if n > 0 {
			s.Log.Debug("group fired", "route", g.Route, "target", g.Target, "key", g.Key, "policy", policy, "events", n)
		}
	}
	return errors.Join(errs...)
}

// Holding says in words how the route holds events back (group, throttle, quiet hours), one
// line each, with whether it is muted at now; none for a route that sends each event at once.
func (r *Route) Holding(now time.Time) []string {
	var out []string
	keys := func(ks []Keyer) string {
		names := make([]string, len(ks))
		for i, k := range ks {
			names[i] = fmt.Sprint(k)
		}
		return strings.Join(names, ", ")
	}
	if g := r.Group; g != nil {
		l := fmt.Sprintf("grouped: one message %s %s after the last event, at most %s after the first", perKey(keys(g.By)), notify.ShortDuration(g.Wait.String()), notify.ShortDuration(g.MaxWait.String()))
		if g.CloseOn != nil {
			l += fmt.Sprintf(", or at once on %s", g.CloseOn)
		}
		out = append(out, l)
	}
	if th := r.Throttle; th != nil {
		k := ""
		if th.Key != nil {
			k = fmt.Sprint(th.Key)
		}
		out = append(out, fmt.Sprintf("throttled: at most one message %s every %s; the rest are sent together when it ends", perKey(k), notify.ShortDuration(th.Interval.String())))
	}
	if m := r.Mute; m != nil {
		verb := "held until the window ends"
		if m.Drop {
			verb = "not sent on this route"
		}
		state := "not muted now"
		if m.Muted(now) {
			state = "muted now"
		}
		out = append(out, fmt.Sprintf("quiet hours: while muted, events are %s (%s)", verb, state))
	}
	return out
}

func perKey(key string) string {
	if key == "" {
		return "per target"
	}
	return "per " + key + " per target"
}
