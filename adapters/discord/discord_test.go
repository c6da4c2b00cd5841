package discord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/adaptertest"
	"github.com/cortexbridge/cortex-bridge/adapters/discord"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

const token = "FAKE-DISCORD-TOKEN"

func newNotifier(t *testing.T, webhookURL string, opts ...func(*discord.Config)) *discord.Notifier {
	t.Helper()
	cfg := &discord.Config{WebhookURL: notify.Secret(webhookURL)}
	for _, o := range opts {
		o(cfg)
	}
	n, err := discord.New(cfg, nil, "test")
	require.NoError(t, err)
	return n
}

var engine = sync.OnceValues(func() (*templates.Engine, error) { return templates.New("") })

var target = &core.Target{Name: "dev-discord", Type: "discord", Format: notify.FormatJSON, Escape: discord.Type.Escape}

// render builds the message a delivery of events to a discord target carries, through the real
// core.Renderer and the built-in templates (discord/group for several events).
func render(t *testing.T, events ...*event.Event) *notify.Message {
	t.Helper()
	e, err := engine()
	require.NoError(t, err)
	msg := core.SampleMessage(events[0], target, nil)
	msg.Events = events
	require.NoError(t, (&core.Renderer{Engine: e}).Render(msg, target, nil))
	require.NotNil(t, msg.Body)
	return msg
}

func sample(t *testing.T, typ string) *event.Event {
	t.Helper()
	b, err := samples.Get(typ)
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return ev
}

func issue(t *testing.T, data map[string]any) *event.Event {
	t.Helper()
	d := map[string]any{"scan_id": "scan_1", "issue_id": "issue_1", "severity": "critical", "title": "t",
		"repo_url": "https://github.com/acme/api", "file": "src/db.go", "line": 12}
	for k, v := range data {
		d[k] = v
	}
	b, err := json.Marshal(map[string]any{"event": "issue.critical", "id": "evt_1", "timestamp": "2026-01-01T00:00:00Z", "data": d})
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return ev
}

func deliveryError(t *testing.T, err error) *notify.DeliveryError {
	t.Helper()
	var de *notify.DeliveryError
	require.ErrorAs(t, err, &de)
	return de
}

