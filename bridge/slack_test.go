package bridge_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge"
	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/sender"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

const slackSigningSecret = "slack-signing-secret-0123456789"

// toSlackApp is a Slack target in bot-token mode with a signing secret: its messages carry
// the buttons, and clicks come back to /slack/interactions.
const toSlackApp = `
ingest: {secrets: ["{{.Secret}}"]}
server: {public_url: "https://bridge.example"}
delivery: {timeout: 2s, max_attempts: 2, backoff: {initial: 20ms, max: 50ms}}
api:
  keys: [{account: ops, key: "ops-admin-key-0123456789abcdef", role: admin}]
targets:
  - {name: chat, type: slack, token: "xoxb-test-token", channel: "#security", api_url: "{{.Slack}}/api/", signing_secret: "` + slackSigningSecret + `"}
routes:
  - {name: findings, when: 'event == "issue.critical"', targets: [chat]}
`

// slackWebAPI makes b's Slack receiver answer like Slack: chat.postMessage with ok:true, a
// response_url with "ok".
func slackWebAPI(b *bridgetest.Bundle) {
	b.Slack.Answer(func(_ int, w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true,"channel":"C1","ts":"1700000000.000100"}`)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

// slackPosts splits what the Slack receiver got: chat.postMessage forms and response_url bodies.
func slackPosts(b *bridgetest.Bundle) (messages []url.Values, updates []map[string]any) {
	for _, p := range b.Slack.Posts() {
		if p.Path == "/api/chat.postMessage" {
			form, _ := url.ParseQuery(string(p.Body))
			messages = append(messages, form)
			continue
		}
		var m map[string]any
		_ = json.Unmarshal(p.Body, &m)
		updates = append(updates, m)
	}
	return messages, updates
}

// click is a block_actions payload for action on the message whose attachments were posted.
func click(t *testing.T, b *bridgetest.Bundle, actionID, eventID, attachments string) string {
	t.Helper()
	payload := fmt.Sprintf(`{"type":"block_actions","user":{"id":"U0ALICE","username":"alice","name":"alice"},
		"response_url":%q,"message":{"type":"message","text":"finding","attachments":%s},
		"actions":[{"action_id":%q,"block_id":"cortex_bridge.actions","type":"button","value":%q,"action_ts":"1700000001.0001"}]}`,
		b.Slack.URL+"/actions/T1/1/resp", attachments, actionID, eventID)
	return url.Values{"payload": {payload}}.Encode()
}

// sendInteraction posts body to /slack/interactions signed with secret at ts ("" secret: unsigned).
func sendInteraction(t *testing.T, b *bridgetest.Bundle, body, secret string, ts time.Time) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.URL+"/slack/interactions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		stamp := strconv.FormatInt(ts.Unix(), 10)
		mac := hmac.New(sha256.New, []byte(secret))
		_, _ = io.WriteString(mac, "v0:"+stamp+":"+body)
		req.Header.Set("X-Slack-Request-Timestamp", stamp)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// sendFinding posts the sample finding again under a new id (the same finding, another
// occurrence) and returns its id.
func sendFinding(t *testing.T, b *bridgetest.Bundle) (string, int) {
	t.Helper()
	raw, err := samples.Get(event.IssueCritical)
	require.NoError(t, err)
	id := sender.NewEventID()
	body, err := sender.Reissue(raw, id, time.Now())
	require.NoError(t, err)
	res := b.Send(body)
	require.Equal(t, "accepted", res.Status)
	return id, res.Deliveries
}

// TestSlackButtonsAcknowledgeAndMute is the done-when test of the Slack buttons: a message is
// posted with the buttons, refused clicks change nothing, Acknowledge and Mute are recorded and
// update the message through response_url, the next occurrence of the finding is silenced
// (recorded, counted, not sent), and once the silence is removed an occurrence is delivered; on
// SQLite and on PostgreSQL.
func TestSlackButtonsAcknowledgeAndMute(t *testing.T) {
	t.Parallel()
	tests := map[string]func(t *testing.T) (*store.DB, []bridgetest.Option){
		"sqlite": func(*testing.T) (*store.DB, []bridgetest.Option) { return nil, nil },
		"postgres": func(t *testing.T) (*store.DB, []bridgetest.Option) {
			db, err := store.Open(context.Background(), "postgres", pgtest.Schema(t, ""))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			return db, []bridgetest.Option{bridgetest.WithStore(func(*store.DB) bridge.Store { return db })}
		},
	}
	for name, open := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db, opts := open(t)
			b := bridgetest.Start(t, toSlackApp, opts...)
			if db == nil {
				db = b.Store
			}
			testSlackButtons(t, b, db)
		})
	}
}

func testSlackButtons(t *testing.T, b *bridgetest.Bundle, db *store.DB) {
	slackWebAPI(b)
	ctx := context.Background()

	// 1. Post: the message carries Acknowledge, Mute 1h / 24h / 7d and the event page's link.
	first, _ := sendFinding(t, b)
	b.Slack.Wait(t, 1, 10*time.Second)
	messages, _ := slackPosts(b)
	require.Len(t, messages, 1)
	blocks := messages[0].Get("attachments")
	for _, want := range []string{`"action_id":"cortex_bridge.ack"`, `"action_id":"cortex_bridge.mute.1h"`, `"action_id":"cortex_bridge.mute.24h"`,
		`"action_id":"cortex_bridge.mute.7d"`, `"url":"https://bridge.example/events/` + first + `"`, `"value":"` + first + `"`} {
		require.Contains(t, blocks, want)
	}

	// 2. Refused: unsigned, wrongly signed, stale. Each gets 401 and changes nothing.
	mute := click(t, b, "cortex_bridge.mute.24h", first, blocks)
	for name, code := range map[string]int{
		"unsigned":     sendInteraction(t, b, mute, "", time.Now()),
		"wrong secret": sendInteraction(t, b, mute, "another-secret", time.Now()),
		"stale":        sendInteraction(t, b, mute, slackSigningSecret, time.Now().Add(-6*time.Minute)),
		"future":       sendInteraction(t, b, mute, slackSigningSecret, time.Now().Add(6*time.Minute)),
		"body changed": func() int {
			req := click(t, b, "cortex_bridge.ack", first, blocks)
			return sendInteractionTampered(t, b, req, mute)
		}(),
	} {
		require.Equal(t, http.StatusUnauthorized, code, name)
	}
	list, err := db.Silences(ctx, core.SilenceFilter{})
	require.NoError(t, err)
	require.Empty(t, list, "refused clicks create no silence")
	acks, err := db.Acknowledgements(ctx, first)
	require.NoError(t, err)
	require.Empty(t, acks)
	audit, err := db.AuditLog(ctx, "", 0)
	require.NoError(t, err)
	require.Empty(t, audit)
	require.Equal(t, 1, b.Slack.Count(), "refused clicks update no message")
	require.True(t, b.Logs.Contains("refused an interaction request"), "the operator sees refused clicks")

	// 3. Acknowledge: recorded with who and when; the message says so.
	require.Equal(t, http.StatusOK, sendInteraction(t, b, click(t, b, "cortex_bridge.ack", first, blocks), slackSigningSecret, time.Now()))
	acks, err = db.Acknowledgements(ctx, first)
	require.NoError(t, err)
	require.Len(t, acks, 1)
	require.Equal(t, core.Acknowledgement{EventID: first, UserID: "U0ALICE", UserName: "alice", Source: "slack", At: acks[0].At}, acks[0])
	b.Bridge.SlackInteractions().Wait()
	_, updates := slackPosts(b)
	require.Len(t, updates, 1)
	require.Equal(t, true, updates[0]["replace_original"])
	updated := compact(t, updates[0]["attachments"])
	require.Contains(t, updated, "Acknowledged by <@U0ALICE>")
	require.Contains(t, updated, `"cortex_bridge.actions"`, "the buttons stay")
	require.Contains(t, updated, "CRITICAL: SQL Injection Vulnerability", "the finding stays")

	// 4. Mute for 24 h: a silence of this finding; the message says until when.
	require.Equal(t, http.StatusOK, sendInteraction(t, b, mute, slackSigningSecret, time.Now()))
	list, err = db.Silences(ctx, core.SilenceFilter{ActiveAt: time.Now()})
	require.NoError(t, err)
	require.Len(t, list, 1)
	sil := list[0]
	require.Equal(t, http.StatusOK, sendInteraction(t, b, mute, slackSigningSecret, time.Now()), "a double click")
	list, err = db.Silences(ctx, core.SilenceFilter{})
	require.NoError(t, err)
	require.Len(t, list, 1, "a double click mutes once")
	require.Equal(t, "slack:U0ALICE (alice)", sil.CreatedBy)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), sil.ExpiresAt, time.Minute)
	b.Bridge.SlackInteractions().Wait()
	_, updates = slackPosts(b)
	require.Len(t, updates, 3)
	updated = compact(t, updates[2]["attachments"])
	require.Contains(t, updated, "Muted by <@U0ALICE> until "+sil.ExpiresAt.UTC().Format("2006-01-02 15:04"))
	require.NotContains(t, updated, "Acknowledged by", "the status line is replaced")
	audit, err = db.AuditLog(ctx, first, 0)
	require.NoError(t, err)
	require.Equal(t, []string{core.AuditEventMute, core.AuditEventAcknowledge}, []string{audit[0].Action, audit[1].Action})

	// 5. The next occurrence is silenced: recorded as such, counted, not sent.
	second, n := sendFinding(t, b)
	require.Equal(t, 1, n)
	var f core.DeliveryFilter
	require.True(t, f.SetStatus("silenced"))
	silenced, err := db.Deliveries(ctx, f)
	require.NoError(t, err)
	require.Len(t, silenced, 1)
	require.Equal(t, second, silenced[0].EventID)
	require.Contains(t, silenced[0].LastError, sil.ID)
	b.WaitIdle(5 * time.Second)
	messages, _ = slackPosts(b)
	require.Len(t, messages, 1, "the silenced occurrence was not posted")
	require.Contains(t, scrape(t, b), `cortex_bridge_deliveries_total{outcome="silenced",target="chat"} 1`)

	// 6. The silence removed (API), the next occurrence is delivered.
	req, err := http.NewRequest(http.MethodDelete, b.URL+"/silences/"+sil.ID, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer ops-admin-key-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	third, _ := sendFinding(t, b)
	require.Eventually(t, func() bool { m, _ := slackPosts(b); return len(m) == 2 }, 10*time.Second, 5*time.Millisecond)
	messages, _ = slackPosts(b)
	require.Contains(t, messages[1].Get("attachments"), `"value":"`+third+`"`)
	require.False(t, b.Logs.Contains(slackSigningSecret), "the signing secret is never logged")
	require.True(t, b.Logs.Contains(`"action":"event.mute"`), "the audit lines are in the log")
}

// sendInteractionTampered signs signed but sends body: a signature over other bytes.
func sendInteractionTampered(t *testing.T, b *bridgetest.Bundle, signed, body string) int {
	t.Helper()
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(slackSigningSecret))
	_, _ = io.WriteString(mac, "v0:"+stamp+":"+signed)
	req, err := http.NewRequest(http.MethodPost, b.URL+"/slack/interactions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func scrape(t *testing.T, b *bridgetest.Bundle) string {
	t.Helper()
	resp, err := http.Get(b.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(raw)
}

// compact is v as JSON without HTML escapes (Slack's <@U…> mentions stay readable).
func compact(t *testing.T, v any) string {
	t.Helper()
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return sb.String()
}
