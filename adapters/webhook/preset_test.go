package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/adaptertest"
	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in templates/testdata/webhook/")

// Fake credentials; every test asserts they never show in an error.
const (
	pdKey        = "FAKE0PAGERDUTY0ROUTING0KEY000032"
	genieKey     = "FAKE-OPSGENIE-API-KEY-0000"
	githubToken  = "ghp_FAKEGITHUBTOKEN0000000000"
	gitlabToken  = "glptt-FAKEGITLABTRIGGERTOKEN"
	teamsSig     = "FAKE-TEAMS-SIG-0000"
	mmHookKey    = "fakemattermosthookkey0000"
	rcHookToken  = "FAKE-ROCKETCHAT-TOKEN-0000"
	signingKey   = "FAKE-SIGNING-SECRET-0000"
	goldenFolder = "../../templates/testdata/webhook"
)

// request is one request a fake received.
type request struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         []byte
}

// fake is a loopback stand-in for one service's API: it records each request and answers with
// check's status and body (check validates the request against the service's documented shape).
type fake struct {
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []request
	check func(r request) (int, string)
}

func newFake(t *testing.T, check func(r request) (int, string)) *fake {
	t.Helper()
	f := &fake{check: check}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !utf8.Valid(b) { // every service refuses a body that is not UTF-8
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"message":"body is not valid UTF-8"}`)
			return
		}
		req := request{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: b}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		code, body := f.check(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) last(t *testing.T) request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(t, f.reqs, "the fake got no request")
	return f.reqs[len(f.reqs)-1]
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	return m
}

// The fakes below check what each service's public API documents as required, and answer like it.

// fakePagerDuty: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ — 202 with
// {"status":"success","dedup_key":…}; 400 "invalid event" otherwise.
func fakePagerDuty(r request) (int, string) {
	var ev struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     *struct {
			Summary  string `json:"summary"`
			Source   string `json:"source"`
			Severity string `json:"severity"`
		} `json:"payload"`
	}
	switch {
	case r.Method != http.MethodPost || r.Path != "/v2/enqueue":
		return 404, `{"status":"not found"}`
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		return 400, `{"status":"invalid event","message":"Content-Type must be application/json"}`
	case len(r.Body) > 512_000:
		return 400, `{"status":"invalid event","message":"Event object is invalid","errors":["event is larger than 512 KB"]}`
	case json.Unmarshal(r.Body, &ev) != nil:
		return 400, `{"status":"invalid event","message":"Event object is invalid"}`
	case ev.RoutingKey == "" || len(ev.RoutingKey) != 32:
		return 400, `{"status":"invalid event","message":"Event object is invalid","errors":["'routing_key' is invalid"]}`
	case ev.EventAction != "trigger" || ev.DedupKey == "" || len(ev.DedupKey) > 255 || ev.Payload == nil:
		return 400, `{"status":"invalid event","message":"Event object is invalid"}`
	case ev.Payload.Summary == "" || utf8.RuneCountInString(ev.Payload.Summary) > 1024 || ev.Payload.Source == "" ||
		!slices.Contains([]string{"critical", "error", "warning", "info"}, ev.Payload.Severity):
		return 400, `{"status":"invalid event","message":"Event object is invalid","errors":["payload is invalid"]}`
	}
	return 202, fmt.Sprintf(`{"status":"success","message":"Event processed","dedup_key":%q}`, ev.DedupKey)
}

// fakeOpsgenie: https://docs.opsgenie.com/docs/alert-api#create-alert — GenieKey auth, message
// required (≤130), priority P1–P5, details string → string; 202 "Request will be processed".
func fakeOpsgenie(r request) (int, string) {
	var a struct {
		Message     string         `json:"message"`
		Alias       string         `json:"alias"`
		Priority    string         `json:"priority"`
		Tags        []string       `json:"tags"`
		Details     map[string]any `json:"details"`
		Source      string         `json:"source"`
		Description string         `json:"description"`
		Entity      string         `json:"entity"`
		Actions     []string       `json:"actions"`
		User        string         `json:"user"`
		Note        string         `json:"note"`
		Responders  []any          `json:"responders"`
		VisibleTo   []any          `json:"visibleTo"`
	}
	switch {
	case r.Path != "/v2/alerts":
		return 404, `{"message":"not found"}`
	case r.Header.Get("Authorization") != "GenieKey "+genieKey:
		return 401, `{"message":"Key format is not valid!","took":0.001,"requestId":"x"}`
	case json.Unmarshal(r.Body, &a) != nil || a.Message == "" || utf8.RuneCountInString(a.Message) > 130 ||
		utf8.RuneCountInString(a.Alias) > 512 || !slices.Contains([]string{"P1", "P2", "P3", "P4", "P5"}, a.Priority) ||
		len(a.Tags) > 20 || utf8.RuneCountInString(a.Source) > 100:
		return 422, `{"message":"Request body is not processable.","took":0.001,"requestId":"x"}`
	}
	if utf8.RuneCountInString(a.Description) > 15000 || utf8.RuneCountInString(a.Entity) > 512 || len(a.Actions) > 10 ||
		utf8.RuneCountInString(a.User) > 100 || utf8.RuneCountInString(a.Note) > 25000 || len(a.Responders) > 50 || len(a.VisibleTo) > 50 {
		return 422, `{"message":"Request body is not processable."}`
	}
	for _, list := range [][]string{a.Tags, a.Actions} {
		for _, s := range list {
			if utf8.RuneCountInString(s) > 50 {
				return 422, `{"message":"tags and actions are limited to 50 characters"}`
			}
		}
	}
	details := 0
	for k, v := range a.Details {
		s, ok := v.(string)
		if !ok {
			return 422, `{"message":"details values must be strings"}`
		}
		details += utf8.RuneCountInString(k) + utf8.RuneCountInString(s)
	}
	if details > 8000 {
		return 422, `{"message":"details are limited to 8000 characters"}`
	}
	return 202, `{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`
}

// fakeTeams: a Teams workflow webhook takes a "message" with Adaptive Card attachments; 202.
func fakeTeams(r request) (int, string) {
	var m struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string `json:"type"`
				Version string `json:"version"`
				Body    []any  `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if r.Query != "sig="+teamsSig {
		return 401, `{"error":{"code":"DirectApiAuthorizationRequired","message":"bad signature"}}`
	}
	if len(r.Body) > 28*1024 {
		return 413, `{"error":{"code":"MessageSizeTooBig","message":"Message size is too big"}}`
	}
	if json.Unmarshal(r.Body, &m) != nil || m.Type != "message" || len(m.Attachments) != 1 ||
		m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
		m.Attachments[0].Content.Type != "AdaptiveCard" || m.Attachments[0].Content.Version == "" || len(m.Attachments[0].Content.Body) == 0 {
		return 400, `{"error":{"code":"InvalidRequestContent","message":"not an adaptive card message"}}`
	}
	return 202, ""
}

// fakeSlackCompatible: Mattermost (200 "ok") and Rocket.Chat (200 {"success":true}) incoming
// webhooks take "text" and/or Slack-style "attachments"; text is at most maxText characters
// (Mattermost 16 383, Rocket.Chat 5 000 by default).
func fakeSlackCompatible(path, ok string, maxText int) func(r request) (int, string) {
	return func(r request) (int, string) {
		var m struct {
			Text        string `json:"text"`
			Attachments []struct {
				Text   string `json:"text"`
				Color  string `json:"color"`
				Fields []struct {
					Title string `json:"title"`
					Value string `json:"value"`
					Short bool   `json:"short"`
				} `json:"fields"`
			} `json:"attachments"`
		}
		switch {
		case r.Path != path:
			return 404, `{"success":false,"error":"Invalid integration"}`
		case json.Unmarshal(r.Body, &m) != nil || (m.Text == "" && len(m.Attachments) == 0):
			return 400, `{"success":false,"error":"No text or attachments"}`
		case utf8.RuneCountInString(m.Text) > maxText:
			return 400, `{"success":false,"error":"error-message-size-exceeded"}`
		}
		attachments := 0
		for _, a := range m.Attachments {
			attachments += utf8.RuneCountInString(a.Text)
			for _, f := range a.Fields {
				attachments += utf8.RuneCountInString(f.Title) + utf8.RuneCountInString(f.Value)
			}
		}
		if attachments > maxText {
			return 400, `{"success":false,"error":"attachments too large"}`
		}
		return 200, ok
	}
}

// fakeGitHub: https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event —
// Bearer token, event_type 1–100 characters, client_payload at most 10 top-level properties; 204.
func fakeGitHub(r request) (int, string) {
	var d struct {
		EventType     string         `json:"event_type"`
		ClientPayload map[string]any `json:"client_payload"`
	}
	switch {
	case r.Path != "/repos/acme/app/dispatches":
		return 404, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`
	case r.Header.Get("Authorization") != "Bearer "+githubToken:
		return 401, `{"message":"Bad credentials"}`
	case r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != webhook.GitHubAPIVersion || r.Header.Get("User-Agent") == "":
		return 400, `{"message":"missing headers"}`
	case json.Unmarshal(r.Body, &d) != nil || d.EventType == "" || utf8.RuneCountInString(d.EventType) > 100 || len(d.ClientPayload) > 10:
		return 422, `{"message":"Invalid request.","errors":["event_type or client_payload"]}`
	}
	if b, _ := json.Marshal(d.ClientPayload); len(b) >= 64*1024 {
		return 422, `{"message":"Invalid request.","errors":["client_payload is too large"]}`
	}
	return 204, ""
}

// fakeGitLab: https://docs.gitlab.com/ee/ci/triggers/ — POST /projects/:id/trigger/pipeline with
// token, ref and variables (string → string); 201 with the pipeline; 404 for a bad token.
func fakeGitLab(r request) (int, string) {
	var p struct {
		Token     string            `json:"token"`
		Ref       string            `json:"ref"`
		Variables map[string]string `json:"variables"`
	}
	switch {
	case r.RawPath != "/api/v4/projects/acme%2Fapp/trigger/pipeline":
		return 404, `{"message":"404 Project Not Found"}`
	case json.Unmarshal(r.Body, &p) != nil:
		return 400, `{"error":"variables is invalid"}`
	case p.Token != gitlabToken:
		return 404, `{"message":"404 Not Found"}`
	case p.Ref == "":
		return 400, `{"message":"ref is missing"}`
	case len(p.Variables) > 1200:
		return 400, `{"message":"Pipeline variables count exceeds the limit"}`
	}
	for k, v := range p.Variables {
		if len(v) > 120*1024 || !regexp.MustCompile(`^[A-Za-z0-9_]{1,255}$`).MatchString(k) {
			return 400, `{"message":"variable ` + k + ` is invalid or too large"}`
		}
	}
	return 201, `{"id":1,"iid":1,"project_id":7,"status":"created","ref":"main","web_url":"https://gitlab.example.com/acme/app/-/pipelines/1"}`
}

// fakeCloudEvents: a structured-mode CloudEvents receiver (HTTP binding §3.2) checking the
// required context attributes.
func fakeCloudEvents(r request) (int, string) {
	var ce map[string]any
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/cloudevents+json") || json.Unmarshal(r.Body, &ce) != nil {
		return 415, `{"error":"not a structured CloudEvent"}`
	}
	for _, k := range []string{"specversion", "type", "source", "id"} {
		if s, _ := ce[k].(string); s == "" {
			return 400, `{"error":"missing ` + k + `"}`
		}
	}
	if ce["specversion"] != "1.0" {
		return 400, `{"error":"specversion"}`
	}
	if len(r.Body) > 64*1024 {
		return 413, `{"error":"event larger than 64 KB"}`
	}
	for k := range ce {
		if !regexp.MustCompile(`^[a-z0-9]{1,20}$`).MatchString(k) {
			return 400, `{"error":"attribute name ` + k + `"}`
		}
	}
	return 202, ""
}

// presetCase is one preset with a config pointing at its fake and the fake's check.
type presetCase struct {
	name   string
	secret string // the credential that must never leak
	config func(base string) webhook.Config
	check  func(r request) (int, string)
}

var presetCases = []presetCase{
	{webhook.PresetPagerDuty, pdKey, func(base string) webhook.Config {
		return webhook.Config{Preset: webhook.PresetPagerDuty, URL: base + "/v2/enqueue", RoutingKey: pdKey}
	}, fakePagerDuty},
	{webhook.PresetOpsgenie, genieKey, func(base string) webhook.Config {
		return webhook.Config{Preset: webhook.PresetOpsgenie, URL: base + "/v2/alerts", APIKey: genieKey}
	}, fakeOpsgenie},
	{webhook.PresetMSTeams, teamsSig, func(base string) webhook.Config {
		return webhook.Config{Preset: webhook.PresetMSTeams, URL: base + "/workflows/abc/triggers/manual/paths/invoke?sig=" + teamsSig}
	}, fakeTeams},
	{webhook.PresetMattermost, mmHookKey, func(base string) webhook.Config {
		return webhook.Config{Preset: webhook.PresetMattermost, URL: base + "/hooks/" + mmHookKey}
	}, fakeSlackCompatible("/hooks/"+mmHookKey, "ok", 16383)},
	{webhook.PresetRocketChat, rcHookToken, func(base string) webhook.Config {
		return webhook.Config{Preset: webhook.PresetRocketChat, URL: base + "/hooks/abc/" + rcHookToken}
	}, fakeSlackCompatible("/hooks/abc/"+rcHookToken, `{"success":true}`, 5000)},
	{webhook.PresetGitHubDispatch, githubToken, func(base string) webhook.Config {
		return webhook.Config{Preset: webhook.PresetGitHubDispatch, URL: base + "/repos/acme/app/dispatches", Token: githubToken}
	}, fakeGitHub},
	{webhook.PresetGitLabPipeline, gitlabToken, func(base string) webhook.Config {
		return webhook.Config{Preset: webhook.PresetGitLabPipeline, URL: base + "/api/v4/projects/acme%2Fapp/trigger/pipeline", Token: gitlabToken, Ref: "main"}
	}, fakeGitLab},
	{webhook.PresetCloudEvents, signingKey, func(base string) webhook.Config {
		return webhook.Config{Preset: webhook.PresetCloudEvents, URL: base + "/events", Secret: signingKey}
	}, fakeCloudEvents},
	{webhook.PresetGenericJSON, signingKey, func(base string) webhook.Config {
		return webhook.Config{Preset: webhook.PresetGenericJSON, URL: base + "/hooks/cortex", Secret: signingKey}
	}, func(request) (int, string) { return 200, "ok" }},
}

func sampleEvent(t *testing.T, typ string) *event.Event {
	t.Helper()
	b, err := samples.Get(typ)
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return ev
}

func eventWith(t *testing.T, typ string, data map[string]any) *event.Event {
	t.Helper()
	b, err := json.Marshal(map[string]any{"event": typ, "id": "evt_test_1", "timestamp": "2026-01-02T03:04:05Z", "data": data})
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return ev
}

var engine = sync.OnceValues(func() (*templates.Engine, error) { return templates.New("") })

// renderFor renders ev as the worker would for a webhook target with cfg (its preset's template).
func renderFor(t *testing.T, cfg *webhook.Config, ev *event.Event, publicURL string) *notify.Message {
	t.Helper()
	e, err := engine()
	require.NoError(t, err)
	tgt := &core.Target{Name: "t", Type: "webhook", Format: notify.FormatJSON, Template: cfg.DefaultTemplate()}
	r := &core.Renderer{Engine: e, PublicURL: publicURL}
	msg := core.SampleMessage(ev, tgt, nil)
	msg.DeliveryID = "0190d2a8-0000-7000-8000-000000000001"
	require.NoError(t, r.Render(msg, tgt, nil))
	return msg
}

// send renders ev for the preset, posts it to the preset's fake and returns what the fake got.
func send(t *testing.T, pc presetCase, ev *event.Event, tweak func(*webhook.Config)) (request, error) {
	t.Helper()
	f := newFake(t, pc.check)
	cfg := pc.config(f.srv.URL)
	if tweak != nil {
		tweak(&cfg)
	}
	n, err := webhook.New(&cfg, nil, "test")
	require.NoError(t, err)
	err = n.Notify(context.Background(), renderFor(t, &cfg, ev, ""))
	return f.last(t), err
}

func caseFor(t *testing.T, name string) presetCase {
	t.Helper()
	for _, pc := range presetCases {
		if pc.name == name {
			return pc
		}
	}
	t.Fatalf("no case for preset %s", name)
	return presetCase{}
}

// TestPresetGolden renders every preset's template for every sample event, posts it to the
// service's fake (which must accept it) and compares the body the fake received with
// templates/testdata/webhook/<preset>-<event>.golden (go test ./adapters/webhook -update
// rewrites them), so a template change is a reviewable diff.
func TestPresetGolden(t *testing.T) {
	t.Parallel()
	for _, pc := range presetCases {
		if pc.name == webhook.PresetGenericJSON {
			continue // the original event, byte for byte: TestGenericJSONSendsTheOriginalEvent
		}
		for _, typ := range samples.Types() {
			t.Run(pc.name+"/"+typ, func(t *testing.T) {
				t.Parallel()
				got, err := send(t, pc, sampleEvent(t, typ), nil)
				require.NoError(t, err, "the fake %s accepts the preset's payload", pc.name)
				var pretty bytes.Buffer
				require.NoError(t, json.Indent(&pretty, got.Body, "", "  "))
				pretty.WriteString("\n")
				golden := filepath.Join(goldenFolder, pc.name+"-"+typ+".golden")
				if *update {
					require.NoError(t, os.MkdirAll(goldenFolder, 0o755))
					require.NoError(t, os.WriteFile(golden, pretty.Bytes(), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err, "run go test ./adapters/webhook -update to create it")
				require.Equal(t, string(want), pretty.String())
			})
		}
	}
}

// TestPresetsRenderAnyEvent: an unknown event type, one with only the required fields, and
// text full of markup still give a payload each fake accepts.
func TestPresetsRenderAnyEvent(t *testing.T) {
	t.Parallel()
	events := map[string]func(t *testing.T) *event.Event{
		"unknown type, no data": func(t *testing.T) *event.Event { return eventWith(t, "repo.archived", map[string]any{}) },
		"unknown type, odd data": func(t *testing.T) *event.Event {
			return eventWith(t, "x.y", map[string]any{"scan_id": 5, "nested": map[string]any{"a": []any{1, "b"}}, "weird key!": true})
		},
		"minimal issue": func(t *testing.T) *event.Event {
			return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i", "severity": "HIGH", "title": "t"})
		},
		"markup everywhere": func(t *testing.T) *event.Event {
			return eventWith(t, "issue.critical", map[string]any{"scan_id": "s<1>", "issue_id": "i&2", "severity": "critical",
				"title": `"q" <!channel> @here [x](http://e) ` + strings.Repeat("long ", 400), "description": "a\nb\t<c>",
				"file": "a b/c(d).go", "line": 3, "repo_url": "https://github.com/o/r"})
		},
	}
	for _, pc := range presetCases {
		for name, mk := range events {
			t.Run(pc.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				_, err := send(t, pc, mk(t), nil)
				require.NoError(t, err)
			})
		}
	}
}

