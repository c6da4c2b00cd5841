package core_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// readsNothing matches every event and reads no rule variable (like a rules.Rule of "true").
type readsNothing struct{ matchAll }

func (readsNothing) Uses(string) bool { return false }

// BenchmarkIngestIssue is BenchmarkIngest with issue.critical events (each a finding of one of
// 100 scans whose scan.started was stored first): the ingest path findings add a row to
// (docs/events.md, Findings). status: a rule reads finding_status, so ingest reads it too.
func BenchmarkIngestIssue(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchIngestIssue(b, readsNothing{}) })
	b.Run("status", func(b *testing.B) { benchIngestIssue(b, matchAll{}) })
}

func benchIngestIssue(b *testing.B, when core.Matcher) {
	engine, err := templates.New("")
	if err != nil {
		b.Fatal(err)
	}
	sink := &nopNotifier{}
	targets := []*core.Target{
		{Name: "a", Type: "file", Notifier: sink, Concurrency: 4},
		{Name: "b", Type: "file", Notifier: sink, Concurrency: 4},
	}
	router := &core.Router{Routes: []*core.Route{{Name: "all", When: when, Targets: []string{"a", "b"}}}}
	e := startEngine(b, "", core.DispatcherConfig{Owner: "bench"}, &core.Plan{Targets: targets, Router: router, Renderer: &core.Renderer{Engine: engine}}, nil)
	bus := e.bus
	for s := range 100 {
		ev, err := event.Parse(fmt.Appendf(nil, `{"event":"scan.started","id":"start_%d","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s%d","repo_url":"https://github.com/acme/r%d","branch":"main"}}`, s, s, s))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bus.Accept(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			body := fmt.Sprintf(`{"event":"issue.critical","id":"evt_%d","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s%d","issue_id":"i%d","severity":"critical","title":"SQL injection %d","file":"api/user.js","line":42}}`, n, n%100, n, n%50)
			ev, err := event.Parse([]byte(body))
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := bus.Accept(context.Background(), ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	e.stop()
	b.ReportMetric(float64(seq.Load())/b.Elapsed().Seconds(), "events/s")
}
