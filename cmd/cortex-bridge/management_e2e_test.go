package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
)

const apiKey = "acme-api-key-0123456789"

// flakyReceiver records signed deliveries and answers 500 while broken.
type flakyReceiver struct {
	broken atomic.Bool
	mu     sync.Mutex
	ok     []map[string]any // events received while healthy, with a valid signature
	hits   atomic.Int32
}

func (f *flakyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	body, _ := io.ReadAll(r.Body)
	if !verifySignature(body, r.Header.Get("X-Cortex-Signature"), "your-webhook-secret-123") {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if f.broken.Load() {
		http.Error(w, "receiver is down", http.StatusInternalServerError)
		return
	}
	var ev map[string]any
	_ = json.Unmarshal(body, &ev)
	ev["_delivery"] = r.Header.Get("X-Cortex-Delivery")
	f.mu.Lock()
	f.ok = append(f.ok, ev)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *flakyReceiver) received() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.ok...)
}

func apiCall(t *testing.T, base, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, out
}

// TestEndToEndManagementFlow follows the Cortex docs' flow through the API: register a webhook
// with the docs' body, list it, test it, deliver events to it, break the receiver until a
// delivery is dead, fix the receiver and replay it; then the same replay through the CLI.
func TestEndToEndManagementFlow(t *testing.T) {
	t.Parallel()
	rcv := &flakyReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 2s, max_attempts: 3, backoff: {initial: 50ms, max: 200ms}}
api:
  keys: [{account: acme, key: %q}]
  allow_private_urls: true   # the test's receiver is on loopback
  require_https: false
targets:
  - {name: audit, type: file, path: audit.jsonl}
routes:
  - {name: everything, when: "true", targets: [audit]}
