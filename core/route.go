package core

import (
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cortexbridge/cortex-bridge/event"
)

// Matcher is a compiled route rule (rules.Rule implements it). Match returns an error only when
// the rule fails at run time; the event then counts as not matched for that route.
type Matcher interface {
	Match(ev *event.Event) (bool, error)
}

// Route sends matching events to targets (docs/configuration.md, routes). Routes are evaluated
// in order; every matching route fires unless an earlier matching one has Stop.
type Route struct {
	Name     string
	When     Matcher
	Targets  []string
	Template string // template name for this route's messages; "" = each target's default
	Stop     bool
	Group    *GroupPolicy    // optional: hold matching events to send them together (group.go)
	Throttle *ThrottlePolicy // optional: at most one message per key per interval
	Mute     *MutePolicy     // optional: quiet hours
}

// Assignment is one target an event goes to, with the first route that named it.
type Assignment struct {
	Target string
	Route  *Route
}

// Router evaluates routes for events. Run-time rule errors are passed to OnRuleError (a metric)
// and logged at most once a minute per route.
type Router struct {
	Routes      []*Route
	Digests     []*DigestSpec
	Log         *slog.Logger
	OnRuleError func(route string)

	mu       sync.Mutex
	logEvery map[string]*rate.Sometimes

	usesOnce          sync.Once
	usesFindingStatus bool
}

// VarUser is a Matcher that tells which rule variables it reads (rules.Rule): ingest computes
// finding_status only when a rule reads it.
type VarUser interface {
	Uses(name string) bool
}

// UsesFindingStatus reports whether a route's or digest's rule reads finding_status (a rule
// that does not say, not being a VarUser, counts as reading it). The Routes and Digests must
// not change after the first call.
func (r *Router) UsesFindingStatus() bool {
	r.usesOnce.Do(func() {
		var ms []Matcher
		for _, rt := range r.Routes {
			ms = append(ms, rt.When)
		}
		for _, d := range r.Digests {
			if d.When != nil {
				ms = append(ms, d.When)
			}
		}
		for _, m := range ms {
			if u, ok := m.(VarUser); !ok || u.Uses("finding_status") {
				r.usesFindingStatus = true
				return
			}
		}
	})
	return r.usesFindingStatus
}

// Match returns the routes that match ev, in order, honouring Stop.
func (r *Router) Match(ev *event.Event) []*Route {
	var out []*Route
	for _, rt := range r.Routes {
		ok, err := rt.When.Match(ev)
		if err != nil {
			r.ruleError(rt.Name, ev, err)
			continue
		}
		if ok {
			out = append(out, rt)
			if rt.Stop {
				break
			}
		}
	}
	return out
}

// Assign returns the targets ev goes to: each target once, with the first matching route that
// named it, in route order. Targets for which enabled returns false are skipped.
func (r *Router) Assign(ev *event.Event, enabled func(target string) bool) []Assignment {
	return AssignMatched(r.Match(ev), enabled)
}

// AssignMatched is Assign for routes Match returned: each target once, with the first of
// matched that names it, in route order; targets for which enabled returns false are skipped.
func AssignMatched(matched []*Route, enabled func(target string) bool) []Assignment {
	var out []Assignment
	seen := map[string]bool{}
	for _, rt := range matched {
		for _, t := range rt.Targets {
			if seen[t] || !enabled(t) {
				continue
			}
			seen[t] = true
			out = append(out, Assignment{Target: t, Route: rt})
		}
	}
	return out
}

// Hold says what happens to ev on its way to a.Target at now, as ingest decides it: delivered at
// once (item nil, drop false), held in a group, throttle or quiet-hours window (item set), or
// dropped by quiet hours with drop: true.
func (r *Router) Hold(a Assignment, ev *event.Event, now time.Time) (item *GroupItem, drop bool) {
	return r.hold(a.Route, a.Target, ev, now)
}

// Quiet returns a router over the same routes and digests that neither counts nor logs run-time
// rule errors: dry runs use it so that trying an event leaves no trace in the metrics and log.
func (r *Router) Quiet() *Router {
	return &Router{Routes: r.Routes, Digests: r.Digests}
}

// Route returns the route called name, or nil.
func (r *Router) Route(name string) *Route {
	for _, rt := range r.Routes {
		if rt.Name == name {
			return rt
		}
	}
	return nil
}

func (r *Router) ruleError(route string, ev *event.Event, err error) {
	r.logRuleError(route, ev, err, "rule failed at run time; route treated as not matched (logged once a minute)")
}

// logRuleError counts a run-time rule failure and logs msg about it at most once a minute per
// route.
func (r *Router) logRuleError(route string, ev *event.Event, err error, msg string) {
	if r.OnRuleError != nil {
		r.OnRuleError(route)
	}
	r.mu.Lock()
	if r.logEvery == nil {
		r.logEvery = map[string]*rate.Sometimes{}
	}
	s := r.logEvery[route]
	if s == nil {
		s = &rate.Sometimes{Interval: time.Minute}
		r.logEvery[route] = s
	}
	r.mu.Unlock()
	s.Do(func() {
		if r.Log != nil {
			r.Log.Warn(msg, "route", route, "event_id", ev.ID, "event", ev.Type, "err", err)
		}
	})
}
