// Package dryrun evaluates one event against a loaded config the way the running bridge would,
// without sending or storing anything: which routes match and why (each rule's explanation),
// which targets get a delivery and from which route (core.Router.Match and core.AssignMatched,
// the live router's own decisions), whether ingest would hold it for a group, a throttle or
// quiet hours (core.Router.Hold), which digests collect it, and the exact message each target
// would be sent (core.Renderer, the dispatcher's render path). `cortex-bridge route`,
// `cortex-bridge test-rules` and the dashboard's "Try an event" print the same Result.
package dryrun

import (
	"context"
	"time"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/rules"
)

// Options tune a dry run; the zero value is the default.
type Options struct {
	// Now is the time quiet hours and holds are decided at; zero means time.Now().
	Now time.Time
	// Render says which targets' messages to render; nil renders every target that gets a
	// delivery. A target not rendered has a nil Message and Err.
	Render func(target string) bool
	// Scans are the scan contexts the messages may use (notify.Message.Scans), by scan id: what
	// the bridge recorded from earlier events of the event's scan (a store's Scans). Nil renders
	// the event with only what it holds.
	Scans map[string]event.Scan
}

// Result is what the bridge would do with one event.
type Result struct {
	Event *event.Event
	// Routes are every route of the config, in config order, with its verdict; a matching
	// route lists what it sends.
	Routes []Route
	// Matched are the matching routes, as core.Router.Match returns them.
	Matched []*core.Route
	// Assignments are the deliveries, as core.Router.Assign makes them with every target
	// enabled: a disabled target is kept (Target.Target.Disabled says so) to show what it would
	// send.
	Assignments []core.Assignment
	// Digests are every digest of the config, in config order.
	Digests []Digest
}

// Route is one route's verdict and, when it matched, its targets in the order it names them.
type Route struct {
	rules.RouteVerdict
	Targets []*Target
}

// Target is one target a matching route names.
type Target struct {
	Name   string
	Target *core.Target // nil when the config has no target of that name
	Route  *core.Route
	// Already is true when an earlier matching route (or the same one, naming it twice) already
	// sends the event to this target: the bridge delivers an event once per target, so this
	// entry sends nothing and has no message.
	Already bool
	// Held is the group item ingest would store instead of a delivery (a group, a throttle or
	// quiet hours hold the event back); Dropped is true when quiet hours drop it instead.
	Held    *core.GroupItem
	Dropped bool
	// Message is the rendered message (Body nil: the target sends the original event or, for
	// the audit file, its record of it); nil when Already, not rendered or Err.
	Message *notify.Message
	Err     error // the template failed for this target; the rest of the run stands
	// Sent is exactly what the target would send for Message (core.Target.Preview: the request
	// body, the email, the audit line), credentials redacted; nil when the target is disabled,
	// the runtime was built without previews, or SendErr is set. SendErr is what stops the target before sending
	// (a payload over a platform limit). What fitting the limits changed is in Message.Notes.
	Sent    *notify.Preview
	SendErr error
}

// Digest is whether one digest collects the event.
type Digest struct {
	Spec        *core.DigestSpec
	Explanation *rules.Explanation // nil when the digest has no when: rule (it collects every event)
	Collects    bool
}

// Run is the dry run of ev with rt. Rules that fail at run time count as not matched, as in the
// bridge, and show in the explanations; nothing is counted in metrics or logged.
func Run(rt *config.Runtime, ev *event.Event, opts Options) *Result {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	router := rt.Router.Quiet()
	res := &Result{Event: ev, Matched: router.Match(ev)}
	res.Assignments = core.AssignMatched(res.Matched, func(string) bool { return true })
	targets := make(map[string]*core.Target, len(rt.Targets))
	for _, t := range rt.Targets {
		targets[t.Name] = t
	}
	first := make(map[string]core.Assignment, len(res.Assignments))
	for _, a := range res.Assignments {
		first[a.Target] = a
	}
	listed := map[string]bool{}
	for _, v := range rules.ExplainRoutes(router, ev) {
		r := Route{RouteVerdict: v}
		if v.Matched {
			for _, name := range v.Route.Targets {
				a, ok := first[name]
				t := &Target{Name: name, Target: targets[name], Route: v.Route, Already: !ok || a.Route != v.Route || listed[name]}
				listed[name] = true
				if !t.Already {
					t.Held, t.Dropped = router.Hold(a, ev, now)
					if t.Target != nil && (opts.Render == nil || opts.Render(name)) {
						t.Message, t.Err = render(rt.Renderer, ev, t.Target, v.Route, opts.Scans)
						if t.Err == nil {
							t.Sent, t.SendErr = preview(t.Target, t.Message)
						}
					}
				}
				r.Targets = append(r.Targets, t)
			}
		}
		res.Routes = append(res.Routes, r)
	}
	collects := map[string]bool{}
	for _, name := range router.DigestsFor(ev) {
		collects[name] = true
	}
	for _, d := range rt.Router.Digests {
		dg := Digest{Spec: d, Collects: collects[d.Name]}
		if d.When != nil {
			dg.Explanation = rules.ExplainMatcher(d.When, ev)
		}
		res.Digests = append(res.Digests, dg)
	}
	return res
}

// Render renders the message a delivery of ev to t via route would carry (route may be nil), as
// the dispatcher does; the message is nil when the template fails.
func Render(r *core.Renderer, ev *event.Event, t *core.Target, route *core.Route) (*notify.Message, error) {
	return render(r, ev, t, route, nil)
}

func render(r *core.Renderer, ev *event.Event, t *core.Target, route *core.Route, scans map[string]event.Scan) (*notify.Message, error) {
	msg := core.SampleMessage(ev, t, route)
	msg.Scans = scans
	if err := r.Render(msg, t, route); err != nil {
		return nil, err
	}
	return msg, nil
}

// preview returns what t would send for msg (core.Target.Preview; nil when it cannot say). It
// adds to msg.Notes what fitting the platform's limits changed.
func preview(t *core.Target, msg *notify.Message) (*notify.Preview, error) {
	if t.Preview == nil {
		return nil, nil
	}
	return t.Preview(context.Background(), msg)
}

// Delivery returns the entry of the route that delivers ev to the named target, or nil when no
// matching route sends to it.
func (r *Result) Delivery(target string) *Target {
	for _, rt := range r.Routes {
		for _, t := range rt.Targets {
			if t.Name == target && !t.Already {
				return t
			}
		}
	}
	return nil
}

// MatchedNames are the names of the matching routes, in config order.
func (r *Result) MatchedNames() []string {
	out := make([]string, len(r.Matched))
	for i, rt := range r.Matched {
		out[i] = rt.Name
	}
	return out
}

// TargetNames are the targets that get a delivery, in assignment order.
func (r *Result) TargetNames() []string {
	out := make([]string, len(r.Assignments))
	for i, a := range r.Assignments {
		out[i] = a.Target
	}
	return out
}

// DigestNames are the digests that collect the event, in config order.
func (r *Result) DigestNames() []string {
	var out []string
	for _, d := range r.Digests {
		if d.Collects {
			out = append(out, d.Spec.Name)
		}
	}
	return out
}