func TestConformance(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, adaptertest.Suite{
		New: func(t *testing.T, baseURL string) notify.Notifier {
			return newNotifier(t, baseURL+"/api/webhooks/123/"+token)
		},
		Secret: token,
		Success: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"1","channel_id":"2","content":""}`))
		},
	})
}

// TestNotifyExecutesWebhook: one POST to the configured webhook with wait=true, a JSON payload
// carrying the rendered embed, and the bridge's User-Agent.
func TestNotifyExecutesWebhook(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	msg := render(t, sample(t, event.IssueCritical))
	require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), msg))

	reqs := f.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Empty(t, r.Problems)
	require.Equal(t, "/api/webhooks/123/"+token, r.Path)
	require.Equal(t, "true", r.Query.Get("wait"))
	require.Empty(t, r.Query.Get("thread_id"))
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Contains(t, r.Header.Get("User-Agent"), "cortex-bridge/test")
	require.Empty(t, r.Header.Get("Authorization"), "webhook execution sends no token header")

	p := f.last(t)
	require.Len(t, p.Embeds, 1)
	require.Equal(t, "🚨 CRITICAL: SQL Injection Vulnerability", p.Embeds[0].Title)
	require.Equal(t, "Cortex Bridge · issue.critical · evt_1234567891", p.Embeds[0].Footer.Text)
	require.Equal(t, "2024-01-01T12:05:00Z", p.Embeds[0].Timestamp)
	require.Equal(t, 0xd0021b, *p.Embeds[0].Color)
	require.JSONEq(t, `{"parse":[],"replied_user":false}`, string(p.AllowedMentions))
}

// TestWebhookURLUsedAsGiven: scheme, host, path prefix and query of webhook_url are kept, so a
// proxy or Discord-compatible server works; config thread_id, username and avatar_url apply.
func TestWebhookURLUsedAsGiven(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		path, query string
		cfg         func(*discord.Config)
		wantPath    string
		wantThread  string
	}{
		"plain":             {path: "/api/webhooks/123/" + token, wantPath: "/api/webhooks/123/" + token},
		"versioned":         {path: "/api/v10/webhooks/123/" + token, wantPath: "/api/v10/webhooks/123/" + token},
		"proxy prefix":      {path: "/proxy/discord/api/webhooks/123/" + token, wantPath: "/proxy/discord/api/webhooks/123/" + token},
		"trailing slash":    {path: "/api/webhooks/123/" + token + "/", wantPath: "/api/webhooks/123/" + token},
		"thread in the url": {path: "/api/webhooks/123/" + token, query: "?thread_id=42", wantPath: "/api/webhooks/123/" + token, wantThread: "42"},
		"thread_id config": {path: "/api/webhooks/123/" + token, query: "?thread_id=42", wantPath: "/api/webhooks/123/" + token, wantThread: "77",
			cfg: func(c *discord.Config) { c.ThreadID = "77" }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			opts := []func(*discord.Config){func(c *discord.Config) { c.Username = "Cortex"; c.AvatarURL = "https://example.com/a.png" }}
			if tc.cfg != nil {
				opts = append(opts, tc.cfg)
			}
			n := newNotifier(t, f.srv.URL+tc.path+tc.query, opts...)
			require.NoError(t, n.Notify(context.Background(), render(t, sample(t, event.ScanCompleted))))
			r := f.requests()[0]
			require.Equal(t, tc.wantPath, r.Path)
			require.Equal(t, "true", r.Query.Get("wait"))
			require.Equal(t, tc.wantThread, r.Query.Get("thread_id"))
			p := f.last(t)
			require.Equal(t, "Cortex", p.Username)
			require.Equal(t, "https://example.com/a.png", p.AvatarURL)
		})
	}
}

// TestStatusCodes: every answer the issue lists, classified for the queue, with exactly one
// request each (discordgo's own retries are off).
func TestStatusCodes(t *testing.T) {
	t.Parallel()
	discordErr := func(code int, msg string) string {
		return fmt.Sprintf(`{"message": %q, "code": %d}`, msg, code)
	}
	tests := map[string]struct {
		reply      reply
		ok         bool
		reason     notify.Reason
		retryable  bool
		retryAfter time.Duration
		global     bool
		errText    string
		response   string
	}{
		"200 message":  {reply: reply{Status: 200, Body: `{"id":"1","channel_id":"2"}`}, ok: true},
		"200 not JSON": {reply: reply{Status: 200, Body: `ok`}, ok: true},
		"204":          {reply: reply{Status: 204}, ok: true},
		"400 invalid form body": {
			reply:  reply{Status: 400, Body: `{"message": "Invalid Form Body", "code": 50035, "errors": {"embeds": {"0": {"title": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}]}}}}}`},
			reason: notify.ReasonClientError, errText: "Invalid Form Body (code 50035)", response: "BASE_TYPE_MAX_LENGTH",
		},
		"401": {reply: reply{Status: 401, Body: discordErr(50027, "Invalid Webhook Token")}, reason: notify.ReasonClientError, errText: "Invalid Webhook Token"},
		"403": {reply: reply{Status: 403, Body: discordErr(50013, "Missing Permissions")}, reason: notify.ReasonClientError, errText: "token is not accepted"},
		"404 unknown webhook": {reply: reply{Status: 404, Body: discordErr(10015, "Unknown Webhook")}, reason: notify.ReasonClientError,
			errText: "Unknown Webhook (code 10015) — the webhook is gone"},
		"429 retry_after": {
			reply:  reply{Status: 429, Body: `{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}`, Header: map[string]string{"Retry-After": "2", "X-RateLimit-Scope": "user"}},
			reason: notify.ReasonRateLimited, retryable: true, retryAfter: 1500 * time.Millisecond, errText: "retry after 1.5s",
		},
		"429 global in body": {
			reply:  reply{Status: 429, Body: `{"message": "You are being rate limited.", "retry_after": 0.25, "global": true}`, Header: map[string]string{"Retry-After": "1", "X-RateLimit-Global": "true"}},
			reason: notify.ReasonRateLimited, retryable: true, retryAfter: 250 * time.Millisecond, global: true, errText: "global",
		},
		"429 global header only": {
			reply:  reply{Status: 429, Body: `{"message": "You are being rate limited.", "retry_after": 3}`, Header: map[string]string{"X-RateLimit-Global": "true"}},
			reason: notify.ReasonRateLimited, retryable: true, retryAfter: 3 * time.Second, global: true,
		},
		"429 header only": {
			reply:  reply{Status: 429, Body: `<html>slow down</html>`, Header: map[string]string{"Retry-After": "4"}},
			reason: notify.ReasonRateLimited, retryable: true, retryAfter: 4 * time.Second,
		},
		"500": {reply: reply{Status: 500, Body: `{"message": "500: Internal Server Error", "code": 0}`}, reason: notify.ReasonServerError, retryable: true},
		"502": {reply: reply{Status: 502, Body: `bad gateway`}, reason: notify.ReasonServerError, retryable: true},
		"503 Retry-After": {reply: reply{Status: 503, Header: map[string]string{"Retry-After": "7"}}, reason: notify.ReasonServerError, retryable: true,
			retryAfter: 7 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.script(tc.reply)
			err := newNotifier(t, f.URL()).Notify(context.Background(), render(t, sample(t, event.IssueCritical)))
			require.Len(t, f.requests(), 1, "one request per attempt: no retries inside the adapter")
			if tc.ok {
				require.NoError(t, err)
				return
			}
			de := deliveryError(t, err)
			require.Equal(t, tc.reply.Status, de.StatusCode)
			require.Equal(t, tc.reason, de.Reason)
			require.Equal(t, tc.retryable, de.Retryable)
			require.Equal(t, tc.retryAfter, de.RetryAfter)
			require.Equal(t, tc.global, de.Global)
			require.Contains(t, de.Error(), tc.errText)
			require.Contains(t, de.Response, tc.response)
			require.NotContains(t, de.Error(), token)
		})
	}
}

// TestRateLimit429: Discord's 429 body gives retry_after in fractional seconds; it is the
// RetryAfter, and a global limit is flagged so every Discord target pauses.
func TestRateLimit429(t *testing.T) {
	t.Parallel()
	for _, global := range []bool{false, true} {
		t.Run(fmt.Sprint("global=", global), func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.script(reply{Status: 429, Body: fmt.Sprintf(`{"message":"You are being rate limited.","retry_after":1.5,"global":%t}`, global),
				Header: map[string]string{"Retry-After": "2"}})
			start := time.Now()
			de := deliveryError(t, newNotifier(t, f.URL()).Notify(context.Background(), render(t, sample(t, event.IssueCritical))))
			require.Less(t, time.Since(start), time.Second, "the adapter does not sleep: the queue waits")
			require.Equal(t, notify.ReasonRateLimited, de.Reason)
			require.True(t, de.Retryable)
			require.Equal(t, 1500*time.Millisecond, de.RetryAfter)
			require.Equal(t, global, de.Global)
			require.Len(t, f.requests(), 1)
		})
	}
}

// TestTimeoutIsPossiblyDelivered: a slow Discord is cut off by the attempt's context.
func TestTimeoutIsPossiblyDelivered(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.script(reply{Status: 200, Body: `{}`, Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	de := deliveryError(t, newNotifier(t, f.URL()).Notify(ctx, render(t, sample(t, event.IssueCritical))))
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, notify.ReasonTimeout, de.Reason)
	require.True(t, de.Retryable)
	require.Contains(t, de.Error(), "possibly delivered")
	require.NotContains(t, de.Error(), token)
}

// TestRateLimitHeadersDoNotBlock: discordgo would sleep on X-RateLimit-Remaining: 0 before the
// next request (ignoring the context) and fail on a malformed header; neither happens.
func TestRateLimitHeadersDoNotBlock(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	msg := `{"id":"1","channel_id":"2"}`
	f.script(
		reply{Status: 200, Body: msg, Header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "30", "X-RateLimit-Global": "true"}},
		reply{Status: 200, Body: msg, Header: map[string]string{"X-RateLimit-Remaining": "x", "X-RateLimit-Reset-After": "soon"}},
		reply{Status: 200, Body: msg},
	)
	n := newNotifier(t, f.URL())
	start := time.Now()
	for range 3 {
		require.NoError(t, n.Notify(context.Background(), render(t, sample(t, event.ScanCompleted))))
	}
	require.Less(t, time.Since(start), 2*time.Second)
	require.Len(t, f.requests(), 3)
}

// TestConcurrentNotify: one target's workers send side by side; discordgo's per-URL bucket
// lock does not serialise them.
func TestConcurrentNotify(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	const workers = 4
	var inFlight atomic.Int32
	all := make(chan struct{})
	f.hold = func(r *http.Request) {
		if inFlight.Add(1) == workers {
			close(all)
		}
		select {
		case <-all:
		case <-r.Context().Done():
		}
	}
	n := newNotifier(t, f.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs := make(chan error, workers)
	for range workers {
		go func() { errs <- n.Notify(ctx, render(t, sample(t, event.ScanStarted))) }()
	}
	for range workers {
		require.NoError(t, <-errs, "all requests are in flight at once")
	}
}

// TestCase_C01_DiscordLengthLimits: a 300 × "é" title and a 5 000 × "x" description are cut by
// runes: the title is exactly 256 (255 + "…"), the description at most 4 096, the embeds' total
// at most 6 000, content at most 2 000. A Discord 400 is permanent, with its error recorded.
func TestCase_C01_DiscordLengthLimits(t *testing.T) {
	t.Parallel()
	longTitle, longDesc := strings.Repeat("é", 300), strings.Repeat("x", 5000)

	t.Run("built-in template", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		msg := render(t, issue(t, map[string]any{"title": longTitle, "description": longDesc}))
		require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), msg))
		requireC01(t, f.last(t), "🚨 CRITICAL: ")
	})
	t.Run("adapter alone", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		body, err := json.Marshal(map[string]any{
			"content": strings.Repeat("ü", 3000),
			"embeds": []any{map[string]any{"title": longTitle, "description": longDesc,
				"footer": map[string]any{"text": strings.Repeat("f", 2100)}, "author": map[string]any{"name": strings.Repeat("a", 300)}}},
		})
		require.NoError(t, err)
		msg := adaptertest.Message(t)
		msg.Body = body
		require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), msg))
		p := f.last(t)
		requireC01(t, p, "")
		require.Equal(t, 2000, utf8.RuneCountInString(p.Content))
		require.True(t, strings.HasSuffix(p.Content, "…"))
	})
	t.Run("400 is permanent", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.script(reply{Status: 400, Body: `{"message": "Invalid Form Body", "code": 50035, "errors": {"embeds": {"0": {"description": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]}}}}}`})
		msg := render(t, issue(t, map[string]any{"title": longTitle, "description": longDesc}))
		de := deliveryError(t, newNotifier(t, f.URL()).Notify(context.Background(), msg))
		require.False(t, de.Retryable, "a 400 is permanent: one attempt")
		require.Equal(t, notify.ReasonClientError, de.Reason)
		require.Equal(t, 400, de.StatusCode)
		require.Contains(t, de.Response, "Must be 4096 or fewer in length.", "Discord's error is recorded in the attempt")
		require.Contains(t, de.Error(), "Invalid Form Body")
		require.Len(t, f.requests(), 1)
	})
}

func requireC01(t *testing.T, p wirePayload, titlePrefix string) {
	t.Helper()
	require.Len(t, p.Embeds, 1)
	e := p.Embeds[0]
	require.Equal(t, 256, utf8.RuneCountInString(e.Title), "256 runes, not bytes")
	require.Equal(t, titlePrefix+strings.Repeat("é", 255-utf8.RuneCountInString(titlePrefix))+"…", e.Title)
	require.LessOrEqual(t, utf8.RuneCountInString(e.Description), 4096)
	require.True(t, strings.HasPrefix(e.Description, "xxxx") && strings.HasSuffix(e.Description, "…"))
	require.LessOrEqual(t, e.text(), 6000)
	require.LessOrEqual(t, utf8.RuneCountInString(p.Content), 2000)
	if e.Footer != nil {
		require.LessOrEqual(t, utf8.RuneCountInString(e.Footer.Text), 2048)
	}
	if e.Author != nil {
		require.LessOrEqual(t, utf8.RuneCountInString(e.Author.Name), 256)
	}
}

// TestCase_C03_MentionInjection: whatever the event text or the template says, the payload on
// the wire carries "allowed_mentions":{"parse":[]} (never null, never a list of roles/users)
// and shows the text.
func TestCase_C03_MentionInjection(t *testing.T) {
	t.Parallel()
	title := "user=@everyone role=<@&112233445566778899> @here <!channel>"
	bodies := map[string]func(t *testing.T) *notify.Message{
		"built-in template": func(t *testing.T) *notify.Message {
			return render(t, issue(t, map[string]any{"title": title, "description": "ping <@112233445566778899> @everyone"}))
		},
		"group template": func(t *testing.T) *notify.Message {
			return render(t, issue(t, map[string]any{"title": title}), issue(t, map[string]any{"title": "@here"}))
		},
		"template allows everything": func(t *testing.T) *notify.Message {
			m := adaptertest.Message(t)
			m.Body = []byte(`{"content":"@everyone <@&112233445566778899>","allowed_mentions":{"parse":["everyone","roles","users"],"roles":["112233445566778899"],"users":["1"],"replied_user":true}}`)
			return m
		},
		"template omits allowed_mentions": func(t *testing.T) *notify.Message {
			m := adaptertest.Message(t)
			m.Body = []byte(`{"content":"@here @everyone","embeds":[{"title":"@everyone"}]}`)
			return m
		},
		"template sets parse null": func(t *testing.T) *notify.Message {
			m := adaptertest.Message(t)
			m.Body = []byte(`{"content":"@everyone","allowed_mentions":{"parse":null}}`)
			return m
		},
		"no body (adapter default)": func(t *testing.T) *notify.Message {
			m := adaptertest.Message(t)
			m.Event = issue(t, map[string]any{"title": title})
			m.Events = []*event.Event{m.Event}
			return m
		},
	}
	for name, msg := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), msg(t)))
			raw := string(f.requests()[0].Body)
			require.Contains(t, raw, `"allowed_mentions":{"parse":[]`, "parse is an empty list on the wire")
			var am struct {
				Parse       *[]string `json:"parse"`
				Roles       []string  `json:"roles"`
				Users       []string  `json:"users"`
				RepliedUser bool      `json:"replied_user"`
			}
			require.NoError(t, json.Unmarshal(f.last(t).AllowedMentions, &am))
			require.NotNil(t, am.Parse)
			require.Empty(t, *am.Parse)
			require.Empty(t, am.Roles)
			require.Empty(t, am.Users)
			require.False(t, am.RepliedUser)
			require.Contains(t, raw, "@everyone", "the text is shown, only the ping is off")
		})
	}
}

// TestCase_C07_SecretsNotLeaked: the webhook token appears in no error or recorded answer — not
// for a refused connection, nor when the receiver, a redirect or discordgo echo the URL — and
// not in config errors.
func TestCase_C07_SecretsNotLeaked(t *testing.T) {
	t.Parallel()
	requireClean := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		require.NotContains(t, err.Error(), token)
		require.NotContains(t, fmt.Sprintf("%+v %#v", err, err), token)
		var de *notify.DeliveryError
		if errors.As(err, &de) {
			require.NotContains(t, de.Response, token)
		}
	}
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		n := newNotifier(t, "http://127.0.0.1:1/api/webhooks/1/"+token)
		err := n.Notify(context.Background(), render(t, sample(t, event.IssueCritical)))
		requireClean(t, err)
		de := deliveryError(t, err)
		require.Equal(t, notify.ReasonNetwork, de.Reason)
		require.Contains(t, de.Error(), "http://127.0.0.1:1/<redacted>", "the error names the configured host")
	})
	for _, status := range []int{400, 404, 429, 500} {
		t.Run(fmt.Sprint("echoed by ", status), func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.script(reply{Status: status, Body: fmt.Sprintf(`{"message":"no webhook at /api/webhooks/123/%s","code":10015,"retry_after":1}`, token)})
			requireClean(t, newNotifier(t, f.URL()).Notify(context.Background(), render(t, sample(t, event.IssueCritical))))
		})
	}
	t.Run("redirect", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.script(reply{Status: 301, Header: map[string]string{"Location": f.srv.URL + "/api/v9/webhooks/123/" + token}})
		requireClean(t, newNotifier(t, f.URL()).Notify(context.Background(), render(t, sample(t, event.IssueCritical))))
	})
	t.Run("config errors", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{
			"https://discord.com/api/webhooks/not-a-number/" + token,
			"ftp://discord.com/api/webhooks/1/" + token,
			"https://discord.com/webhooks/1/" + token,
			"https://discord.com/api/webhooks/1/" + token + "/extra",
			"discord.com/api/webhooks/1/" + token,
			"https://discord.com/api/webhooks/1/" + token + "#x",
		} {
			_, err := discord.New(&discord.Config{WebhookURL: notify.Secret(u)}, nil, "test")
			requireClean(t, err)
			require.ErrorContains(t, err, "webhook_url:", u)
		}
	})
}

// TestSamplesAccepted: every sample event, and a group of all of them, rendered by the
// built-in templates is accepted by the fake Discord (which enforces the limits).
func TestSamplesAccepted(t *testing.T) {
	t.Parallel()
	var all []*event.Event
	for _, typ := range samples.Types() {
		all = append(all, sample(t, typ))
	}
	cases := map[string][]*event.Event{"group of all samples": all}
	for _, ev := range all {
		cases[ev.Type] = []*event.Event{ev}
	}
	for name, events := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), render(t, events...)))
			require.Empty(t, f.requests()[0].Problems)
			p := f.last(t)
			require.Len(t, p.Embeds, 1)
			e := p.Embeds[0]
			require.NotEmpty(t, e.Title)
			require.NotNil(t, e.Color)
			require.NotNil(t, e.Footer)
			require.NotEmpty(t, e.Timestamp)
			require.NotEmpty(t, e.Fields)
			require.NotContains(t, string(f.requests()[0].Body), "<no value>")
			if len(events) > 1 {
				require.Len(t, e.Fields, len(events), "one field per event")
				require.Contains(t, e.Title, fmt.Sprintf("%d Cortex events", len(events)))
			}
		})
	}
}

// TestGroupOverflow: 60 findings with 120-character titles become one embed of 25 fields: 24
// listed and "…and 36 more", within every limit.
func TestGroupOverflow(t *testing.T) {
	t.Parallel()
	var events []*event.Event
	for i := range 60 {
		events = append(events, issue(t, map[string]any{"title": fmt.Sprintf("%03d %s", i, strings.Repeat("t", 116)),
			"file": strings.Repeat("d/", 100) + "f.go"}))
	}
	f := newFake(t)
	require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), render(t, events...)))
	require.Empty(t, f.requests()[0].Problems)
	e := f.last(t).Embeds[0]
	require.Len(t, e.Fields, 25)
	require.Equal(t, "…and 36 more", e.Fields[24].Value)
	require.Contains(t, e.Fields[0].Name, "000 ttt")
	require.Contains(t, e.Title, "60 critical issues on acme/api (scan scan\\_1)")
	require.LessOrEqual(t, e.text(), 6000)
}

// TestAdapterKeepsCountWhenDroppingFields: when fields must go to fit 6 000 characters, the
// "…and N more" field still accounts for every item, including a template's own note.
func TestAdapterKeepsCountWhenDroppingFields(t *testing.T) {
	t.Parallel()
	fields := []any{}
	for i := range 24 {
		fields = append(fields, map[string]any{"name": fmt.Sprintf("item %d", i), "value": strings.Repeat("v", 1000)})
	}
	fields = append(fields, map[string]any{"name": "…", "value": "…and 36 more"})
	body, err := json.Marshal(map[string]any{"embeds": []any{map[string]any{"title": "60 findings", "fields": fields}}})
	require.NoError(t, err)
	msg := adaptertest.Message(t)
	msg.Body = body
	f := newFake(t)
	require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), msg))
	e := f.last(t).Embeds[0]
	require.LessOrEqual(t, e.text(), 6000)
	listed := len(e.Fields) - 1
	require.Equal(t, fmt.Sprintf("…and %d more", 60-listed), e.Fields[listed].Value)
}

// TestBodyErrors: a template output that is not a webhook payload, or an empty message, fails
// permanently without a request.
func TestBodyErrors(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not an object": `[1,2]`,
		"wrong type":    `{"embeds":"x"}`,
		"empty message": `{"content":"  ","embeds":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			msg := adaptertest.Message(t)
			msg.Body = []byte(body)
			de := deliveryError(t, newNotifier(t, f.URL()).Notify(context.Background(), msg))
			require.False(t, de.Retryable)
			require.Contains(t, []notify.Reason{notify.ReasonTemplate, notify.ReasonLimit}, de.Reason)
			require.Empty(t, f.requests())
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := "https://discord.com/api/webhooks/123/" + token
	tests := map[string]struct {
		cfg  discord.Config
		want string
	}{
		"valid":               {discord.Config{WebhookURL: notify.Secret(good), Username: "Cortex", AvatarURL: "https://x/a.png", ThreadID: "123"}, ""},
		"empty is disabled":   {discord.Config{}, ""},
		"versioned with v10":  {discord.Config{WebhookURL: "https://discord.com/api/v10/webhooks/123/" + token}, ""},
		"not a webhook":       {discord.Config{WebhookURL: "https://discord.com/channels/1/2"}, "webhook_url: want https://discord.com/api/webhooks/{id}/{token}"},
		"username too long":   {discord.Config{WebhookURL: notify.Secret(good), Username: strings.Repeat("n", 81)}, "username: at most 80"},
		"username discord":    {discord.Config{WebhookURL: notify.Secret(good), Username: "My Discord Bot"}, `username: Discord refuses webhook names containing "discord"`},
		"avatar not absolute": {discord.Config{WebhookURL: notify.Secret(good), AvatarURL: "/a.png"}, "avatar_url: must be an absolute"},
		"thread not an id":    {discord.Config{WebhookURL: notify.Secret(good), ThreadID: "general"}, "thread_id: must be a Discord id"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), token)
		})
	}
	_, err := discord.New(&discord.Config{}, nil, "test")
	require.ErrorContains(t, err, "webhook_url: required")
}

