package bridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge"
	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// muteFindingConfig posts critical issues to a Slack app (with the buttons) and sends the
// derived finding events to a webhook target.
const muteFindingConfig = `
ingest: {secrets: ["{{.Secret}}"]}
server: {public_url: "https://bridge.example"}
delivery: {timeout: 2s, max_attempts: 2, backoff: {initial: 20ms, max: 50ms}}
findings: {settle: 100ms}
targets:
  - {name: chat, type: slack, token: "xoxb-test-token", channel: "#security", api_url: "{{.Slack}}/api/", signing_secret: "` + slackSigningSecret + `"}
  - {name: hook, type: webhook, url: "{{.Webhook}}/in", secret: "target-secret-0123456789"}
routes:
  - {name: issues, when: 'event == "issue.critical"', targets: [chat]}
  - {name: findings, when: 'event startsWith "finding."', targets: [hook]}
`

// TestMuteFollowsTheFinding: Mute on the Slack message of a critical issue silences that finding
// by its fingerprint: the finding.new of its scan's completion, its issue.critical in a later
// scan and its finding.regressed are recorded as silenced and not sent, while another finding,
// the muted finding's finding.fixed and the same finding in another repository are sent; on
// SQLite and on PostgreSQL.
func TestMuteFollowsTheFinding(t *testing.T) {
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
			b := bridgetest.Start(t, muteFindingConfig, opts...)
			if db == nil {
				db = b.Store
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(b.Logs.String())
				}
			})
			testMuteFollowsTheFinding(t, b, db)
		})
	}
}

func testMuteFollowsTheFinding(t *testing.T, b *bridgetest.Bundle, db *store.DB) {
	slackWebAPI(b)
	ctx := context.Background()
	const repo, other = "https://github.com/acme/payments", "https://github.com/acme/shop"
	sqli, xss := [3]any{"SQL injection", "api/user.js", 42}, [3]any{"XSS", "web/page.js", 7}
	send := func(bodies [][]byte) {
		t.Helper()
		for _, body := range bodies {
			require.Equal(t, "accepted", b.Send(body).Status)
		}
	}
	silenced := func() int {
		var f core.DeliveryFilter
		require.True(t, f.SetStatus("silenced"))
		ds, err := db.Deliveries(ctx, f)
		require.NoError(t, err)
		return len(ds)
	}

	// Scan 1 reports both findings; its issue.critical events (no repo_url, as Cortex sends
	// them) are posted with the buttons. Mute the SQL injection before the scan completes.
	scan1 := scanBodies("scan-1", repo, "main", sqli, xss)
	send(scan1[:len(scan1)-1])
	b.Slack.Wait(t, 2, 10*time.Second)
	messages, _ := slackPosts(b)
	var blocks string
	for _, m := range messages {
		if a := m.Get("attachments"); strings.Contains(a, `"value":"scan-1-issue-0"`) {
			blocks = a
		}
	}
	require.NotEmpty(t, blocks, "the SQL injection's message")
	require.Equal(t, http.StatusOK, sendInteraction(t, b, click(t, b, "cortex_bridge.mute.24h", "scan-1-issue-0", blocks), slackSigningSecret, time.Now()))
	list, err := db.Silences(ctx, core.SilenceFilter{ActiveAt: time.Now()})
	require.NoError(t, err)
	require.Len(t, list, 1)
	sil := list[0]
	require.Contains(t, sil.When, "fingerprint == ")
	require.Contains(t, sil.When, `(repo_url == nil || repo_url == "`+repo+`") && (branch == nil || branch == "main")`, "the scope, from the scan's other events")

	// The completion: finding.new of the muted finding is silenced, the other one's is sent.
	send(scan1[len(scan1)-1:])
	require.Eventually(t, func() bool { return silenced() == 1 }, 15*time.Second, 10*time.Millisecond)
	require.ElementsMatch(t, []string{"finding.new XSS"}, values(findingPosts(t, b.Webhook.Wait(t, 1, 15*time.Second))))

	// Scan 2 lacks it: its finding.fixed is sent (muting a finding does not hide its fix).
	send(scanBodies("scan-2", repo, "main", xss))
	require.ElementsMatch(t, []string{"finding.new XSS", "finding.fixed SQL injection"}, values(findingPosts(t, b.Webhook.Wait(t, 2, 15*time.Second))))

	// Scan 3 has it again: its issue.critical and its finding.regressed are silenced. The same
	// finding in another repository (whose issue names it) is not.
	send(scanBodies("scan-3", repo, "main", sqli, xss))
	otherScan := scanBodies("scan-o", other, "main", sqli)
	var issue map[string]any
	require.NoError(t, json.Unmarshal(otherScan[1], &issue))
	issue["data"].(map[string]any)["repo_url"] = other
	otherScan[1], err = json.Marshal(issue)
	require.NoError(t, err)
	send(otherScan)
	require.Eventually(t, func() bool { return silenced() == 3 }, 15*time.Second, 10*time.Millisecond)
	got := findingPosts(t, b.Webhook.Wait(t, 3, 15*time.Second))
	require.ElementsMatch(t, []string{"finding.new XSS", "finding.fixed SQL injection", "finding.new SQL injection"}, values(got))
	b.WaitIdle(10 * time.Second)
	posts := b.Webhook.Posts()
	require.Len(t, posts, 3, "nothing more was sent")
	for _, p := range posts {
		var ev struct {
			Event string
			Data  struct {
				RepoURL string `json:"repo_url"`
			}
		}
		require.NoError(t, json.Unmarshal(p.Body, &ev))
		if ev.Event == core.EventFindingNew && strings.Contains(string(p.Body), "SQL injection") {
			require.Equal(t, other, ev.Data.RepoURL)
		}
	}
	messages, _ = slackPosts(b)
	var issues []string
	for _, m := range messages {
		a := m.Get("attachments")
		for _, id := range []string{"scan-1-issue-0", "scan-1-issue-1", "scan-2-issue-0", "scan-3-issue-0", "scan-3-issue-1", "scan-o-issue-0"} {
			if strings.Contains(a, `"value":"`+id+`"`) {
				issues = append(issues, id)
			}
		}
	}
	require.ElementsMatch(t, []string{"scan-1-issue-0", "scan-1-issue-1", "scan-2-issue-0", "scan-3-issue-1", "scan-o-issue-0"}, issues,
		"scan 3's SQL injection was not posted")
	metrics := scrape(t, b)
	require.Contains(t, metrics, `cortex_bridge_deliveries_total{outcome="silenced",target="hook"} 2`)
	require.Contains(t, metrics, `cortex_bridge_deliveries_total{outcome="silenced",target="chat"} 1`)
}
