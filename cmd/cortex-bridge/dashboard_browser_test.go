package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/store"
)

// -screenshots writes the browser test's screenshots to docs/screenshots (the README shows
// them); without it they go to a temporary folder.
var screenshots = flag.Bool("screenshots", false, "write the dashboard screenshots to docs/screenshots")

const skipBrowserEnv = "CORTEX_BRIDGE_SKIP_BROWSER"

// adminKey is the browser tests' admin account's API key (api.keys[].role: admin).
const adminKey = "ops-admin-key-for-the-dashboard-0123"

// chromiumPath finds Debian's Chromium (scripts/test-setup installs it when it is missing). The test
// fails with one line without it, unless CORTEX_BRIDGE_SKIP_BROWSER=1 says this machine has none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(skipBrowserEnv) == "1" {
		t.Skipf("chromium is not installed and %s=1: skipping the dashboard browser test", skipBrowserEnv)
	}
	t.Fatalf("Chromium not found on PATH: run scripts/test-setup, which installs it "+
		"(or apt-get install -y chromium; %s=1 skips the browser test)", skipBrowserEnv)
	return ""
}

// TestBrowserMissingFailsInOneLine runs the browser test in a child process whose PATH has no
// Chromium: it fails at once, with one line naming the fix.
func TestBrowserMissingFailsInOneLine(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDashboardInBrowser$")
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir(), skipBrowserEnv+"=")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	require.Equal(t, 1, strings.Count(string(out), "Chromium not found on PATH: run scripts/test-setup, which installs it"), "%s", out)
	require.Equal(t, 1, strings.Count(string(out), "--- FAIL"), "%s", out)
}

// browserContext starts headless Chromium with a fresh profile; everything it does must end
// within timeout.
func browserContext(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	require.NoError(t, chromedp.Do(bctx), "starting chromium")
	return bctx
}

// dashReceiver is the user's endpoint: it checks each body's signature with the secret the
// dashboard generated, and answers 500 while broken.
type dashReceiver struct {
	secret atomic.Value // string
	broken atomic.Bool
	mu     sync.Mutex
	got    []string // X-Cortex-Event of the signed requests answered 2xx
}

func (rc *dashReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	secret, _ := rc.secret.Load().(string)
	if secret == "" || !verifySignature(body, r.Header.Get("X-Cortex-Signature"), secret) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.broken.Load() {
		http.Error(w, "receiver is down for maintenance", http.StatusInternalServerError)
		return
	}
	var ev struct {
		Event string `json:"event"`
	}
	_ = json.Unmarshal(body, &ev)
	rc.mu.Lock()
	rc.got = append(rc.got, ev.Event)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *dashReceiver) received() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.got...)
}

// seedHistory stores a day of past traffic before the bridge starts, so the overview's chart,
// counts and target health have something to show: events every hour to the audit log, and
// to the SIEM, whose endpoint fails now and then.
func seedHistory(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite", dsn)
	require.NoError(t, err)
	defer db.Close()
	now := time.Now().UTC()
	types := []string{"scan.started", "scan.completed", "scan.progress", "scan.failed", "issue.critical"}
	var items []core.IngestItem
	var completions []core.Completion
	n := 0
	for h := 23; h >= 1; h-- {
		for i := range 2 + (h*7)%5 {
			n++
			at := now.Add(-time.Duration(h)*time.Hour + time.Duration(i)*7*time.Minute)
			raw, err := samples.Get(types[n%len(types)])
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(raw, &m))
			m["id"], m["timestamp"] = fmt.Sprintf("evt_hist_%04d", n), at.Format(time.RFC3339)
			body, err := json.Marshal(m)
			require.NoError(t, err)
			ev, err := event.Parse(body)
			require.NoError(t, err)
			ev.ReceivedAt = at
			var ds []*core.Delivery
			for _, target := range []string{"audit", "siem"} {
				d := &core.Delivery{ID: uuid.Must(uuid.NewV7()).String(), Target: target, Route: "history", State: core.StateRunning,
					LeaseOwner: "seed", LeaseUntil: at.Add(time.Minute), NextAttemptAt: at, CreatedAt: at}
				ds = append(ds, d)
				a := core.Attempt{DeliveryID: d.ID, Number: 1, StartedAt: at.Add(time.Second), Duration: 40 * time.Millisecond, Outcome: "success", StatusCode: 200}
				c := core.Completion{LeaseOwner: "seed", Attempt: a, State: core.StateSucceeded}
				if target == "siem" && n%4 == 0 {
					c.Attempt.Outcome, c.Attempt.StatusCode, c.Attempt.Error = "server_error", 503, "server_error (status 503)"
					c.State, c.LastError = core.StateDead, "server_error (status 503)"
				}
				completions = append(completions, c)
			}
			items = append(items, core.IngestItem{Event: ev, Deliveries: ds})
		}
	}
	_, err = db.Ingest(ctx, items)
	require.NoError(t, err)
	require.NoError(t, db.Complete(ctx, completions))
}

