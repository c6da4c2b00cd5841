package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

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

const rootKey = "root-key-0123456789abcdef"

// The config target's secrets the events API must never show a tenant: its name, host and
// error text.
const (
	slackHost  = "hooks.slack.example:8443"
	slackError = "POST https://" + slackHost + "/services/T0/B0/sekrit: connection refused"
)

type eventsAPI struct {
	*mgmt
	hook     string // acme's webhook
	shared   string // event delivered to slack and acme's webhook
	slackID  string // its slack delivery (dead, one failed attempt)
	configID string // event delivered to slack only
}

// dashboardPage stands for the dashboard's event pages, which share GET /events and
// GET /events/{id} with the API (Routes.Handler).
var dashboardPage = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte("<!doctype html><title>event page</title>"))
})

// setupEvents serves Routes.Handler with the management and events APIs on a SQLite store
// (accounts acme and beta: tenants; root: admin) and, when page is set, the dashboard stand-in.
// It stores two events: one to acme's webhook and the config target slack, one to slack only.
func setupEvents(t *testing.T, page http.Handler) *eventsAPI {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	keys := api.NewKeys(nil)
	keys.Set(map[string]string{"acme": acmeKey, "beta": betaKey, "root": rootKey}, "root")
	guard := webhook.Guard{Resolver: publicResolver{}}
	log := slog.New(slog.NewJSONHandler(&bridgetest.Logs{}, nil))
	mg := &api.Management{Store: db, Events: db, Keys: keys, Log: log,
		Decide: func(ev *event.Event) []api.RouteDecision {
			return []api.RouteDecision{{Route: "to-slack", Matched: true, Targets: []api.RouteTarget{{Name: "slack"}}}}
		},
		Silences: &silences.Service{Store: db, Log: log},
		Webhooks: &webhooks.Service{Store: db, MaxPerAccount: 10, Log: log,
			CheckURL: func(ctx context.Context, url string) error { return guard.CheckURL(ctx, url, true) }}}
	srv := httptest.NewServer(api.Routes{IngestPath: "/webhooks/cortex", Ingest: http.NotFoundHandler(), Keys: keys,
		Management: mg, Dashboard: page}.Handler())
	t.Cleanup(srv.Close)
	e := &eventsAPI{mgmt: &mgmt{srv: srv, db: db}}
	e.hook = e.do(t, http.MethodPost, "/webhooks", acmeKey, seedBody).body["id"].(string)

	ctx, now := context.Background(), time.Now().UTC().Truncate(time.Millisecond)
	mk := func(id, title string, received time.Time) *event.Event {
		ev, err := event.Parse(fmt.Appendf(nil, `{"event":"issue.critical","id":%q,"timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s1","issue_id":"i","severity":"critical","title":%q,"file":"src/a.go","repo_url":"https://git.example/r"}}`, id, title))
		require.NoError(t, err)
		ev.ReceivedAt = received
		return ev
	}
	dl := func(target string, state core.State) *core.Delivery {
		return &core.Delivery{ID: "d-" + target + "-" + fmt.Sprint(now.UnixNano()), Target: target, Route: "to-" + target,
			State: state, NextAttemptAt: now.Add(time.Hour), CreatedAt: now}
	}
	e.shared, e.configID = "ev-shared", "ev-config"
	slack := dl("slack", core.StateDead)
	e.slackID = slack.ID
	hook := dl(e.hook, core.StatePending)
	hook.ID = "d-hook"
	other := dl("slack", core.StateDead)
	other.ID = "d-slack-2"
	_, err = db.Ingest(ctx, []core.IngestItem{
		{Event: mk(e.shared, "SQL injection in login", now), Deliveries: []*core.Delivery{slack, hook}},
		{Event: mk(e.configID, "Path traversal", now.Add(time.Millisecond)), Deliveries: []*core.Delivery{other}},
	})
	require.NoError(t, err)
	// The slack delivery's failed attempt: its error names the host and carries the URL's token.
	require.NoError(t, db.Complete(ctx, []core.Completion{{LeaseOwner: "nobody", State: core.StateDead, Attempt: core.Attempt{
		DeliveryID: slack.ID, Number: 1, StartedAt: now, Outcome: "network", Error: slackError,
		Response: "see https://" + slackHost + "/services/T0/B0/sekrit"}}}))
	return e
}

func ids(a answer) []string {
	out := []string{}
	for _, row := range a.body["data"].([]any) {
		out = append(out, row.(map[string]any)["id"].(string))
	}
	return out
}

