package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/sender"
)

const (
	ingestSecret = "e2e-ingest-secret"
	targetSecret = "e2e-target-secret"
)

// verifySignature is the Cortex docs' receiver check, in Go: HMAC-SHA256 of the raw payload with
// the secret, hex, compared in constant time with "sha256=<hex>".
func verifySignature(payload []byte, signature, secret string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(payload)
	return hmac.Equal([]byte(signature), []byte("sha256="+hex.EncodeToString(m.Sum(nil))))
}

type post struct {
	header http.Header
	body   []byte
}

// receiver is a webhook receiver on loopback that records every POST.
type receiver struct {
	mu    sync.Mutex
	posts []post
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.posts = append(rc.posts, post{r.Header.Clone(), b})
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) snapshot() []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]post(nil), rc.posts...)
}

// instance is a bridge started by startBridge.
type instance struct {
	addr string
	stop func()
}

// writeConfig writes a config whose receiver and audit log get every event Cortex sends (not the
// finding.* events the bridge derives from scans, which the tests' counts leave out).
func writeConfig(t *testing.T, dir, receiverURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
storage: {dsn: %q}
ingest: {secrets: [%q]}
delivery: {timeout: 5s, backoff: {initial: 100ms, max: 1s}}
templates: {dir: %q}
targets:
  - {name: receiver, type: webhook, url: %q, secret: %q, headers: {X-Team: security}}
  - {name: audit, type: file, path: %q}
  - {name: chat, type: slack, webhook_url: "${UNSET_E2E_SLACK_URL}"}
routes:
  - {name: everything, when: 'not (event startsWith "finding.")', targets: [receiver, audit]}
  - {name: critical, when: 'event == "issue.critical"', targets: [chat, receiver]}
`, filepath.Join(dir, "bridge.db"), ingestSecret, filepath.Join(dir, "templates"), receiverURL+"/hooks/cortex", targetSecret, filepath.Join(dir, "audit.jsonl"))
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

func startBridge(t *testing.T, cfgPath string, logTo io.Writer) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewJSONHandler(logTo, nil))
	go func() { done <- serve(ctx, cfgPath, log, func(addr string) { ready <- addr }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("bridge did not start")
	}
	b := &instance{addr: addr}
	stopped := false
	b.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		require.NoError(t, <-done)
	}
	t.Cleanup(b.stop)
	return b
}

func (b *instance) client() *sender.Client {
	return &sender.Client{URL: "http://" + b.addr + "/webhooks/cortex", Secret: ingestSecret, MaxElapsed: 10 * time.Second}
}

func sendSample(t *testing.T, b *instance, typ string, now time.Time) ([]byte, sender.Result) {
	t.Helper()
	raw, err := samples.Get(typ)
	require.NoError(t, err)
	body, err := sender.Restamp(raw, now)
	require.NoError(t, err)
	res, err := b.client().Send(context.Background(), body)
	require.NoError(t, err)
	return body, res
}

// TestEndToEndSeedEvents: the real server on loopback with a temporary SQLite file; the seed's
// two events are delivered once each, signed; re-sending is a duplicate, also after a restart.
func TestEndToEndSeedEvents(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, srv.URL)
	var logs bytes.Buffer
	b := startBridge(t, cfg, &logs)

	now := time.Now()
	sent := map[string][]byte{}
	for _, typ := range []string{"scan.completed", "issue.critical"} {
		body, res := sendSample(t, b, typ, now)
		require.Equal(t, 200, res.StatusCode, res.Message)
		require.Equal(t, "accepted", res.Status)
		require.Equal(t, 2, res.Deliveries, "receiver and audit; the disabled slack target is skipped")
		sent[typ] = body
	}
	require.Eventually(t, func() bool { return len(rc.snapshot()) == 2 }, 10*time.Second, 10*time.Millisecond)

	deliveryIDs := map[string]bool{}
	for _, p := range rc.snapshot() {
		typ := p.header.Get("X-Cortex-Event")
		require.Equal(t, sent[typ], p.body, "the receiver gets the event exactly as accepted")
		require.True(t, verifySignature(p.body, p.header.Get("X-Cortex-Signature"), targetSecret))
		require.Equal(t, "application/json", p.header.Get("Content-Type"))
		require.Equal(t, "cortex-bridge/"+version, p.header.Get("User-Agent"))
		require.Equal(t, "security", p.header.Get("X-Team"))
		require.NotEmpty(t, p.header.Get("X-Cortex-Delivery"))
		deliveryIDs[p.header.Get("X-Cortex-Delivery")] = true
	}
	require.Len(t, deliveryIDs, 2)

	for _, typ := range []string{"scan.completed", "issue.critical"} {
		_, res := sendSample(t, b, typ, now)
		require.Equal(t, "duplicate", res.Status)
	}
	b.stop()

	b = startBridge(t, cfg, &logs)
	for _, typ := range []string{"scan.completed", "issue.critical"} {
		_, res := sendSample(t, b, typ, now)
		require.Equal(t, 200, res.StatusCode)
		require.Equal(t, "duplicate", res.Status, "duplicates are detected across restarts")
	}
	time.Sleep(300 * time.Millisecond)
	require.Len(t, rc.snapshot(), 2, "nothing was sent twice")
	require.NotContains(t, logs.String(), targetSecret)
	require.NotContains(t, logs.String(), ingestSecret)
}

// TestEndToEndStream sends the whole day of samples with the send command: every event is
// accepted, the audit log holds each exactly once and the receiver verifies every signature.
func TestEndToEndStream(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, srv.URL)
	b := startBridge(t, cfg, io.Discard)

	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs([]string{"send", "--config", cfg, "--url", "http://" + b.addr + "/webhooks/cortex", "--file", "../../samples/stream.jsonl", "--quiet"})
	require.NoError(t, execute(context.Background(), root, &errOut), errOut.String())
	events := countLines(t, "../../samples/stream.jsonl")
	require.Contains(t, out.String(), fmt.Sprintf("sent %d: %d accepted, 0 duplicate, 0 rejected, 0 failed", events, events))

	require.Eventually(t, func() bool { return len(rc.snapshot()) == events }, 60*time.Second, 50*time.Millisecond)
	ids := map[string]int{}
	for _, p := range rc.snapshot() {
		require.True(t, verifySignature(p.body, p.header.Get("X-Cortex-Signature"), targetSecret))
		var ev struct{ ID string }
		require.NoError(t, json.Unmarshal(p.body, &ev))
		ids[ev.ID]++
	}
	require.Len(t, ids, events, "each event reached the receiver once")

	require.Eventually(t, func() bool { return countLines(t, filepath.Join(dir, "audit.jsonl")) == events }, 30*time.Second, 50*time.Millisecond)
	audit := map[string]int{}
	f, err := os.Open(filepath.Join(dir, "audit.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Event struct{ ID string } `json:"event"`
			Route string              `json:"route"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		require.Equal(t, "everything", l.Route)
		audit[l.Event.ID]++
	}
	require.Len(t, audit, events)
	for id, n := range audit {
		require.Equal(t, 1, n, id)
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return bytes.Count(b, []byte("\n"))
}