func TestPagerDuty(t *testing.T) {
	t.Parallel()
	pc := caseFor(t, webhook.PresetPagerDuty)
	type pd struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     struct {
			Summary  string `json:"summary"`
			Severity string `json:"severity"`
			Source   string `json:"source"`
		} `json:"payload"`
	}
	parse := func(t *testing.T, r request) pd {
		var p pd
		require.NoError(t, json.Unmarshal(r.Body, &p))
		return p
	}

	t.Run("severity and dedup by event", func(t *testing.T) {
		t.Parallel()
		tests := map[string]struct {
			ev       func(t *testing.T) *event.Event
			severity string
			dedup    string
		}{
			"critical issue": {func(t *testing.T) *event.Event { return sampleEvent(t, "issue.critical") }, "critical", "cortex/issue/issue_xyz789"},
			"high issue": {func(t *testing.T) *event.Event {
				return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i9", "severity": "high", "title": "t"})
			}, "error", "cortex/issue/i9"},
			"medium issue": {func(t *testing.T) *event.Event {
				return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i9", "severity": "Medium", "title": "t"})
			}, "warning", "cortex/issue/i9"},
			"low issue": {func(t *testing.T) *event.Event {
				return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i9", "severity": "low", "title": "t"})
			}, "info", "cortex/issue/i9"},
			"odd severity": {func(t *testing.T) *event.Event {
				return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i9", "severity": "blocker", "title": "t"})
			}, "critical", "cortex/issue/i9"},
			"failed scan":    {func(t *testing.T) *event.Event { return sampleEvent(t, "scan.failed") }, "error", "cortex/scan/scan_def456"},
			"timed-out scan": {func(t *testing.T) *event.Event { return sampleEvent(t, "scan.timeout") }, "warning", "cortex/scan/scan_ghi789"},
			"good score":     {func(t *testing.T) *event.Event { return sampleEvent(t, "scan.completed") }, "info", "cortex/scan/scan_abc123"},
			"low score": {func(t *testing.T) *event.Event {
				return eventWith(t, "scan.completed", map[string]any{"scan_id": "s7", "score": 55})
			}, "warning", "cortex/scan/s7"},
			"no scan id":      {func(t *testing.T) *event.Event { return eventWith(t, "repo.archived", map[string]any{}) }, "info", "cortex/event/evt_test_1"},
			"started is info": {func(t *testing.T) *event.Event { return sampleEvent(t, "scan.started") }, "info", "cortex/scan/scan_abc123"},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r, err := send(t, pc, tc.ev(t), nil)
				require.NoError(t, err)
				p := parse(t, r)
				require.Equal(t, tc.severity, p.Payload.Severity)
				require.Equal(t, tc.dedup, p.DedupKey)
				require.Equal(t, "trigger", p.EventAction)
				require.Equal(t, pdKey, p.RoutingKey, "the adapter adds the routing key")
			})
		}
	})

	t.Run("repeats update one incident", func(t *testing.T) {
		t.Parallel()
		a, err := send(t, pc, sampleEvent(t, "scan.failed"), nil)
		require.NoError(t, err)
		b, err := send(t, pc, eventWith(t, "scan.timeout", map[string]any{"scan_id": "scan_def456"}), nil)
		require.NoError(t, err)
		require.Equal(t, parse(t, a).DedupKey, parse(t, b).DedupKey)
	})

	t.Run("the template never sees the routing key", func(t *testing.T) {
		t.Parallel()
		cfg := pc.config("http://127.0.0.1:1")
		msg := renderFor(t, &cfg, sampleEvent(t, "issue.critical"), "")
		require.NotContains(t, string(msg.Body), pdKey)
		require.NotContains(t, string(msg.Body), "routing_key")
	})

	t.Run("the default URL is the Events API", func(t *testing.T) {
		t.Parallel()
		cfg := webhook.Config{Preset: webhook.PresetPagerDuty, RoutingKey: pdKey}
		require.NoError(t, cfg.Validate())
		require.Equal(t, webhook.PagerDutyURL, cfg.Endpoint())
	})

	t.Run("summary fits 1 024 characters", func(t *testing.T) {
		t.Parallel()
		r, err := send(t, pc, eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i", "severity": "critical", "title": strings.Repeat("é", 3000)}), nil)
		require.NoError(t, err)
		require.Equal(t, 1024, utf8.RuneCountInString(parse(t, r).Payload.Summary))
	})

	t.Run("a signing secret adds the signature", func(t *testing.T) {
		t.Parallel()
		r, err := send(t, pc, sampleEvent(t, "issue.critical"), func(c *webhook.Config) { c.Secret = signingKey })
		require.NoError(t, err)
		require.True(t, verifySignature(r.Body, r.Header.Get("X-Cortex-Signature"), signingKey), "the signature covers the bytes sent, routing key included")
		r, err = send(t, pc, sampleEvent(t, "issue.critical"), nil)
		require.NoError(t, err)
		require.Empty(t, r.Header.Get("X-Cortex-Signature"), "no secret, no signature")
	})
}