// TestNilBodyDefault: a message without a rendered body still sends a valid embed.
func TestNilBodyDefault(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), adaptertest.Message(t)))
	e := f.last(t).Embeds[0]
	require.Equal(t, `issue.critical: SQL Injection Vulnerability`, e.Title)
	require.Equal(t, "Cortex Bridge · evt_1234567891", e.Footer.Text)
}

// TestRedirectNotFollowedEvenWithAFollowingClient: a client that follows redirects is not
// allowed to: a 3xx is a failure (docs/security.md).
func TestRedirectNotFollowedEvenWithAFollowingClient(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	n, err := discord.New(&discord.Config{WebhookURL: notify.Secret(srv.URL + "/api/webhooks/1/" + token)}, &http.Client{}, "test")
	require.NoError(t, err)
	de := deliveryError(t, n.Notify(context.Background(), adaptertest.Message(t)))
	require.Equal(t, notify.ReasonRedirect, de.Reason)
	require.Equal(t, int32(1), hits.Load())
}

// TestUsesTheGivenClientTransport: requests go through the transport of the client passed to
// New (proxies, TLS settings), not a private one.
func TestUsesTheGivenClientTransport(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	var used atomic.Int32
	base := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return base.RoundTrip(r)
	})}
	n, err := discord.New(&discord.Config{WebhookURL: notify.Secret(f.URL())}, client, "test")
	require.NoError(t, err)
	require.NoError(t, n.Notify(context.Background(), adaptertest.Message(t)))
	require.Equal(t, int32(1), used.Load())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestFakeEnforcesLimits: the fake refuses what Discord refuses, so the tests that rely on it
