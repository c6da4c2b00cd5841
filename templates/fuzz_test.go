package templates_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/discord"
	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// FuzzBuiltinTemplates renders every built-in template a delivery can pick (the event type's,
// the default, the bridge alert's and, with a second event, the group's) for Slack, Discord,
// email and the webhook presets, with fuzzed event data. A valid event must always render: no
// panic, no budget error, and JSON for the JSON targets; an event of one of the six Cortex
// types (whose fields event.Parse checks) must render without any error. Other types
// (accepted when ingest.strict_events is false) may carry fields of any type, so a template
// error is allowed for them, recorded like any: it names the template.
func FuzzBuiltinTemplates(f *testing.F) {
	for _, typ := range samples.Types() {
		body, err := samples.Get(typ)
		require.NoError(f, err)
		f.Add(body)
	}
	engine, err := templates.New("")
	require.NoError(f, err)
	renderer := &core.Renderer{Engine: engine, PublicURL: "https://bridge.example.com"}
	targets := []*core.Target{
		{Name: "slack", Type: "slack", Format: notify.FormatJSON, Escape: slack.Type.Escape},
		{Name: "discord", Type: "discord", Format: notify.FormatJSON, Escape: discord.Type.Escape},
		{Name: "email", Type: "email", Format: notify.FormatEmail},
	}
	for _, preset := range []string{"msteams", "mattermost", "rocketchat", "pagerduty", "opsgenie", "cloudevents", "github-dispatch", "gitlab-pipeline"} {
		targets = append(targets, &core.Target{Name: preset, Type: "webhook", Format: notify.FormatJSON, Template: preset})
	}
	second, err := samples.Get("scan.failed")
	require.NoError(f, err)
	other, err := event.Parse(second)
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := event.Parse(body)
		if err != nil {
			return
		}
		for _, tgt := range targets {
			for _, events := range [][]*event.Event{{ev}, {other, ev}} {
				msg := &notify.Message{DeliveryID: "d", Attempt: 1, Target: tgt.Name, Route: "r", Event: ev, Events: events}
				if len(events) > 1 {
					msg.Group = &notify.GroupRun{Route: "r", Target: tgt.Name, Count: len(events)}
				}
				err := renderer.Render(msg, tgt, &core.Route{Name: "r"})
				require.NotErrorIs(t, err, templates.ErrStepLimit)
				require.NotErrorIs(t, err, templates.ErrOutputLimit)
				if !event.IsKnownType(ev.Type) && err != nil {
					require.Contains(t, err.Error(), "template ", "the error names the template")
					continue
				}
				require.NoError(t, err, "target %s, %d events", tgt.Name, len(events))
				if tgt.Format == notify.FormatJSON {
					require.True(t, json.Valid(msg.Body), "target %s: %s", tgt.Name, msg.Body)
				}
			}
		}
	})
}
