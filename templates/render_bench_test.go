package templates_test

import (
	"testing"

	"github.com/cortexbridge/cortex-bridge/core"
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
	ev, err := core.ParseEvent(body)
	if err != nil {
		b.Fatal(err)
	}
	targets := []*core.Target{
		{Name: "slack", Type: "slack", Format: core.FormatJSON, Escape: templates.EscaperFor("slack")},
		{Name: "discord", Type: "discord", Format: core.FormatJSON, Escape: templates.EscaperFor("discord")},
		{Name: "email", Type: "email", Format: core.FormatEmail},
		{Name: "webhook", Type: "webhook", Format: core.FormatJSON},
		{Name: "file", Type: "file", Format: core.FormatNone},
	}
	route := &core.Route{Name: "critical"}
	for _, t := range targets {
		b.Run(t.Type, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				msg := &core.Message{DeliveryID: "d", Attempt: 1, Target: t.Name, Route: route.Name, Event: ev, Events: []*core.Event{ev}}
				if err := renderer.Render(msg, t, route); err != nil {
					b.Fatal(err)
				}
				if t.Format != core.FormatNone && t.Type != "webhook" && len(msg.Body) == 0 {
					b.Fatal("empty body")
				}
			}
		})
	}
}
