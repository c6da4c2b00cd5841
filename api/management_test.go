package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/silences"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

const (
	acmeKey = "acme-key-0123456789abcdef"
	betaKey = "beta-key-0123456789abcdef"
)

type publicResolver struct{}

func (publicResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host == "rebind.example.com" {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
}

type mgmt struct {
	srv     *httptest.Server
	db      *store.DB
	logs    *bridgetest.Logs
	changed int
	tested  []string
}

// setupManagement serves the management API on a SQLite store with max webhooks per account.
// A unit set-up on purpose: its tests check the API's answers, with a resolver that makes any
// host public and a test send that records instead of sending; registered webhooks receiving
// events on a whole bridge are bridge.TestRegisteredWebhookIsDelivered's and the cmd e2e tests'.
func setupManagement(t *testing.T, max int) *mgmt {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	m := &mgmt{db: db, logs: &bridgetest.Logs{}}
	guard := webhook.Guard{Resolver: publicResolver{}}
	log := slog.New(slog.NewJSONHandler(m.logs, nil))
	mg := &api.Management{Store: db, Keys: api.NewKeys(map[string]string{"acme": acmeKey, "beta": betaKey}), Log: log,
		Webhooks: &webhooks.Service{Store: db, MaxPerAccount: max,
			CheckURL: func(ctx context.Context, url string) error { return guard.CheckURL(ctx, url, true) },
			Changed:  func() { m.changed++ },
			Test: func(_ context.Context, w *core.Webhook, ev string) core.Attempt {
				m.tested = append(m.tested, w.ID+" "+ev)
				return core.Attempt{Number: 1, Outcome: "success", StatusCode: 204, Duration: 12 * time.Millisecond}
			},
			TestRate: rate.Every(time.Hour), TestBurst: 2, // a count, not a race with the refill
			Log: log,
		}}
	mux := http.NewServeMux()
	mg.Register(mux)
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (m *mgmt) do(t *testing.T, method, path, key string, body any, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, err := json.Marshal(body)
			require.NoError(t, err)
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, m.srv.URL+path, rd)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &a.body), "JSON body: %s", raw)
	}
	return a
}

