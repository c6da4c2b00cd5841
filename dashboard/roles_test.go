package dashboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

const rootKey = "root-key-0123456789abcdef"

// TestOverviewConfigTargetsAdminsOnly: the overview's health table and chart show the config's
// targets, with their last errors (which name hosts), to admins only; a tenant sees its webhooks.
func TestOverviewConfigTargetsAdminsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.keys.Set(map[string]string{"acme": acmeKey, "beta": betaKey, "root": rootKey}, "root")
	acme := signedIn(t, b, acmeKey)
	id := addWebhook(t, acme, "https://example.com/hook", "*")
	seedDelivery(t, b, id, "issue.critical", "server_error")
	siem := seedDelivery(t, b, "siem", "issue.critical", "network")
	const hostErr = "dial tcp siem.example.com:8443: connection refused; POST https://siem.example.com:8443/hooks?token=hidden-token-xyz"
	require.NoError(t, b.db.Complete(context.Background(), []core.Completion{{LeaseOwner: "nobody", State: core.StateDead,
		Attempt: core.Attempt{DeliveryID: siem.ID, Number: 2, StartedAt: b.clock.Now(), Duration: time.Millisecond, Outcome: "network", Error: hostErr}}}))
	b.clock.Add(time.Second)

	tests := map[string]struct {
		key       string
		shown     []string
		notShown  []string
		chartText string
	}{
		"tenant": {acmeKey, []string{id}, []string{"targets of the bridge's config", ">siem</span>", ">chat</span>", "siem.example.com", "connection refused", "circuit open"},
			"2 events received and 1 failed attempts"},
		"tenant without webhooks": {betaKey, nil, []string{">siem</span>", "siem.example.com", id}, "2 events received and 0 failed attempts"},
		"admin": {rootKey, []string{"targets of the bridge's config", ">siem</span>", "circuit open", ">chat</span>", "siem.example.com:8443", "connection refused",
			"Deliveries to every target</h3>\n      <p class=\"big\">2 ", "Dead deliveries</h3>\n      <p class=\"big\">2</p>"},
			[]string{"hidden-token-xyz", "/hooks"}, "2 events received and 2 failed attempts"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := signedIn(t, b, tc.key).get("/")
			require.Equal(t, 200, a.status)
			for _, s := range tc.shown {
				require.Contains(t, a.body, s)
			}
			for _, s := range tc.notShown {
				require.NotContains(t, a.body, s)
			}
			require.Contains(t, a.body, tc.chartText)
		})
	}
}
