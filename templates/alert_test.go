package templates_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// TestBuiltinAlertGolden renders the bridge's own alerts (bridge.*) with each chat and email
// target's built-in "bridge" template; go test ./templates -update rewrites the golden files.
func TestBuiltinAlertGolden(t *testing.T) {
	t.Parallel()
	require.Equal(t, core.AlertTypes, []string{"bridge.delivery_dead", "bridge.target_unhealthy", "bridge.target_recovered", "bridge.digest_failed"})
	require.ElementsMatch(t, core.AlertTypes, samples.AlertTypes(), "every alert type has a sample")
	goldenEach(t, samples.AlertTypes())
}

// TestAlertReadable: each target type says what failed, where and why, in one line a phone
// notification shows, and escapes what the error text carries.
func TestAlertReadable(t *testing.T) {
	t.Parallel()
	body, err := samples.Get(core.EventDeliveryDead)
	require.NoError(t, err)
	var env map[string]any
	require.NoError(t, json.Unmarshal(body, &env))
	env["data"].(map[string]any)["last_error"] = "client_error (status 400): <!channel> *bold* & more"
	body, err = json.Marshal(env)
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)

	const head = "Delivery to security-slack failed permanently after 4 attempts"
	tests := map[string]struct {
		target *core.Target
		want   []string
		not    []string
	}{
		"slack": {target: builtinTargets[0],
			want: []string{`"text":"` + head + `: client_error (status 400): &lt;!channel&gt; *bold* &amp; more"`, "*Route*\\nlow-scores", "scan.completed `evt_1234567890`"},
			not:  []string{"<!channel>"}},
		"discord": {target: builtinTargets[1],
			want: []string{`"title":"🚨 ` + head + `"`, `"description":"client\\_error (status 400): <!channel\\> \\*bold\\* & more"`, `"allowed_mentions":{"parse":[]}`}},
		"email": {target: builtinTargets[2],
			want: []string{"Subject: [Cortex Bridge] " + head, "Last error: client_error (status 400): <!channel> *bold* & more", "Route:         low-scores",
				"&lt;!channel&gt;"},
			not: []string{"<no value>"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msg := render(t, tc.target, ev)
			got := "Subject: " + msg.Subject + "\n" + string(msg.Body) + "\n" + msg.HTML
			for _, w := range tc.want {
				require.Contains(t, got, w)
			}
			for _, n := range tc.not {
				require.NotContains(t, got, n)
			}
		})
	}
}

// TestAlertTemplateFallback: a bridge.* type without its own fields still renders every data
// field, on every target type, and a user's <type>/bridge.tmpl replaces the built-in one.
func TestAlertTemplateFallback(t *testing.T) {
	t.Parallel()
	ev, err := event.Parse([]byte(`{"event":"bridge.something_new","id":"bridge.something_new:1","timestamp":"2026-01-01T00:00:00Z","data":{"target":"siem","detail":"x<y"}}`))
	require.NoError(t, err)
	for _, tgt := range builtinTargets {
		msg := render(t, tgt, ev)
		require.Contains(t, string(msg.Body), "bridge.something_new", tgt.Type)
		require.Contains(t, string(msg.Body), "siem", tgt.Type)
	}

	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "slack"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "slack", "bridge.tmpl"), []byte(`{{ dict "text" (printf "ops: %s" .Event.Type) | toRawJson }}`), 0o644))
	e, err := templates.New(dir)
	require.NoError(t, err)
	r := &core.Renderer{Engine: e}
	msg := core.SampleMessage(ev, builtinTargets[0], nil)
	require.NoError(t, r.Render(msg, builtinTargets[0], nil))
	require.JSONEq(t, `{"text":"ops: bridge.something_new"}`, string(msg.Body))

	cortex, err := samples.Get("scan.failed")
	require.NoError(t, err)
	sev, err := event.Parse(cortex)
	require.NoError(t, err)
	key, err := r.TemplateKey(builtinTargets[0], nil, core.SampleMessage(sev, builtinTargets[0], nil))
	require.NoError(t, err)
	require.Equal(t, "slack/default", key, "Cortex events keep the default template")
}
