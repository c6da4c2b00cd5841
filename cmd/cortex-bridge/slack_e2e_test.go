package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
)

// slackFake answers 429 with Retry-After: 1 to the first request on each path, then success, in
// the incoming-webhook and chat.postMessage protocols.
type slackFake struct {
	mu    sync.Mutex
	calls map[string][]time.Time
	body  map[string]string
}

func (f *slackFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls[r.URL.Path] = append(f.calls[r.URL.Path], time.Now())
	n := len(f.calls[r.URL.Path])
	f.body[r.URL.Path] = string(b)
	f.mu.Unlock()
	if n == 1 {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if r.URL.Path == "/api/chat.postMessage" {
		if r.Header.Get("Authorization") != "Bearer xoxb-E2E-FAKE-TOKEN" {
			_, _ = w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
			return
		}
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C1","ts":"1.2"}`))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func (f *slackFake) snapshot(path string) ([]time.Time, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls[path]...), f.body[path]
}

// TestEndToEndSlack: the seed's issue.critical reaches a fake Slack through an incoming webhook
// and through chat.postMessage; each answers 429 with Retry-After: 1 first, so there are exactly
// two requests per mode, at least a second apart; the webhook URL and token never reach the logs.
func TestEndToEndSlack(t *testing.T) {
	t.Parallel()
	fake := &slackFake{calls: map[string][]time.Time{}, body: map[string]string{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 5s, backoff: {initial: 50ms, max: 5s}}
targets:
  - {name: hook, type: slack, webhook_url: %q}
  - {name: bot, type: slack, token: xoxb-E2E-FAKE-TOKEN, channel: C1, api_url: %q}
routes:
  - {name: critical, when: 'event == "issue.critical"', targets: [hook, bot]}
`, ingestSecret, srv.URL+"/services/T000/B000/E2E-FAKE-SECRET", srv.URL+"/api/")
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	var logs bridgetest.Logs
	b := startBridge(t, path, &logs)

	_, res := sendSample(t, b, "issue.critical", time.Now())
	require.Equal(t, "accepted", res.Status, res.Message)
	require.Equal(t, 2, res.Deliveries)

	for _, p := range []string{"/services/T000/B000/E2E-FAKE-SECRET", "/api/chat.postMessage"} {
		require.Eventually(t, func() bool { calls, _ := fake.snapshot(p); return len(calls) >= 2 }, 10*time.Second, 20*time.Millisecond, p)
	}
	time.Sleep(300 * time.Millisecond)
	for _, p := range []string{"/services/T000/B000/E2E-FAKE-SECRET", "/api/chat.postMessage"} {
		calls, body := fake.snapshot(p)
		require.Len(t, calls, 2, "%s: one 429, one success", p)
		require.GreaterOrEqual(t, calls[1].Sub(calls[0]), time.Second, "%s: Retry-After honoured", p)
		if form, err := url.ParseQuery(body); err == nil && form.Get("attachments") != "" {
			body = form.Get("attachments") // chat.postMessage is form-encoded
		}
		require.Contains(t, body, "SQL Injection Vulnerability")
	}
	b.stop()
	out := logs.String()
	require.Contains(t, out, `"outcome":"rate_limited"`)
	require.NotContains(t, out, "E2E-FAKE-SECRET")
	require.NotContains(t, out, "E2E-FAKE-TOKEN")
	require.NotContains(t, out, "B000")
}