// TestEventsAPIRoles: an admin sees every event and delivery and the route decisions; a tenant
// sees only the events delivered to its webhooks, and of them only those deliveries: never a
// config target's name, host or error.
func TestEventsAPIRoles(t *testing.T) {
	t.Parallel()
	e := setupEvents(t, nil)
	tests := map[string]struct {
		key  string
		path string
		want []string
	}{
		"admin: all":                 {rootKey, "/events", []string{e.configID, e.shared}},
		"admin: filtered":            {rootKey, "/events?q=traversal", []string{e.configID}},
		"tenant: its webhook's only": {acmeKey, "/events", []string{e.shared}},
		"tenant: dead of its own":    {acmeKey, "/events?delivery=dead", []string{}},
		"tenant without webhooks":    {betaKey, "/events", []string{}},
		"admin: dead":                {rootKey, "/events?delivery=dead&severity=critical", []string{e.configID, e.shared}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := e.do(t, http.MethodGet, tc.path, tc.key, nil)
			require.Equal(t, http.StatusOK, a.status, a.raw)
			require.Equal(t, tc.want, ids(a))
		})
	}

	admin := e.do(t, http.MethodGet, "/events/"+e.shared, rootKey, nil)
	require.Equal(t, http.StatusOK, admin.status, admin.raw)
	require.Len(t, admin.body["deliveries"], 2)
	require.Contains(t, admin.raw, `"target":"slack"`)
	require.Contains(t, admin.raw, slackHost, "an admin sees the config target's host")
	require.NotContains(t, admin.raw, "sekrit", "URL paths in errors and answers are redacted, for admins too")
	require.NotEmpty(t, admin.body["routes"])
	body := admin.body["event"].(map[string]any)["body"].(map[string]any)
	require.Equal(t, "SQL injection in login", body["data"].(map[string]any)["title"], "the raw event is shown")

	tenant := e.do(t, http.MethodGet, "/events/"+e.shared, acmeKey, nil)
	require.Equal(t, http.StatusOK, tenant.status, tenant.raw)
	require.Len(t, tenant.body["deliveries"], 1)
	require.Equal(t, e.hook, tenant.body["deliveries"].([]any)[0].(map[string]any)["target"])
	require.NotContains(t, tenant.body, "routes", "route decisions name config targets")
	for _, leak := range []string{"slack", slackHost, "connection refused", e.slackID} {
		require.NotContains(t, tenant.raw, leak)
	}
	for _, tc := range []struct{ key, id string }{{acmeKey, e.configID}, {betaKey, e.shared}, {rootKey, "nope"}} {
		a := e.do(t, http.MethodGet, "/events/"+tc.id, tc.key, nil)
		require.Equal(t, http.StatusNotFound, a.status, "%s as %s", tc.id, tc.key)
		require.Equal(t, api.CodeNotFound, code(a))
	}

	// Deliveries of every target for an admin; a tenant's listing never shows config targets.
	all := e.do(t, http.MethodGet, "/deliveries?status=dead", rootKey, nil)
	require.ElementsMatch(t, []string{e.slackID, "d-slack-2"}, ids(all))
	to := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	require.Len(t, ids(e.do(t, http.MethodGet, "/deliveries?status=dead&target=slack&limit=1&to="+to, rootKey, nil)), 1)
	require.Empty(t, ids(e.do(t, http.MethodGet, "/deliveries?status=dead", acmeKey, nil)))
	require.Equal(t, []string{"d-hook"}, ids(e.do(t, http.MethodGet, "/deliveries", acmeKey, nil)))
	require.Equal(t, http.StatusNotFound, e.do(t, http.MethodGet, "/deliveries/"+e.slackID, acmeKey, nil).status)
	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, "/deliveries/"+e.slackID, rootKey, nil).status)
}

