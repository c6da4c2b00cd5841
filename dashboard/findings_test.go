package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// seedScan stores one completed scan of repo and branch with findings (titles; the file is
// the title's) and runs its comparison, as the bridge does.
func seedScan(t *testing.T, b *bundle, scan, repo, branch string, titles ...string) {
	t.Helper()
	ctx := context.Background()
	p := core.FindingsPolicy{}
	mk := func(typ, id string, data map[string]any) *event.Event {
		body, err := json.Marshal(map[string]any{"event": typ, "id": id, "timestamp": "2026-01-02T03:04:05Z", "data": data})
		require.NoError(t, err)
		ev, err := event.Parse(body)
		require.NoError(t, err)
		ev.ReceivedAt = b.clock.Now()
		return ev
	}
	items := []core.IngestItem{{Event: mk("scan.started", scan+"-s", map[string]any{"scan_id": scan, "repo_url": repo, "branch": branch})}}
	for i, title := range titles {
		ev := mk("issue.critical", fmt.Sprintf("%s-%d", scan, i), map[string]any{"scan_id": scan, "issue_id": fmt.Sprint(i),
			"severity": "critical", "title": title, "file": title + ".js", "line": 3})
		items = append(items, core.IngestItem{Event: ev, Finding: p.FindingOf(ev)})
	}
	done := mk("scan.completed", scan+"-c", map[string]any{"scan_id": scan})
	items = append(items, core.IngestItem{Event: done, ScanCompleted: scan, CompareAt: done.ReceivedAt})
	_, err := b.db.Ingest(ctx, items)
	require.NoError(t, err)
	_, err = b.db.CompareScan(ctx, scan, func(c *core.ScanComparison) (*core.ScanResult, error) {
		changed, _, _, err := p.Compare(c, b.clock.Now())
		return &core.ScanResult{Findings: changed}, err
	})
	require.NoError(t, err)
	b.clock.Add(time.Hour)
}

func TestFindingsPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.keys.Set(map[string]string{"acme": acmeKey, "beta": betaKey}, "acme")
	const repo = "https://github.com/acme/payments"
	seedScan(t, b, "s1", repo, "main", "SQLi", "XSS")
	seedScan(t, b, "s2", repo, "main", "SQLi")
	seedScan(t, b, "s3", repo, "main", "SQLi", "XSS")
	seedScan(t, b, "d1", repo, "dev", "<script>alert(1)</script>")
	seedScan(t, b, "n1", repo, "", "Unbranched")

	br := signedIn(t, b, acmeKey)
	a := br.get("/ui/findings")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `href="/ui/findings?branch=main&amp;repo=`+url.QueryEscape(repo)+`"`)
	require.Regexp(t, `(?s)>main</td>\s*<td data-label="Open">1</td>\s*<td data-label="Regressed">1</td>\s*<td data-label="Fixed">0</td>`, a.body)

	a = br.get("/ui/findings?" + url.Values{"repo": {repo}, "branch": {"main"}}.Encode())
	require.Equal(t, http.StatusOK, a.status)
	require.Regexp(t, `(?s)badge warn">regressed</span>.*?XSS.*?badge bad">open</span>.*?SQLi`, a.body, "regressed first")
	require.Contains(t, a.body, `scan <span class="mono">s1</span>`, "first seen in s1")
	require.Contains(t, a.body, `scan <span class="mono">s3</span>`, "last seen in s3")
	require.NotContains(t, a.body, "&lt;script&gt;", "another branch's findings are not listed")

	a = br.get("/ui/findings?" + url.Values{"repo": {repo}, "branch": {"dev"}}.Encode())
	require.Contains(t, a.body, "&lt;script&gt;alert(1)&lt;/script&gt;", "escaped")
	require.NotContains(t, a.body, "<script>alert(1)")
	// The scope of scans that named no branch: its findings only, whatever the others hold.
	a = br.get("/ui/findings?" + url.Values{"repo": {"acme/payments"}, "branch": {""}}.Encode())
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "Unbranched")
	require.NotContains(t, a.body, "SQLi")
	a = br.get("/ui/findings?" + url.Values{"repo": {repo}, "branch": {"main"}, "status": {"fixed"}}.Encode())
	require.Contains(t, a.body, "No findings fixed.")
	require.Equal(t, http.StatusBadRequest, br.get("/ui/findings?status=gone").status)

	require.Contains(t, br.get("/").body, `href="/ui/findings"`, "admins have it in the menu")
	// The event page of an issue links to its repository and branch's findings.
	a = br.get("/events/s1-0")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `href="/ui/findings?branch=main&amp;repo=`+url.QueryEscape(repo)+`">Findings of this repository and branch`)
	require.NotContains(t, br.get("/events/s1-s").body, "Findings of this repository", "a scan.started is not about a finding")
	tenant := signedIn(t, b, betaKey)
	require.Equal(t, http.StatusForbidden, tenant.get("/ui/findings").status, "tenants do not see findings")
	require.NotContains(t, tenant.get("/").body, `href="/ui/findings"`, "nor in the menu")
}
