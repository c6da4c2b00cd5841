package bridge

import (
	"cmp"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/event"
)

// decide recomputes the route decisions of ev with the config in force (dryrun.Run, messages
// not rendered) for the events API's event page, as of the time ev was received (quiet hours and
// holds as they were then; the dashboard's event page does the same).
func (b *Bridge) decide(ev *event.Event) []api.RouteDecision {
	res := dryrun.Run(b.Runtime(), ev, dryrun.Options{Now: ev.ReceivedAt, Render: func(string) bool { return false }})
	out := make([]api.RouteDecision, 0, len(res.Routes))
	for _, r := range res.Routes {
		d := api.RouteDecision{Route: r.Route.Name, Matched: r.Matched, StoppedBy: r.StoppedBy}
		if r.Explanation != nil {
			d.Explanation = r.Explanation.Text("")
		}
		for _, t := range r.Targets {
			rt := api.RouteTarget{Name: t.Name, Already: t.Already, Dropped: t.Dropped}
			if t.Held != nil {
				rt.HeldKey = cmp.Or(t.Held.Key, "-")
			}
			d.Targets = append(d.Targets, rt)
		}
		out = append(out, d)
	}
	return out
}