// TestEventsAPIAcknowledgedAndSilenced: GET /events/{id} shows an admin who acknowledged the
// event and when, its audit history (acknowledged, muted), and names the silence of each
// silenced delivery; a tenant sees its own deliveries but no acknowledgement, history or
// silence.
func TestEventsAPIAcknowledgedAndSilenced(t *testing.T) {
	t.Parallel()
	e := setupEvents(t, nil)
	ctx := context.Background()
	svc := &silences.Service{Store: e.db}
	require.NoError(t, svc.Acknowledge(ctx, e.shared, "slack", "U1", "alice"))
	sil, err := svc.Mute(ctx, e.shared, "slack", "U1", "alice", time.Hour)
	require.NoError(t, err)

	// The next occurrence of the finding, silenced at ingest (core.Bus.acceptSilenced).
	ev, err := event.Parse([]byte(`{"event":"issue.critical","id":"ev-muted","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s2","issue_id":"i","severity":"critical","title":"SQL injection in login","file":"src/a.go","repo_url":"https://git.example/r"}}`))
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Millisecond)
	ev.ReceivedAt = now
	silenced := func(id, target string) *core.Delivery {
		return &core.Delivery{ID: id, Target: target, State: core.StateSilenced, NextAttemptAt: now, CreatedAt: now, LastError: core.SilencedBy(sil.ID)}
	}
	// A silence covers the config's targets only: acme's webhook still gets the event.
	hook := &core.Delivery{ID: "d-muted-hook", Target: e.hook, State: core.StatePending, NextAttemptAt: now, CreatedAt: now}
	_, err = e.db.Ingest(ctx, []core.IngestItem{{Event: ev, Deliveries: []*core.Delivery{silenced("d-muted-slack", "slack"), hook}}})
	require.NoError(t, err)

	admin := e.do(t, http.MethodGet, "/events/"+e.shared, rootKey, nil)
	require.Equal(t, http.StatusOK, admin.status, admin.raw)
	acks := admin.body["acknowledgements"].([]any)
	require.Len(t, acks, 1)
	require.Equal(t, map[string]any{"source": "slack", "user_id": "U1", "user_name": "alice"}, map[string]any{
		"source": acks[0].(map[string]any)["source"], "user_id": acks[0].(map[string]any)["user_id"], "user_name": acks[0].(map[string]any)["user_name"]})
	var actions []string
	for _, h := range admin.body["history"].([]any) {
		actions = append(actions, h.(map[string]any)["action"].(string))
		require.Equal(t, "slack:U1 (alice)", h.(map[string]any)["actor"])
	}
	require.Equal(t, []string{core.AuditEventMute, core.AuditEventAcknowledge}, actions, "newest first")

	muted := e.do(t, http.MethodGet, "/events/ev-muted", rootKey, nil)
	require.Equal(t, http.StatusOK, muted.status, muted.raw)
	ds := map[string]map[string]any{}
	for _, d := range muted.body["deliveries"].([]any) {
		ds[d.(map[string]any)["id"].(string)] = d.(map[string]any)
	}
	require.Equal(t, "silenced", ds["d-muted-slack"]["status"])
	require.Equal(t, sil.ID, ds["d-muted-slack"]["silence_id"])
	require.Equal(t, "pending", ds["d-muted-hook"]["status"])
	require.NotContains(t, ds["d-muted-hook"], "silence_id")
	require.Empty(t, muted.body["acknowledgements"])

	for _, id := range []string{e.shared, "ev-muted"} {
		tenant := e.do(t, http.MethodGet, "/events/"+id, acmeKey, nil)
		require.Equal(t, http.StatusOK, tenant.status, tenant.raw)
		require.NotContains(t, tenant.body, "acknowledgements")
		require.NotContains(t, tenant.body, "history")
		require.NotContains(t, tenant.raw, "alice")
		require.NotContains(t, tenant.raw, sil.ID)
		require.Len(t, tenant.body["deliveries"], 1)
	}
}

// TestEventsAPIRetry: admins retry any delivery, one or in bulk; tenants only their webhooks'.
func TestEventsAPIRetry(t *testing.T) {
	t.Parallel()
	e := setupEvents(t, nil)
	require.Equal(t, http.StatusNotFound, e.do(t, http.MethodPost, "/deliveries/"+e.slackID+"/retry", acmeKey, nil).status)
	r := e.do(t, http.MethodPost, "/deliveries/"+e.slackID+"/retry", rootKey, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.raw)
	require.Equal(t, "pending", r.body["status"])

	tests := map[string]struct {
		key    string
		body   any
		status int
		want   float64
	}{
		"nothing asked":              {rootKey, map[string]any{}, http.StatusUnprocessableEntity, 0},
		"unknown field":              {rootKey, map[string]any{"target": "slack", "state": "dead"}, http.StatusBadRequest, 0},
		"tenant: a config target":    {acmeKey, map[string]any{"target": "slack"}, http.StatusNotFound, 0},
		"tenant: own, none dead":     {acmeKey, map[string]any{"target": e.hook}, http.StatusOK, 0},
		"tenant: range, own only":    {acmeKey, map[string]any{"from": "2000-01-01T00:00:00Z"}, http.StatusOK, 0},
		"admin: range before them":   {rootKey, map[string]any{"to": "2000-01-01T00:00:00Z"}, http.StatusOK, 0},
		"admin: the target's dead":   {rootKey, map[string]any{"target": "slack"}, http.StatusOK, 1},
		"admin: nothing left to do":  {rootKey, map[string]any{"target": "slack"}, http.StatusOK, 0},
		"admin: bad time":            {rootKey, `{"from":"yesterday"}`, http.StatusBadRequest, 0},
		"tenant: no webhook of this": {betaKey, map[string]any{"target": e.hook}, http.StatusNotFound, 0},
	}
	for _, name := range []string{"nothing asked", "unknown field", "tenant: a config target", "tenant: own, none dead",
		"tenant: range, own only", "admin: range before them", "admin: the target's dead", "admin: nothing left to do",
		"admin: bad time", "tenant: no webhook of this"} { // in order: the retries change the store
		tc := tests[name]
		a := e.do(t, http.MethodPost, "/deliveries/retry", tc.key, tc.body)
		require.Equal(t, tc.status, a.status, "%s: %s", name, a.raw)
		if tc.status == http.StatusOK {
			require.Equal(t, tc.want, a.body["retried"], name)
			require.Equal(t, false, a.body["more"], name)
		}
	}
	require.Empty(t, ids(e.do(t, http.MethodGet, "/deliveries?status=dead", rootKey, nil)))
}