func code(a answer) string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestManagementSlowsKeyGuessing: once an address has used up its wrong keys, wrong and missing
// keys get 429, but the valid key always works (for the API and for the reload), so one
// attacker behind a shared proxy cannot lock the others out.
func TestManagementSlowsKeyGuessing(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	for i := range 10 {
		a := m.do(t, http.MethodGet, "/webhooks", fmt.Sprintf("guess-%02d-0123456789abcdef", i), nil)
		require.Equal(t, http.StatusUnauthorized, a.status, "guess %d", i)
	}
	tests := []struct {
		name string
		key  string
		want int
	}{
		{"another wrong key", "guess-10-0123456789abcdef", http.StatusTooManyRequests},
		{"no key", "", http.StatusTooManyRequests},
		{"the valid key with one byte more", acmeKey + "x", http.StatusTooManyRequests},
		{"the valid key", acmeKey, http.StatusOK},
		{"the other account's valid key", betaKey, http.StatusOK},
		{"a wrong key again", "guess-11-0123456789abcdef", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		a := m.do(t, http.MethodGet, "/webhooks", tt.key, nil)
		require.Equal(t, tt.want, a.status, tt.name)
		require.NotContains(t, a.raw, acmeKey)
		if tt.want == http.StatusTooManyRequests {
			require.Equal(t, api.CodeRateLimited, code(a))
			require.Equal(t, "3", a.header.Get("Retry-After"))
		}
	}
}

var seedBody = map[string]any{ // the Cortex docs' registration example
	"url": "https://your-app.com/webhooks/cortex", "events": []string{"scan.completed", "issue.critical"},
	"secret": "your-webhook-secret", "active": true,
}

func TestManagementAuth(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	for _, key := range []string{"", "wrong-key-0123456789abcdef", acmeKey + "x"} {
		a := m.do(t, http.MethodGet, "/webhooks", key, nil)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, api.CodeUnauthorized, code(a))
		require.Contains(t, a.header.Get("WWW-Authenticate"), "Bearer")
	}
	a := m.do(t, http.MethodGet, "/webhooks", acmeKey, nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Empty(t, a.body["data"])
}

func TestManagementWebhookLifecycle(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	a := m.do(t, http.MethodPost, "/webhooks", acmeKey, seedBody)
	require.Equal(t, http.StatusCreated, a.status, a.raw)
	id := a.body["id"].(string)
	require.Regexp(t, `^wh_[0-9a-f]{32}$`, id)
	require.Equal(t, "/webhooks/"+id, a.header.Get("Location"))
	require.Equal(t, `"1"`, a.header.Get("ETag"))
	require.NotContains(t, a.raw, "your-webhook-secret", "a given secret is never returned")
	require.Equal(t, []any{"issue.critical", "scan.completed"}, a.body["events"])
	require.Equal(t, 1, m.changed)

	gen := m.do(t, http.MethodPost, "/webhooks", acmeKey, map[string]any{"url": "https://ci.example.com/hook", "events": []string{"*"}})
	require.Equal(t, http.StatusCreated, gen.status, gen.raw)
	secret := gen.body["secret"].(string)
	require.Regexp(t, `^whsec_[0-9a-f]{48}$`, secret, "a generated secret is returned once")
	again := m.do(t, http.MethodGet, "/webhooks/"+gen.body["id"].(string), acmeKey, nil)
	require.NotContains(t, again.raw, secret, "and never again")

	list := m.do(t, http.MethodGet, "/webhooks", acmeKey, nil)
	require.Len(t, list.body["data"], 2)
	require.NotContains(t, list.raw, secret)
	require.NotContains(t, list.raw, "your-webhook-secret")

	a = m.do(t, http.MethodPatch, "/webhooks/"+id, acmeKey, map[string]any{"active": false, "events": []string{"scan.failed"}}, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, false, a.body["active"])
	require.Equal(t, `"2"`, a.header.Get("ETag"))
	a = m.do(t, http.MethodPatch, "/webhooks/"+id, acmeKey, map[string]any{"active": true}, "If-Match", `"1"`)
	require.Equal(t, http.StatusPreconditionFailed, a.status, "a stale ETag is refused")
	require.Equal(t, api.CodeConflict, code(a))

	a = m.do(t, http.MethodDelete, "/webhooks/"+id, acmeKey, nil)
	require.Equal(t, http.StatusNoContent, a.status)
	a = m.do(t, http.MethodGet, "/webhooks/"+id, acmeKey, nil)
	require.Equal(t, http.StatusNotFound, a.status)
	require.Equal(t, api.CodeNotFound, code(a))
	require.Equal(t, 4, m.changed)
	for _, s := range []string{"your-webhook-secret", secret} {
		require.NotContains(t, m.logs.String(), s, "secrets never reach the log")
	}
}

func TestManagementAccountsAreIsolated(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	a := m.do(t, http.MethodPost, "/webhooks", acmeKey, seedBody)
	id := a.body["id"].(string)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/webhooks/" + id}, {http.MethodPatch, "/webhooks/" + id}, {http.MethodDelete, "/webhooks/" + id},
		{http.MethodPost, "/webhooks/" + id + "/test"}, {http.MethodGet, "/webhooks/" + id + "/deliveries"},
	} {
		var body any
		if c.method == http.MethodPatch {
			body = map[string]any{"active": false}
		}
		got := m.do(t, c.method, c.path, betaKey, body)
		require.Equal(t, http.StatusNotFound, got.status, "%s %s: another account's id is 404, never 403", c.method, c.path)
	}
	list := m.do(t, http.MethodGet, "/webhooks", betaKey, nil)
	require.Empty(t, list.body["data"])
	require.Empty(t, m.tested)
}

