package templates_test

import (
	"fmt"
	"testing"

	"github.com/cortexbridge/cortex-bridge/adapters/discord"
	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// BenchmarkRender measures rendering one message per target type with the built-in templates,
// what a worker does before each attempt: Slack and Discord JSON (validated and compacted),
// email text + subject + HTML; a webhook target without a template and the file target send
// the event as received, so theirs is the cost of deciding that. One op renders the
// issue.critical sample (the richest) for one target.
func BenchmarkRender(b *testing.B) {
	engine, err := templates.New("")
	if err != nil {
		b.Fatal(err)
	}
	renderer := &core.Renderer{Engine: engine, PublicURL: "https://bridge.example.com"}
	body, err := samples.Get("issue.critical")
	if err != nil {
		b.Fatal(err)
	}
	ev, err := event.Parse(body)
	if err != nil {
		b.Fatal(err)
	}
	targets := []*core.Target{
		{Name: "slack", Type: "slack", Format: notify.FormatJSON, Escape: slack.Type.Escape},
		{Name: "discord", Type: "discord", Format: notify.FormatJSON, Escape: discord.Type.Escape},
		{Name: "email", Type: "email", Format: notify.FormatEmail},
		{Name: "webhook", Type: "webhook", Format: notify.FormatJSON},
		{Name: "file", Type: "file", Format: notify.FormatNone},
	}
	route := &core.Route{Name: "critical"}
	for _, t := range targets {
		b.Run(t.Type, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				msg := &notify.Message{DeliveryID: "d", Attempt: 1, Target: t.Name, Route: route.Name, Event: ev, Events: []*event.Event{ev}}
				if err := renderer.Render(msg, t, route); err != nil {
					b.Fatal(err)
				}
				if t.Format != notify.FormatNone && t.Type != "webhook" && len(msg.Body) == 0 {
					b.Fatal("empty body")
				}
			}
		})
	}
}

// groupEvents returns n events for a group: the six sample types in turn, each issue with its
// own file and every tenth event in another repository, so the templates' per-event work and
// their "shared repository/scan" checks both run.
func groupEvents(tb testing.TB, n int) []*event.Event {
	tb.Helper()
	types := samples.Types()
	events := make([]*event.Event, n)
	for i := range events {
		body, err := samples.Get(types[i%len(types)])
		if err != nil {
			tb.Fatal(err)
		}
		ev, err := event.Parse(body)
		if err != nil {
			tb.Fatal(err)
		}
		ev.ID = fmt.Sprintf("evt_%d", i)
		if i%10 == 0 {
			ev.Data["repo_url"] = fmt.Sprintf("https://github.com/acme/repo-%d", i)
		}
		events[i] = ev
	}
	return events
}

// BenchmarkRenderGroup renders the built-in group template of each target type for groups of
// 1 000 and 16 000 events: the time per op must grow linearly (16× events, about 16× time).
// Run: go test -run '^$' -bench BenchmarkRenderGroup -benchtime 5x ./templates/
func BenchmarkRenderGroup(b *testing.B) {
	engine, err := templates.New("")
	if err != nil {
		b.Fatal(err)
	}
	renderer := &core.Renderer{Engine: engine, PublicURL: "https://bridge.example.com"}
	targets := []*core.Target{
		{Name: "slack", Type: "slack", Format: notify.FormatJSON, Escape: slack.Type.Escape},
		{Name: "discord", Type: "discord", Format: notify.FormatJSON, Escape: discord.Type.Escape},
		{Name: "email", Type: "email", Format: notify.FormatEmail},
	}
	for _, n := range []int{1000, 16000} {
		events := groupEvents(b, n)
		for _, t := range targets {
			b.Run(fmt.Sprintf("%s/%d", t.Type, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					msg := &notify.Message{DeliveryID: "d", Attempt: 1, Target: t.Name, Route: "r", Event: events[n-1], Events: events,
						Group: &notify.GroupRun{Route: "r", Target: t.Name, Count: n}}
					if err := renderer.Render(msg, t, &core.Route{Name: "r"}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
