package slack_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/notify"
)

func TestSigningSecretOnlyWithToken(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		cfg  slack.Config
		want string
	}{
		"bot token":        {slack.Config{Token: "xoxb-1", Channel: "#c", SigningSecret: "s"}, ""},
		"incoming webhook": {slack.Config{WebhookURL: "https://hooks.slack.com/services/T/B/X", SigningSecret: "s"}, "signing_secret: only with token"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "/T/B/X")
		})
	}
}

// TestButtonsOnlyWhereTheyWork: buttons go on single Cortex events sent in bot-token mode with
// a signing secret; not without the secret, not through incoming webhooks, not on the bridge's
// own alerts.
func TestButtonsOnlyWhereTheyWork(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t)
	withSecret, err := slack.New(&slack.Config{Token: notify.Secret(f.token), Channel: "#c", APIURL: f.apiURL(), SigningSecret: "sign"}, nil, "test")
	require.NoError(t, err)
	tests := map[string]struct {
		n       *slack.Notifier
		typ     string
		buttons bool
	}{
		"bot with secret":  {withSecret, "issue.critical", true},
		"scan event":       {withSecret, "scan.failed", true},
		"bot, no secret":   {botNotifier(t, f, "#c"), "issue.critical", false},
		"incoming webhook": {webhookNotifier(t, f.webhookURL()), "issue.critical", false},
	}
	for name, tt := range tests {
		before := len(f.received())
		require.NoError(t, tt.n.Notify(context.Background(), sampleMessage(t, tt.typ)), name)
		got := f.received()[before]
		raw, _ := json.Marshal(got)
		require.Equal(t, tt.buttons, strings.Contains(string(raw), "cortex_bridge.ack"), name)
	}
	alert := sampleMessage(t, "issue.critical")
	alert.Event.Type = "bridge.delivery_dead"
	before := len(f.received())
	require.NoError(t, withSecret.Notify(context.Background(), alert))
	raw, _ := json.Marshal(f.received()[before])
	require.NotContains(t, string(raw), "cortex_bridge.ack", "the bridge's own alerts get no buttons")
}

// actions records clicks; fail makes them fail.
type actions struct {
	mu    sync.Mutex
	calls []string
	fail  bool
}

func (a *actions) Acknowledge(_ context.Context, eventID, userID, _ string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "ack "+eventID+" "+userID)
	if a.fail {
		return errors.New("storage down")
	}
	return nil
}

func (a *actions) Mute(_ context.Context, eventID, userID, _ string, d time.Duration) (time.Time, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "mute "+eventID+" "+userID+" "+d.String())
	if a.fail {
		return time.Time{}, errors.New("storage down")
	}
	return time.Now().Add(d), nil
}

func signed(t *testing.T, target, secret, body string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":" + body))
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return req
}

// TestInteractionsAnswers: what the endpoint answers and does for each kind of request.
func TestInteractionsAnswers(t *testing.T) {
	t.Parallel()
	resp := newFakeResponseURL(t)
	payload := func(actionID string) string {
		return url.Values{"payload": {`{"type":"block_actions","user":{"id":"U1","name":"alice"},"response_url":"` + resp.srv.URL + `/r",` +
			`"message":{"text":"t","blocks":[]},"actions":[{"action_id":"` + actionID + `","block_id":"cortex_bridge.actions","type":"button","value":"evt_1"}]}`}}.Encode()
	}
	tests := map[string]struct {
		secrets []string
		body    string
		sign    string
		fail    bool
		code    int
		calls   []string
		update  string // what the response_url post holds; "" = no post
	}{
		"ack":             {[]string{"other", "right"}, payload("cortex_bridge.ack"), "right", false, 200, []string{"ack evt_1 U1"}, `"replace_original":true`},
		"mute 7d":         {[]string{"right"}, payload("cortex_bridge.mute.7d"), "right", false, 200, []string{"mute evt_1 U1 168h0m0s"}, "Muted by <@U1> until"},
		"storage down":    {[]string{"right"}, payload("cortex_bridge.ack"), "right", true, 200, []string{"ack evt_1 U1"}, `"response_type":"ephemeral"`},
		"open link":       {[]string{"right"}, payload("cortex_bridge.open"), "right", false, 200, nil, ""},
		"unknown mute":    {[]string{"right"}, payload("cortex_bridge.mute.1y"), "right", false, 200, nil, ""},
		"no secrets":      {nil, payload("cortex_bridge.ack"), "right", false, 401, nil, ""},
		"wrong secret":    {[]string{"right"}, payload("cortex_bridge.ack"), "wrong", false, 401, nil, ""},
		"not a payload":   {[]string{"right"}, "payload=%7Bnope", "right", false, 400, nil, ""},
		"view submission": {[]string{"right"}, url.Values{"payload": {`{"type":"view_submission"}`}}.Encode(), "right", false, 200, nil, ""},
		"over the limit":  {[]string{"right"}, strings.Repeat("a", slack.MaxInteractionBytes+1), "right", false, 413, nil, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			acts := &actions{fail: tt.fail}
			h := &slack.Interactions{Secrets: func() []string { return tt.secrets }, Actions: acts,
				APIURLs: func() []string { return []string{resp.srv.URL + "/api/"} }}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, signed(t, "/slack/interactions", tt.sign, tt.body))
			h.Wait()
			require.Equal(t, tt.code, w.Code, w.Body.String())
			require.Equal(t, tt.calls, acts.calls)
			if tt.update != "" {
				require.True(t, resp.has(tt.update), "response_url got %q", tt.update)
			}
		})
	}
}