// TestDashboardInBrowser drives the dashboard with headless Chromium through the seed flow a
// new user follows without docs: sign in, add a webhook against a loopback receiver, send a
// test, see a delivery, break the receiver and see the delivery fail until it is dead, mend
// the receiver and retry it; then the Routes page's "Try an event". Each page is
// screenshotted at 375 and 1440 px.
func TestDashboardInBrowser(t *testing.T) {
	// Not parallel: a browser is heavy on a small machine, and its timeouts should not depend
	// on the other tests.
	start := time.Now()
	ctx := browserContext(t, 60*time.Second)

	rcv := &dashReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	siem := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "siem is overloaded", http.StatusServiceUnavailable)
	}))
	t.Cleanup(siem.Close)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 2s, max_attempts: 3, backoff: {initial: 50ms, max: 200ms}}
api:
  keys: [{account: acme, key: %q}, {account: ops, key: %q, role: admin}]
  allow_private_urls: true   # the receiver is on loopback
  require_https: false
targets:
  - {name: security-slack, type: slack, webhook_url: ""}
  - {name: dev-discord, type: discord, webhook_url: ""}
  - {name: compliance-mail, type: email, smtp: {host: ""}, from: "bridge@example.com", to: ["compliance@example.com"]}
  - {name: siem, type: webhook, url: %q, secret: "siem-secret-0123456789"}
  - {name: audit, type: file, path: audit.jsonl}
routes:
  - {name: critical-issues, when: 'event == "issue.critical" && severity_at_least(severity, "high")', targets: [security-slack, dev-discord, compliance-mail, siem]}
  - {name: failures, when: 'event in ["scan.failed", "scan.timeout"]', targets: [security-slack, siem]}
  - {name: everything-to-audit, when: "true", targets: [audit]}
digests:
  - {name: weekly-compliance, schedule: "0 8 * * MON", timezone: UTC, target: compliance-mail, template: compliance-digest, send_empty: true}
