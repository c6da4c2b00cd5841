package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/adaptertest"
	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

func webhookNotifier(t *testing.T, url string) *slack.Notifier {
	t.Helper()
	n, err := slack.New(&slack.Config{WebhookURL: notify.Secret(url)}, nil, "test")
	require.NoError(t, err)
	return n
}

func botNotifier(t *testing.T, f *fakeSlack, channel string) *slack.Notifier {
	t.Helper()
	n, err := slack.New(&slack.Config{Token: notify.Secret(f.token), Channel: channel, APIURL: f.apiURL()}, nil, "test")
	require.NoError(t, err)
	return n
}

var target = &core.Target{Name: "security-slack", Type: "slack", Format: notify.FormatJSON, Escape: slack.Type.Escape}

// render renders msg with the built-in templates, as the worker does.
func render(t *testing.T, msg *notify.Message) *notify.Message {
	t.Helper()
	e, err := templates.New("")
	require.NoError(t, err)
	r := &core.Renderer{Engine: e, PublicURL: "https://bridge.example.com"}
	require.NoError(t, r.Render(msg, target, &core.Route{Name: "critical-issues"}))
	return msg
}

func sampleMessage(t *testing.T, typ string) *notify.Message {
	t.Helper()
	b, err := samples.Get(typ)
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return render(t, core.SampleMessage(ev, target, &core.Route{Name: "critical-issues"}))
}

func issueEvent(t *testing.T, id, title string) *event.Event {
	t.Helper()
	b, err := json.Marshal(map[string]any{"event": "issue.critical", "id": id, "timestamp": "2026-01-01T00:00:00Z",
		"data": map[string]any{"scan_id": "scan_1", "issue_id": id, "severity": "critical", "title": title,
			"description": title, "file": "src/" + title + ".go", "line": 7, "repo_url": "https://github.com/o/r"}})
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return ev
}

func TestConformance(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, adaptertest.Suite{
		New: func(t *testing.T, base string) notify.Notifier {
			n := webhookNotifier(t, base+"/services/T000/B000/FAKE-SECRET-123")
			return notifyWithBody{n, sampleMessage(t, event.IssueCritical).Body}
		},
		Secret:  "FAKE-SECRET-123",
		Secrets: []string{"/services/T000/B000/FAKE-SECRET-123"},
	})
}