// TestInteractionsResponseURLHost: a signed click whose response_url points elsewhere than
// Slack or a configured api_url records the click but posts nothing there.
func TestInteractionsResponseURLHost(t *testing.T) {
	t.Parallel()
	resp := newFakeResponseURL(t)
	body := url.Values{"payload": {`{"type":"block_actions","user":{"id":"U1","name":"alice"},"response_url":"` + resp.srv.URL + `/r",` +
		`"message":{"text":"t","blocks":[]},"actions":[{"action_id":"cortex_bridge.ack","block_id":"cortex_bridge.actions","type":"button","value":"evt_1"}]}`}}.Encode()
	acts := &actions{}
	h := &slack.Interactions{Secrets: func() []string { return []string{"right"} }, Actions: acts,
		APIURLs: func() []string { return []string{"https://slack-proxy.example/api/"} }}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(t, "/slack/interactions", "right", body))
	h.Wait()
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, []string{"ack evt_1 U1"}, acts.calls)
	resp.mu.Lock()
	defer resp.mu.Unlock()
	require.Empty(t, resp.bodies, "nothing is posted to a host that is not Slack's")
}

func TestResponseURLAllowed(t *testing.T) {
	t.Parallel()
	apis := []string{"http://127.0.0.1:8081/api/", "https://proxy.corp.example/slack/api/"}
	tests := map[string]bool{
		"https://hooks.slack.com/actions/T1/1/abc":      true,
		"https://HOOKS.Slack.com/actions/T1/1/abc":      true,
		"https://hooks.slack.com:443/actions/T1/1/abc":  true,
		"https://slack.com/x":                           true,
		"http://hooks.slack.com/actions/T1/1/abc":       false, // not https
		"https://hooks.slack.com:8443/actions":          false, // another port
		"https://hooks.slack.com.evil.example/actions":  false,
		"https://evilslack.com/actions":                 false,
		"http://169.254.169.254/latest/meta-data/":      false,
		"http://127.0.0.1:8081/actions/T1/1/abc":        true, // a configured api_url's host
		"http://127.0.0.1:8082/actions/T1/1/abc":        false,
		"https://127.0.0.1:8081/actions":                false, // the scheme differs
		"https://proxy.corp.example/slack/actions/T1/1": true,
	}
	for raw, want := range tests {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		require.Equal(t, want, slack.ResponseURLAllowed(u, apis), raw)
	}
}

type fakeResponseURL struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newFakeResponseURL(t *testing.T) *fakeResponseURL {
	f := &fakeResponseURL{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, string(b))
		f.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeResponseURL) has(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.bodies {
		var v any
		if json.Unmarshal([]byte(b), &v) != nil {
			continue
		}
		var sb strings.Builder
		enc := json.NewEncoder(&sb)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		if strings.Contains(sb.String(), s) {
			return true
		}
	}
	return false
}

// TestInteractionsAnswerBeforeUpdating: the answer to Slack does not wait for the message
// update: the response_url receiver holds its answer until the click has been answered, and
// records whether that happened first.
func TestInteractionsAnswerBeforeUpdating(t *testing.T) {
	t.Parallel()
	answered := make(chan struct{})
	var answeredFirst atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-answered:
			answeredFirst.Store(true)
		case <-time.After(10 * time.Second): // a handler that waited for us would deadlock
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	body := url.Values{"payload": {`{"type":"block_actions","user":{"id":"U1","name":"alice"},"response_url":"` + srv.URL + `/r",` +
		`"message":{"text":"t","blocks":[]},"actions":[{"action_id":"cortex_bridge.ack","block_id":"cortex_bridge.actions","type":"button","value":"evt_1"}]}`}}.Encode()
	acts := &actions{}
	h := &slack.Interactions{Secrets: func() []string { return []string{"right"} }, Actions: acts,
		APIURLs: func() []string { return []string{srv.URL} }}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(t, "/slack/interactions", "right", body))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, []string{"ack evt_1 U1"}, acts.calls, "recorded before the answer")
	close(answered)
	h.Wait()
	require.True(t, answeredFirst.Load(), "the message was updated after the answer")
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestInteractionsReadNoBodyUnsigned: a request that no configured secret could have signed
// (no signature headers, a stale timestamp, or no signing_secret at all) is refused before any of
// its body is read, so unsigned requests cost no body bytes.
func TestInteractionsReadNoBodyUnsigned(t *testing.T) {
	t.Parallel()
	stale := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	tests := map[string]struct {
		secrets []string
		header  map[string]string
	}{
		"no headers":      {[]string{"right"}, nil},
		"stale timestamp": {[]string{"right"}, map[string]string{"X-Slack-Request-Timestamp": stale, "X-Slack-Signature": "v0=00"}},
		"no secrets":      {nil, map[string]string{"X-Slack-Request-Timestamp": strconv.FormatInt(time.Now().Unix(), 10), "X-Slack-Signature": "v0=00"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := &countingReader{r: strings.NewReader(strings.Repeat("a", slack.MaxInteractionBytes))}
			r := httptest.NewRequest(http.MethodPost, "/slack/interactions", body)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			h := &slack.Interactions{Secrets: func() []string { return tt.secrets }, Actions: &actions{}}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, http.StatusUnauthorized, w.Code)
			require.Zero(t, body.n, "bytes of the body read")
		})
	}
}
