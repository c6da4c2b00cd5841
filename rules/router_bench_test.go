package rules

import (
	"fmt"
	"testing"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// routeRules are the kinds of rule a real config has; the bench cycles through them.
var routeRules = []string{
	`event == "issue.critical" && severity_at_least(severity, "high")`,
	`event in ["scan.failed", "scan.timeout"]`,
	`event == "scan.completed" && score < 70`,
	`glob(repo, "example-org/payments-*")`,
	`data.labels["k8s.ns"] contains "prod"`,
	`event == "scan.completed" && (issues_count ?? 0) > 10`,
	`severity_at_least(severity, "medium") && repo startsWith "example-org/"`,
	`event startsWith "scan." && branch == "main"`,
	`(score ?? 100) < 50 || event == "scan.failed"`,
	`true`,
}

// BenchmarkRouterAssign measures routing one event, what ingest does for every accepted
// request: every route's rule evaluated in order, targets deduplicated. One op routes each of
// the six sample events once (the per-event cost is ns/op ÷ 6).
func BenchmarkRouterAssign(b *testing.B) {
	var events []*event.Event
	for _, typ := range samples.Types() {
		body, err := samples.Get(typ)
		if err != nil {
			b.Fatal(err)
		}
		ev, err := event.Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, ev)
	}
	enabled := func(string) bool { return true }
	for _, n := range []int{10, 100} {
		router := &core.Router{}
		for i := range n {
			r, err := Compile(routeRules[i%len(routeRules)])
			if err != nil {
				b.Fatal(err)
			}
			router.Routes = append(router.Routes, &core.Route{
				Name: fmt.Sprintf("route-%d", i), When: r, Targets: []string{fmt.Sprintf("target-%d", i%8)},
			})
		}
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, ev := range events {
					if len(router.Assign(ev, enabled)) == 0 {
						b.Fatal("no target")
					}
				}
			}
		})
	}
}