// TestEventsAPIQueryErrors: a wrong parameter is a 422 naming it.
func TestEventsAPIQueryErrors(t *testing.T) {
	t.Parallel()
	e := setupEvents(t, nil)
	for param, query := range map[string]string{
		"delivery": "delivery=lost", "from": "from=yesterday", "to": "to=2026-01-01", "limit": "limit=0", "cursor": "cursor=junk",
		"q": "q=" + url.QueryEscape(string(make([]byte, 600))),
	} {
		a := e.do(t, http.MethodGet, "/events?"+query, rootKey, nil)
		require.Equal(t, http.StatusUnprocessableEntity, a.status, query)
		require.Contains(t, a.body["error"].(map[string]any)["fields"], param, query)
	}
	page := e.do(t, http.MethodGet, "/events?limit=1", rootKey, nil)
	require.Equal(t, []string{e.configID}, ids(page))
	next := e.do(t, http.MethodGet, "/events?limit=1&cursor="+url.QueryEscape(page.body["next_cursor"].(string)), rootKey, nil)
	require.Equal(t, []string{e.shared}, ids(next))
	require.Empty(t, next.body["next_cursor"])
}

// TestEventsPathSharing: the links in alerts open the dashboard's page in a browser and the
// API's JSON for a client with a key or asking for JSON.
func TestEventsPathSharing(t *testing.T) {
	t.Parallel()
	withPage, apiOnly := setupEvents(t, dashboardPage), setupEvents(t, nil)
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	tests := map[string]struct {
		e       *eventsAPI
		key     string
		accept  string
		status  int
		page    bool
		errCode string
	}{
		"browser":                     {withPage, "", browser, http.StatusOK, true, ""},
		"no Accept":                   {withPage, "", "", http.StatusOK, true, ""},
		"curl's */*":                  {withPage, "", "*/*", http.StatusOK, true, ""},
		"JSON asked, no key":          {withPage, "", "application/json", http.StatusUnauthorized, false, "unauthorized"},
		"JSON preferred by q":         {withPage, "", "text/html;q=0.5, application/json", http.StatusUnauthorized, false, "unauthorized"},
		"key, any Accept":             {withPage, rootKey, browser, http.StatusOK, false, ""},
		"wrong key is the API's 401":  {withPage, "wrong-0123456789abcdef", browser, http.StatusUnauthorized, false, "unauthorized"},
		"no dashboard: API, no key":   {apiOnly, "", browser, http.StatusUnauthorized, false, "unauthorized"},
		"no dashboard: API, with key": {apiOnly, rootKey, "", http.StatusOK, false, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/events", "/events/" + tc.e.shared} {
				req, err := http.NewRequest(http.MethodGet, tc.e.srv.URL+path, nil)
				require.NoError(t, err)
				if tc.key != "" {
					req.Header.Set("Authorization", "Bearer "+tc.key)
				}
				if tc.accept != "" {
					req.Header.Set("Accept", tc.accept)
				}
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				res.Body.Close()
				require.Equal(t, tc.status, res.StatusCode, path)
				if tc.page {
					require.Contains(t, res.Header.Get("Content-Type"), "text/html", path)
				} else {
					require.Contains(t, res.Header.Get("Content-Type"), "application/json", path)
				}
			}
		})
	}
}

func TestWantsJSON(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"":                                  false,
		"*/*":                               false,
		"application/json":                  true,
		"application/*":                     true,
		"text/html":                         false,
		"text/html, application/json":       false,
		"text/html;q=0.9, application/json": true,
		"application/json;q=0.1, */*;q=0.5": false, // */* also gives text/html 0.5
		"application/json, text/*;q=0.2":    true,
		"APPLICATION/JSON":                  true,
		"application/json;q=bogus, text/html;q=1": false,
		"text/html;q=0, */*":                      true,
	}
	for accept, want := range tests {
		require.Equal(t, want, api.WantsJSON(accept), "%q", accept)
	}
}
