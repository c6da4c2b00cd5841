package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/sender"
	"github.com/cortexbridge/cortex-bridge/signature"
	"github.com/cortexbridge/cortex-bridge/store"
)

// TestMain lets tests run the real command as a child process: the test binary re-executes
// itself with CORTEX_BRIDGE_TEST_MAIN=1 and behaves as cortex-bridge.
func TestMain(m *testing.M) {
	if os.Getenv("CORTEX_BRIDGE_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the bridge running as a separate process.
type child struct {
	cmd  *exec.Cmd
	url  string // http://host:port
	mu   sync.Mutex
	logs []map[string]any
	done chan error
}

func startChild(t *testing.T, cfgPath string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", cfgPath, "--log-level", "debug") // debug: tests read the per-event lines
	cmd.Env = append(os.Environ(), "CORTEX_BRIDGE_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, done: make(chan error, 1)}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			c.mu.Lock()
			c.logs = append(c.logs, line)
			c.mu.Unlock()
			if line["msg"] == "cortex-bridge listening" {
				u := line["url"].(string)
				listening <- u[:strings.Index(u[len("http://"):], "/")+len("http://")]
			}
		}
		c.done <- cmd.Wait()
	}()
	select {
	case c.url = <-listening:
	case err := <-c.done:
		t.Fatalf("bridge exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("bridge did not start")
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
	})
	return c
}

func (c *child) logged(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.logs {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

func (c *child) stop(t *testing.T, within time.Duration) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-c.done:
		require.NoError(t, err)
		c.done <- err // for Cleanup
	case <-time.After(within):
		t.Fatalf("bridge did not stop within %s", within)
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value returns the sample of family name whose labels include want, or -1.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func opsConfig(t *testing.T, dir, receiverURL, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 5s, drain_timeout: 3s, backoff: {initial: 100ms, max: 1s}}
api:
  keys: [{account: ops, key: ops-key-0123456789abcdef, role: admin}, {account: acme, key: acme-key-0123456789abcdef}]
targets:
  - {name: receiver, type: webhook, url: %q, secret: target-secret-value}
%s
routes:
  - {name: everything, when: "true", targets: [receiver]}
`, ingestSecret, receiverURL, extra)
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

func sendTo(t *testing.T, url, typ string, id string) sender.Result {
	t.Helper()
	body := fmt.Sprintf(`{"event":%q,"id":%q,"timestamp":%q,"data":{"scan_id":"s1","score":80}}`, typ, id, time.Now().UTC().Format(time.RFC3339Nano))
	res, err := (&sender.Client{URL: url + "/webhooks/cortex", Secret: ingestSecret, MaxElapsed: 5 * time.Second}).Send(context.Background(), []byte(body))
	require.NoError(t, err)
	return res
}

// postRaw posts one signed event once (no retries) and returns the error code and Retry-After
// of the answer ("" for a 200).
func postRaw(t *testing.T, url, id string) (code, retryAfter string) {
	t.Helper()
	body := fmt.Sprintf(`{"event":"scan.started","id":%q,"timestamp":%q,"data":{"scan_id":"s1"}}`, id, time.Now().UTC().Format(time.RFC3339Nano))
	sig, err := signature.Sign(ingestSecret, []byte(body))
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/cortex", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Cortex-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "no answer: " + err.Error(), ""
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return e.Error.Code, resp.Header.Get("Retry-After")
}

// TestRealBinaryMetricsHealthReload starts the real binary, scrapes /metrics with the
// Prometheus text parser, and reloads its config by SIGHUP and by POST /-/reload.
func TestRealBinaryMetricsHealthReload(t *testing.T) {
	t.Parallel()
	var got sync.Map
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b), true)
	}))
	defer rcv.Close()
	dir := t.TempDir()
	cfg := opsConfig(t, dir, rcv.URL, "")
	c := startChild(t, cfg)

	for i := range 3 {
		require.Equal(t, "accepted", sendTo(t, c.url, "scan.completed", fmt.Sprint("m", i)).Status)
	}
	require.Equal(t, "duplicate", sendTo(t, c.url, "scan.completed", "m0").Status)
	resp, err := http.Post(c.url+"/webhooks/cortex", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	require.Eventually(t, func() bool {
		fams := scrape(t, c.url)
		return value(fams, "cortex_bridge_deliveries_total", map[string]string{"target": "receiver", "outcome": "succeeded"}) == 3
	}, 10*time.Second, 50*time.Millisecond)
	fams := scrape(t, c.url)
	require.Equal(t, 3.0, value(fams, "cortex_bridge_events_received_total", map[string]string{"event": "scan.completed", "outcome": "accepted"}))
	require.Equal(t, 1.0, value(fams, "cortex_bridge_events_received_total", map[string]string{"event": "scan.completed", "outcome": "duplicate"}))
	require.Equal(t, 1.0, value(fams, "cortex_bridge_events_received_total", map[string]string{"outcome": "missing_signature"}))
	require.Equal(t, 4.0, value(fams, "cortex_bridge_ingest_duration_seconds", nil), "accepted and duplicate requests are timed")
	require.Equal(t, 3.0, value(fams, "cortex_bridge_attempts_total", map[string]string{"target": "receiver", "outcome": "success"}))
	require.Equal(t, 3.0, value(fams, "cortex_bridge_attempt_duration_seconds", map[string]string{"target": "receiver"}))
	require.Equal(t, 0.0, value(fams, "cortex_bridge_queue_depth", map[string]string{"target": "receiver", "state": "pending"}))
	require.Equal(t, 1.0, value(fams, "cortex_bridge_queue_stats_up", nil))
	require.Equal(t, 1.0, value(fams, "cortex_bridge_build_info", map[string]string{"version": version}))
	for name := range fams {
		require.True(t, strings.HasPrefix(name, "cortex_bridge_") || strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_"), name)
	}

	resp, err = http.Get(c.url + "/readyz")
	require.NoError(t, err)
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ready))
	resp.Body.Close()
	require.Equal(t, "ok", ready.Status)
	require.Equal(t, map[string]string{"storage": "ok", "migrations": "ok", "queue": "ok", "workers": "ok"}, ready.Checks)

	// An invalid config is refused and the running one stays.
	require.NoError(t, os.WriteFile(cfg, []byte("routes: [{name: x}]\n"), 0o600))
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return c.logged("config reload refused; the running config stays") == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "accepted", sendTo(t, c.url, "scan.started", "after-bad-reload").Status)

	// A valid one adds a second target, by SIGHUP…
	opsConfig(t, dir, rcv.URL, fmt.Sprintf("  - {name: audit, type: file, path: %q}", filepath.Join(dir, "audit.jsonl")))
	cfgText, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Replace(string(cfgText), "targets: [receiver]", "targets: [receiver, audit]", 1)), 0o600))
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return c.logged("config reloaded") == 1 }, 10*time.Second, 20*time.Millisecond)
	res := sendTo(t, c.url, "scan.started", "after-good-reload")
	require.Equal(t, 2, res.Deliveries)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
		return strings.Contains(string(b), "after-good-reload")
	}, 10*time.Second, 20*time.Millisecond)

	// …and by POST /-/reload, which needs the API key of an admin account.
	req, _ := http.NewRequest(http.MethodPost, c.url+"/-/reload", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
	req, _ = http.NewRequest(http.MethodPost, c.url+"/-/reload", nil)
	req.Header.Set("Authorization", "Bearer acme-key-0123456789abcdef")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a tenant account may not reload")
	req, _ = http.NewRequest(http.MethodPost, c.url+"/-/reload", nil)
	req.Header.Set("Authorization", "Bearer ops-key-0123456789abcdef")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	fams = scrape(t, c.url)
	require.Equal(t, 2.0, value(fams, "cortex_bridge_config_reloads_total", map[string]string{"outcome": "success"}))
	require.Equal(t, 1.0, value(fams, "cortex_bridge_config_reloads_total", map[string]string{"outcome": "failure"}))
	c.stop(t, 15*time.Second)
}

// TestRealBinaryDrainsOnSIGTERM: with deliveries in flight and queued, SIGTERM makes ingest
// answer 503, lets the running attempt finish, hands the queued ones back, and the next start
// delivers them; nothing is lost.
func TestRealBinaryDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	ids := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ ID string }
		_ = json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		ids[ev.ID]++
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer rcv.Close()
	dir := t.TempDir()
	cfg := opsConfig(t, dir, rcv.URL, "")
	c := startChild(t, cfg)
	for i := range 6 {
		require.Equal(t, "accepted", sendTo(t, c.url, "scan.started", fmt.Sprint("d", i)).Status)
	}
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	// While the running attempt drains, the listener still answers: ingest says 503
	// shutting_down and /readyz fails, so senders and load balancers go elsewhere.
	require.Eventually(t, func() bool {
		code, retryAfter := postRaw(t, c.url, "late")
		return code == "shutting_down" && retryAfter != ""
	}, 5*time.Second, 20*time.Millisecond)
	resp, err := http.Get(c.url + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	close(release)
	select {
	case err := <-c.done:
		require.NoError(t, err)
		c.done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("bridge did not stop within 20s")
	}
	require.Equal(t, 1, c.logged("stopped"))

	db, err := store.Open(context.Background(), "sqlite", filepath.Join(dir, "bridge.db"))
	require.NoError(t, err)
	stats, err := db.QueueStats(context.Background())
	require.NoError(t, err)
	require.NoError(t, db.Close())
	for _, s := range stats {
		require.Zero(t, s.Running, "no delivery is left leased by the stopped process")
	}

	c2 := startChild(t, cfg)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range 6 {
			if ids[fmt.Sprint("d", i)] == 0 {
				return false
			}
		}
		return true // and "late", when it was accepted before the signal arrived
	}, 20*time.Second, 50*time.Millisecond, "every accepted event is delivered after the restart")
	c2.stop(t, 15*time.Second)
}
