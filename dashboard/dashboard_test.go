package dashboard_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dashboard"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/silences"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

const (
	acmeKey = "acme-dashboard-key-0123456789"
	betaKey = "beta-dashboard-key-9876543210"
	opsKey  = "ops-admin-dashboard-key-55555" // account "ops", api.keys[].role: admin
)

// testConfig has a target of every type (the chat ones disabled: no credentials), routes and a
// digest, so the Routes page and "Try an event" have everything to show.
const testConfig = `
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: ["s3cret-ingest"]}
targets:
  - {name: chat, type: slack, webhook_url: ""}
  - {name: dev, type: discord, webhook_url: ""}
  - {name: mail, type: email, smtp: {host: ""}, from: "a@example.com", to: ["b@example.com"]}
  - {name: siem, type: webhook, url: "https://siem.example.com/hooks?token=hidden-token-xyz", secret: "siem-secret-0123456789"}
  - {name: audit, type: file, path: audit.jsonl}
routes:
  - {name: critical, when: 'event == "issue.critical" && severity_at_least(severity, "high")', targets: [chat, dev, mail, siem]}
  - {name: failures, when: 'event in ["scan.failed", "scan.timeout"]', targets: [chat, siem], throttle: {key: repo, interval: 1h}}
  - {name: everything, when: "true", targets: [audit, siem]}
digests:
  - {name: weekly, schedule: "0 8 * * MON", timezone: UTC, target: mail, template: compliance-digest}
`