func TestManagementLimit(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	for i := range 10 {
		a := m.do(t, http.MethodPost, "/webhooks", acmeKey, map[string]any{"url": fmt.Sprintf("https://h%d.example.com/x", i), "events": []string{"*"}})
		require.Equal(t, http.StatusCreated, a.status)
	}
	a := m.do(t, http.MethodPost, "/webhooks", acmeKey, seedBody)
	require.Equal(t, http.StatusConflict, a.status, "the 11th is refused")
	require.Equal(t, api.CodeLimitReached, code(a))
	require.Equal(t, http.StatusCreated, m.do(t, http.MethodPost, "/webhooks", betaKey, seedBody).status, "per account")
}

func TestManagementValidation(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	tests := map[string]struct {
		body   any
		status int
		field  string
		msg    string
	}{
		"no url":              {map[string]any{"events": []string{"*"}}, 422, "url", "required"},
		"http url":            {map[string]any{"url": "http://your-app.com/x", "events": []string{"*"}}, 422, "url", "https"},
		"relative url":        {map[string]any{"url": "/x", "events": []string{"*"}}, 422, "url", "absolute"},
		"loopback":            {map[string]any{"url": "https://127.0.0.1/x", "events": []string{"*"}}, 422, "url", "not allowed"},
		"ipv6 loopback":       {map[string]any{"url": "https://[::1]/x", "events": []string{"*"}}, 422, "url", "not allowed"},
		"private":             {map[string]any{"url": "https://10.0.0.5/x", "events": []string{"*"}}, 422, "url", "not allowed"},
		"metadata":            {map[string]any{"url": "https://169.254.169.254/latest/meta-data", "events": []string{"*"}}, 422, "url", "not allowed"},
		"mapped loopback":     {map[string]any{"url": "https://[::ffff:127.0.0.1]/x", "events": []string{"*"}}, 422, "url", "not allowed"},
		"resolves to private": {map[string]any{"url": "https://rebind.example.com/x", "events": []string{"*"}}, 422, "url", "resolves to 127.0.0.1"},
		"no events":           {map[string]any{"url": "https://a.example.com/x"}, 422, "events", "required"},
		"empty events":        {map[string]any{"url": "https://a.example.com/x", "events": []string{}}, 422, "events", "must not be empty"},
		"unknown event":       {map[string]any{"url": "https://a.example.com/x", "events": []string{"scan.exploded"}}, 422, "events", "unknown event type"},
		"short secret":        {map[string]any{"url": "https://a.example.com/x", "events": []string{"*"}, "secret": "short"}, 422, "secret", "at least 16 bytes"},
		"unknown field":       {map[string]any{"url": "https://a.example.com/x", "events": []string{"*"}, "colour": "red"}, 400, "", "unknown field"},
		"unknown signature scheme": {map[string]any{"url": "https://a.example.com/x", "events": []string{"*"}, "signature_scheme": "svix"}, 422,
			"signature_scheme", "must be cortex or standard-webhooks"},
		"standard scheme, plain secret": {map[string]any{"url": "https://a.example.com/x", "events": []string{"*"}, "signature_scheme": "standard-webhooks",
			"secret": "your-webhook-secret-plain"}, 422, "secret", "the standard-webhooks scheme wants whsec_"},
		"standard scheme, short key": {map[string]any{"url": "https://a.example.com/x", "events": []string{"*"}, "signature_scheme": "standard-webhooks",
			"secret": "whsec_c2hvcnQta2V5LTE2Ynl0ZXM="}, 422, "secret", "24–64 byte key"},
		"not JSON":        {"{url:", 400, "", ""},
		"active not bool": {map[string]any{"url": "https://a.example.com/x", "events": []string{"*"}, "active": "yes"}, 400, "", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := m.do(t, http.MethodPost, "/webhooks", acmeKey, tc.body)
			require.Equal(t, tc.status, a.status, a.raw)
			if tc.field != "" {
				require.Equal(t, api.CodeInvalidRequest, code(a))
				fields := a.body["error"].(map[string]any)["fields"].(map[string]any)
				require.Contains(t, fields[tc.field], tc.msg)
			} else if tc.msg != "" {
				require.Contains(t, a.raw, tc.msg)
			}
		})
	}
	a := m.do(t, http.MethodPost, "/webhooks", acmeKey, "x", "Content-Type", "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, a.status)
}

