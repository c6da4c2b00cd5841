package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
)

const discordToken = "FAKE-DISCORD-TOKEN"

// fakeDiscordHook is a minimal Discord execute-webhook endpoint: it records each POST and answers
// the scripted replies first, then 200 with a message object.
type fakeDiscordHook struct {
	mu      sync.Mutex
	posts   []discordPost
	replies []discordReply
}

type discordPost struct {
	at    time.Time
	path  string
	query string
	body  []byte
}

type discordReply struct {
	status int
	body   string
}

func (f *fakeDiscordHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.posts = append(f.posts, discordPost{time.Now(), r.URL.Path, r.URL.RawQuery, b})
	var rp *discordReply
	if len(f.replies) > 0 {
		rp = &f.replies[0]
		f.replies = f.replies[1:]
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if rp != nil {
		w.WriteHeader(rp.status)
		_, _ = io.WriteString(w, rp.body)
		return
	}
	_, _ = io.WriteString(w, `{"id":"1199000000000000001","channel_id":"1199000000000000000","type":0}`)
}

func (f *fakeDiscordHook) snapshot() []discordPost {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]discordPost(nil), f.posts...)
}

func writeDiscordConfig(t *testing.T, dir, webhookURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
storage: {dsn: %q}
ingest: {secrets: [%q]}
delivery: {timeout: 5s, max_attempts: 3, backoff: {initial: 50ms, max: 10s}}
templates: {dir: %q}
targets:
  - {name: dev-discord, type: discord, webhook_url: %q, username: Cortex Bridge}
routes:
  - {name: critical, when: 'event == "issue.critical"', targets: [dev-discord]}
`, filepath.Join(dir, "bridge.db"), ingestSecret, filepath.Join(dir, "templates"), webhookURL)
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// TestEndToEndDiscord: the seed's issue.critical reaches a Discord webhook once, as one embed
// within Discord's limits, with mentions off; the token stays out of the logs.
func TestEndToEndDiscord(t *testing.T) {
	t.Parallel()
	fake := &fakeDiscordHook{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	var logs bridgetest.Logs
	b := startBridge(t, writeDiscordConfig(t, dir, srv.URL+"/api/webhooks/123/"+discordToken), &logs)

	_, res := sendSample(t, b, "issue.critical", time.Now())
	require.Equal(t, 200, res.StatusCode, res.Message)
	require.Equal(t, 1, res.Deliveries)
	require.Eventually(t, func() bool { return len(fake.snapshot()) == 1 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	posts := fake.snapshot()
	require.Len(t, posts, 1, "delivered exactly once")

	p := posts[0]
	require.Equal(t, "/api/webhooks/123/"+discordToken, p.path)
	require.Equal(t, "wait=true", p.query)
	var payload struct {
		Username        string `json:"username"`
		AllowedMentions *struct {
			Parse *[]string `json:"parse"`
		} `json:"allowed_mentions"`
		Embeds []struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Timestamp   string `json:"timestamp"`
			Color       int    `json:"color"`
			Footer      struct {
				Text string `json:"text"`
			} `json:"footer"`
			Fields []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"fields"`
		} `json:"embeds"`
	}
	require.NoError(t, json.Unmarshal(p.body, &payload), string(p.body))
	require.Equal(t, "Cortex Bridge", payload.Username)
	require.NotNil(t, payload.AllowedMentions)
	require.NotNil(t, payload.AllowedMentions.Parse, `"parse" is [], never null`)
	require.Empty(t, *payload.AllowedMentions.Parse)
	require.Len(t, payload.Embeds, 1)
	e := payload.Embeds[0]
	require.Equal(t, "🚨 CRITICAL: SQL Injection Vulnerability", e.Title)
	require.NotZero(t, e.Color)
	require.Contains(t, e.Footer.Text, "evt_1234567891")
	require.NotEmpty(t, e.Timestamp)
	total := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description) + utf8.RuneCountInString(e.Footer.Text)
	for _, f := range e.Fields {
		require.NotEmpty(t, f.Name)
		require.NotEmpty(t, f.Value)
		total += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
	}
	require.LessOrEqual(t, total, 6000)

	b.stop()
	require.NotContains(t, logs.String(), discordToken)
}

// TestEndToEndDiscordRetryAfter: Discord answers 429 with {"retry_after":1.5} once; the bridge
// tries again after 1.5 s (not after its 50 ms backoff), and the message is delivered once.
func TestEndToEndDiscordRetryAfter(t *testing.T) {
	t.Parallel()
	fake := &fakeDiscordHook{replies: []discordReply{{429, `{"message":"You are being rate limited.","retry_after":1.5,"global":false}`}}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	var logs bridgetest.Logs
	b := startBridge(t, writeDiscordConfig(t, dir, srv.URL+"/api/webhooks/123/"+discordToken), &logs)

	_, res := sendSample(t, b, "issue.critical", time.Now())
	require.Equal(t, 200, res.StatusCode, res.Message)
	require.Eventually(t, func() bool { return len(fake.snapshot()) == 2 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	posts := fake.snapshot()
	require.Len(t, posts, 2, "one 429, one success, nothing more")
	gap := posts[1].at.Sub(posts[0].at)
	t.Logf("second request %s after the first", gap)
	require.GreaterOrEqual(t, gap, 1500*time.Millisecond, "retry_after is honoured")
	require.Less(t, gap, 3*time.Second)
	require.Equal(t, posts[0].body, posts[1].body, "the same message is sent again")

	b.stop()
	require.NotContains(t, logs.String(), discordToken)
}

// TestEndToEndDiscordBadRequestIsPermanent (C01): Discord's 400 is not retried — one attempt,
// although max_attempts is 3 and the backoff 50 ms.
func TestEndToEndDiscordBadRequestIsPermanent(t *testing.T) {
	t.Parallel()
	fake := &fakeDiscordHook{replies: []discordReply{
		{400, `{"message":"Invalid Form Body","code":50035}`}, {400, `{"message":"Invalid Form Body","code":50035}`}, {400, `{}`},
	}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	b := startBridge(t, writeDiscordConfig(t, t.TempDir(), srv.URL+"/api/webhooks/123/"+discordToken), io.Discard)

	_, res := sendSample(t, b, "issue.critical", time.Now())
	require.Equal(t, 200, res.StatusCode, res.Message)
	require.Eventually(t, func() bool { return len(fake.snapshot()) == 1 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(time.Second)
	require.Len(t, fake.snapshot(), 1, "a 400 is permanent: one attempt")
}