// TestConformanceBotToken: chat.postMessage with a bot token passes the receiver-echoes-secrets
// case of the suite (Slack's API answers 200 with "ok": false and an error text, which the
// attempt records).
func TestConformanceBotToken(t *testing.T) {
	t.Parallel()
	const token = "xoxb-FAKE-BOT-TOKEN-4821"
	s := adaptertest.Suite{
		New: func(t *testing.T, base string) notify.Notifier {
			n, err := slack.New(&slack.Config{Token: token, Channel: "C123", APIURL: base + "/api/"}, nil, "test")
			require.NoError(t, err)
			return notifyWithBody{n, sampleMessage(t, event.IssueCritical).Body}
		},
		Secret: token,
		Success: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true,"channel":"C123","ts":"1.2"}`))
		},
	}
	s.SecretEchoed(t)
	t.Run("PreviewIsWhatIsSent", func(t *testing.T) { s.PreviewIsWhatIsSent(t) })
}

// notifyWithBody lets the generic suite's messages carry a rendered Slack body.
type notifyWithBody struct {
	n    notify.Notifier
	body []byte
}

func (w notifyWithBody) Notify(ctx context.Context, msg *notify.Message) error {
	m := *msg
	m.Body = w.body
	return w.n.Notify(ctx, &m)
}

func (w notifyWithBody) Preview(ctx context.Context, msg *notify.Message) (*notify.Preview, error) {
	m := *msg
	m.Body = w.body
	return w.n.(notify.Previewer).Preview(ctx, &m)
}

// TestEverySampleFitsSlack: both modes deliver every sample's built-in message and the fake,
// which enforces Slack's limits, accepts it.
func TestEverySampleFitsSlack(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t)
	modes := map[string]*slack.Notifier{"webhook": webhookNotifier(t, f.webhookURL()), "bot": botNotifier(t, f, "C123")}
	for mode, n := range modes {
		for _, typ := range samples.Types() {
			t.Run(mode+"/"+typ, func(t *testing.T) {
				require.NoError(t, n.Notify(context.Background(), sampleMessage(t, typ)))
			})
		}
	}
	got := f.received()
	require.Len(t, got, 2*len(samples.Types()))
	for _, p := range got {
		require.NotEmpty(t, p["text"], "a plain-text fallback for notifications")
		require.NotEmpty(t, p["attachments"])
	}
}

// TestCase_C02_SizeLimits: a group of 60 findings with 120-character titles stays within 50
// blocks and every section limit, and the ones that do not fit are counted in "…and N more".
func TestCase_C02_SizeLimits(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t)
	var events []*event.Event
	for i := range 60 {
		events = append(events, issueEvent(t, fmt.Sprintf("evt_%02d", i), strings.Repeat(string(rune('a'+i%26)), 120)))
	}
	msg := core.SampleMessage(events[0], target, nil)
	msg.Events = events
	render(t, msg)
	require.NoError(t, webhookNotifier(t, f.webhookURL()).Notify(context.Background(), msg))
	p := f.received()[0]
	require.NoError(t, checkLimits(p))
	shown := 0
	var trailer []string
	for _, b := range p["attachments"].([]any)[0].(map[string]any)["blocks"].([]any) {
		blk := b.(map[string]any)
		switch blk["type"] {
		case "section":
			shown++
		case "context":
			trailer = append(trailer, fmt.Sprint(blk["elements"]))
		}
	}
	require.Greater(t, shown, 40)
	require.Contains(t, strings.Join(trailer, " "), fmt.Sprintf("…and %d more", 60-shown), "every finding is accounted for")
	require.Contains(t, p["text"], "60 critical findings in o/r")
}

// TestFitSummarisesWhatDoesNotFit: the adapter fits any template's output, not only the built-ins.
func TestFitSummarisesWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t)
	var blocks []map[string]any
	for i := range 70 {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": fmt.Sprint("item ", i)}})
	}
	fields := []map[string]any{}
	for range 14 {
		fields = append(fields, map[string]any{"type": "mrkdwn", "text": strings.Repeat("é", 2500)})
	}
	blocks[0] = map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Repeat("&amp;", 1000)}, "fields": fields}
	blocks[1] = map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": strings.Repeat("h", 200)}}
	var els []map[string]any
	for range 12 {
		els = append(els, map[string]any{"type": "mrkdwn", "text": "x"})
	}
	blocks[2] = map[string]any{"type": "context", "elements": els}
	body, err := json.Marshal(map[string]any{"text": strings.Repeat("t", 41000), "blocks": blocks})
	require.NoError(t, err)
	msg := adaptertest.Message(t)
	msg.Body = body
	require.NoError(t, webhookNotifier(t, f.webhookURL()).Notify(context.Background(), msg))
	p := f.received()[0]
	require.NoError(t, checkLimits(p))
	got := p["blocks"].([]any)
	require.Len(t, got, 50)
	require.Contains(t, fmt.Sprint(got[49]), "…and 21 more")
	first := got[0].(map[string]any)
	text := first["text"].(map[string]any)["text"].(string)
	require.True(t, strings.HasSuffix(text, "&amp;…"), "a cut never splits an escaped entity: %q", text[len(text)-12:])
	require.LessOrEqual(t, utf8.RuneCountInString(text), 3000)
	require.Greater(t, utf8.RuneCountInString(text), 2990)
	field := first["fields"].([]any)[0].(map[string]any)["text"].(string)
	require.Equal(t, strings.Repeat("é", 1999)+"…", field, "cut by runes, not bytes")
	require.Len(t, first["fields"], 10)
	require.Contains(t, fmt.Sprint(first["fields"]), "…and 5 more")
	require.Equal(t, 150, utf8.RuneCountInString(got[1].(map[string]any)["text"].(map[string]any)["text"].(string)))
	require.Len(t, got[2].(map[string]any)["elements"], 10)
	require.Equal(t, 40000, utf8.RuneCountInString(p["text"].(string)))
	notes := strings.Join(msg.Notes, "; ")
	require.Contains(t, notes, "40000", "what was cut is reported with the limit, for the log: %s", notes)
}

// TestCase_C03_MentionInjection: event text can never ping or link in Slack.
func TestCase_C03_MentionInjection(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t)
	title := "user=@everyone role=<@&112233445566778899> @here <!channel>"
	ev := issueEvent(t, "evt_1", title)
	for _, msg := range []*notify.Message{core.SampleMessage(ev, target, nil), {Event: ev, Events: []*event.Event{ev, ev}}} {
		render(t, msg)
		require.NoError(t, webhookNotifier(t, f.webhookURL()).Notify(context.Background(), msg))
	}
	for _, p := range f.received() {
		raw := strings.Join(mrkdwnTexts(p), "\n")
		require.Contains(t, raw, "&lt;!channel&gt;")
		require.Contains(t, raw, "&lt;@&amp;112233445566778899&gt;")
		for _, s := range mrkdwnTexts(p) {
			require.False(t, pings(s), "unescaped mention in %q", s)
		}
	}
}

// TestCase_C13_Escaping: quotes, newlines and markup survive as text; only & < > are escaped.
func TestCase_C13_Escaping(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t)
	titles := []string{"disk \"full\"\nnext", "a<b & c>", "<script>alert(1)</script>", "O'Brien"}
	for i, title := range titles {
		msg := render(t, core.SampleMessage(issueEvent(t, fmt.Sprint("e", i), title), target, nil))
		require.NoError(t, webhookNotifier(t, f.webhookURL()).Notify(context.Background(), msg))
	}
	for i, p := range f.received() {
		want := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(titles[i])
		require.Contains(t, p["text"], want)
	}
}

// TestPropertyNoPayloadBreaksLimitsOrPings: random titles never give a payload over a limit or
// an unescaped mention.
func TestPropertyNoPayloadBreaksLimitsOrPings(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t)
	n := webhookNotifier(t, f.webhookURL())
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"<", ">", "&", "@", "<!channel>", "<@U123>", "é", "🚨", "\n", "*", "`", "&amp;", "x", " ", "\"", "\\"}
	for i := range 300 {
		var b strings.Builder
		for range rng.IntN(4000) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		ev := issueEvent(t, fmt.Sprint("evt_", i), b.String())
		msg := core.SampleMessage(ev, target, nil)
		if i%5 == 0 {
			for range rng.IntN(80) {
				msg.Events = append(msg.Events, ev)
			}
		}
		render(t, msg)
		require.NoError(t, n.Notify(context.Background(), msg), "case %d", i)
	}
	for i, p := range f.received() {
		require.NoError(t, checkLimits(p), "payload %d", i)
		for _, s := range mrkdwnTexts(p) {
			require.False(t, pings(s), "payload %d: unescaped mention in %q", i, s)
		}
	}
}

