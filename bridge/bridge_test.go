package bridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

const toWebhook = `
ingest: {secrets: ["{{.Secret}}"]}
delivery: {timeout: 2s, max_attempts: 2, backoff: {initial: 20ms, max: 50ms}}
api:
  keys: [{account: acme, key: "acme-key-0123456789abcdef"}]
  allow_private_urls: true
  require_https: false
targets:
  - {name: hook, type: webhook, url: "{{.Webhook}}/in", secret: "target-secret-0123456789"}
  - {name: chat, type: slack, webhook_url: "{{.Slack}}/services/T/B/X"}
routes:
  - {name: all, when: "true", targets: [hook]}
`

// TestBridgeDeliversAnIngestedEvent: a signed event posted to the bridge reaches the
// configured webhook, and its delivery is recorded as succeeded.
func TestBridgeDeliversAnIngestedEvent(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, toWebhook)
	body, res := b.SendSample(event.ScanCompleted)
	require.Equal(t, "accepted", res.Status)
	require.Equal(t, 1, res.Deliveries)
	posts := b.Webhook.Wait(t, 1, 10*time.Second)
	require.Equal(t, "/in", posts[0].Path)
	var got struct{ ID string }
	require.NoError(t, json.Unmarshal(posts[0].Body, &got))
	var sent struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &sent))
	require.Equal(t, sent.ID, got.ID)
	ds := b.WaitFinal(core.DeliveryFilter{Target: "hook"}, 1, 10*time.Second)
	require.Equal(t, core.StateSucceeded, ds[0].State)
	require.Zero(t, b.Slack.Count())
}

// TestBridgeReload: a valid config replaces the routes at once; an invalid one is refused and
// the running config stays.
func TestBridgeReload(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, toWebhook)
	b.WriteConfig(strings.Replace(toWebhook, "targets: [hook]", "targets: [chat]", 1))
	require.NoError(t, b.Bridge.Reload(context.Background()))
	b.SendSample(event.ScanCompleted)
	b.Slack.Wait(t, 1, 10*time.Second)

	b.WriteConfig(strings.Replace(toWebhook, "targets: [hook]", "targets: [nowhere]", 1))
	require.Error(t, b.Bridge.Reload(context.Background()))
	require.Equal(t, "chat", b.Bridge.Runtime().Router.Routes[0].Targets[0], "the refused config is not in force")
	b.SendSample(event.ScanStarted)
	b.Slack.Wait(t, 2, 10*time.Second)
	require.Zero(t, b.Webhook.Count())
}

// TestRegisteredWebhookIsDelivered: a webhook registered through the service is delivered to
// at once (the registry re-plans), signed with its own secret, and no longer once deleted.
func TestRegisteredWebhookIsDelivered(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, toWebhook)
	url, events, secret := b.Discord.URL+"/registered", []string{"*"}, "registered-secret-0123456789"
	hook, secretOnce, err := b.Bridge.Webhooks().CreateWebhook(context.Background(), "acme", webhooks.Input{URL: &url, Events: &events, Secret: &secret})
	require.NoError(t, err)
	require.Empty(t, secretOnce, "the user set the secret")

	_, res := b.SendSample(event.ScanCompleted)
	require.Equal(t, 2, res.Deliveries, "the configured target and the registered webhook")
	posts := b.Discord.Wait(t, 1, 10*time.Second)
	require.NotEmpty(t, posts[0].Header.Get("X-Cortex-Signature"))

	a, err := b.Bridge.Webhooks().TestWebhook(context.Background(), hook, event.ScanCompleted)
	require.NoError(t, err)
	require.Equal(t, "success", a.Outcome)
	require.Equal(t, 2, b.Discord.Count(), "the test send arrived")

	require.NoError(t, b.Bridge.Webhooks().DeleteWebhook(context.Background(), "acme", hook.ID))
	_, res = b.SendSample(event.ScanStarted)
	require.Equal(t, 1, res.Deliveries, "a deleted webhook receives nothing more")
}

// TestBridgeServesHealthAndMetrics: the health checks and metrics answer while it runs, and
// Stop drains it.
func TestBridgeServesHealthAndMetrics(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, toWebhook)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(b.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	require.True(t, b.Logs.Contains(`"msg":"dashboard","url":"`+b.URL+`/"`), "serve says where the dashboard is: %s", b.Logs)
	require.NoError(t, b.Stop())
	require.True(t, b.Logs.Contains(`"msg":"stopped"`))
}

// TestBridgeWarnsWhenNobodyCanSignIn: without an API key the bridge runs, and says at startup
// that the dashboard cannot be signed in to.
func TestBridgeWarnsWhenNobodyCanSignIn(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, strings.Replace(toWebhook, `keys: [{account: acme, key: "acme-key-0123456789abcdef"}]`, `keys: [{account: admin, key: "", role: admin}]`, 1))
	resp, err := http.Get(b.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, b.Logs.Contains(`nobody can sign in`), b.Logs.String())
	require.True(t, b.Logs.Contains(`"url":"`+b.URL+`/"`))
}