func TestOpsgenie(t *testing.T) {
	t.Parallel()
	pc := caseFor(t, webhook.PresetOpsgenie)
	tests := map[string]struct {
		ev       func(t *testing.T) *event.Event
		priority string
		alias    string
	}{
		"critical issue": {func(t *testing.T) *event.Event { return sampleEvent(t, "issue.critical") }, "P1", "cortex/issue/issue_xyz789"},
		"high issue": {func(t *testing.T) *event.Event {
			return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i", "severity": "high", "title": "t"})
		}, "P2", "cortex/issue/i"},
		"medium issue": {func(t *testing.T) *event.Event {
			return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i", "severity": "medium", "title": "t"})
		}, "P3", "cortex/issue/i"},
		"low issue": {func(t *testing.T) *event.Event {
			return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i", "severity": "low", "title": "t"})
		}, "P4", "cortex/issue/i"},
		"info issue": {func(t *testing.T) *event.Event {
			return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i", "severity": "info", "title": "t"})
		}, "P5", "cortex/issue/i"},
		"failed scan": {func(t *testing.T) *event.Event { return sampleEvent(t, "scan.failed") }, "P2", "cortex/scan/scan_def456"},
		"timeout":     {func(t *testing.T) *event.Event { return sampleEvent(t, "scan.timeout") }, "P3", "cortex/scan/scan_ghi789"},
		"low score": {func(t *testing.T) *event.Event {
			return eventWith(t, "scan.completed", map[string]any{"scan_id": "s", "score": 12.5})
		}, "P3", "cortex/scan/s"},
		"good score": {func(t *testing.T) *event.Event { return sampleEvent(t, "scan.completed") }, "P5", "cortex/scan/scan_abc123"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := send(t, pc, tc.ev(t), nil)
			require.NoError(t, err)
			require.Equal(t, "GenieKey "+genieKey, r.Header.Get("Authorization"))
			require.Equal(t, "application/json", r.Header.Get("Content-Type"))
			m := decode(t, r.Body)
			require.Equal(t, tc.priority, m["priority"])
			require.Equal(t, tc.alias, m["alias"])
		})
	}
	t.Run("wrong key is permanent and does not leak", func(t *testing.T) {
		t.Parallel()
		_, err := send(t, pc, sampleEvent(t, "issue.critical"), func(c *webhook.Config) { c.APIKey = "WRONG-KEY-0000000" })
		de := requireDeliveryError(t, err)
		require.Equal(t, 401, de.StatusCode)
		require.False(t, de.Retryable)
		require.NotContains(t, err.Error()+de.Response, "WRONG-KEY-0000000")
	})
	t.Run("default URL and EU override", func(t *testing.T) {
		t.Parallel()
		cfg := webhook.Config{Preset: webhook.PresetOpsgenie, APIKey: genieKey}
		require.Equal(t, webhook.OpsgenieURL, cfg.Endpoint())
		cfg.URL = "https://api.eu.opsgenie.com/v2/alerts"
		require.NoError(t, cfg.Validate())
		require.Equal(t, cfg.URL, cfg.Endpoint())
	})
}