func TestWebhookErrorsAreRecorded(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		status    int
		body      string
		retryable bool
	}{
		"invalid_payload":     {400, "invalid_payload", false},
		"action_prohibited":   {403, "action_prohibited", false},
		"no_service":          {404, "no_service", false},
		"channel_is_archived": {410, "channel_is_archived", false},
		"rollup_error":        {500, "rollup_error", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSlack(t)
			f.answer = func(_ int, w http.ResponseWriter, _ bool) bool { http.Error(w, tc.body, tc.status); return true }
			err := webhookNotifier(t, f.webhookURL()).Notify(context.Background(), sampleMessage(t, "scan.failed"))
			var de *notify.DeliveryError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.status, de.StatusCode)
			require.Equal(t, tc.retryable, de.Retryable)
			require.Contains(t, de.Response, tc.body, "Slack's error text is kept for the attempt log")
		})
	}
}

func TestRequestsNameTheBridge(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t)
	for _, n := range []*slack.Notifier{webhookNotifier(t, f.webhookURL()), botNotifier(t, f, "C1")} {
		require.NoError(t, n.Notify(context.Background(), sampleMessage(t, "issue.critical")))
	}
	require.Equal(t, []string{"cortex-bridge/test", "cortex-bridge/test"}, f.userAgents())
}