`, ingestSecret, apiKey)), 0o600))
	var logs bridgetest.Logs
	b := startBridge(t, cfgPath, &logs)
	base := "http://" + b.addr

	status, created := apiCall(t, base, http.MethodPost, "/webhooks", map[string]any{
		"url": srv.URL + "/webhooks/cortex", "events": []string{"scan.completed", "issue.critical"},
		"secret": "your-webhook-secret-123", "active": true})
	require.Equal(t, http.StatusCreated, status, created)
	id := created["id"].(string)

	status, list := apiCall(t, base, http.MethodGet, "/webhooks", nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, list["data"], 1)

	status, tested := apiCall(t, base, http.MethodPost, "/webhooks/"+id+"/test", map[string]any{"event": "scan.completed"})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "success", tested["attempt"].(map[string]any)["outcome"])
	require.Len(t, rcv.received(), 1, "the test event arrived, signed with the webhook's secret")

	_, res := sendSample(t, b, "scan.completed", time.Now())
	require.Equal(t, 2, res.Deliveries, "audit and the registered webhook")
	_, res = sendSample(t, b, "scan.started", time.Now())
	require.Equal(t, 1, res.Deliveries, "the webhook did not subscribe to scan.started")
	var ds []any
	require.Eventually(t, func() bool { // delivered, and its outcome recorded
		status, page := apiCall(t, base, http.MethodGet, "/webhooks/"+id+"/deliveries", nil)
		require.Equal(t, http.StatusOK, status)
		ds = page["data"].([]any)
		return len(ds) == 1 && ds[0].(map[string]any)["status"] == "succeeded"
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, rcv.received(), 2)
	require.Len(t, ds[0].(map[string]any)["attempts"], 1)

	rcv.broken.Store(true)
	_, res = sendSample(t, b, "issue.critical", time.Now())
	require.Equal(t, 2, res.Deliveries)
	var dead map[string]any
	require.Eventually(t, func() bool {
		_, page := apiCall(t, base, http.MethodGet, "/deliveries?status=dead", nil)
		if d := page["data"].([]any); len(d) == 1 {
			dead = d[0].(map[string]any)
			return true
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "retries, then dead")
	require.Len(t, dead["attempts"], 3, "max_attempts")
	require.Equal(t, "receiver is down\n", dead["attempts"].([]any)[2].(map[string]any)["response"])

	rcv.broken.Store(false)
	status, _ = apiCall(t, base, http.MethodPost, "/deliveries/"+dead["id"].(string)+"/retry", nil)
	require.Equal(t, http.StatusAccepted, status)
	require.Eventually(t, func() bool {
		_, d := apiCall(t, base, http.MethodGet, "/deliveries/"+dead["id"].(string), nil)
		return d["status"] == "succeeded" && len(d["attempts"].([]any)) == 4
	}, 10*time.Second, 50*time.Millisecond, "the replay succeeds")
	last := rcv.received()[len(rcv.received())-1]
	require.Equal(t, dead["id"], last["_delivery"], "the same X-Cortex-Delivery, so receivers can deduplicate")

	// The same through the CLI: a dead delivery, listed and replayed.
	rcv.broken.Store(true)
	require.Equal(t, "accepted", sendTo(t, base, "scan.completed", "cli-replay").Status)
	require.Eventually(t, func() bool {
		out, _, err := run(t, "deliveries", "list", "--config", cfgPath, "--status", "dead")
		return err == nil && strings.Count(out, id) == 1
	}, 10*time.Second, 50*time.Millisecond)
	rcv.broken.Store(false)
	out, _, err := run(t, "deliveries", "retry", "--config", cfgPath, "--all-dead")
	require.NoError(t, err)
	require.Contains(t, out, "1 queued, 0 not")
	require.Eventually(t, func() bool {
		out, _, err := run(t, "deliveries", "list", "--config", cfgPath, "--target", id, "--status", "succeeded")
		return err == nil && strings.Count(out, id) == 3
	}, 10*time.Second, 50*time.Millisecond)
	out, _, err = run(t, "deliveries", "list", "--config", cfgPath, "--target", id, "--attempts", "--limit", "1")
	require.NoError(t, err)
	require.Contains(t, out, "attempt 4")

	status, _ = apiCall(t, base, http.MethodDelete, "/webhooks/"+id, nil)
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, 1, sendTo(t, base, "scan.completed", "after-delete").Deliveries, "a deleted webhook receives nothing more")
	require.NotContains(t, logs.String(), "your-webhook-secret-123")
	require.NotContains(t, logs.String(), apiKey)
}

// TestReloadTightensTheGuardForRegisteredWebhooks: a webhook registered while
// api.allow_private_urls was on stops receiving as soon as a reload turns it off, without a
// restart: its deliveries and test sends are refused by the SSRF guard.
func TestReloadTightensTheGuardForRegisteredWebhooks(t *testing.T) {
	t.Parallel()
	rcv := &flakyReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	writeConfig := func(allowPrivate bool) {
		require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 2s, max_attempts: 1}
api:
  keys: [{account: acme, key: %q, role: admin}]
  allow_private_urls: %t
  require_https: false
targets:
  - {name: audit, type: file, path: audit.jsonl}
routes:
  - {name: everything, when: "true", targets: [audit]}
`, ingestSecret, apiKey, allowPrivate)), 0o600))
	}
	writeConfig(true)
	var logs bridgetest.Logs
	b := startBridge(t, cfgPath, &logs)
	base := "http://" + b.addr

	status, created := apiCall(t, base, http.MethodPost, "/webhooks", map[string]any{
		"url": srv.URL + "/hook", "events": []string{"*"}, "secret": "your-webhook-secret-123"})
	require.Equal(t, http.StatusCreated, status, created)
	id := created["id"].(string)
	_, res := sendSample(t, b, "scan.completed", time.Now())
	require.Equal(t, 2, res.Deliveries)
	require.Eventually(t, func() bool { return len(rcv.received()) == 1 }, 10*time.Second, 20*time.Millisecond)

	writeConfig(false)
	status, _ = apiCall(t, base, http.MethodPost, "/-/reload", nil)
	require.Equal(t, http.StatusOK, status)

	status, tested := apiCall(t, base, http.MethodPost, "/webhooks/"+id+"/test", map[string]any{"event": "scan.completed"})
	require.Equal(t, http.StatusOK, status)
	attempt := tested["attempt"].(map[string]any)
	require.NotEqual(t, "success", attempt["outcome"])
	require.Contains(t, attempt["error"], "not allowed")

	require.Equal(t, 2, sendTo(t, base, "scan.completed", "after-reload").Deliveries, "still routed to the webhook…")
	require.Eventually(t, func() bool { // …but refused at the dial
		_, page := apiCall(t, base, http.MethodGet, "/webhooks/"+id+"/deliveries", nil)
		for _, d := range page["data"].([]any) {
			for _, a := range d.(map[string]any)["attempts"].([]any) {
				if e, _ := a.(map[string]any)["error"].(string); strings.Contains(e, "not allowed") {
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond)
	require.Len(t, rcv.received(), 1, "nothing reached the loopback receiver after the reload")
}