func TestMSTeams(t *testing.T) {
	t.Parallel()
	pc := caseFor(t, webhook.PresetMSTeams)
	title := "[click](http://evil.example) **bold** <at>x</at>"
	r, err := send(t, pc, eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i", "severity": "critical", "title": title, "repo_url": "https://github.com/o/r", "file": "a.go", "line": 3}), nil)
	require.NoError(t, err)
	var m struct {
		Attachments []struct {
			Content struct {
				Body []struct {
					Type  string `json:"type"`
					Style string `json:"style"`
					Items []struct {
						Type    string `json:"type"`
						Inlines []struct {
							Type string `json:"type"`
							Text string `json:"text"`
						} `json:"inlines"`
					} `json:"items"`
				} `json:"body"`
				Actions []struct {
					Type string `json:"type"`
					URL  string `json:"url"`
				} `json:"actions"`
			} `json:"content"`
		} `json:"attachments"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &m))
	head := m.Attachments[0].Content.Body[0]
	require.Equal(t, "attention", head.Style)
	require.Equal(t, "TextRun", head.Items[0].Inlines[0].Type, "event text goes into TextRuns, which Teams does not parse as Markdown")
	require.Contains(t, head.Items[0].Inlines[0].Text, title, "shown as written")
	require.Equal(t, "https://github.com/o/r/blob/HEAD/a.go#L3", m.Attachments[0].Content.Actions[0].URL)
	require.Empty(t, r.Header.Get("X-Cortex-Signature"), "no secret configured: not signed")

	t.Run("the URL is the credential", func(t *testing.T) {
		t.Parallel()
		cfg := webhook.Config{Preset: webhook.PresetMSTeams}
		require.Equal(t, "url is empty", cfg.Disabled())
	})
}

func TestMattermostAndRocketChatDefuseMentions(t *testing.T) {
	t.Parallel()
	ev := func(t *testing.T) *event.Event {
		return eventWith(t, "issue.critical", map[string]any{"scan_id": "s", "issue_id": "i", "severity": "critical",
			"title": "@channel <!here> a&b <@U123> mail a@b.c", "description": "@all look"})
	}
	text := func(t *testing.T, r request) (string, string) {
		var m struct {
			Text        string `json:"text"`
			Attachments []struct {
				Text string `json:"text"`
			} `json:"attachments"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &m))
		return m.Text, m.Attachments[0].Text
	}

	r, err := send(t, caseFor(t, webhook.PresetMattermost), ev(t), nil)
	require.NoError(t, err)
	head, desc := text(t, r)
	require.Contains(t, head, "@\u200bchannel &lt;!here&gt; a&amp;b &lt;@\u200bU123&gt; mail a@b.c", "& < > escaped, mentions broken by a zero-width space, e-mail addresses kept")
	require.NotContains(t, head, "<!here>")
	require.Equal(t, "@\u200ball look", desc)

	r, err = send(t, caseFor(t, webhook.PresetRocketChat), ev(t), nil)
	require.NoError(t, err)
	head, desc = text(t, r)
	require.Contains(t, head, "@\u200bchannel <!here> a&b <@\u200bU123> mail a@b.c", "Rocket.Chat escapes HTML itself: only mentions are broken")
	require.Equal(t, "@\u200ball look", desc)
}