func TestBotTokenMode(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		answer     func(w http.ResponseWriter)
		retryable  bool
		reason     notify.Reason
		status     int
		response   string
		retryAfter float64
	}{
		"channel_not_found": {answer: func(w http.ResponseWriter) { writeAPI(w, "channel_not_found") }, reason: notify.ReasonClientError, status: 200, response: "channel_not_found"},
		"not_in_channel":    {answer: func(w http.ResponseWriter) { writeAPI(w, "not_in_channel") }, reason: notify.ReasonClientError, status: 200, response: "not_in_channel"},
		"invalid_auth":      {answer: func(w http.ResponseWriter) { writeAPI(w, "invalid_auth") }, reason: notify.ReasonClientError, status: 200, response: "invalid_auth"},
		"ok false ratelimited": {answer: func(w http.ResponseWriter) { writeAPI(w, "ratelimited") }, retryable: true, reason: notify.ReasonRateLimited,
			status: 200, response: "ratelimited"},
		"internal_error": {answer: func(w http.ResponseWriter) { writeAPI(w, "internal_error") }, retryable: true, reason: notify.ReasonServerError, status: 200},
		"429 with Retry-After": {answer: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "4")
			w.WriteHeader(http.StatusTooManyRequests)
		}, retryable: true, reason: notify.ReasonRateLimited, status: 429, retryAfter: 4},
		"503": {answer: func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }, retryable: true, reason: notify.ReasonServerError, status: 503},
		"404": {answer: func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }, reason: notify.ReasonClientError, status: 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSlack(t)
			f.answer = func(_ int, w http.ResponseWriter, _ bool) bool { tc.answer(w); return true }
			err := botNotifier(t, f, "C123").Notify(context.Background(), sampleMessage(t, "issue.critical"))
			var de *notify.DeliveryError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.retryable, de.Retryable)
			require.Equal(t, tc.reason, de.Reason)
			require.Equal(t, tc.status, de.StatusCode)
			if tc.response != "" {
				require.Equal(t, tc.response, de.Response)
			}
			require.InDelta(t, tc.retryAfter, de.RetryAfter.Seconds(), 0.001)
			require.NotContains(t, err.Error(), f.token)
		})
	}
	f := newFakeSlack(t)
	require.NoError(t, botNotifier(t, f, "C123").Notify(context.Background(), sampleMessage(t, "issue.critical")))
	p := f.received()[0]
	require.Equal(t, "C123", p["channel"])
	require.NotEmpty(t, p["attachments"])
}

// TestCase_C07_SecretsNotLeaked: neither the webhook URL's secret nor the bot token appears in
// any error.
func TestCase_C07_SecretsNotLeaked(t *testing.T) {
	t.Parallel()
	msg := sampleMessage(t, "issue.critical")
	err := webhookNotifier(t, "http://127.0.0.1:1/services/T000/B000/FAKE-SECRET-123").Notify(context.Background(), msg)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "FAKE-SECRET-123")
	require.NotContains(t, err.Error(), "B000")

	bot, err := slack.New(&slack.Config{Token: "xoxb-FAKE-SECRET-TOKEN", Channel: "C1", APIURL: "http://127.0.0.1:1/api/"}, nil, "test")
	require.NoError(t, err)
	err = bot.Notify(context.Background(), msg)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "FAKE-SECRET-TOKEN")

	err = (&slack.Config{WebhookURL: "ftp://hooks.slack.com/services/T/B/FAKE-SECRET-123"}).Validate()
	require.Error(t, err)
	require.NotContains(t, err.Error(), "FAKE-SECRET-123")
}

func TestNotifyRejectsNonSlackBody(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t)
	msg := adaptertest.Message(t)
	for _, body := range []string{`[]`, `{}`, `"text"`} {
		msg.Body = []byte(body)
		err := webhookNotifier(t, f.webhookURL()).Notify(context.Background(), msg)
		var de *notify.DeliveryError
		require.ErrorAs(t, err, &de, body)
		require.False(t, de.Retryable)
		require.Equal(t, notify.ReasonTemplate, de.Reason)
	}
	require.Empty(t, f.received())
}

// TestGroupNamesOnlyWhatItsEventsShare: a group's header names the repository and scan only when
// every event has them (the top level is the latest event, not the group's).
func TestGroupNamesOnlyWhatItsEventsShare(t *testing.T) {
	t.Parallel()
	other, err := event.Parse([]byte(`{"event":"issue.critical","id":"e2","timestamp":"2026-01-01T00:00:00Z",` +
		`"data":{"scan_id":"scan_2","issue_id":"i2","severity":"high","title":"t2","repo_url":"https://github.com/o/other"}}`))
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		events []*event.Event
		want   string
		scan   bool
	}{
		"one repository and scan": {[]*event.Event{issueEvent(t, "e1", "a"), issueEvent(t, "e3", "b")}, "2 critical findings in o/r", true},
		"two repositories":        {[]*event.Event{issueEvent(t, "e1", "a"), other}, "2 critical findings:", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msg := core.SampleMessage(tc.events[len(tc.events)-1], target, nil)
			msg.Events = tc.events
			render(t, msg)
			var p struct{ Text string }
			require.NoError(t, json.Unmarshal(msg.Body, &p))
			require.True(t, strings.HasPrefix(p.Text, tc.want), p.Text)
			require.Equal(t, tc.scan, strings.Contains(string(msg.Body), "scan `scan_1`"))
		})
	}
}