type bundle struct {
	dir   string // holds bridge.db
	srv   *httptest.Server
	db    *store.DB
	hooks *webhooks.Service
	keys  *api.Keys
	logs  *bridgetest.Logs
	rt    *config.Runtime
	clock *clock
	tests *testSends
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testSends records the management API's test sends and answers with a canned attempt.
type testSends struct {
	mu     sync.Mutex
	events []string
}

func (s *testSends) send(_ context.Context, w *core.Webhook, eventType string) core.Attempt {
	s.mu.Lock()
	s.events = append(s.events, eventType)
	s.mu.Unlock()
	a := core.Attempt{Number: 1, StartedAt: time.Now(), Duration: 42 * time.Millisecond, Outcome: "success", StatusCode: 204}
	if strings.Contains(w.URL, "broken") {
		a.Outcome, a.StatusCode, a.Error, a.Response = "server_error", 500, "server_error (status 500)", "receiver <b>is</b> down"
	}
	return a
}

// setup serves the dashboard (with the management API beside it) on a SQLite store, a config
// built dry (no notifier), a clock the test moves and recorded test sends. A unit set-up on
// purpose: its tests check pages and forms, which need no dispatch; the dashboard of a running
// bridge is cmd's browser test's.
func setup(t *testing.T) *bundle {
	t.Helper()
	return setupOn(t, "sqlite")
}

// setupOn is setup on driver: "sqlite", or "postgres" (a fresh schema of the test database,
// store/pgtest).
func setupOn(t *testing.T, driver string) *bundle {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(testConfig), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
	require.NoError(t, err)
	dsn := filepath.Join(dir, "bridge.db")
	if driver == "postgres" {
		dsn = pgtest.Schema(t, "")
	}
	db, err := store.Open(context.Background(), driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	b := &bundle{dir: dir, db: db, rt: rt, logs: &bridgetest.Logs{}, clock: &clock{now: time.Now().UTC()}, tests: &testSends{},
		keys: api.NewKeys(nil)}
	b.keys.Set(map[string]string{"acme": acmeKey, "beta": betaKey, "ops": opsKey}, "ops")
	log := slog.New(slog.NewTextHandler(b.logs, nil))
	guard := webhook.Guard{AllowPrivate: true, Resolver: loopbackResolver{}}
	b.hooks = &webhooks.Service{Store: db, MaxPerAccount: 3, Log: log, TestRate: rate.Every(time.Hour), TestBurst: 5, // a count, not a race with the refill
		CheckURL: func(ctx context.Context, u string) error { return guard.CheckURL(ctx, u, false) },
		Test:     b.tests.send}
	d, err := dashboard.New(dashboard.Config{Store: db, Webhooks: b.hooks, Keys: b.keys,
		Silences: &silences.Service{Store: db, NowFunc: b.clock.Now, Log: log},
		Runtime:  func() *config.Runtime { return rt },
		Circuits: func() map[string]bool { return map[string]bool{"siem": true} },
		NowFunc:  b.clock.Now, Log: log, Version: "test"})
	require.NoError(t, err)
	b.srv = httptest.NewServer(api.Routes{IngestPath: "/webhooks/cortex", Ingest: http.NotFoundHandler(), Keys: b.keys,
		Management: &api.Management{Webhooks: b.hooks, Store: db, Keys: b.keys, Log: log}, Dashboard: d}.Handler())
	t.Cleanup(b.srv.Close)
	return b
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
	csrf   string // the last page's form token
}

type answer struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *bundle) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, base: b.srv.URL, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (br *browser) do(req *http.Request) answer {
	br.t.Helper()
	resp, err := br.client.Do(req)
	require.NoError(br.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(br.t, err)
	if m := csrfField.FindSubmatch(body); m != nil {
		br.csrf = string(m[1])
	}
	return answer{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location"), header: resp.Header}
}

func (br *browser) get(path string) answer {
	br.t.Helper()
	req, err := http.NewRequest(http.MethodGet, br.base+path, nil)
	require.NoError(br.t, err)
	return br.do(req)
}

// post sends form with the current page's CSRF token unless form sets one.
func (br *browser) post(path string, form url.Values, headers ...string) answer {
	br.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", br.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, br.base+path, strings.NewReader(form.Encode()))
	require.NoError(br.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return br.do(req)
}

func (br *browser) signIn(key string) answer {
	br.t.Helper()
	require.Equal(br.t, http.StatusOK, br.get("/ui/signin").status)
	a := br.post("/ui/signin", url.Values{"key": {key}})
	require.Equal(br.t, http.StatusSeeOther, a.status, a.body)
	br.get("/") // a page with the session's token
	return a
}

func signedIn(t *testing.T, b *bundle, key string) *browser {
	br := b.browser(t)
	br.signIn(key)
	return br
}

func (br *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(br.base)
	for _, c := range br.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// addWebhook registers a webhook through the form and returns its id.
func addWebhook(t *testing.T, br *browser, u string, events ...string) string {
	t.Helper()
	br.get("/ui/webhooks/new")
	a := br.post("/ui/webhooks", url.Values{"url": {u}, "events": events, "secret_mode": {"set"},
		"secret": {"a-secret-of-the-user-123"}, "active": {"on"}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	id := strings.TrimSuffix(strings.TrimPrefix(a.location, "/ui/webhooks/"), "?done=created")
	require.True(t, strings.HasPrefix(id, core.WebhookPrefix), a.location)
	return id
}

// seedDelivery stores an event of type typ with a delivery to target and the given attempt
// outcomes (the last decides the state: success → succeeded, else dead).
func seedDelivery(t *testing.T, b *bundle, target, typ string, outcomes ...string) *core.Delivery {
	t.Helper()
	_, ds := seedEvent(t, b, typ, nil, target)
	attemptsOf(t, b, ds[0], outcomes...)
	return ds[0]
}

// seedEvent stores an event of type typ (the sample, with data's fields set) with a pending
// delivery via route "r" to each of targets.
func seedEvent(t *testing.T, b *bundle, typ string, data map[string]any, targets ...string) (*event.Event, []*core.Delivery) {
	t.Helper()
	ev := sampleEvent(t, b, typ, data)
	var ds []*core.Delivery
	for _, target := range targets {
		ds = append(ds, &core.Delivery{ID: uuid.Must(uuid.NewV7()).String(), Target: target, Route: "r", State: core.StatePending,
			NextAttemptAt: ev.ReceivedAt, CreatedAt: ev.ReceivedAt})
	}
	_, err := b.db.Ingest(context.Background(), []core.IngestItem{{Event: ev, Deliveries: ds}})
	require.NoError(t, err)
	return ev, ds
}

// sampleEvent is the sample of type typ with a new id, data's fields set and received now.
func sampleEvent(t *testing.T, b *bundle, typ string, data map[string]any) *event.Event {
	t.Helper()
	now := b.clock.Now()
	sample, err := samples.Get(typ)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(sample, &m))
	m["id"], m["timestamp"] = "evt_"+uuid.NewString()[:8], now.Format(time.RFC3339)
	for k, v := range data {
		m["data"].(map[string]any)[k] = v
	}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	ev.ReceivedAt = now
	return ev
}

// attemptsOf records attempts of dl with the given outcomes (the last decides the state:
// success → succeeded, "~reason" → failed and waiting, else dead).
func attemptsOf(t *testing.T, b *bundle, dl *core.Delivery, outcomes ...string) {
	t.Helper()
	ctx := context.Background()
	now := b.clock.Now()
	for i, outcome := range outcomes {
		retry := strings.HasPrefix(outcome, "~") // failed, waiting for its next attempt
		outcome = strings.TrimPrefix(outcome, "~")
		got, err := b.db.Claim(ctx, core.ClaimRequest{Owner: "test", Target: dl.Target, Now: now.Add(time.Hour), Lease: time.Minute, Limit: 1})
		require.NoError(t, err)
		require.Len(t, got, 1)
		a := core.Attempt{DeliveryID: dl.ID, Number: i + 1, StartedAt: now.Add(time.Duration(i-len(outcomes)) * time.Second), Duration: 30 * time.Millisecond, Outcome: outcome}
		c := core.Completion{LeaseOwner: "test", Attempt: a, State: core.StateSucceeded}
		if outcome != "success" {
			c.Attempt.StatusCode, c.Attempt.Error, c.Attempt.Response = 503, "server_error (status 503)", "upstream <i>busy</i>"
			c.State, c.LastError = core.StatePending, "server_error (status 503)"
			c.NextAttemptAt = now.Add(time.Hour)
			if i == len(outcomes)-1 && !retry {
				c.State = core.StateDead
			}
		}
		require.NoError(t, b.db.Complete(ctx, []core.Completion{c}))
	}
}

// loopbackResolver resolves every host to 127.0.0.1 (the tests have no DNS).
type loopbackResolver struct{}

func (loopbackResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

func regexp1(t *testing.T, expr, s string) string {
	t.Helper()
	m := regexp.MustCompile(expr).FindStringSubmatch(s)
	require.NotNil(t, m, "no match for %s", expr)
	return m[1]
}

func htmlUnescape(s string) string { return html.UnescapeString(s) }

// httptestTLS serves b's handler over TLS.
func httptestTLS(t *testing.T, b *bundle) *httptest.Server {
	srv := httptest.NewTLSServer(b.srv.Config.Handler)
	t.Cleanup(srv.Close)
	return srv
}
