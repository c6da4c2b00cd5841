package config_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// TestWebhookPresets: the preset keys of webhook targets, their *_file secrets, the preset's
// credential replacing secret for Disabled, errors with key paths, and the preset's template
// as the target's default.
func TestWebhookPresets(t *testing.T) {
	t.Parallel()
	const pdKey = "FAKE0PAGERDUTY0ROUTING0KEY000032"
	tests := map[string]struct {
		files    map[string]string
		target   string // appended after the audit target (index 1)
		env      map[string]string
		check    func(t *testing.T, c *config.Config)
		wantErr  []wantKey
		template string // the target's default template after defaults
	}{
		"pagerduty from a key file, no signing secret": {
			files:  map[string]string{"pd.key": pdKey + "\n"},
			target: "  - {name: pd, type: webhook, preset: pagerduty, routing_key_file: pd.key}\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, pdKey, config.AdapterConfig[*webhook.Config](&c.Targets[1]).RoutingKey.Reveal())
				require.Empty(t, c.Targets[1].Disabled(), "the routing key replaces secret")
			},
			template: "pagerduty",
		},
		"pagerduty without its key is disabled, not an error": {
			target: "  - {name: pd, type: webhook, preset: pagerduty, routing_key: \"${PD_KEY}\"}\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "routing_key is empty", c.Targets[1].Disabled())
			},
			template: "pagerduty",
		},
		"opsgenie api_key_file and token_file": {
			files:  map[string]string{"genie": "genie-key-123456", "gh": "ghp_token_123456"},
			target: "  - {name: genie, type: webhook, preset: opsgenie, api_key_file: genie}\n  - {name: ci, type: webhook, preset: github-dispatch, repo: acme/app, token_file: gh}\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "genie-key-123456", config.AdapterConfig[*webhook.Config](&c.Targets[1]).APIKey.Reveal())
				require.Equal(t, "ghp_token_123456", config.AdapterConfig[*webhook.Config](&c.Targets[2]).Token.Reveal())
				require.Empty(t, c.Targets[2].Disabled())
				require.Equal(t, "github-dispatch", c.Targets[2].Template)
			},
			template: "opsgenie",
		},
		"a template key wins over the preset's": {
			target:   "  - {name: pd, type: webhook, preset: pagerduty, routing_key: k, template: mine}\n",
			template: "mine",
		},
		"generic-json keeps the original event": {
			target:   "  - {name: siem, type: webhook, preset: generic-json, url: https://siem.example.com/h, secret: s}\n",
			template: "",
		},
		"unknown preset names the known ones": {
			target:  "  - {name: x, type: webhook, preset: pagerdutty, url: https://x.example.com/h, secret: s}\n",
			wantErr: []wantKey{{path: "targets[1].preset", at: "pagerdutty", msg: `unknown preset "pagerdutty" (known: cloudevents, generic-json, github-dispatch`}},
		},
		"preset keys are checked with key paths": {
			target: "  - {name: ci, type: webhook, preset: gitlab-pipeline, token: t, routing_key: k}\n",
			wantErr: []wantKey{
				{path: "targets[1].project", msg: "required for preset gitlab-pipeline"},
				{path: "targets[1].ref", msg: "required for preset gitlab-pipeline"},
				{path: "targets[1].routing_key", msg: "not used by preset gitlab-pipeline"},
			},
		},
		"routing_key and routing_key_file": {
			files:   map[string]string{"pd.key": pdKey},
			target:  "  - {name: pd, type: webhook, preset: pagerduty, routing_key: k, routing_key_file: pd.key}\n",
			wantErr: []wantKey{{path: "targets[1].routing_key", msg: "set either the value or routing_key_file, not both"}},
		},
		"standard-webhooks scheme with a rotation": {
			target: "  - {name: siem, type: webhook, url: https://siem.example.com/h, signature_scheme: standard-webhooks, secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_c2VjcmV0LXJvdGF0aW9uLWtleS0xMjM0NTY3OA==\"}\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "standard-webhooks", config.AdapterConfig[*webhook.Config](&c.Targets[1]).SignatureScheme)
			},
		},
		"standard-webhooks secret in the wrong form": {
			target:  "  - {name: siem, type: webhook, url: https://siem.example.com/h, signature_scheme: standard-webhooks, secret: " + pdKey + "}\n",
			wantErr: []wantKey{{path: "targets[1].secret", msg: "the standard-webhooks scheme wants whsec_"}},
		},
		"unknown signature scheme": {
			target:  "  - {name: siem, type: webhook, url: https://siem.example.com/h, signature_scheme: svix, secret: s}\n",
			wantErr: []wantKey{{path: "targets[1].signature_scheme", at: "svix", msg: `must be cortex or standard-webhooks, got "svix"`}},
		},
		"typo in a preset key": {
			target:  "  - {name: pd, type: webhook, preset: pagerduty, routing_kye: k}\n",
			wantErr: []wantKey{{path: "targets[1].routing_kye", at: "routing_kye", msg: `unknown key (did you mean "routing_key"?)`}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for rel, content := range tc.files {
				b.write(t, rel, content)
			}
			src := minimal + tc.target
			c, err := b.parse(t, src, tc.env)
			if len(tc.wantErr) > 0 {
				requireKeyErrors(t, src, err, tc.wantErr...)
				require.NotContains(t, err.Error(), pdKey)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.template, c.Targets[1].Template)
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestWebhookPresetsBuild: Build gives preset targets their template, so route-style rendering
// shows the preset's body; secrets never reach it; a changed routing key changes the
// fingerprint (a reload rebuilds the notifier).
func TestWebhookPresetsBuild(t *testing.T) {
	t.Parallel()
	b := setup(t)
	src := ingestSection + routesSection + `  - {name: pages, when: 'event == "issue.critical"', targets: [pd, genie, teams]}
` + auditTarget + `  - {name: pd, type: webhook, preset: pagerduty, routing_key: "${PD_KEY}"}
  - {name: genie, type: webhook, preset: opsgenie, api_key: "${GENIE_KEY}", url: "https://api.eu.opsgenie.com/v2/alerts"}
  - {name: teams, type: webhook, preset: msteams, url: "${TEAMS_URL}"}
`
	env := map[string]string{"PD_KEY": "FAKE0PAGERDUTY0ROUTING0KEY000032", "GENIE_KEY": "FAKE-GENIE-KEY-0000"}
	c, err := b.parse(t, src, env)
	require.NoError(t, err)
	rt, err := config.Build(c, config.BuildOptions{Version: "test"})
	require.NoError(t, err)
	t.Cleanup(rt.Close)
	require.True(t, rt.Enabled("pd"))
	require.True(t, rt.Enabled("genie"))
	require.False(t, rt.Enabled("teams"))
	require.Contains(t, strings.Join(rt.Warnings, "\n"), "target teams (webhook) is disabled: url is empty")

	body, err := samples.Get("issue.critical")
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	for _, name := range []string{"pd", "genie"} {
		tgt := rt.Targets[slices.IndexFunc(rt.Targets, func(x *core.Target) bool { return x.Name == name })]
		msg := core.SampleMessage(ev, tgt, rt.Router.Routes[1])
		require.NoError(t, rt.Renderer.Render(msg, tgt, rt.Router.Routes[1]))
		var m map[string]any
		require.NoError(t, json.Unmarshal(msg.Body, &m))
		require.NotContains(t, string(msg.Body), env["PD_KEY"])
		require.NotContains(t, string(msg.Body), env["GENIE_KEY"])
		if name == "pd" {
			require.Equal(t, "trigger", m["event_action"])
		} else {
			require.Equal(t, "P1", m["priority"])
		}
	}

	env["PD_KEY"] = "FAKE0PAGERDUTY0ROUTING0KEY000099"
	c2, err := b.parse(t, src, env)
	require.NoError(t, err)
	rt2, err := config.Build(c2, config.BuildOptions{DryRun: true})
	require.NoError(t, err)
	require.NotEqual(t, rt.Targets[1].Fingerprint, rt2.Targets[1].Fingerprint, "a new routing key is a changed target")
	require.Equal(t, rt.Targets[2].Fingerprint, rt2.Targets[2].Fingerprint)
}

// TestWebhookPresetOverride: a user file templates/webhook/pagerduty.tmpl replaces the built-in
// body of every pagerduty target, like any built-in template.
func TestWebhookPresetOverride(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, "templates/webhook/pagerduty.tmpl", `{{ dict "event_action" "trigger" "dedup_key" .Event.ID "payload" (dict "summary" .Event.Type "source" "x" "severity" "info") | toRawJson }}`)
	src := templateConfig("templates", "  - {name: pd, type: webhook, preset: pagerduty, routing_key: k}\n",
		"  - {name: pages, when: 'true', targets: [pd]}\n")
	c, err := b.parse(t, src, nil)
	require.NoError(t, err)
	rt, err := config.Build(c, config.BuildOptions{DryRun: true})
	require.NoError(t, err)
	tgt := rt.Targets[slices.IndexFunc(rt.Targets, func(x *core.Target) bool { return x.Name == "pd" })]
	body, err := samples.Get("scan.failed")
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	msg := core.SampleMessage(ev, tgt, rt.Router.Routes[1])
	require.NoError(t, rt.Renderer.Render(msg, tgt, rt.Router.Routes[1]))
	require.JSONEq(t, `{"event_action":"trigger","dedup_key":"evt_2000000003","payload":{"summary":"scan.failed","source":"x","severity":"info"}}`, string(msg.Body))
}

// TestDigestsRefusePresetsWithTheirOwnSchema: PagerDuty, Opsgenie, GitHub, GitLab and the chat
// presets would refuse or not show a digest body, so a digest aimed at one is a config error
// naming the key.
func TestDigestsRefusePresetsWithTheirOwnSchema(t *testing.T) {
	t.Parallel()
	src := `
ingest: {secrets: [s3cret-value-long]}
targets:
  - {name: pd, type: webhook, preset: pagerduty, routing_key: R0123456789abcdef}
  - {name: ce, type: webhook, preset: cloudevents, url: "https://siem.example.com/x", secret: s3cret-value-long}
  - {name: mm, type: webhook, preset: mattermost, url: "https://chat.example.com/hooks/abc"}
routes:
  - {name: all, when: "true", targets: [pd, ce, mm]}
digests:
  - {name: daily, schedule: "0 8 * * *", target: pd}
  - {name: siem, schedule: "0 8 * * *", target: ce}
  - {name: chat, schedule: "0 8 * * *", target: mm}
`
	_, err := config.Parse([]byte(src), config.Options{LookupEnv: func(string) (string, bool) { return "", false }, Dir: t.TempDir()})
	require.ErrorContains(t, err, `digests[0].target: target "pd" uses preset pagerduty, whose service would refuse a digest`)
	require.NotContains(t, err.Error(), "digests[1]")
	require.ErrorContains(t, err, `digests[2].target: target "mm" uses preset mattermost`)
}
