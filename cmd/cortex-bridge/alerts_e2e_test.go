package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
)

// TestEndToEndDeliveryDeadAlert runs serve with a target that always answers 500: once its
// delivery is dead, the bridge.delivery_dead alert reaches the ops webhook (signed) and the
// audit log, and /metrics counts it.
func TestEndToEndDeliveryDeadAlert(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	}))
	t.Cleanup(down.Close)
	ops := &receiver{}
	opsSrv := httptest.NewServer(ops)
	t.Cleanup(opsSrv.Close)
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
storage: {dsn: %q}
ingest: {secrets: [%q]}
delivery: {timeout: 5s, max_attempts: 2, backoff: {initial: 50ms, max: 200ms}}
targets:
  - {name: down, type: webhook, url: %q, secret: %q}
  - {name: ops, type: webhook, url: %q, secret: %q}
  - {name: audit, type: file, path: %q}
routes:
  - {name: cortex, when: 'not (event startsWith "bridge.")', targets: [down]}
  - {name: bridge-alerts, when: 'event startsWith "bridge."', targets: [ops, audit]}
`, filepath.Join(dir, "bridge.db"), ingestSecret, down.URL+"/hook?token=s3cr3t-token", targetSecret, opsSrv.URL, targetSecret, audit)), 0o600))
	logs := &bridgetest.Logs{}
	b := startBridge(t, cfgPath, logs)

	_, res := sendSample(t, b, "scan.failed", time.Now())
	require.Equal(t, "accepted", res.Status, res.Message)
	require.Eventually(t, func() bool { return len(ops.snapshot()) == 1 }, 60*time.Second, 20*time.Millisecond)
	p := ops.snapshot()[0]
	require.Equal(t, core.EventDeliveryDead, p.header.Get("X-Cortex-Event"))
	require.True(t, verifySignature(p.body, p.header.Get("X-Cortex-Signature"), targetSecret))
	var alert struct {
		Data map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(p.body, &alert))
	require.Equal(t, "down", alert.Data["target"])
	require.Equal(t, "cortex", alert.Data["route"])
	require.Equal(t, "scan.failed", alert.Data["event"])
	require.EqualValues(t, 2, alert.Data["attempts"])
	require.NotContains(t, string(p.body), "s3cr3t-token")

	require.Eventually(t, func() bool {
		b, err := os.ReadFile(audit)
		return err == nil && strings.Contains(string(b), `"event":"bridge.delivery_dead"`)
	}, 60*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + b.addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `cortex_bridge_alerts_total{outcome="raised",type="bridge.delivery_dead"} 1`)
	}, 30*time.Second, 50*time.Millisecond)
	require.Contains(t, logs.String(), "bridge alert raised")
	b.stop()
	require.NotContains(t, logs.String(), "s3cr3t-token")
}
