package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
)

// slackLink is the event page link of the built-in Slack template: <url|text>.
var slackLink = regexp.MustCompile(`<(http://[^|>]+/events/[^|>]+)\|`)

// TestEventPageInBrowser follows the link of a delivered Slack message (a loopback Slack
// receiver) to the event page in headless Chromium: the bridge asks to sign in and comes back to
// the event, which shows the Slack delivery and the dead one to the SIEM; with the SIEM mended,
// "Retry now" delivers it; "Silence similar" creates a silence of the finding. The event page,
// the events list and the Silences page are screenshotted at 375 and 1440 px.
func TestEventPageInBrowser(t *testing.T) {
	// Not parallel: see TestDashboardInBrowser.
	ctx := browserContext(t, 60*time.Second)

	var slackMu sync.Mutex
	var slackBodies []string
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		slackMu.Lock()
		slackBodies = append(slackBodies, string(body))
		slackMu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(slack.Close)
	var siemBroken atomic.Bool
	var siemGot atomic.Int32
	siemBroken.Store(true)
	siem := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if siemBroken.Load() {
			http.Error(w, "siem is overloaded", http.StatusServiceUnavailable)
			return
		}
		siemGot.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(siem.Close)

	// The links in messages need the bridge's address before it starts: take a free port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
server: {listen: %q, public_url: "http://%s"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 2s, max_attempts: 2, backoff: {initial: 50ms, max: 100ms}}
api:
  keys: [{account: ops, key: %q, role: admin}]
targets:
  - {name: security-slack, type: slack, webhook_url: %q}
  - {name: siem, type: webhook, url: %q, secret: "siem-secret-0123456789"}
routes:
  - {name: critical-issues, when: 'event == "issue.critical"', targets: [security-slack, siem]}
`, addr, addr, ingestSecret, adminKey, slack.URL+"/services/T000/B000/XXXX", siem.URL+"/hooks/cortex")), 0o600))
	var logs bridgetest.Logs
	b := startBridge(t, cfgPath, &logs)
	base := "http://" + b.addr
	require.Equal(t, addr, b.addr)

	_, res := sendSample(t, b, "issue.critical", time.Now())
	require.Equal(t, 2, res.Deliveries)
	var link string
	require.Eventually(t, func() bool {
		slackMu.Lock()
		defer slackMu.Unlock()
		for _, body := range slackBodies {
			// JSON escapes < > & in strings.
			body = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(body)
			if m := slackLink.FindStringSubmatch(body); m != nil {
				link = m[1]
				return true
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "a Slack message with the event's link")
	require.True(t, strings.HasPrefix(link, base+"/events/evt_"), link)
	eventPath := strings.TrimPrefix(link, base)

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
	submit := func(sel string) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return resp.Status
	}
	siemCard := `[...document.querySelectorAll("article.delivery")].find(a => a.querySelector("h3").innerText.startsWith("siem"))`
	reloadUntil := func(cond string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+eventPath))
			require.NoError(t, err)
			require.EqualValues(t, http.StatusOK, resp.Status)
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
			require.NoError(t, err)
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never satisfied %s; it shows:\n%s", eventPath, cond, text())
			}
			time.Sleep(150 * time.Millisecond)
		}
	}

	// Follow the link: sign in, and land on the event.
	_, err = chromedp.Run(ctx, chromedp.NavigateResponse(link))
	require.NoError(t, err)
	require.Equal(t, "/ui/signin?next="+strings.ReplaceAll(eventPath, "/", "%2F"), location())
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("key"), adminKey)))
	require.EqualValues(t, http.StatusOK, submit(`form[action="/ui/signin"] button[type=submit]`))
	require.Equal(t, eventPath, location())
	page := text()
	require.Contains(t, page, "SQL Injection Vulnerability")
	require.Contains(t, page, "security-slack")
	require.Contains(t, page, "critical-issues")

	// The SIEM's delivery ends dead; mend the SIEM and retry it from the event page.
	reloadUntil(siemCard + `?.innerText.includes("dead")`)
	require.Contains(t, text(), "Attempt 2")
	siemBroken.Store(false)
	require.EqualValues(t, http.StatusOK, submit(`article.delivery form[action$="/retry"] button`))
	require.Contains(t, text(), "Delivery queued for a new attempt")
	reloadUntil(siemCard + `?.innerText.includes("succeeded")`)
	require.Contains(t, text(), "Attempt 3")
	require.EqualValues(t, 1, siemGot.Load(), "the retried delivery arrived at the SIEM")

	shots := t.TempDir()
	if *screenshots {
		shots = filepath.Join("..", "..", "docs", "screenshots")
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach(d => d.open = true)`)))
	screenshot(t, ctx, shots, "event")
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/events"))
	require.NoError(t, err)
	require.EqualValues(t, http.StatusOK, resp.Status)
	require.Contains(t, text(), "SQL Injection Vulnerability")
	screenshot(t, ctx, shots, "events")

	// "Silence similar" on the event page: the Silences page lists the new silence.
	resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(base+eventPath))
	require.NoError(t, err)
	require.EqualValues(t, http.StatusOK, resp.Status)
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach(d => d.open = true)`)))
	require.EqualValues(t, http.StatusOK, submit(`form[action="/ui/silences"] button[type=submit]`))
	require.Equal(t, "/ui/silences?done=silenced", location())
	page = text()
	require.Contains(t, page, "Silence created.")
	require.Regexp(t, `fingerprint == "[0-9a-f]{32}" && event != "finding.fixed"`, page, "the sample issue's finding, by its fingerprint")
	screenshot(t, ctx, shots, "silences")
	require.NotContains(t, logs.String(), adminKey)
}
