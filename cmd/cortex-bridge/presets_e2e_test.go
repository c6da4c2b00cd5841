package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
)

// Fake credentials of the preset targets; none may appear in a log or in route's output.
const (
	e2ePagerDutyKey = "FAKE0PAGERDUTY0ROUTING0KEY0E2E32"
	e2eGenieKey     = "FAKE-OPSGENIE-KEY-E2E"
	e2eGitHubToken  = "ghp_FAKEE2EGITHUBTOKEN000"
	e2eGitLabToken  = "glptt-FAKEE2EGITLABTOKEN"
	e2eTeamsSig     = "FAKE-E2E-TEAMS-SIG"
	e2eHookKey      = "fakee2emattermosthookkey"
)

// serviceFakes is one loopback server standing in for every service's API, recording each
// request by path.
type serviceFakes struct {
	mu   sync.Mutex
	reqs map[string][]post
}

// answers are what each service answers on success (PagerDuty 202, GitHub 204, GitLab 201, …).
var answers = map[string]struct {
	code int
	body string
}{
	"/v2/enqueue":                                  {202, `{"status":"success","message":"Event processed","dedup_key":"x"}`},
	"/v2/alerts":                                   {202, `{"result":"Request will be processed","took":0.1,"requestId":"r"}`},
	"/teams/invoke":                                {202, ""},
	"/hooks/" + e2eHookKey:                         {200, "ok"},
	"/hooks/rc/FAKE-E2E-RC-TOKEN00":                {200, `{"success":true}`},
	"/repos/acme/app/dispatches":                   {204, ""},
	"/api/v4/projects/acme%2Fapp/trigger/pipeline": {201, `{"id":1,"status":"created"}`},
	"/events":                                      {202, ""},
}

func (f *serviceFakes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	path := r.URL.EscapedPath()
	f.mu.Lock()
	f.reqs[path] = append(f.reqs[path], post{r.Header.Clone(), b})
	f.mu.Unlock()
	a, ok := answers[path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(a.code)
	_, _ = io.WriteString(w, a.body)
}

func (f *serviceFakes) got(path string) []post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]post(nil), f.reqs[path]...)
}

func writePresetsConfig(t *testing.T, dir, base string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "genie.key"), []byte(e2eGenieKey+"\n"), 0o600))
	cfg := fmt.Sprintf(`
server: {listen: "127.0.0.1:0", public_url: "https://bridge.example.com"}
storage: {dsn: %[1]q}
ingest: {secrets: [%[2]q]}
delivery: {timeout: 5s, backoff: {initial: 100ms, max: 1s}}
templates: {dir: %[3]q}
targets:
  - {name: pd, type: webhook, preset: pagerduty, url: "%[4]s/v2/enqueue", routing_key: %[5]q}
  - {name: genie, type: webhook, preset: opsgenie, url: "%[4]s/v2/alerts", api_key_file: genie.key}
  - {name: teams, type: webhook, preset: msteams, url: "%[4]s/teams/invoke?sig=%[6]s"}
  - {name: mm, type: webhook, preset: mattermost, url: "%[4]s/hooks/%[7]s"}
  - {name: rc, type: webhook, preset: rocketchat, url: "%[4]s/hooks/rc/FAKE-E2E-RC-TOKEN00"}
  - {name: gh, type: webhook, preset: github-dispatch, url: "%[4]s/repos/acme/app/dispatches", token: %[8]q, event_type: cortex-security}
  - {name: gl, type: webhook, preset: gitlab-pipeline, url: "%[4]s/api/v4/projects/acme%%2Fapp/trigger/pipeline", token: %[9]q, ref: main}
  - {name: ce, type: webhook, preset: cloudevents, url: "%[4]s/events", secret: %[10]q, source: "https://bridge.example.com"}
routes:
  - {name: critical, when: 'event == "issue.critical"', targets: [pd, genie, teams, mm, rc, gh, gl, ce]}
`, filepath.Join(dir, "bridge.db"), ingestSecret, filepath.Join(dir, "templates"), base, e2ePagerDutyKey, e2eTeamsSig, e2eHookKey,
		e2eGitHubToken, e2eGitLabToken, targetSecret)
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

func jsonOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	return m
}