func TestGitHubDispatch(t *testing.T) {
	t.Parallel()
	pc := caseFor(t, webhook.PresetGitHubDispatch)
	ev := sampleEvent(t, "scan.failed")
	r, err := send(t, pc, ev, nil)
	require.NoError(t, err, "204 is success")
	var d struct {
		EventType     string          `json:"event_type"`
		ClientPayload json.RawMessage `json:"client_payload"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &d))
	require.Equal(t, "cortex-scan-failed", d.EventType)
	require.JSONEq(t, string(ev.Raw), string(d.ClientPayload), "the event is the client_payload")

	t.Run("configured event_type", func(t *testing.T) {
		t.Parallel()
		r, err := send(t, pc, ev, func(c *webhook.Config) { c.EventType = "security-scan" })
		require.NoError(t, err)
		require.Equal(t, "security-scan", decode(t, r.Body)["event_type"])
	})

	t.Run("repo builds the URL", func(t *testing.T) {
		t.Parallel()
		cfg := webhook.Config{Preset: webhook.PresetGitHubDispatch, Token: githubToken, Repo: "acme/app"}
		require.NoError(t, cfg.Validate())
		require.Equal(t, "https://api.github.com/repos/acme/app/dispatches", cfg.Endpoint())
	})

	t.Run("rate limits", func(t *testing.T) {
		t.Parallel()
		// The reset is set when the fake answers (90 s from then), not when the table is built: the
		// parallel subtests may start long after on a loaded machine.
		const reset = "90 s from the answer"
		tests := map[string]struct {
			header    map[string]string
			code      int
			retryable bool
			reason    notify.Reason
			minAfter  time.Duration
		}{
			"primary limit":   {map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, 403, true, notify.ReasonRateLimited, 60 * time.Second},
			"secondary limit": {map[string]string{"Retry-After": "30"}, 403, true, notify.ReasonRateLimited, 30 * time.Second},
			"429 with reset":  {map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, 429, true, notify.ReasonRateLimited, 60 * time.Second},
			"plain 403":       {map[string]string{"X-RateLimit-Remaining": "4999"}, 403, false, notify.ReasonClientError, 0},
			"404":             {nil, 404, false, notify.ReasonClientError, 0},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tc.header {
						if v == reset {
							v = strconv.FormatInt(time.Now().Add(90*time.Second).Unix(), 10)
						}
						w.Header().Set(k, v)
					}
					w.WriteHeader(tc.code)
					_, _ = io.WriteString(w, `{"message":"API rate limit exceeded"}`)
				}))
				t.Cleanup(srv.Close)
				n, err := webhook.New(&webhook.Config{Preset: webhook.PresetGitHubDispatch, URL: srv.URL + "/repos/acme/app/dispatches", Token: githubToken}, nil, "test")
				require.NoError(t, err)
				de := requireDeliveryError(t, n.Notify(context.Background(), renderFor(t, &webhook.Config{Preset: webhook.PresetGitHubDispatch}, ev, "")))
				require.Equal(t, tc.retryable, de.Retryable)
				require.Equal(t, tc.reason, de.Reason)
				require.GreaterOrEqual(t, de.RetryAfter, tc.minAfter)
			})
		}
	})
}

func TestGitLabPipeline(t *testing.T) {
	t.Parallel()
	pc := caseFor(t, webhook.PresetGitLabPipeline)
	ev := sampleEvent(t, "scan.completed")
	r, err := send(t, pc, ev, func(c *webhook.Config) { c.Ref = "release/1.x" })
	require.NoError(t, err, "201 is success")
	var p struct {
		Token     string            `json:"token"`
		Ref       string            `json:"ref"`
		Variables map[string]string `json:"variables"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &p))
	require.Equal(t, gitlabToken, p.Token)
	require.Equal(t, "release/1.x", p.Ref)
	require.Equal(t, "scan.completed", p.Variables["CORTEX_EVENT"])
	require.Equal(t, "85", p.Variables["CORTEX_SCORE"])
	require.Equal(t, "https://github.com/user/repo", p.Variables["CORTEX_REPO_URL"])
	require.Equal(t, string(ev.Raw), p.Variables["CORTEX_PAYLOAD"])
	require.Empty(t, r.Header.Get("Private-Token"), "the trigger token goes in the body only")

	t.Run("project builds the URL", func(t *testing.T) {
		t.Parallel()
		cfg := webhook.Config{Preset: webhook.PresetGitLabPipeline, Token: gitlabToken, Project: "acme/app", Ref: "main"}
		require.NoError(t, cfg.Validate())
		require.Equal(t, "https://gitlab.com/api/v4/projects/acme%2Fapp/trigger/pipeline", cfg.Endpoint())
	})

	t.Run("the escaped project path is sent as is", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, fakeGitLab)
		cfg := webhook.Config{Preset: webhook.PresetGitLabPipeline, Token: gitlabToken, Project: "acme/app", Ref: "main"}
		// The default endpoint, pointed at the fake (only the host changes).
		cfg.URL = strings.Replace(cfg.Endpoint(), "https://gitlab.com", f.srv.URL, 1)
		cfg.Project = ""
		n, err := webhook.New(&cfg, nil, "test")
		require.NoError(t, err)
		require.NoError(t, n.Notify(context.Background(), renderFor(t, &cfg, ev, "")))
		require.Equal(t, "/api/v4/projects/acme%2Fapp/trigger/pipeline", f.last(t).RawPath)
	})
}