`, ingestSecret, apiKey, adminKey, siem.URL+"/hooks/cortex")), 0o600))
	seedHistory(t, filepath.Join(dir, "bridge.db"))
	var logs bridgetest.Logs
	b := startBridge(t, cfgPath, &logs)
	base := "http://" + b.addr

	shots := t.TempDir()
	if *screenshots {
		shots = filepath.Join("..", "..", "docs", "screenshots")
		require.NoError(t, os.MkdirAll(shots, 0o755))
	}
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...))
	}
	// open navigates and requires a 200 answer.
	open := func(path string) {
		t.Helper()
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+path))
		require.NoError(t, err)
		require.EqualValues(t, http.StatusOK, resp.Status, path)
	}
	// submit clicks sel and waits for the page it loads; it returns the answer's status.
	submit := func(sel string) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return resp.Status
	}
	text := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		require.NoError(t, err)
		return s
	}
	location := func() string {
		t.Helper()
		l, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		return strings.TrimPrefix(l, base)
	}
	// reloadUntil reloads path until the JavaScript condition cond holds on it.
	reloadUntil := func(path, cond string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			open(path)
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
			require.NoError(t, err)
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never satisfied %s; it shows:\n%s", path, cond, text())
			}
			time.Sleep(150 * time.Millisecond)
		}
	}
	rowWith := func(s string) string {
		return fmt.Sprintf(`[...document.querySelectorAll("#deliveries tbody tr")].some(r => r.innerText.includes(%q))`, s)
	}
	shoot := func(name string) {
		t.Helper()
		screenshot(t, ctx, shots, name)
	}

	// Sign in.
	open("/")
	require.Equal(t, "/ui/signin", location(), "signed out: the dashboard asks for a key")
	shoot("signin")
	do(chromedp.SendKeys(chromedp.ID("key"), apiKey))
	require.EqualValues(t, http.StatusOK, submit(`form[action="/ui/signin"] button[type=submit]`))
	require.Equal(t, "/", location())
	require.Contains(t, text(), "Your account has no webhooks yet")

	// Add a webhook: first without anything, to see the problems beside the fields.
	require.EqualValues(t, http.StatusOK, submit(`a.button[href="/ui/webhooks/new"]`))
	require.EqualValues(t, http.StatusUnprocessableEntity, submit(`main form button[type=submit]`))
	page := text()
	require.Contains(t, page, "Please correct 2 fields")
	require.Contains(t, page, "Enter the URL of your endpoint")
	require.Contains(t, page, "Choose at least one event type")
	shoot("webhook-new")
	do(chromedp.SendKeys(chromedp.ID("url"), srv.URL+"/hooks/cortex"),
		chromedp.Click(chromedp.CSS(`input[name=events][value="scan.completed"]`)),
		chromedp.Click(chromedp.CSS(`input[name=events][value="issue.critical"]`)),
		chromedp.SendKeys(chromedp.ID("description"), "Our incident bot"))
	require.EqualValues(t, http.StatusCreated, submit(`main form button[type=submit]`))
	secret, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("secret-value")))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	rcv.secret.Store(secret) // the user configures the endpoint with it
	require.Contains(t, text(), "This is the only time it is shown")

	// Send a test from the webhook's page.
	require.EqualValues(t, http.StatusOK, submit(`a.button.primary`))
	hookPath := strings.TrimSuffix(location(), "#test")
	require.True(t, strings.HasPrefix(hookPath, "/ui/webhooks/wh_"), hookPath)
	do(chromedp.SetValue(chromedp.ID("test-event"), "scan.completed"))
	require.EqualValues(t, http.StatusOK, submit(`#test button[type=submit]`))
	do(chromedp.WaitVisible(chromedp.ID("test-result")))
	result, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("test-result")))
	require.NoError(t, err)
	require.Contains(t, result, "Delivered")
	require.Equal(t, []string{"scan.completed"}, rcv.received(), "the test arrived, signed with the generated secret")
	require.NotContains(t, text(), secret, "the secret is not shown again")
	shoot("webhook")

	// An event from Cortex: its delivery shows up, delivered.
	_, res := sendSample(t, b, "scan.completed", time.Now())
	require.Equal(t, 2, res.Deliveries, "the audit log and the webhook")
	reloadUntil("/ui/deliveries", rowWith("succeeded"))
	require.Equal(t, []string{"scan.completed", "scan.completed"}, rcv.received())

	// Break the receiver: the next delivery fails, is retried, and ends dead.
	rcv.broken.Store(true)
	_, res = sendSample(t, b, "issue.critical", time.Now())
	require.Equal(t, 3, res.Deliveries, "audit, siem and the webhook (the chat and mail targets are disabled)")
	reloadUntil("/ui/deliveries?status=dead", rowWith("issue.critical"))
	require.EqualValues(t, http.StatusOK, submit(`#deliveries tbody a`))
	page = text()
	require.Contains(t, page, "Attempt 3")
	require.Contains(t, page, "server_error")
	require.Contains(t, page, "HTTP 500")
	deliveryPath := location()

	// Mend it and retry.
	rcv.broken.Store(false)
	require.EqualValues(t, http.StatusOK, submit(`form[action$="/retry"] button`))
	require.Contains(t, text(), "Delivery queued for a new attempt")
	reloadUntil(deliveryPath, `document.querySelector(".facts .badge").innerText == "succeeded"`)
	require.Contains(t, text(), "Attempt 4")
	require.Equal(t, []string{"scan.completed", "scan.completed", "issue.critical"}, rcv.received())
	do(chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach(d => d.open = true)`))
	shoot("delivery")

	// One more failure, left dead, so the lists and the overview show one.
	rcv.broken.Store(true)
	require.Equal(t, "accepted", sendTo(t, base, "scan.completed", "evt_dashboard_left_dead").Status)
	reloadUntil("/ui/deliveries", rowWith("dead"))
	shoot("deliveries")
	open("/ui/webhooks")
	require.Contains(t, text(), "Our incident bot")
	shoot("webhooks")
	open("/")
	page = text()
	require.NotContains(t, page, "no webhooks yet")
	require.Contains(t, page, "Review and retry them", "one dead delivery")
	require.NotContains(t, page, "siem", "a tenant sees nothing of the config's targets")

	// An admin's overview has every target's health; then Routes, and "Try an event" with the
	// issue.critical sample.
	require.EqualValues(t, http.StatusOK, submit(`form.signout button`))
	do(chromedp.SendKeys(chromedp.ID("key"), adminKey))
	require.EqualValues(t, http.StatusOK, submit(`form[action="/ui/signin"] button[type=submit]`))
	require.Contains(t, text(), "siem")
	shoot("overview")
	open("/ui/routes")
	require.Contains(t, text(), "weekly-compliance")
	require.EqualValues(t, http.StatusOK, submit(`form[action="/ui/routes/try#result"] button[type=submit]`))
	page = text()
	require.Contains(t, page, "2 of 3 routes match.")
	require.Contains(t, page, "SQL Injection Vulnerability")
	do(chromedp.WaitVisible(chromedp.CSS(".slack")), chromedp.WaitVisible(chromedp.CSS(".discord")), chromedp.WaitVisible(chromedp.CSS("iframe.email-html")))
	shoot("routes")

	// Sign out.
	require.EqualValues(t, http.StatusOK, submit(`form.signout button`))
	require.Equal(t, "/ui/signin?signedout=1", location())
	open("/ui/webhooks")
	require.Equal(t, "/ui/signin?next=%2Fui%2Fwebhooks", location())

	require.NotContains(t, logs.String(), secret, "the secret is never logged")
	require.NotContains(t, logs.String(), apiKey)
	require.NotContains(t, logs.String(), adminKey)
	t.Logf("browser flow and %d screenshots in %s (to %s)", 16, time.Since(start).Round(100*time.Millisecond), shots)
}

// screenshot checks the page in ctx is accessible (every control labelled, every image with an
// alt, one h1) and fits 375 and 1440 px, and writes its screenshots at both widths to
// dir/name-<width>.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	// Accessible: every control has a label (or a button its text), every image an alt,
	// and the page one h1.
	unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(
			"input:not([type=hidden]), select, textarea, button, img, svg[role=img]")]
		.filter(e => e.tagName == "BUTTON" ? !e.textContent.trim() && !e.getAttribute("aria-label")
			: e.tagName == "IMG" ? !e.hasAttribute("alt")
			: e.tagName == "svg" ? !e.getAttribute("aria-labelledby")
			: !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
		.map(e => e.outerHTML.slice(0, 80))
		.concat(document.querySelectorAll("h1").length == 1 ? [] : ["not one h1"])`))
	require.NoError(t, err)
	require.Empty(t, unlabelled, "%s: controls without a label", name)
	for _, width := range []int64{375, 1440} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Sleep(100*time.Millisecond)))
		// Readable at this width: nothing sticks out sideways (wide tables and code scroll
		// inside their own box).
		// Tables of .responsive become cards on a phone, so they must not scroll there either.
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll("body *")]
			.filter(e => e.getBoundingClientRect().right > %d + 1 && !e.closest(".table-wrap, pre, iframe"))
			.concat([...document.querySelectorAll(".table-wrap")].filter(w => w.querySelector("table.responsive") &&
				w.scrollWidth > w.clientWidth + 1 && %d < 700))
			.map(e => e.tagName + "." + e.className + ": " + e.textContent.trim().slice(0, 40))`, width, width)))
		require.NoError(t, err)
		require.Empty(t, wide, "%s at %d px: elements wider than the page", name, width)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.Greater(t, len(png), 5000, "a screenshot of %s", name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, width)), png, 0o644))
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)))
}
