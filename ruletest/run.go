package ruletest

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dryrun"
)

// Result is the outcome of one case.
type Result struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Name     string   `json:"name"`
	Config   string   `json:"config"`
	OK       bool     `json:"ok"`
	Diffs    []Diff   `json:"diffs,omitempty"`
	Warnings []string `json:"warnings,omitempty"` // rules that failed at run time
	Why      string   `json:"why,omitempty"`      // the explanations of the rules involved
}

// Diff is one expectation that does not hold. For lists, Missing are expected names that
// are not there and Unexpected names that are there without being expected; for messages,
// Missing are contains snippets not found and Unexpected not_contains snippets found.
type Diff struct {
	Key        string    `json:"key"`
	Want       *[]string `json:"want,omitempty"` // lists only
	Got        *[]string `json:"got,omitempty"`
	Missing    []string  `json:"missing,omitempty"`
	Unexpected []string  `json:"unexpected,omitempty"`
	Note       string    `json:"note,omitempty"`
	Message    string    `json:"message,omitempty"` // the rendered message, for messages.*
}

// Run routes the case's event with rt (a dry run: nothing is sent or stored) and compares the
// outcome with the expectation. A rule that fails at run time counts as not matched, as in the
// bridge, and is reported in Warnings.
func (c *Case) Run(rt *config.Runtime) *Result {
	dr := dryrun.Run(rt, c.ev, dryrun.Options{})
	res := &Result{File: c.file, Line: c.line, Name: c.Name, Warnings: warnings(dr)}
	routes := dr.MatchedNames()
	var skipped []string
	for _, a := range dr.Assignments {
		if t := dr.Delivery(a.Target); t != nil && t.Target != nil && t.Target.Disabled != "" {
			skipped = append(skipped, a.Target)
		}
	}
	known := func(names []string) func(string) bool {
		return func(n string) bool { return slices.Contains(names, n) }
	}
	var routeNames, digestNames []string
	for _, r := range rt.Router.Routes {
		routeNames = append(routeNames, r.Name)
	}
	for _, d := range rt.Router.Digests {
		digestNames = append(digestNames, d.Name)
	}
	targetNames := rt.TargetNames()
	e := c.Expect
	why := &whySet{routes: map[string]bool{}, digests: map[string]bool{}, targets: map[string]bool{}}
	if e.Routes != nil {
		if d, ok := diffLists("routes", *e.Routes, routes, true, known(routeNames), "route"); !ok {
			res.Diffs = append(res.Diffs, d)
			for _, n := range append(slices.Clone(d.Missing), d.Unexpected...) {
				why.routes[n] = true
			}
		}
	}
	targetDiff := func(key string, want *[]string, got []string) {
		if want == nil {
			return
		}
		d, ok := diffLists(key, *want, got, false, known(targetNames), "target")
		if ok {
			return
		}
		res.Diffs = append(res.Diffs, d)
		if key == "targets" {
			why.targetsDiffer(rt.Router.Routes, routes, d)
		}
	}
	targetDiff("targets", e.Targets, dr.TargetNames())
	targetDiff("skipped", e.Skipped, skipped)
	if e.Digests != nil {
		if d, ok := diffLists("digests", *e.Digests, dr.DigestNames(), false, known(digestNames), "digest"); !ok {
			res.Diffs = append(res.Diffs, d)
			for _, n := range append(slices.Clone(d.Missing), d.Unexpected...) {
				why.digests[n] = true
			}
		}
	}
	names := make([]string, 0, len(e.Messages))
	for n := range e.Messages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if d, ok := checkMessage(rt, dr, name, e.Messages[name]); !ok {
			res.Diffs = append(res.Diffs, d)
		}
	}
	res.OK = len(res.Diffs) == 0
	if !res.OK {
		res.Why = why.text(dr)
	}
	return res
}

// warnings are the rules that failed at run time for the event.
func warnings(dr *dryrun.Result) []string {
	var out []string
	for _, v := range dr.Routes {
		if v.Explanation != nil && v.Explanation.Err != nil {
			out = append(out, fmt.Sprintf("route %s: the rule failed at run time and counts as not matched: %s",
				v.Route.Name, firstLineOf(v.Explanation.Err)))
		}
	}
	for _, d := range dr.Digests {
		if d.Explanation != nil && d.Explanation.Err != nil {
			out = append(out, fmt.Sprintf("digest %s: the rule failed at run time and counts as not matched: %s",
				d.Spec.Name, firstLineOf(d.Explanation.Err)))
		}
	}
	return out
}

// whySet names the routes and digests whose explanations go with a failing case.
type whySet struct {
	routes, digests map[string]bool
	targets         map[string]bool // used when the routes diff does not already explain
	differ          bool            // the targets differ: say where the routes send
}

// targetsDiffer notes the routes that name a target in the diff d: they say why it is (not)
// there. For a target that is there unexpectedly, the matching routes naming it; for a missing
// one, every route naming it.
func (w *whySet) targetsDiffer(routes []*core.Route, matched []string, d Diff) {
	w.differ = true
	for _, n := range d.Missing {
		for _, r := range routes {
			if slices.Contains(r.Targets, n) {
				w.targets[r.Name] = true
			}
		}
	}
	for _, n := range d.Unexpected {
		for _, r := range routes {
			if slices.Contains(r.Targets, n) && slices.Contains(matched, r.Name) {
				w.targets[r.Name] = true
			}
		}
	}
}

// text prints the explanations, as route --explain does.
func (w *whySet) text(dr *dryrun.Result) string {
	routes := w.routes
	if len(routes) == 0 {
		routes = w.targets
	}
	var why strings.Builder
	for _, v := range dr.Routes {
		if routes[v.Route.Name] {
			dryrun.WriteRouteVerdict(&why, v.RouteVerdict, "")
		}
	}
	for _, d := range dr.Digests {
		if w.digests[d.Spec.Name] {
			dryrun.WriteDigestVerdict(&why, d, "")
		}
	}
	if w.differ {
		for _, v := range dr.Routes {
			if r := v.Route; routes[r.Name] && len(r.Targets) > 0 {
				fmt.Fprintf(&why, "route %s sends to: %s\n", r.Name, strings.Join(r.Targets, ", "))
			}
		}
	}
	return why.String()
}

// diffLists compares want and got, in order when ordered, else as sets. ok is true when they
// agree; known reports whether a name exists in the config.
func diffLists(key string, want, got []string, ordered bool, known func(string) bool, kind string) (d Diff, ok bool) {
	want, got = orEmpty(want), orEmpty(got)
	d = Diff{Key: key, Want: &want, Got: &got}
	for _, w := range want {
		if !slices.Contains(got, w) {
			d.Missing = append(d.Missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			d.Unexpected = append(d.Unexpected, g)
		}
	}
	var unknown []string
	for _, w := range want {
		if !known(w) {
			unknown = append(unknown, w)
		}
	}
	switch {
	case len(unknown) > 0:
		d.Note = fmt.Sprintf("the config has no %s named %s", kind, strings.Join(unknown, ", "))
	case ordered && len(d.Missing) == 0 && len(d.Unexpected) == 0 && !slices.Equal(want, got):
		d.Note = "same " + key + ", in another order (routes are evaluated in config order)"
	case len(d.Missing) == 0 && len(d.Unexpected) == 0:
		return d, true
	}
	return d, false
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