func TestCloudEvents(t *testing.T) {
	t.Parallel()
	pc := caseFor(t, webhook.PresetCloudEvents)
	ev := sampleEvent(t, "issue.critical")
	r, err := send(t, pc, ev, nil)
	require.NoError(t, err)
	require.Equal(t, "application/cloudevents+json; charset=utf-8", r.Header.Get("Content-Type"))
	require.True(t, verifySignature(r.Body, r.Header.Get("X-Cortex-Signature"), signingKey))
	m := decode(t, r.Body)
	require.Equal(t, "1.0", m["specversion"])
	require.Equal(t, "cortex.issue.critical", m["type"])
	require.Equal(t, webhook.DefaultCloudEventsSource, m["source"])
	require.Equal(t, ev.ID, m["id"])
	require.Equal(t, "2024-01-01T12:05:00Z", m["time"])
	data, err := json.Marshal(m["data"])
	require.NoError(t, err)
	require.JSONEq(t, string(ev.Raw), string(data))

	r, err = send(t, pc, ev, func(c *webhook.Config) { c.Source = "https://bridge.example.com/prod" })
	require.NoError(t, err)
	require.Equal(t, "https://bridge.example.com/prod", decode(t, r.Body)["source"])
	require.True(t, verifySignature(r.Body, r.Header.Get("X-Cortex-Signature"), signingKey), "signed after the source is set")
}

