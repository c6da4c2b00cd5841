package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/config"
)

// TestBuild_AlertTemplatesChecked: a route whose rule lets the bridge's own alerts (bridge.*)
// through must render them; a route that keeps them out is not held to it.
func TestBuild_AlertTemplatesChecked(t *testing.T) {
	t.Parallel()
	// Every Cortex event has a scan_id; most alerts do not.
	const scanOnly = `{{ dict "text" (printf "%s" .Event.Data.scan_id) | toJson }}`
	tests := map[string]struct {
		route string
		want  []string // in the error; none: Build succeeds
	}{
		"a catch-all route with a Cortex-only template": {
			route: "  - {name: all, when: 'true', targets: [chat], template: scan}\n",
			want: []string{"routes[1] (all) → target chat: with sample bridge.digest_failed, bridge.target_recovered, bridge.target_unhealthy " +
				"(the bridge's own events match this route)", `map has no entry for key "scan_id"`},
		},
		"a route that keeps alerts out": {
			route: "  - {name: cortex, when: 'not (event startsWith \"bridge.\")', targets: [chat], template: scan}\n",
		},
		"an alert route with the built-in templates": {
			route: "  - {name: alerts, when: 'event startsWith \"bridge.\"', targets: [chat, dev]}\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tpl := filepath.Join(b.dir, "templates")
			require.NoError(t, os.MkdirAll(tpl, 0o750))
			b.write(t, "templates/slack/scan.tmpl", scanOnly)
			cfg, err := b.parse(t, templateConfig(tpl, "", tc.route), nil)
			require.NoError(t, err)
			rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
			if len(tc.want) == 0 {
				require.NoError(t, err)
				require.NotNil(t, rt)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "bridge.delivery_dead", "that sample has a scan_id")
		})
	}
}

// TestParse_UnsetRecipientsDisableEmail: recipients that all come from unset variables disable
// the target (like an unset SMTP host); an empty list stays an error.
func TestParse_UnsetRecipientsDisableEmail(t *testing.T) {
	t.Parallel()
	mail := func(to string) string {
		return minimal + "  - name: ops\n    type: email\n    from: bridge@example.com\n    to: " + to + "\n    smtp: {host: smtp.example.com}\n"
	}
	tests := map[string]struct {
		to       string
		env      map[string]string
		disabled string
		err      string
	}{
		"variable unset":       {to: `["${OPS_EMAIL}"]`, disabled: "to is empty (its variable is unset)"},
		"variable set":         {to: `["${OPS_EMAIL}"]`, env: map[string]string{"OPS_EMAIL": "ops@example.com"}},
		"one of two unset":     {to: `["${OPS_EMAIL}", "${OPS_EMAIL_2}"]`, env: map[string]string{"OPS_EMAIL": "ops@example.com"}, err: `to[1]: "" is not an address`},
		"no recipients at all": {to: `[]`, err: "at least one recipient required"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := setup(t).parse(t, mail(tc.to), tc.env)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.disabled, cfg.Targets[1].Disabled())
		})
	}
}
