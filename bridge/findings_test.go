package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge"
	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// findingsConfig sends the derived finding events to the webhook and the issues that are not
// recurring to Slack (the route docs/events.md gives).
const findingsConfig = `
ingest: {secrets: ["{{.Secret}}"]}
delivery: {timeout: 2s, max_attempts: 3, backoff: {initial: 20ms, max: 50ms}}
findings: {settle: 100ms}
api:
  keys:
    - {account: sec, key: "sec-admin-key-0123456789abcdef", role: admin}
    - {account: acme, key: "acme-tenant-key-0123456789abcdef"}
targets:
  - {name: hook, type: webhook, url: "{{.Webhook}}/in", secret: "target-secret-0123456789"}
  - {name: chat, type: slack, webhook_url: "{{.Slack}}/services/T/B/X"}
routes:
  - {name: findings, when: 'event startsWith "finding."', targets: [hook]}
  - {name: not-recurring, when: 'event == "issue.critical" && finding_status != "recurring"', targets: [chat]}
`

// scanBodies are the events of one scan: scan.started, one issue.critical per title ("title@file:line"
// is split by issueBody), scan.completed.
func scanBodies(scan, repo, branch string, issues ...[3]any) [][]byte {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	mk := func(typ, id string, data map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{"event": typ, "id": id, "timestamp": now, "data": data})
		return b
	}
	out := [][]byte{mk("scan.started", scan+"-started", map[string]any{"scan_id": scan, "repo_url": repo, "branch": branch})}
	for i, is := range issues {
		out = append(out, mk("issue.critical", fmt.Sprintf("%s-issue-%d", scan, i), map[string]any{
			"scan_id": scan, "issue_id": fmt.Sprint(i), "severity": "critical", "title": is[0], "file": is[1], "line": is[2]}))
	}
	return append(out, mk("scan.completed", scan+"-completed", map[string]any{"scan_id": scan, "repo_url": repo, "status": "completed"}))
}