func TestGenericJSONSendsTheOriginalEvent(t *testing.T) {
	t.Parallel()
	pc := caseFor(t, webhook.PresetGenericJSON)
	cfg := pc.config("http://x")
	require.Empty(t, cfg.DefaultTemplate(), "no template: the original event")
	ev := sampleEvent(t, "issue.critical")
	r, err := send(t, pc, ev, nil)
	require.NoError(t, err)
	require.Equal(t, ev.Raw, r.Body)
	require.True(t, verifySignature(r.Body, r.Header.Get("X-Cortex-Signature"), signingKey))
}

// TestPresetConformance runs the HTTP adapter suite (classification, Retry-After, secrets kept
// out of errors, redirects, timeouts, connection reuse) against every preset.
func TestPresetConformance(t *testing.T) {
	t.Parallel()
	for _, pc := range presetCases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			adaptertest.Run(t, adaptertest.Suite{
				New: func(t *testing.T, base string) notify.Notifier {
					cfg := pc.config(base)
					n, err := webhook.New(&cfg, nil, "test")
					require.NoError(t, err)
					return n
				},
				Secret: pc.secret,
			})
		})
	}
}

// TestSecretsNeverLeak: a receiver that echoes the request (headers and body) in its error
// answer, and a dead endpoint, never get a credential into the returned error.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(400)
		_, _ = fmt.Fprintf(w, "bad request %s %v %s", r.URL.String(), r.Header, b)
	}))
	t.Cleanup(echo.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	for _, pc := range presetCases {
		for base, what := range map[string]string{echo.URL: "echo", dead: "dead"} {
			t.Run(pc.name+"/"+what, func(t *testing.T) {
				t.Parallel()
				cfg := pc.config(base)
				n, err := webhook.New(&cfg, nil, "test")
				require.NoError(t, err)
				err = n.Notify(context.Background(), renderFor(t, &cfg, sampleEvent(t, "issue.critical"), ""))
				de := requireDeliveryError(t, err)
				require.NotContains(t, err.Error(), pc.secret)
				require.NotContains(t, de.Response, pc.secret)
				if what == "echo" && pc.secret != signingKey { // the signing secret itself never travels
					require.Contains(t, de.Response, "<redacted>", "the echoed credential is replaced")
				}
			})
		}
	}
}

func requireDeliveryError(t *testing.T, err error) *notify.DeliveryError {
	t.Helper()
	var de *notify.DeliveryError
	require.ErrorAs(t, err, &de)
	return de
}

func TestPresetValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		cfg  webhook.Config
		want []string // each must appear; none means valid
	}{
		"unknown preset lists the known": {webhook.Config{Preset: "pagerdutty", URL: "https://x/y", Secret: "s"},
			[]string{`preset: unknown preset "pagerdutty" (known: cloudevents, generic-json, github-dispatch, gitlab-pipeline, mattermost, msteams, opsgenie, pagerduty, rocketchat)`}},
		"pagerduty needs routing_key":  {webhook.Config{Preset: "pagerduty"}, []string{"routing_key: required for preset pagerduty"}},
		"pagerduty valid":              {webhook.Config{Preset: "pagerduty", RoutingKey: pdKey}, nil},
		"opsgenie needs api_key":       {webhook.Config{Preset: "opsgenie"}, []string{"api_key: required for preset opsgenie"}},
		"opsgenie owns Authorization":  {webhook.Config{Preset: "opsgenie", APIKey: genieKey, Headers: map[string]string{"authorization": "x"}}, []string{"headers.authorization: set by preset opsgenie"}},
		"github needs token and repo":  {webhook.Config{Preset: "github-dispatch"}, []string{"token: required for preset github-dispatch", "repo: required for preset github-dispatch"}},
		"github bad repo":              {webhook.Config{Preset: "github-dispatch", Token: githubToken, Repo: "acme"}, []string{`repo: must be owner/name, got "acme"`}},
		"github repo and url":          {webhook.Config{Preset: "github-dispatch", Token: githubToken, Repo: "a/b", URL: "https://ghe.example.com/api/v3/repos/a/b/dispatches"}, []string{"repo: set repo or url"}},
		"github long event_type":       {webhook.Config{Preset: "github-dispatch", Token: githubToken, Repo: "a/b", EventType: strings.Repeat("x", 101)}, []string{"event_type: must be 1–100 characters"}},
		"github owns API headers":      {webhook.Config{Preset: "github-dispatch", Token: githubToken, Repo: "a/b", Headers: map[string]string{"X-GitHub-Api-Version": "1"}}, []string{"headers.X-GitHub-Api-Version: set by preset github-dispatch"}},
		"github enterprise url":        {webhook.Config{Preset: "github-dispatch", Token: githubToken, URL: "https://ghe.example.com/api/v3/repos/a/b/dispatches"}, nil},
		"gitlab needs project and ref": {webhook.Config{Preset: "gitlab-pipeline", Token: gitlabToken}, []string{"project: required for preset gitlab-pipeline", "ref: required for preset gitlab-pipeline"}},
		"gitlab bad project":           {webhook.Config{Preset: "gitlab-pipeline", Token: gitlabToken, Project: "a b", Ref: "main"}, []string{"project: must be a project id or its path"}},
		"gitlab self-managed":          {webhook.Config{Preset: "gitlab-pipeline", Token: gitlabToken, URL: "https://git.example.com/api/v4/projects/7/trigger/pipeline", Ref: "main"}, nil},
		"key of another preset":        {webhook.Config{Preset: "opsgenie", APIKey: genieKey, RoutingKey: pdKey, Ref: "main"}, []string{"routing_key: not used by preset opsgenie", "ref: not used by preset opsgenie"}},
		"preset key without preset":    {webhook.Config{URL: "https://x/y", Secret: "s", Token: "t"}, []string{"token: only used with a preset"}},
		"teams needs url":              {webhook.Config{Preset: "msteams"}, []string{"url: required"}},
		"cloudevents bad source":       {webhook.Config{Preset: "cloudevents", URL: "https://x/y", Secret: "s", Source: " x"}, []string{"source: must be a URI reference"}},
		"url is redacted":              {webhook.Config{Preset: "mattermost", URL: "ftp://x/hooks/" + mmHookKey}, []string{"url: must be an absolute http(s) URL", "ftp://x/<redacted>"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			for _, s := range []string{pdKey, genieKey, githubToken, gitlabToken, mmHookKey} {
				require.NotContains(t, err.Error(), s)
			}
		})
	}
}

func TestPresetDisabled(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		cfg  webhook.Config
		want string
	}{
		"plain needs the secret":            {webhook.Config{URL: "https://x/y"}, "secret is empty"},
		"plain with secret":                 {webhook.Config{URL: "https://x/y", Secret: "s"}, ""},
		"generic-json needs the secret":     {webhook.Config{Preset: "generic-json", URL: "https://x/y"}, "secret is empty"},
		"cloudevents needs the secret":      {webhook.Config{Preset: "cloudevents", URL: "https://x/y"}, "secret is empty"},
		"pagerduty: routing_key, no secret": {webhook.Config{Preset: "pagerduty", RoutingKey: pdKey}, ""},
		"pagerduty without routing_key":     {webhook.Config{Preset: "pagerduty", Secret: "s"}, "routing_key is empty"},
		"opsgenie without api_key":          {webhook.Config{Preset: "opsgenie"}, "api_key is empty"},
		"github without token":              {webhook.Config{Preset: "github-dispatch", Repo: "a/b"}, "token is empty"},
		"gitlab without token":              {webhook.Config{Preset: "gitlab-pipeline", Project: "7", Ref: "main"}, "token is empty"},
		"mattermost without url":            {webhook.Config{Preset: "mattermost", Secret: "s"}, "url is empty"},
		"rocketchat with url":               {webhook.Config{Preset: "rocketchat", URL: "https://chat/hooks/x/y"}, ""},
		"unknown preset is validated":       {webhook.Config{Preset: "nope"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.cfg.Disabled())
		})
	}
	_, err := webhook.New(&webhook.Config{Preset: "pagerduty"}, nil, "v")
	require.ErrorContains(t, err, "routing_key: required for preset pagerduty")
	n, err := webhook.New(&webhook.Config{Preset: "pagerduty", RoutingKey: pdKey}, nil, "v")
	require.NoError(t, err, "a preset with its own credential needs no signing secret")
	require.NotNil(t, n)
}

func TestDefaultTemplates(t *testing.T) {
	t.Parallel()
	e, err := engine()
	require.NoError(t, err)
	for _, name := range webhook.Presets() {
		cfg := webhook.Config{Preset: name}
		if name == webhook.PresetGenericJSON {
			require.Empty(t, cfg.DefaultTemplate())
			continue
		}
		require.Equal(t, name, cfg.DefaultTemplate())
		_, ok := e.Lookup("webhook", cfg.DefaultTemplate())
		require.True(t, ok, "built-in webhook/%s.tmpl exists", name)
	}
	_, ok := e.Lookup("webhook", "compliance-digest")
	require.True(t, ok, "the digest template is still there")
}