// can fail.
func TestFakeEnforcesLimits(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	ok := `"allowed_mentions":{"parse":[]}`
	for name, body := range map[string]string{
		"title 257":          `{` + ok + `,"embeds":[{"title":"` + strings.Repeat("é", 257) + `"}]}`,
		"description 4097":   `{` + ok + `,"embeds":[{"description":"` + strings.Repeat("x", 4097) + `"}]}`,
		"26 fields":          `{` + ok + `,"embeds":[{"fields":[` + strings.TrimSuffix(strings.Repeat(`{"name":"n","value":"v"},`, 26), ",") + `]}]}`,
		"total 6001":         `{` + ok + `,"embeds":[{"title":"t","description":"` + strings.Repeat("x", 4000) + `","footer":{"text":"` + strings.Repeat("f", 2000) + `"}}]}`,
		"content 2001":       `{` + ok + `,"content":"` + strings.Repeat("c", 2001) + `"}`,
		"11 embeds":          `{` + ok + `,"embeds":[` + strings.TrimSuffix(strings.Repeat(`{"title":"t"},`, 11), ",") + `]}`,
		"empty field value":  `{` + ok + `,"embeds":[{"fields":[{"name":"n","value":""}]}]}`,
		"parse null":         `{"allowed_mentions":{"parse":null},"content":"x"}`,
		"no allowed_mention": `{"content":"x"}`,
	} {
		resp, err := http.Post(f.URL()+"?wait=true", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
	}
	resp, err := http.Post(f.URL()+"?wait=true", "application/json", strings.NewReader(`{`+ok+`,"content":"x"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestGroupGolden: the built-in group template for every sample at once, as sent on the wire
// (go test ./adapters/discord -run GroupGolden -update rewrites it).
func TestGroupGolden(t *testing.T) {
	t.Parallel()
	var all []*event.Event
	for _, typ := range samples.Types() {
		all = append(all, sample(t, typ))
	}
	f := newFake(t)
	require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), render(t, all...)))
	var got bytes.Buffer
	require.NoError(t, json.Indent(&got, f.requests()[0].Body, "", "  "))
	golden := filepath.Join("testdata", "group.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./adapters/discord -run GroupGolden -update to create it")
	require.Equal(t, string(want), got.String())
}

// TestOddEventsAccepted: an event type outside docs/events.md's table (whose fields are not type-checked) and
// odd values still render into a payload Discord accepts.
func TestOddEventsAccepted(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string]string{
		"unknown type, odd types": `{"event":"deploy.finished","id":"evt_x","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":7,"repo_url":"not a url","score":"high","progress":"most","duration_seconds":"long","file":["a"],"line":3.5,"title":{"a":1},"severity":5,"stage":["x"],"branch":1,"rule_id":2,"cwe":3,"error":4,"description":5}}`,
		"unknown type, no data":   `{"event":"x","id":"evt_y","timestamp":"2026-01-01T00:00:00Z","data":{}}`,
		"link-breaking values":    `{"event":"issue.critical","id":"evt z)","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s","issue_id":"i","severity":"critical","title":"t","repo_url":"https://github.com/o/r) [x](y","file":"a b (1).go","line":1}}`,
		"scan with low score":     `{"event":"scan.completed","id":"evt_s","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s","repo_url":"https://gitlab.com/g/sub/r.git","score":12.5,"issues_count":0,"duration_seconds":0}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev, err := event.Parse([]byte(raw))
			require.NoError(t, err)
			for _, events := range [][]*event.Event{{ev}, {ev, ev}} {
				f := newFake(t)
				require.NoError(t, newNotifier(t, f.URL()).Notify(context.Background(), render(t, events...)))
				require.Empty(t, f.requests()[0].Problems)
			}
		})
	}
}