// findingPosts returns the finding events the receiver got, as "type title" per event id.
func findingPosts(t *testing.T, posts []bridgetest.Post) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range posts {
		var ev struct {
			Event, ID string
			Data      struct{ Title, Branch string }
		}
		require.NoError(t, json.Unmarshal(p.Body, &ev))
		require.NotContains(t, out, ev.ID, "event %s delivered twice", ev.ID)
		out[ev.ID] = ev.Event + " " + ev.Data.Title
	}
	return out
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestFindingsEndToEnd: two scans of one branch; the first reports two findings (both new),
// the second one of them on another line: the other is fixed. issue.critical events get
// finding_status at ingest, so the recurring one is not sent to Slack again.
func TestFindingsEndToEnd(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, findingsConfig)
	const repo = "https://github.com/acme/payments"
	for _, body := range scanBodies("scan-1", repo, "main", [3]any{"SQL injection", "api/user.js", 42}, [3]any{"XSS", "web/page.js", 7}) {
		require.Equal(t, "accepted", b.Send(body).Status)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.Logs.String())
		}
	})
	require.ElementsMatch(t, []string{"finding.new SQL injection", "finding.new XSS"}, values(findingPosts(t, b.Webhook.Wait(t, 2, 15*time.Second))))
	require.Equal(t, 2, b.Slack.Count(), "both issues are new")

	for _, body := range scanBodies("scan-2", repo, "main", [3]any{"SQL injection", "api/user.js", 48}) {
		require.Equal(t, "accepted", b.Send(body).Status)
	}
	got := findingPosts(t, b.Webhook.Wait(t, 3, 15*time.Second))
	require.ElementsMatch(t, []string{"finding.new SQL injection", "finding.new XSS", "finding.fixed XSS"}, values(got))
	var fixed map[string]any
	for _, p := range b.Webhook.Posts() {
		var ev struct {
			Event string
			Data  map[string]any
		}
		require.NoError(t, json.Unmarshal(p.Body, &ev))
		if ev.Event == "finding.fixed" {
			fixed = ev.Data
		}
	}
	require.Equal(t, "scan-2", fixed["scan_id"])
	require.Equal(t, "scan-1", fixed["previous_scan_id"])
	require.Equal(t, "main", fixed["branch"])
	require.Equal(t, repo, fixed["repo_url"])
	b.WaitIdle(10 * time.Second)
	require.Equal(t, 2, b.Slack.Count(), "the recurring SQL injection is not sent again")

	fs, err := b.Store.Findings(context.Background(), core.FindingFilter{})
	require.NoError(t, err)
	require.Len(t, fs, 2)

	// GET /findings: admins only; filters by repository, branch and status.
	page := func(key, query string) (int, []map[string]any, string) {
		req, err := http.NewRequest(http.MethodGet, b.URL+"/findings"+query, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct {
			Data       []map[string]any
			NextCursor string `json:"next_cursor"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Data, out.NextCursor
	}
	get := func(key, query string) (int, []map[string]any) {
		code, data, _ := page(key, query)
		return code, data
	}
	const admin, tenant = "sec-admin-key-0123456789abcdef", "acme-tenant-key-0123456789abcdef"
	code, list := get(admin, "?repo="+url.QueryEscape(repo)+"&branch=main")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, list, 2)
	code, list = get(admin, "?status=fixed")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, list, 1)
	require.Equal(t, "XSS", list[0]["title"])
	require.Equal(t, "scan-1", list[0]["last_scan_id"])
	require.NotEmpty(t, list[0]["fixed_at"])
	code, list = get(admin, "?status=open")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, list, 1)
	require.EqualValues(t, 48, list[0]["line"], "the line follows the latest scan")
	code, list = get(admin, "?branch=dev")
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, list)
	// The repository as people type it; an empty branch is the scans that named none.
	for _, typed := range []string{"acme/payments", repo + "/", repo + ".git", "git@github.com:acme/payments.git"} {
		code, list = get(admin, "?repo="+url.QueryEscape(typed))
		require.Equal(t, http.StatusOK, code)
		require.Len(t, list, 2, typed)
	}
	code, list = get(admin, "?repo=acme/payments&branch=")
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, list, "branch= is the scope without a branch, not every branch")
	// Pages: next_cursor until the last page.
	code, first, next := page(admin, "?limit=1")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, first, 1)
	require.NotEmpty(t, next)
	code, second, last := page(admin, "?limit=1&cursor="+next)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, second, 1)
	require.NotEqual(t, first[0]["fingerprint"], second[0]["fingerprint"])
	require.Empty(t, last, "two findings: no third page")
	code, _ = get(admin, "?cursor=not-a-cursor")
	require.Equal(t, http.StatusUnprocessableEntity, code)
	// Longer than any stored repository or branch: refused, naming the parameter.
	code, _ = get(admin, "?repo="+strings.Repeat("r", event.MaxScanRepoURLBytes+1))
	require.Equal(t, http.StatusUnprocessableEntity, code)
	code, _ = get(admin, "?branch="+strings.Repeat("b", event.MaxScanBranchBytes+1))
	require.Equal(t, http.StatusUnprocessableEntity, code)
	code, _ = get(admin, "?status=gone")
	require.Equal(t, http.StatusUnprocessableEntity, code)
	code, _ = get(tenant, "")
	require.Equal(t, http.StatusForbidden, code)
	code, _ = get("wrong-key", "")
	require.Equal(t, http.StatusUnauthorized, code)
}

// crashingCompares is a store whose first comparisons die half-way, as a process killed in the
// middle would: the comparison is worked out (events routed, deliveries made), then the
// transaction's connection goes away before the commit.
type crashingCompares struct {
	*store.DB
	left atomic.Int32
}

func (c *crashingCompares) CompareScan(ctx context.Context, scanID string, fn func(*core.ScanComparison) (*core.ScanResult, error)) (bool, error) {
	if c.left.Add(-1) < 0 {
		return c.DB.CompareScan(ctx, scanID, fn)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return c.DB.CompareScan(ctx, scanID, func(sc *core.ScanComparison) (*core.ScanResult, error) {
		res, err := fn(sc)
		cancel() // dies before its writes
		return res, err
	})
}

// TestFindingsTwoReplicasPostgres: two bridges on one PostgreSQL database take the events of
// scans of several repositories alternately, and replica A's first comparisons die half-way;
// each derived event is delivered exactly once.
func TestFindingsTwoReplicasPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, "")
	var dbs []*store.DB
	open := func(crashes int32) bridgetest.Option {
		return bridgetest.WithStore(func(*store.DB) bridge.Store {
			db, err := store.Open(context.Background(), "postgres", dsn)
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			dbs = append(dbs, db)
			c := &crashingCompares{DB: db}
			c.left.Store(crashes)
			return c
		})
	}
	a := bridgetest.Start(t, findingsConfig, open(6), bridgetest.WithOwner("replica-a"))
	b := bridgetest.Start(t, findingsConfig, bridgetest.Sharing(a), open(0), bridgetest.WithOwner("replica-b"))
	const repos = 4
	send := func(round int, issues ...[3]any) {
		var wg sync.WaitGroup
		for r := range repos {
			wg.Go(func() {
				repo := fmt.Sprintf("https://github.com/acme/repo-%d", r)
				for i, body := range scanBodies(fmt.Sprintf("r%d-scan-%d", r, round), repo, "main", issues...) {
					to := a
					if (i+r)%2 == 1 {
						to = b
					}
					require.Equal(t, "accepted", to.Send(body).Status)
				}
			})
		}
		wg.Wait()
	}
	send(1, [3]any{"A", "a.js", 1}, [3]any{"B", "b.js", 2})
	a.Webhook.Wait(t, repos*2, 20*time.Second)
	send(2, [3]any{"A", "a.js", 5})
	a.Webhook.Wait(t, repos*3, 20*time.Second)
	send(3, [3]any{"A", "a.js", 5}, [3]any{"B", "b.js", 2})
	a.Webhook.Wait(t, repos*4, 20*time.Second)
	// Every comparison is done and both replicas have delivered all they stored.
	require.Eventually(t, func() bool {
		due, err := dbs[0].DueScans(context.Background(), time.Now().Add(time.Hour), 10)
		return err == nil && len(due) == 0
	}, 20*time.Second, 20*time.Millisecond)
	a.WaitIdle(10 * time.Second)
	b.WaitIdle(10 * time.Second)
	got := findingPosts(t, a.Webhook.Posts())
	require.Len(t, got, repos*4)
	count := map[string]int{}
	for _, v := range got {
		count[v]++
	}
	require.Equal(t, map[string]int{"finding.new A": repos, "finding.new B": repos, "finding.fixed B": repos, "finding.regressed B": repos}, count)
	require.True(t, a.Logs.Contains("findings: comparing a scan failed; will retry"), "replica A's comparisons died")
}

// TestFindingsBaselineQuiet: with findings.baseline: quiet the first completed scan of a
// branch sends nothing (its findings are recorded); the next one sends what changed.
func TestFindingsBaselineQuiet(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, strings.Replace(findingsConfig, "findings: {settle: 100ms}", "findings: {settle: 100ms, baseline: quiet}", 1))
	const repo = "https://github.com/acme/quiet"
	for _, body := range scanBodies("q-1", repo, "main", [3]any{"SQL injection", "api/user.js", 42}) {
		require.Equal(t, "accepted", b.Send(body).Status)
	}
	require.Eventually(t, func() bool {
		fs, err := b.Store.Findings(context.Background(), core.FindingFilter{RepoURL: repo})
		return err == nil && len(fs) == 1
	}, 15*time.Second, 20*time.Millisecond, "the baseline's findings are recorded")
	for _, body := range scanBodies("q-2", repo, "main", [3]any{"SQL injection", "api/user.js", 42}, [3]any{"XSS", "web/page.js", 7}) {
		require.Equal(t, "accepted", b.Send(body).Status)
	}
	got := findingPosts(t, b.Webhook.Wait(t, 1, 15*time.Second))
	b.WaitIdle(10 * time.Second)
	require.Equal(t, []string{"finding.new XSS"}, values(findingPosts(t, b.Webhook.Posts())), "%v", got)
}

// failingScan is a store on which one scan's comparison always fails.
type failingScan struct {
	*store.DB
	bad string
}

func (f *failingScan) CompareScan(ctx context.Context, scanID string, fn func(*core.ScanComparison) (*core.ScanResult, error)) (bool, error) {
	if scanID == f.bad {
		return false, errors.New("this scan cannot be compared")
	}
	return f.DB.CompareScan(ctx, scanID, fn)
}

// TestFindingsOneBadScanDoesNotBlock: a scan whose comparison keeps failing is retried and
// logged, and the scans due after it are still compared.
func TestFindingsOneBadScanDoesNotBlock(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, findingsConfig, bridgetest.WithStore(func(db *store.DB) bridge.Store {
		return &failingScan{DB: db, bad: "bad-1"}
	}))
	for _, body := range scanBodies("bad-1", "https://github.com/acme/bad", "main", [3]any{"A", "a.js", 1}) {
		require.Equal(t, "accepted", b.Send(body).Status)
	}
	for _, body := range scanBodies("good-1", "https://github.com/acme/good", "main", [3]any{"B", "b.js", 1}) {
		require.Equal(t, "accepted", b.Send(body).Status)
	}
	require.Equal(t, []string{"finding.new B"}, values(findingPosts(t, b.Webhook.Wait(t, 1, 15*time.Second))))
	require.Eventually(t, func() bool {
		return b.Logs.Contains(`"msg":"findings: comparing a scan failed; will retry","scan_id":"bad-1","attempt":1`)
	}, 10*time.Second, 20*time.Millisecond)
}

// TestFindingsThroughASilence: a silence mutes the issues and completions of a repository, but
// the scans are still compared: what changed there is recorded and its finding events routed.
func TestFindingsThroughASilence(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, findingsConfig)
	const repo = "https://github.com/acme/muted"
	body := `{"when": "event in [\"issue.critical\", \"scan.completed\"]", "duration": "1h", "comment": "noisy"}`
	req, err := http.NewRequest(http.MethodPost, b.URL+"/silences", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sec-admin-key-0123456789abcdef")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	for _, body := range scanBodies("m-1", repo, "main", [3]any{"SQL injection", "api/user.js", 42}) {
		require.Equal(t, "accepted", b.Send(body).Status)
	}
	require.Equal(t, []string{"finding.new SQL injection"}, values(findingPosts(t, b.Webhook.Wait(t, 1, 15*time.Second))))
	require.Zero(t, b.Slack.Count(), "the silenced issue was not sent")
}