// TestEndToEndPresets: the bridge with a target of every preset, each pointed at a loopback
// fake of its service; one issue.critical reaches each in the shape and with the auth that
// service expects, and no credential shows in the logs.
func TestEndToEndPresets(t *testing.T) {
	t.Parallel()
	fakes := &serviceFakes{reqs: map[string][]post{}}
	srv := httptest.NewServer(fakes)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := writePresetsConfig(t, dir, srv.URL)
	var logs bridgetest.Logs
	b := startBridge(t, cfg, &logs)

	body, res := sendSample(t, b, "issue.critical", time.Now())
	require.Equal(t, 200, res.StatusCode, res.Message)
	require.Equal(t, 8, res.Deliveries)
	require.Eventually(t, func() bool {
		for path := range answers {
			if len(fakes.got(path)) == 0 {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "every service gets the event")

	one := func(path string) post {
		t.Helper()
		got := fakes.got(path)
		require.Len(t, got, 1, path)
		require.Equal(t, "issue.critical", got[0].header.Get("X-Cortex-Event"))
		require.NotEmpty(t, got[0].header.Get("X-Cortex-Delivery"))
		return got[0]
	}

	pd := jsonOf(t, one("/v2/enqueue").body)
	require.Equal(t, e2ePagerDutyKey, pd["routing_key"])
	require.Equal(t, "trigger", pd["event_action"])
	require.Equal(t, "cortex/issue/issue_xyz789", pd["dedup_key"])
	require.Equal(t, "critical", pd["payload"].(map[string]any)["severity"])
	require.Equal(t, "https://bridge.example.com/events/evt_1234567891", pd["client_url"])

	genie := one("/v2/alerts")
	require.Equal(t, "GenieKey "+e2eGenieKey, genie.header.Get("Authorization"), "api_key_file read")
	require.Equal(t, "P1", jsonOf(t, genie.body)["priority"])

	teams := jsonOf(t, one("/teams/invoke").body)
	require.Equal(t, "message", teams["type"])
	require.Equal(t, "application/vnd.microsoft.card.adaptive", teams["attachments"].([]any)[0].(map[string]any)["contentType"])

	require.Contains(t, jsonOf(t, one("/hooks/"+e2eHookKey).body)["text"], "CRITICAL: SQL Injection Vulnerability")
	require.Contains(t, jsonOf(t, one("/hooks/rc/FAKE-E2E-RC-TOKEN00").body)["text"], "CRITICAL: SQL Injection Vulnerability")

	gh := one("/repos/acme/app/dispatches")
	require.Equal(t, "Bearer "+e2eGitHubToken, gh.header.Get("Authorization"))
	require.Equal(t, "application/vnd.github+json", gh.header.Get("Accept"))
	require.Equal(t, "2022-11-28", gh.header.Get("X-GitHub-Api-Version"))
	ghBody := jsonOf(t, gh.body)
	require.Equal(t, "cortex-security", ghBody["event_type"])
	payload, err := json.Marshal(ghBody["client_payload"])
	require.NoError(t, err)
	require.JSONEq(t, string(body), string(payload), "the event as accepted is the client_payload")

	gl := jsonOf(t, one("/api/v4/projects/acme%2Fapp/trigger/pipeline").body)
	require.Equal(t, e2eGitLabToken, gl["token"])
	require.Equal(t, "main", gl["ref"])
	require.Equal(t, "issue_xyz789", gl["variables"].(map[string]any)["CORTEX_ISSUE_ID"])

	ce := one("/events")
	require.Equal(t, "application/cloudevents+json; charset=utf-8", ce.header.Get("Content-Type"))
	require.True(t, verifySignature(ce.body, ce.header.Get("X-Cortex-Signature"), targetSecret))
	ceBody := jsonOf(t, ce.body)
	require.Equal(t, "https://bridge.example.com", ceBody["source"])
	require.Equal(t, "cortex.issue.critical", ceBody["type"])

	b.stop()
	for _, s := range []string{e2ePagerDutyKey, e2eGenieKey, e2eGitHubToken, e2eGitLabToken, e2eTeamsSig, e2eHookKey, targetSecret} {
		require.NotContains(t, logs.String(), s)
	}
}

// TestRoutePrintsPresetBodies: route --sample shows each preset's rendered body, without the
// credentials the adapter adds at send time.
func TestRoutePrintsPresetBodies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writePresetsConfig(t, dir, "https://fake.example.com")
	out, _, err := run(t, "route", "--config", cfg, "--sample", "issue.critical")
	require.NoError(t, err)
	for _, want := range []string{
		"→ pd (webhook)", `"event_action": "trigger"`, `"dedup_key": "cortex/issue/issue_xyz789"`,
		"→ genie (webhook)", `"priority": "P1"`,
		"→ teams (webhook)", `"contentType": "application/vnd.microsoft.card.adaptive"`,
		"→ mm (webhook)", "→ rc (webhook)", `"text": ":rotating_light: CRITICAL: SQL Injection Vulnerability"`,
		"→ gh (webhook)", `"event_type": "cortex-issue-critical"`,
		"→ gl (webhook)", `"CORTEX_EVENT": "issue.critical"`,
		"→ ce (webhook)", `"specversion": "1.0"`,
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "the original event, unchanged")
	for _, s := range []string{e2ePagerDutyKey, e2eGenieKey, e2eGitHubToken, e2eGitLabToken, targetSecret} {
		require.NotContains(t, out, s, "secrets are added at send time, never rendered")
	}
	require.Equal(t, 8, strings.Count(out, "(webhook)"))
}

// withinLimits is each service's receiver-side check of its documented limits (the constants
// in adapters/webhook/limits.go name the sources): "" when the body is one it accepts.
func withinLimits(path string, body []byte) string {
	if !utf8.Valid(body) || !json.Valid(body) {
		return "not valid UTF-8 JSON"
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	runes := func(v any) int { s, _ := v.(string); return utf8.RuneCountInString(s) }
	switch path {
	case "/v2/enqueue":
		if len(body) > 512_000 {
			return fmt.Sprintf("PagerDuty event of %d bytes", len(body))
		}
		if runes(m["payload"].(map[string]any)["summary"]) > 1024 {
			return "PagerDuty summary"
		}
	case "/v2/alerts":
		details := 0
		for k, v := range m["details"].(map[string]any) {
			details += utf8.RuneCountInString(k) + runes(v)
		}
		if details > 8000 || runes(m["message"]) > 130 || runes(m["description"]) > 15000 {
			return fmt.Sprintf("Opsgenie details of %d characters", details)
		}
	case "/teams/invoke":
		if len(body) > 28*1024 {
			return fmt.Sprintf("Teams message of %d bytes", len(body))
		}
	case "/hooks/" + e2eHookKey:
		if runes(m["text"]) > 16383 {
			return "Mattermost text"
		}
	case "/hooks/rc/FAKE-E2E-RC-TOKEN00":
		if runes(m["text"]) > 5000 {
			return "Rocket.Chat text"
		}
	case "/repos/acme/app/dispatches":
		p, _ := json.Marshal(m["client_payload"])
		if len(p) >= 64*1024 || len(m["client_payload"].(map[string]any)) > 10 {
			return fmt.Sprintf("GitHub client_payload of %d bytes", len(p))
		}
	case "/api/v4/projects/acme%2Fapp/trigger/pipeline":
		for k, v := range m["variables"].(map[string]any) {
			if s, ok := v.(string); !ok || len(s) > 120*1024 {
				return "GitLab variable " + k
			}
		}
	case "/events":
		if len(body) > 64*1024 {
			return fmt.Sprintf("CloudEvent of %d bytes", len(body))
		}
	}
	return ""
}

// TestEndToEndPresetsWithinLimits: an issue with twenty 600-character fields and a 700 KB
// description reaches every service as a request within its documented limits, each cut is
// logged with the field it touched, and /metrics counts the cut messages per target.
func TestEndToEndPresetsWithinLimits(t *testing.T) {
	t.Parallel()
	fakes := &serviceFakes{reqs: map[string][]post{}}
	srv := httptest.NewServer(fakes)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	var logs bridgetest.Logs
	cfg := writePresetsConfig(t, dir, srv.URL)
	// Loading, rendering and fitting a 700 KB event for eight targets at once takes seconds under
	// the race detector on a loaded machine: give each render and attempt the time, this test is
	// about the bodies.
	yaml, err := os.ReadFile(cfg)
	require.NoError(t, err)
	slow := strings.NewReplacer("timeout: 5s", "timeout: 120s", "templates: {dir:", "templates: {max_render_time: 120s, dir:").Replace(string(yaml))
	require.Contains(t, slow, "max_render_time: 120s")
	require.Contains(t, slow, "timeout: 120s")
	require.NoError(t, os.WriteFile(cfg, []byte(slow), 0o600))
	b := startBridge(t, cfg, &logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})

	data := map[string]any{"scan_id": "scan_big", "issue_id": "issue_big", "severity": "critical", "title": strings.Repeat("標題", 400),
		"description": strings.Repeat("é", 350_000), "repo_url": "https://github.com/acme/app", "file": "src/app.go", "line": 7}
	for i := range 20 {
		data[fmt.Sprintf("field_%02d", i)] = strings.Repeat("ж", 600)
	}
	raw, err := json.Marshal(map[string]any{"event": "issue.critical", "id": "evt_big_1", "timestamp": time.Now().UTC().Format(time.RFC3339), "data": data})
	require.NoError(t, err)
	res, err := b.client().Send(context.Background(), raw)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode, res.Message)
	require.Eventually(t, func() bool {
		for path := range answers {
			if len(fakes.got(path)) == 0 {
				return false
			}
		}
		return true
	}, 120*time.Second, 20*time.Millisecond, "every service gets the event")
	for path := range answers {
		got := fakes.got(path)
		require.Len(t, got, 1, "%s: sent once, accepted", path)
		require.Empty(t, withinLimits(path, got[0].body), path)
	}
	for _, note := range []string{"opsgenie: details cut from", "pagerduty: event cut from", "github-dispatch: client_payload cut from", "cloudevents: event cut from"} {
		require.Contains(t, logs.String(), note)
	}
	require.Contains(t, logs.String(), "message cut to fit the target's limits")
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + b.addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `cortex_bridge_messages_cut_total{target="genie"} 1`) &&
			strings.Contains(string(body), `cortex_bridge_messages_cut_total{target="pd"} 1`)
	}, 10*time.Second, 50*time.Millisecond)
}