// TestManagementSignatureScheme: a webhook is registered with either scheme, the answer names
// it (cortex when none was given), a generated secret has the scheme's form, and a patch that
// switches to standard-webhooks is refused unless the secret (the current one or a new one
// sent with it) is a Standard Webhooks secret; the secrets never appear in an answer or error.
func TestManagementSignatureScheme(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	const given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_c2VjcmV0LXJvdGF0aW9uLWtleS0xMjM0NTY3OA=="
	tests := map[string]struct {
		body   map[string]any
		scheme string
		secret string // regexp of the generated secret; "" none returned
	}{
		"default": {body: map[string]any{"url": "https://a.example.com/x", "events": []string{"*"}},
			scheme: "cortex", secret: `^whsec_[0-9a-f]{48}$`},
		"standard, generated": {body: map[string]any{"url": "https://a.example.com/x", "events": []string{"*"}, "signature_scheme": "standard-webhooks"},
			scheme: "standard-webhooks", secret: `^whsec_[A-Za-z0-9+/]{43}=$`},
		"standard, given with a rotation": {body: map[string]any{"url": "https://a.example.com/x", "events": []string{"*"},
			"signature_scheme": "standard-webhooks", "secret": given}, scheme: "standard-webhooks"},
		"cortex, named": {body: map[string]any{"url": "https://a.example.com/x", "events": []string{"*"}, "signature_scheme": "cortex",
			"secret": "your-webhook-secret"}, scheme: "cortex"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := m.do(t, http.MethodPost, "/webhooks", acmeKey, tc.body)
			require.Equal(t, http.StatusCreated, a.status, a.raw)
			require.Equal(t, tc.scheme, a.body["signature_scheme"])
			if tc.secret != "" {
				require.Regexp(t, tc.secret, a.body["secret"])
			} else {
				require.NotContains(t, a.body, "secret")
			}
			got := m.do(t, http.MethodGet, "/webhooks/"+a.body["id"].(string), acmeKey, nil)
			require.Equal(t, tc.scheme, got.body["signature_scheme"], "stored")
		})
	}

	plain := m.do(t, http.MethodPost, "/webhooks", acmeKey, seedBody) // secret "your-webhook-secret"
	id := plain.body["id"].(string)
	a := m.do(t, http.MethodPatch, "/webhooks/"+id, acmeKey, map[string]any{"signature_scheme": "standard-webhooks"})
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.raw)
	require.Contains(t, a.body["error"].(map[string]any)["fields"].(map[string]any)["secret"], "the current secret is not")
	require.NotContains(t, a.raw, "your-webhook-secret")
	a = m.do(t, http.MethodPatch, "/webhooks/"+id, acmeKey, map[string]any{"signature_scheme": "standard-webhooks", "secret": given})
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, "standard-webhooks", a.body["signature_scheme"])
	require.NotContains(t, a.raw, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	a = m.do(t, http.MethodPatch, "/webhooks/"+id, acmeKey, map[string]any{"secret": "your-webhook-secret-2"})
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "a new secret must fit the current scheme: %s", a.raw)
	a = m.do(t, http.MethodPatch, "/webhooks/"+id, acmeKey, map[string]any{"signature_scheme": "cortex"})
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, "cortex", a.body["signature_scheme"])
	require.NotContains(t, m.logs.String(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
}

func TestManagementTestSend(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	id := m.do(t, http.MethodPost, "/webhooks", acmeKey, seedBody).body["id"].(string)
	a := m.do(t, http.MethodPost, "/webhooks/"+id+"/test", acmeKey, map[string]any{"event": "issue.critical"})
	require.Equal(t, http.StatusOK, a.status, a.raw)
	attempt := a.body["attempt"].(map[string]any)
	require.Equal(t, "success", attempt["outcome"])
	require.EqualValues(t, 204, attempt["status_code"])
	require.EqualValues(t, 12, attempt["duration_ms"])
	a = m.do(t, http.MethodPost, "/webhooks/"+id+"/test", acmeKey, nil)
	require.Equal(t, http.StatusOK, a.status, "the event defaults to scan.completed")
	require.Equal(t, []string{id + " issue.critical", id + " scan.completed"}, m.tested)
	a = m.do(t, http.MethodPost, "/webhooks/"+id+"/test", acmeKey, nil)
	require.Equal(t, http.StatusTooManyRequests, a.status, "test sends are rate limited per account")
	require.NotEmpty(t, a.header.Get("Retry-After"))
	a = m.do(t, http.MethodPost, "/webhooks/"+id+"/test", acmeKey, map[string]any{"event": "nope"})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
}

func TestManagementDeliveries(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	id := m.do(t, http.MethodPost, "/webhooks", acmeKey, seedBody).body["id"].(string)
	other := m.do(t, http.MethodPost, "/webhooks", betaKey, seedBody).body["id"].(string)
	ctx := context.Background()
	now := time.Now().UTC()
	var items []core.IngestItem
	for i := range 3 {
		ev, err := event.Parse([]byte(fmt.Sprintf(`{"event":"scan.completed","id":"e%d","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s"}}`, i)))
		require.NoError(t, err)
		ev.ReceivedAt = now
		items = append(items, core.IngestItem{Event: ev, Deliveries: []*core.Delivery{
			{ID: fmt.Sprint("d-acme-", i), Target: id, Route: "webhook:" + id, State: core.StatePending, NextAttemptAt: now, CreatedAt: now.Add(time.Duration(i) * time.Millisecond)},
			{ID: fmt.Sprint("d-beta-", i), Target: other, Route: "webhook:" + other, State: core.StatePending, NextAttemptAt: now, CreatedAt: now},
		}})
	}
	_, err := m.db.Ingest(ctx, items)
	require.NoError(t, err)
	got, err := m.db.Claim(ctx, core.ClaimRequest{Owner: "w", Target: id, Now: now, Lease: time.Minute, Limit: 1})
	require.NoError(t, err)
	require.NoError(t, m.db.Complete(ctx, []core.Completion{{LeaseOwner: "w", State: core.StateDead, LastError: "HTTP 500",
		Attempt: core.Attempt{DeliveryID: got[0].ID, Number: 1, StartedAt: now, Outcome: "server_error", StatusCode: 500, Response: "oops"}}}))

	a := m.do(t, http.MethodGet, "/webhooks/"+id+"/deliveries?limit=2", acmeKey, nil)
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Len(t, a.body["data"], 2)
	require.NotEmpty(t, a.body["next_cursor"])
	next := m.do(t, http.MethodGet, "/webhooks/"+id+"/deliveries?limit=2&cursor="+a.body["next_cursor"].(string), acmeKey, nil)
	require.Len(t, next.body["data"], 1)
	require.Empty(t, next.body["next_cursor"])

	dead := m.do(t, http.MethodGet, "/deliveries?status=dead", acmeKey, nil)
	require.Len(t, dead.body["data"], 1)
	d := dead.body["data"].([]any)[0].(map[string]any)
	require.Equal(t, got[0].ID, d["id"])
	require.Equal(t, "dead", d["status"])
	require.Equal(t, "scan.completed", d["event"])
	require.Equal(t, id, d["webhook_id"])
	require.Len(t, d["attempts"], 1)
	require.Equal(t, "oops", d["attempts"].([]any)[0].(map[string]any)["response"])
	require.Empty(t, m.do(t, http.MethodGet, "/deliveries?status=dead", betaKey, nil).body["data"], "another account's dead letters are not shown")
	all := m.do(t, http.MethodGet, "/deliveries", betaKey, nil)
	require.Len(t, all.body["data"], 3)

	require.Equal(t, http.StatusNotFound, m.do(t, http.MethodPost, "/deliveries/"+got[0].ID+"/retry", betaKey, nil).status)
	require.Equal(t, http.StatusNotFound, m.do(t, http.MethodGet, "/deliveries/"+got[0].ID, betaKey, nil).status)
	r := m.do(t, http.MethodPost, "/deliveries/"+got[0].ID+"/retry", acmeKey, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.raw)
	require.Equal(t, "pending", r.body["status"])
	one := m.do(t, http.MethodGet, "/deliveries/"+got[0].ID, acmeKey, nil)
	require.Equal(t, http.StatusOK, one.status)
	require.Len(t, one.body["attempts"], 1)
	require.Equal(t, one.body["attempts"], r.body["attempts"], "the retry's answer shows the earlier attempts as GET does")
	require.Equal(t, "oops", r.body["attempts"].([]any)[0].(map[string]any)["response"])

	require.Equal(t, http.StatusUnprocessableEntity, m.do(t, http.MethodGet, "/deliveries?status=bogus", acmeKey, nil).status)
	require.Equal(t, http.StatusUnprocessableEntity, m.do(t, http.MethodGet, "/deliveries?limit=9999", acmeKey, nil).status)
	require.Equal(t, http.StatusUnprocessableEntity, m.do(t, http.MethodGet, "/deliveries?cursor=junk", acmeKey, nil).status)
}

// TestOpenAPIMatchesRoutes: every route the bridge serves is in /openapi.json, and every path
// there is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	m := setupManagement(t, 10)
	a := m.do(t, http.MethodGet, "/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "3.0.3", a.body["openapi"])
	documented := map[string]bool{}
	for path, ops := range a.body["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	ingest := api.NewIngest(api.IngestConfig{Secrets: []string{"s"}}, nil, nil)
	mg := &api.Management{Keys: api.NewKeys(nil), Webhooks: &webhooks.Service{}, Events: m.db, Silences: &silences.Service{}}
	handler := api.Routes{IngestPath: "/webhooks/cortex", Ingest: ingest, Metrics: http.NotFoundHandler(), Keys: api.NewKeys(nil),
		Reload: func(context.Context) error { return nil }, Management: mg, Findings: &api.Findings{Keys: api.NewKeys(nil)}, Slack: http.NotFoundHandler()}.Handler()
	mux := handler.(*http.ServeMux)
	var served []string
	for _, route := range []string{
		"POST /webhooks/cortex", "GET /healthz", "GET /readyz", "GET /metrics", "POST /-/reload", "GET /openapi.json",
		"POST /webhooks", "GET /webhooks", "GET /webhooks/{id}", "PATCH /webhooks/{id}", "DELETE /webhooks/{id}",
		"POST /webhooks/{id}/test", "GET /webhooks/{id}/deliveries", "GET /deliveries", "GET /deliveries/{id}", "POST /deliveries/{id}/retry",
		"GET /findings",
		"POST /deliveries/retry", "GET /events", "GET /events/{id}",
		"GET /silences", "POST /silences", "GET /silences/{id}", "DELETE /silences/{id}", "POST /slack/interactions",
	} {
		method, path, _ := strings.Cut(route, " ")
		req := httptest.NewRequest(method, regexp.MustCompile(`\{id\}`).ReplaceAllString(path, "x1"), nil)
		_, pattern := mux.Handler(req)
		require.NotEmpty(t, pattern, "%s is served", route)
		served = append(served, route)
		require.True(t, documented[route], "%s is documented", route)
	}
	var extra []string
	for route := range documented {
		if !contains(served, route) {
			extra = append(extra, route)
		}
	}
	sort.Strings(extra)
	require.Empty(t, extra, "documented but not checked as served")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
