package dryrun_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func load(t *testing.T, path string) *config.Runtime {
	t.Helper()
	cfg, err := config.Load(path)
	require.NoError(t, err)
	rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
	require.NoError(t, err)
	return rt
}

func sample(t *testing.T, typ string) *event.Event {
	t.Helper()
	body, err := samples.Get(typ)
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	return ev
}

// TestRunShippedConfig: every sample event through the shipped config.yaml: the routes, targets
// and digests the live router decides, the targets ingest holds back, and each message exactly
// as the dispatcher's render path produces it.
func TestRunShippedConfig(t *testing.T) {
	t.Parallel()
	rt := load(t, "../config.yaml")
	tests := map[string]struct {
		routes, targets, held, digests []string
	}{
		"scan.started":  {routes: []string{"everything-to-audit"}, targets: []string{"audit"}},
		"scan.progress": {routes: []string{"everything-to-audit"}, targets: []string{"audit"}},
		"scan.completed": {routes: []string{"everything-to-audit"}, targets: []string{"audit"},
			digests: []string{"weekly-compliance"}},
		"scan.failed": {routes: []string{"siem", "failures", "everything-to-audit"},
			targets: []string{"siem", "security-slack", "dev-discord", "audit"},
			held:    []string{"security-slack", "dev-discord"}, digests: []string{"weekly-compliance"}},
		"scan.timeout": {routes: []string{"siem", "failures", "everything-to-audit"},
			targets: []string{"siem", "security-slack", "dev-discord", "audit"},
			held:    []string{"security-slack", "dev-discord"}, digests: []string{"weekly-compliance"}},
		"issue.critical": {routes: []string{"siem", "critical-issues", "everything-to-audit"},
			targets: []string{"siem", "security-slack", "dev-discord", "compliance-mail", "audit"},
			held:    []string{"security-slack", "dev-discord", "compliance-mail"}, digests: []string{"weekly-compliance"}},
	}
	require.ElementsMatch(t, samples.Types(), func() []string {
		var names []string
		for n := range tests {
			names = append(names, n)
		}
		return names
	}(), "one case per sample")
	for typ, tc := range tests {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			ev := sample(t, typ)
			res := dryrun.Run(rt, ev, dryrun.Options{Now: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)})
			require.Equal(t, tc.routes, res.MatchedNames())
			require.Equal(t, tc.targets, res.TargetNames())
			require.Equal(t, tc.digests, res.DigestNames())
			require.Len(t, res.Routes, len(rt.Router.Routes), "every route has a verdict")
			require.Len(t, res.Digests, len(rt.Router.Digests))

			// The live router agrees: same routes, same assignments.
			require.Equal(t, rt.Router.Match(ev), res.Matched)
			require.Equal(t, rt.Router.Assign(ev, func(string) bool { return true }), res.Assignments)

			var held []string
			for _, name := range res.TargetNames() {
				d := res.Delivery(name)
				require.NotNil(t, d, name)
				require.False(t, d.Dropped)
				if d.Held != nil {
					held = append(held, name)
					require.Equal(t, d.Route.Name, d.Held.Route)
				}
				require.NoError(t, d.Err, name)
				require.NotNil(t, d.Message, name)
				want := core.SampleMessage(ev, d.Target, d.Route)
				require.NoError(t, rt.Renderer.Render(want, d.Target, d.Route))
				require.Equal(t, want.Body, d.Message.Body, "%s: the bytes the notifier would send", name)
				require.Equal(t, want.Subject, d.Message.Subject)
			}
			require.Equal(t, tc.held, held)
		})
	}
}

const testConfig = `
ingest: {secrets: [s3cret-value]}
targets:
  - {name: hook, type: webhook, url: "https://example.com/h", secret: x}
  - {name: broken, type: webhook, url: "https://example.com/b", template: bad}
  - {name: log, type: file, path: audit.jsonl}
routes:
  - {name: failing, when: 'data.severity > 1', targets: [hook]}
  - {name: issues, when: 'event == "issue.critical"', targets: [hook, broken, hook]}
  - {name: quiet, when: 'event == "issue.critical"', targets: [log], stop: true, mute_time: [always], on_mute: drop}
  - {name: never, when: 'true', targets: [log]}
time_intervals:
  - {name: always, time_intervals: [{times: [{start_time: "00:00", end_time: "24:00"}]}]}
templates: {dir: tmpl}
`

// TestRunReportsPerTarget: a rule failing at run time is a verdict (not a failure, not counted),
// a template error belongs to its target only, a target named twice is delivered once, quiet
// hours that drop show as Dropped and stop leaves later routes unevaluated.
func TestRunReportsPerTarget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "tmpl"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tmpl", "bad.tmpl"), []byte(`{"x": {{ if eq .Event.ID "evt_boom" }}{{ fail "no" }}{{ end }}1}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(testConfig), 0o600))
	rt := load(t, filepath.Join(dir, "config.yaml"))
	counted := 0
	rt.Router.OnRuleError = func(string) { counted++ }

	body, err := samples.Get("issue.critical")
	require.NoError(t, err)
	ev, err := event.Parse(bytes.Replace(body, []byte("evt_1234567891"), []byte("evt_boom"), 1))
	require.NoError(t, err)
	res := dryrun.Run(rt, ev, dryrun.Options{})
	require.Equal(t, 0, counted, "a dry run counts no rule error")
	require.Equal(t, []string{"issues", "quiet"}, res.MatchedNames())
	require.Equal(t, []string{"hook", "broken", "log"}, res.TargetNames())

	failing := res.Routes[0]
	require.False(t, failing.Matched)
	require.Error(t, failing.Explanation.Err)
	require.Empty(t, failing.Targets)

	issues := res.Routes[1].Targets
	require.Len(t, issues, 3)
	require.NoError(t, issues[0].Err)
	require.JSONEq(t, string(ev.Raw), string(bodyOrRaw(issues[0].Message)), "a webhook without template sends the event")
	require.ErrorContains(t, issues[1].Err, "no")
	require.Nil(t, issues[1].Message)
	require.True(t, issues[2].Already, "hook is named twice: one delivery")
	require.Same(t, issues[0], res.Delivery("hook"))

	quiet := res.Delivery("log")
	require.True(t, quiet.Dropped, "quiet hours with drop: true")
	require.Equal(t, "quiet", res.Routes[3].StoppedBy)
	require.Nil(t, res.Routes[3].Explanation)
}

func bodyOrRaw(m *notify.Message) []byte {
	if m.Body != nil {
		return m.Body
	}
	return bytes.Clone(m.Event.Raw)
}
