package bridge_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// TestEventPageAPIOnARunningBridge: the link an alert carries (<public_url>/events/<id>) answers
// an admin's key with the event, the routes' decisions recomputed by the dry run, and the
// delivery with its attempt; a browser gets the dashboard.
func TestEventPageAPIOnARunningBridge(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(toWebhook, `keys: [{account: acme, key: "acme-key-0123456789abcdef"}]`,
		`keys: [{account: acme, key: "acme-key-0123456789abcdef"}, {account: ops, key: "ops-key-0123456789abcdef", role: admin}]`, 1)
	cfg = strings.Replace(cfg, `  - {name: all, when: "true", targets: [hook]}`,
		"  - {name: scans-only, when: 'event startsWith \"scan.\"', targets: [chat]}\n  - {name: all, when: \"true\", targets: [hook]}", 1)
	b := bridgetest.Start(t, cfg)
	body, res := b.SendSample(event.IssueCritical)
	require.Equal(t, "accepted", res.Status)
	var sent struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &sent))
	b.WaitFinal(core.DeliveryFilter{State: core.StateSucceeded, Target: "hook"}, 1, 10*time.Second)

	get := func(key, accept string) (*http.Response, map[string]any) {
		req, err := http.NewRequest(http.MethodGet, b.URL+"/events/"+sent.ID, nil)
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		}
		return resp, out
	}
	resp, out := get("ops-key-0123456789abcdef", "application/json")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	routes := out["routes"].([]any)
	require.Len(t, routes, 2)
	scans, all := routes[0].(map[string]any), routes[1].(map[string]any)
	require.Equal(t, "scans-only", scans["route"])
	require.Equal(t, false, scans["matched"])
	require.Contains(t, scans["explanation"], `event startsWith "scan."`)
	require.Equal(t, true, all["matched"])
	require.Equal(t, "hook", all["targets"].([]any)[0].(map[string]any)["name"])
	dls := out["deliveries"].([]any)
	require.Len(t, dls, 1)
	require.Equal(t, "succeeded", dls[0].(map[string]any)["status"])
	require.Len(t, dls[0].(map[string]any)["attempts"], 1)

	resp, _ = get("acme-key-0123456789abcdef", "application/json")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "a tenant: not delivered to its webhooks")
	resp, _ = get("", "text/html,*/*;q=0.8")
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html", "a browser gets the dashboard")
}
