package config

import (
	"fmt"
	"strings"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// checkAlertTemplates renders each sample of the bridge's own alerts (bridge.*) and derived
// finding events (finding.*) for every route
// whose rule matches it, with each of the route's targets, so that a template that cannot show
// an alert fails at load rather than when the bridge is already in trouble. Routes that do not
// match bridge.* events are not held to it.
func (rt *Runtime) checkAlertTemplates(targets map[string]*core.Target) []error {
	type pair struct {
		route  int
		target string
	}
	var order []pair
	failed := map[pair]map[string][]string{} // error text → alert types
	var texts = map[pair][]string{}
	for _, typ := range append(samples.AlertTypes(), samples.FindingTypes()...) {
		body, err := samples.Get(typ)
		if err != nil {
			return []error{err}
		}
		ev, err := event.Parse(body)
		if err != nil {
			return []error{fmt.Errorf("sample %s: %w", typ, err)}
		}
		for i := range rt.Config.Routes {
			cr := &rt.Config.Routes[i]
			r := rt.Router.Route(cr.Name)
			if cr.rule == nil || r == nil {
				continue // Validate has named the problem
			}
			if ok, err := cr.rule.Match(ev); err != nil || !ok {
				continue
			}
			for _, name := range r.Targets {
				t := targets[name]
				if t == nil {
					continue
				}
				err := rt.Renderer.Render(core.SampleMessage(ev, t, r), t, r)
				if err == nil {
					continue
				}
				p := pair{i, name}
				if failed[p] == nil {
					failed[p] = map[string][]string{}
					order = append(order, p)
				}
				if failed[p][err.Error()] == nil {
					texts[p] = append(texts[p], err.Error())
				}
				failed[p][err.Error()] = append(failed[p][err.Error()], typ)
			}
		}
	}
	var errs []error
	for _, p := range order {
		for _, msg := range texts[p] {
			errs = append(errs, fmt.Errorf("routes[%d] (%s) → target %s: with sample %s (the bridge's own events match this route): %s",
				p.route, rt.Config.Routes[p.route].Name, p.target, strings.Join(failed[p][msg], ", "), msg))
		}
	}
	return errs
}
