package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

func findingTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"FindingsLifecycle":          testFindingsLifecycle,
		"FindingsBaselineModes":      testFindingsBaseline,
		"FindingsBranchesApart":      testFindingsBranches,
		"FindingsUnknownScope":       testFindingsUnknownScope,
		"FindingsComparedOnce":       testFindingsComparedOnce,
		"FindingsRollbackOnCrash":    testFindingsRollback,
		"FindingsStatusAtIngest":     testFindingsStatus,
		"FindingsPrunedAfterFixed":   testFindingsPrune,
		"FindingsEventsLikeIngested": testFindingsEventsStored,
		"FindingsOpenSummary":        testFindingsOpenSummary,
		"FindingsLateIssues":         testFindingsLateIssues,
		"FindingsPostponed":          testFindingsPostponed,
		"FindingsBranchPageComplete": testFindingsBranchPage,
		"FindingsRepoAsTyped":        testFindingsRepoAsTyped,
		"FindingsScopesCounted":      testFindingsScopes,
		"FindingsScopeOfCompletion":  testFindingsScopeOfCompletion,
		"FindingsLaterScanFirst":     testFindingsLaterScanFirst,
	}
}

// issue is one issue.critical of a scan in these tests.
type issue struct {
	title, file string
	line        int
}

// scanRun ingests one scan: scan.started (scope repo and branch), an issue.critical per issue,
// and scan.completed unless failed (then scan.failed), received one second apart from at.
func scanRun(t *testing.T, s Store, p core.FindingsPolicy, scan, repo, branch string, at time.Time, failed bool, issues ...issue) {
	t.Helper()
	n := 0
	next := func(typ string, data map[string]any) core.IngestItem {
		n++
		ev := scanEvent(t, fmt.Sprintf("%s-%d", scan, n), typ, data, 0)
		ev.ReceivedAt = at.Add(time.Duration(n) * time.Second)
		return core.IngestItem{Event: ev}
	}
	items := []core.IngestItem{next(event.ScanStarted, map[string]any{"scan_id": scan, "repo_url": repo, "branch": branch})}
	for i, is := range issues {
		it := next(event.IssueCritical, map[string]any{"scan_id": scan, "issue_id": fmt.Sprint(i), "severity": "critical",
			"title": is.title, "file": is.file, "line": is.line})
		it.Finding = p.FindingOf(it.Event)
		require.NotNil(t, it.Finding)
		items = append(items, it)
	}
	if failed {
		items = append(items, next(event.ScanFailed, map[string]any{"scan_id": scan, "error": "boom"}))
	} else {
		it := next(event.ScanCompleted, map[string]any{"scan_id": scan})
		it.ScanCompleted, it.CompareAt = scan, it.Event.ReceivedAt
		items = append(items, it)
	}
	// Each event in its own commit, as separate requests would mostly be.
	for _, it := range items {
		ingest(t, s, it)
	}
}

// compareDue runs every due comparison as core.FindingsRunner does (without routes), storing the
// derived events, and returns them as "type title" strings, sorted.
func compareDue(t *testing.T, s Store, p core.FindingsPolicy, now time.Time) []string {
	t.Helper()
	var got []string
	due, err := s.DueScans(context.Background(), now, 100)
	require.NoError(t, err)
	for _, ds := range due {
		id := ds.ScanID
		// ok is false while another transaction holds the scan's row. On PostgreSQL that
		// includes one whose context was cancelled (testFindingsRollback): database/sql rolls
		// it back asynchronously, so the row is free a moment later, not at once.
		var ok bool
		for deadline := time.Now().Add(5 * time.Second); !ok && time.Now().Before(deadline); {
			var found []string
			ok, err = s.CompareScan(context.Background(), id, func(c *core.ScanComparison) (*core.ScanResult, error) {
				changed, evs, _, err := p.Compare(c, now)
				if err != nil {
					return nil, err
				}
				res := &core.ScanResult{Findings: changed}
				for _, ev := range evs {
					res.Events = append(res.Events, core.IngestItem{Event: ev})
					found = append(found, ev.Type+" "+ev.Data["title"].(string))
				}
				return res, nil
			})
			require.NoError(t, err)
			if ok {
				got = append(got, found...)
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
		require.True(t, ok, "scan %s compared", id)
	}
	sort.Strings(got)
	return got
}

func findings(t *testing.T, s Store, f core.FindingFilter) map[string]core.Finding {
	t.Helper()
	all, err := s.Findings(context.Background(), f)
	require.NoError(t, err)
	out := map[string]core.Finding{}
	for _, x := range all {
		out[x.Title] = x
	}
	return out
}

const repoA = "https://github.com/acme/payments"

func ptr[T any](v T) *T { return &v }

func testFindingsLifecycle(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	sqli, xss := issue{"SQL injection", "api/user.js", 42}, issue{"XSS", "web/page.js", 7}
	at := t0

	// Scan 1: both new; the same finding twice in one scan counts once.
	scanRun(t, s, p, "s1", repoA, "main", at, false, sqli, xss, sqli)
	require.Equal(t, []string{"finding.new SQL injection", "finding.new XSS"}, compareDue(t, s, p, at.Add(time.Hour)))

	// Scan 2: the lines moved (code above them changed): nothing to say, the line follows.
	at = at.Add(2 * time.Hour)
	scanRun(t, s, p, "s2", repoA, "main", at, false, issue{"SQL injection", "api/user.js", 50}, issue{"XSS", "web/page.js", 9})
	require.Empty(t, compareDue(t, s, p, at.Add(time.Hour)))
	require.EqualValues(t, 50, findings(t, s, core.FindingFilter{})["SQL injection"].Line)

	// Scan 3 failed without the XSS: a failed scan fixes nothing.
	at = at.Add(2 * time.Hour)
	scanRun(t, s, p, "s3", repoA, "main", at, true, sqli)
	require.Empty(t, compareDue(t, s, p, at.Add(time.Hour)))

	// Scan 4 completes without the XSS: fixed, compared with s2 (s3 failed).
	at = at.Add(2 * time.Hour)
	scanRun(t, s, p, "s4", repoA, "main", at, false, sqli)
	require.Equal(t, []string{"finding.fixed XSS"}, compareDue(t, s, p, at.Add(time.Hour)))
	got := findings(t, s, core.FindingFilter{RepoURL: repoA, Branch: ptr("main")})
	require.Equal(t, core.FindingFixed, got["XSS"].State)
	require.Equal(t, "s2", got["XSS"].LastScanID)
	require.Equal(t, core.FindingOpen, got["SQL injection"].State)
	require.Equal(t, "s1", got["SQL injection"].FirstScanID)
	require.Equal(t, "s4", got["SQL injection"].LastScanID)

	// Scan 5: the XSS is back: regressed, not new.
	at = at.Add(2 * time.Hour)
	scanRun(t, s, p, "s5", repoA, "main", at, false, sqli, xss)
	require.Equal(t, []string{"finding.regressed XSS"}, compareDue(t, s, p, at.Add(time.Hour)))
	got = findings(t, s, core.FindingFilter{State: core.FindingRegressed})
	require.Len(t, got, 1)
	require.True(t, got["XSS"].FixedAt.IsZero())
	require.Len(t, findings(t, s, core.FindingFilter{State: core.FindingOpen}), 2, "open lists regressed findings too")
	require.Empty(t, findings(t, s, core.FindingFilter{State: core.FindingFixed}))

	// Scan 6: both fixed.
	at = at.Add(2 * time.Hour)
	scanRun(t, s, p, "s6", repoA, "main", at, false)
	require.Equal(t, []string{"finding.fixed SQL injection", "finding.fixed XSS"}, compareDue(t, s, p, at.Add(time.Hour)))
}

func testFindingsBaseline(t *testing.T, s Store) {
	sqli := issue{"SQL injection", "api/user.js", 42}
	quiet := core.FindingsPolicy{Baseline: core.BaselineQuiet}
	scanRun(t, s, quiet, "q1", repoA, "quiet", t0, false, sqli)
	require.Empty(t, compareDue(t, s, quiet, t0.Add(time.Hour)), "quiet: the first scan sends nothing")
	require.Len(t, findings(t, s, core.FindingFilter{Branch: ptr("quiet")}), 1, "its findings are recorded")
	scanRun(t, s, quiet, "q2", repoA, "quiet", t0.Add(2*time.Hour), false, sqli, issue{"XSS", "x.js", 1})
	require.Equal(t, []string{"finding.new XSS"}, compareDue(t, s, quiet, t0.Add(3*time.Hour)), "later scans notify")

	notify := core.FindingsPolicy{Baseline: core.BaselineNotify}
	scanRun(t, s, notify, "n1", repoA, "notify", t0, false, sqli)
	require.Equal(t, []string{"finding.new SQL injection"}, compareDue(t, s, notify, t0.Add(time.Hour)))
}

func testFindingsBranches(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	sqli := issue{"SQL injection", "api/user.js", 42}
	scanRun(t, s, p, "m1", repoA, "main", t0, false, sqli)
	scanRun(t, s, p, "f1", repoA, "feature", t0, false)
	require.Equal(t, []string{"finding.new SQL injection"}, compareDue(t, s, p, t0.Add(time.Hour)))
	// The feature branch lacking it fixes nothing on main; main's next scan has it: no event.
	scanRun(t, s, p, "f2", repoA, "feature", t0.Add(2*time.Hour), false)
	scanRun(t, s, p, "m2", repoA, "main", t0.Add(2*time.Hour), false, sqli)
	require.Empty(t, compareDue(t, s, p, t0.Add(3*time.Hour)))
	// A finding on the feature branch is new there though main has it.
	scanRun(t, s, p, "f3", repoA, "feature", t0.Add(4*time.Hour), false, sqli)
	require.Equal(t, []string{"finding.new SQL injection"}, compareDue(t, s, p, t0.Add(5*time.Hour)))
	all, err := s.Findings(context.Background(), core.FindingFilter{RepoURL: repoA})
	require.NoError(t, err)
	require.Len(t, all, 2, "one finding per branch")
}

func testFindingsUnknownScope(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	// Only issue.critical and scan.completed, no repository: nothing to compare with; the
	// comparison is done (not retried) and sends nothing.
	ev := scanEvent(t, "i1", event.IssueCritical, map[string]any{"scan_id": "x1", "issue_id": "1", "severity": "critical", "title": "T"}, 0)
	ingest(t, s, core.IngestItem{Event: ev, Finding: p.FindingOf(ev)})
	done := scanEvent(t, "c1", event.ScanCompleted, map[string]any{"scan_id": "x1"}, time.Second)
	ingest(t, s, core.IngestItem{Event: done, ScanCompleted: "x1", CompareAt: done.ReceivedAt})
	require.Empty(t, compareDue(t, s, p, t0.Add(time.Hour)))
	due, err := s.DueScans(context.Background(), t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, due)
	require.Empty(t, findings(t, s, core.FindingFilter{}))
}

func testFindingsComparedOnce(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	scanRun(t, s, p, "s1", repoA, "main", t0, false, issue{"SQL injection", "a.js", 1})
	// Not due before its settle time.
	due, err := s.DueScans(context.Background(), t0, 10)
	require.NoError(t, err)
	require.Empty(t, due)
	// A second scan.completed of the same scan (another event id) queues nothing more.
	again := scanEvent(t, "s1-again", event.ScanCompleted, map[string]any{"scan_id": "s1"}, time.Minute)
	ingest(t, s, core.IngestItem{Event: again, ScanCompleted: "s1", CompareAt: again.ReceivedAt})
	due, err = s.DueScans(context.Background(), t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, []core.DueScan{{ScanID: "s1"}}, due)
	require.Len(t, compareDue(t, s, p, t0.Add(time.Hour)), 1)
	ok, err := s.CompareScan(context.Background(), "s1", func(*core.ScanComparison) (*core.ScanResult, error) {
		t.Fatal("a done comparison runs again")
		return nil, nil
	})
	require.NoError(t, err)
	require.False(t, ok)
}

func testFindingsRollback(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	scanRun(t, s, p, "s1", repoA, "main", t0, false, issue{"SQL injection", "a.js", 1})
	// The process dies in the middle: the comparison is worked out, then the transaction's
	// context ends before its writes. Nothing of it is stored, and it is still due.
	ctx, cancel := context.WithCancel(context.Background())
	_, err := s.CompareScan(ctx, "s1", func(c *core.ScanComparison) (*core.ScanResult, error) {
		changed, evs, _, err := p.Compare(c, t0)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		cancel()
		return &core.ScanResult{Findings: changed, Events: []core.IngestItem{{Event: evs[0]}}}, nil
	})
	require.ErrorIs(t, err, core.ErrUnavailable)
	require.Empty(t, findings(t, s, core.FindingFilter{}), "nothing of a failed comparison is stored")
	require.Equal(t, []string{"finding.new SQL injection"}, compareDue(t, s, p, t0.Add(time.Hour)), "still due, then compared once")
	require.Empty(t, compareDue(t, s, p, t0.Add(2*time.Hour)))

	// An error of the comparison itself rolls back too, and is returned as it is.
	scanRun(t, s, p, "s2", repoA, "main", t0.Add(3*time.Hour), false)
	boom := errors.New("boom")
	_, err = s.CompareScan(context.Background(), "s2", func(*core.ScanComparison) (*core.ScanResult, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
	require.Equal(t, []string{"finding.fixed SQL injection"}, compareDue(t, s, p, t0.Add(4*time.Hour)))
}

func testFindingsStatus(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	status := func(scan string, is issue) string {
		ev := scanEvent(t, "probe", event.IssueCritical, map[string]any{"scan_id": scan, "issue_id": "1", "severity": "critical",
			"title": is.title, "file": is.file, "line": is.line}, 0)
		st, err := s.FindingStatus(context.Background(), scan, p.FindingOf(ev).Fingerprint)
		require.NoError(t, err)
		return st
	}
	sqli, xss := issue{"SQL injection", "a.js", 1}, issue{"XSS", "b.js", 2}
	require.Equal(t, core.FindingStatusUnknown, status("nobody", sqli), "no scan context")
	scanRun(t, s, p, "s1", repoA, "main", t0, false, sqli, xss)
	compareDue(t, s, p, t0.Add(time.Hour))
	scanRun(t, s, p, "s2", repoA, "main", t0.Add(2*time.Hour), false, sqli)
	compareDue(t, s, p, t0.Add(3*time.Hour))
	ingest(t, s, core.IngestItem{Event: scanEvent(t, "s3-start", event.ScanStarted, map[string]any{"scan_id": "s3", "repo_url": repoA, "branch": "main"}, 0)})
	require.Equal(t, core.FindingStatusRecurring, status("s3", issue{"SQL injection", "a.js", 99}), "the line is not part of it")
	require.Equal(t, core.FindingStatusRegressed, status("s3", xss))
	require.Equal(t, core.FindingStatusNew, status("s3", issue{"CSRF", "c.js", 3}))
	ingest(t, s, core.IngestItem{Event: scanEvent(t, "o-start", event.ScanStarted, map[string]any{"scan_id": "o1", "repo_url": repoA, "branch": "other"}, 0)})
	require.Equal(t, core.FindingStatusNew, status("o1", sqli), "another branch is another scope")
}

func testFindingsPrune(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	scanRun(t, s, p, "s1", repoA, "main", t0, false, issue{"A", "a.js", 1}, issue{"B", "b.js", 1})
	compareDue(t, s, p, t0.Add(time.Hour))
	scanRun(t, s, p, "s2", repoA, "main", t0.Add(24*time.Hour), false, issue{"A", "a.js", 1})
	compareDue(t, s, p, t0.Add(25*time.Hour))
	n, err := s.PruneFindings(context.Background(), t0.Add(24*time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "fixed at t0+24h+: not before the cutoff")
	n, err = s.PruneFindings(context.Background(), t0.Add(48*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got := findings(t, s, core.FindingFilter{})
	require.Len(t, got, 1, "open findings are kept however old")
	require.Contains(t, got, "A")
}

func testFindingsEventsStored(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	scanRun(t, s, p, "s1", repoA, "main", t0, false, issue{"SQL injection", "api/user.js", 42})
	var derived *event.Event
	d := delivery("slack", core.StatePending, "")
	_, err := s.CompareScan(context.Background(), "s1", func(c *core.ScanComparison) (*core.ScanResult, error) {
		changed, evs, _, err := p.Compare(c, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Len(t, evs, 1)
		derived = evs[0]
		d.EventID = derived.ID
		return &core.ScanResult{Findings: changed, Events: []core.IngestItem{{Event: derived, Deliveries: []*core.Delivery{d}}}}, nil
	})
	require.NoError(t, err)
	got := claim(t, s, "o", "slack", t0.Add(2*time.Hour), 10)
	require.Len(t, got, 1, "the derived event's delivery is queued like any other")
	ev := got[0].Event
	require.Equal(t, core.EventFindingNew, ev.Type)
	require.Equal(t, derived.ID, ev.ID)
	for k, want := range map[string]any{"repo_url": repoA, "branch": "main", "scan_id": "s1", "previous_scan_id": "",
		"title": "SQL injection", "file": "api/user.js", "line": int64(42), "severity": "critical",
		"first_seen": t0.Add(3 * time.Second).Format(time.RFC3339Nano)} {
		require.Equal(t, want, ev.Data[k], k)
	}
	require.NotEmpty(t, ev.Data["fingerprint"])
}

func testFindingsOpenSummary(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	const repoB = "https://github.com/acme/web"
	scanRun(t, s, p, "a1", repoA, "main", t0, false, issue{"A", "a.js", 1}, issue{"B", "b.js", 1})
	scanRun(t, s, p, "b1", repoB, "main", t0.Add(time.Hour), false, issue{"C", "c.js", 1})
	compareDue(t, s, p, t0.Add(2*time.Hour))
	scanRun(t, s, p, "a2", repoA, "main", t0.Add(3*time.Hour), false, issue{"A", "a.js", 1})
	compareDue(t, s, p, t0.Add(4*time.Hour))
	got, err := s.OpenFindings(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, repoA, got[0].RepoURL, "oldest first")
	require.Equal(t, 1, got[0].Open, "B was fixed")
	require.True(t, got[0].Oldest.Equal(t0.Add(4*time.Second)), "%s", got[0].Oldest)
	require.Equal(t, repoB, got[1].RepoURL)
	got, err = s.OpenFindings(context.Background(), 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
}

// An issue.critical after its scan's scan.completed counts while the comparison waits
// (findings.settle); after the comparison ran it is recorded but changes nothing until the next
// scan (docs/events.md, Findings: order).
func testFindingsLateIssues(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	late := func(scan, id, title string, at time.Time) {
		ev := scanEvent(t, id, event.IssueCritical, map[string]any{"scan_id": scan, "issue_id": id, "severity": "critical",
			"title": title, "file": title + ".js"}, 0)
		ev.ReceivedAt = at
		ingest(t, s, core.IngestItem{Event: ev, Finding: p.FindingOf(ev)})
	}
	scanRun(t, s, p, "s1", repoA, "main", t0, false, issue{"A", "A.js", 1})
	late("s1", "late-before", "B", t0.Add(10*time.Second)) // before the comparison: it counts
	require.Equal(t, []string{"finding.new A", "finding.new B"}, compareDue(t, s, p, t0.Add(time.Hour)))
	late("s1", "late-after", "C", t0.Add(2*time.Hour)) // after it: recorded for s1, compared later
	require.Empty(t, compareDue(t, s, p, t0.Add(3*time.Hour)))
	require.NotContains(t, findings(t, s, core.FindingFilter{}), "C")
	scanRun(t, s, p, "s2", repoA, "main", t0.Add(4*time.Hour), false, issue{"A", "A.js", 1}, issue{"B", "B.js", 1}, issue{"C", "C.js", 1})
	require.Equal(t, []string{"finding.new C"}, compareDue(t, s, p, t0.Add(5*time.Hour)))
}

// A failed comparison is postponed: the scan is not due before the time given, then due with
// its failed attempts counted; the other scans stay due meanwhile; a done comparison is not
// revived by a late postponement.
func testFindingsPostponed(t *testing.T, s Store) {
	ctx := context.Background()
	p := core.FindingsPolicy{}
	scanRun(t, s, p, "bad", repoA, "main", t0, false, issue{"A", "a.js", 1})
	scanRun(t, s, p, "good", repoA, "dev", t0, false, issue{"B", "b.js", 1})
	now := t0.Add(time.Hour)
	due, err := s.DueScans(ctx, now, 10)
	require.NoError(t, err)
	require.ElementsMatch(t, []core.DueScan{{ScanID: "bad"}, {ScanID: "good"}}, due)

	next := now.Add(10 * time.Second)
	require.NoError(t, s.PostponeScan(ctx, "bad", 1, next, "boom"))
	due, err = s.DueScans(ctx, next.Add(-time.Millisecond), 10)
	require.NoError(t, err)
	require.Equal(t, []core.DueScan{{ScanID: "good"}}, due, "the postponed scan waits; the other does not")
	require.Equal(t, []string{"finding.new B"}, compareDue(t, s, p, now))

	due, err = s.DueScans(ctx, next, 10)
	require.NoError(t, err)
	require.Equal(t, []core.DueScan{{ScanID: "bad", Attempts: 1}}, due)
	require.NoError(t, s.PostponeScan(ctx, "bad", 2, next.Add(time.Minute), "boom again"))
	due, err = s.DueScans(ctx, next.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Equal(t, []core.DueScan{{ScanID: "bad", Attempts: 2}}, due)

	require.Equal(t, []string{"finding.new A"}, compareDue(t, s, p, next.Add(time.Minute)))
	require.NoError(t, s.PostponeScan(ctx, "bad", 3, next, "late"))
	due, err = s.DueScans(ctx, next.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, due, "a done comparison stays done")
}

// A scan.completed that names the repository (and branch) gives its scan a scope by itself:
// with no scan.started the scan is still compared.
func testFindingsScopeOfCompletion(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	for i, tc := range []struct{ scan, branch string }{{"c1", ""}, {"c2", "release"}} {
		ev := scanEvent(t, tc.scan+"-issue", event.IssueCritical, map[string]any{"scan_id": tc.scan, "issue_id": "1", "severity": "critical",
			"title": "T" + tc.scan, "file": "t.js"}, time.Duration(i)*time.Minute)
		ingest(t, s, core.IngestItem{Event: ev, Finding: p.FindingOf(ev)})
		data := map[string]any{"scan_id": tc.scan, "repo_url": repoA, "status": "completed"}
		if tc.branch != "" {
			data["branch"] = tc.branch
		}
		done := scanEvent(t, tc.scan+"-done", event.ScanCompleted, data, time.Duration(i)*time.Minute+time.Second)
		ingest(t, s, core.IngestItem{Event: done, ScanCompleted: tc.scan, CompareAt: done.ReceivedAt})
	}
	require.Equal(t, []string{"finding.new Tc1", "finding.new Tc2"}, compareDue(t, s, p, t0.Add(time.Hour)))
	got := findings(t, s, core.FindingFilter{RepoURL: repoA})
	require.Equal(t, "", got["Tc1"].Branch, "no branch named: the repository's scope without one")
	require.Equal(t, "release", got["Tc2"].Branch)
}

// titles returns the titles of fs, in order.
func titles(fs []core.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Title
	}
	return out
}

// The branch and status filters are part of the query: with many findings on main, seen last,
// and a limit smaller than their count, the page of another branch (or of the scans that named
// none) still holds all of its findings; a cursor pages through main without gaps or repeats.
func testFindingsBranchPage(t *testing.T, s Store) {
	ctx := context.Background()
	p := core.FindingsPolicy{}
	var many []issue
	for i := range 12 {
		many = append(many, issue{fmt.Sprintf("M%02d", i), fmt.Sprintf("m%d.js", i), 1})
	}
	scanRun(t, s, p, "d1", repoA, "dev", t0, false, issue{"D1", "d1.js", 1}, issue{"D2", "d2.js", 1}, issue{"D3", "d3.js", 1})
	scanRun(t, s, p, "n1", repoA, "", t0.Add(time.Minute), false, issue{"N1", "n1.js", 1}, issue{"N2", "n2.js", 1})
	compareDue(t, s, p, t0.Add(time.Hour))
	scanRun(t, s, p, "d2", repoA, "dev", t0.Add(2*time.Hour), false, issue{"D1", "d1.js", 1}, issue{"D2", "d2.js", 1})
	scanRun(t, s, p, "m1", repoA, "main", t0.Add(3*time.Hour), false, many...)
	compareDue(t, s, p, t0.Add(4*time.Hour))

	list := func(f core.FindingFilter) []string {
		t.Helper()
		fs, err := s.Findings(ctx, f)
		require.NoError(t, err)
		got := titles(fs)
		sort.Strings(got)
		return got
	}
	require.Equal(t, []string{"D1", "D2", "D3"}, list(core.FindingFilter{RepoURL: repoA, Branch: ptr("dev"), Limit: 5}))
	require.Equal(t, []string{"N1", "N2"}, list(core.FindingFilter{RepoURL: repoA, Branch: ptr(""), Limit: 5}),
		"branch \"\" is the scope of scans that named none, not every branch")
	require.Equal(t, []string{"N1", "N2"}, list(core.FindingFilter{Branch: ptr(""), Limit: 5}))
	require.Equal(t, []string{"D3"}, list(core.FindingFilter{RepoURL: repoA, Branch: ptr("dev"), State: core.FindingFixed, Limit: 5}))
	require.Equal(t, []string{"D1", "D2"}, list(core.FindingFilter{RepoURL: repoA, Branch: ptr("dev"), State: core.FindingOpen, Limit: 2}))
	require.Len(t, list(core.FindingFilter{RepoURL: repoA, Limit: 100}), 17, "nil: every branch")

	// A cursor after the last of each page: main's 12 findings in pages of 5, in order.
	var got []string
	f := core.FindingFilter{RepoURL: repoA, Branch: ptr("main"), Limit: 5}
	for range 10 {
		page, err := s.Findings(ctx, f)
		require.NoError(t, err)
		got = append(got, titles(page)...)
		if len(page) < f.Limit {
			break
		}
		k, err := core.ParseFindingCursor(page[len(page)-1].Key().Cursor())
		require.NoError(t, err)
		f.After = k
	}
	var want []string
	for _, is := range many {
		want = append(want, is.title)
	}
	require.Len(t, got, len(want), "each once")
	sort.Strings(got)
	require.Equal(t, want, got, "every one")
}

// The repository filter takes what people type: the URL as stored, with a trailing slash or
// .git, in another case, as an SSH remote, without its scheme, or owner/name (any host).
func testFindingsRepoAsTyped(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	const gitlab, other = "https://gitlab.com/acme/payments", "https://github.com/acme/payments-v2"
	scanRun(t, s, p, "a1", repoA, "main", t0, false, issue{"GH", "a.js", 1})
	scanRun(t, s, p, "g1", gitlab, "main", t0, false, issue{"GL", "a.js", 1})
	scanRun(t, s, p, "o1", other, "main", t0, false, issue{"V2", "a.js", 1})
	compareDue(t, s, p, t0.Add(time.Hour))
	for query, want := range map[string][]string{
		repoA:                                 {"GH"},
		repoA + "/":                           {"GH"},
		repoA + ".git":                        {"GH"},
		"HTTPS://GitHub.com/Acme/Payments":    {"GH"},
		"git@github.com:acme/payments.git":    {"GH"},
		"github.com/acme/payments":            {"GH"},
		"acme/payments":                       {"GH", "GL"},
		gitlab + ".git":                       {"GL"},
		"acme/payments-v2":                    {"V2"},
		"https://github.com/acme/pay":         nil,
		"https://bitbucket.org/acme/payments": nil,
	} {
		fs, err := s.Findings(context.Background(), core.FindingFilter{RepoURL: query, Branch: ptr("main")})
		require.NoError(t, err)
		got := titles(fs)
		sort.Strings(got)
		if want == nil {
			require.Empty(t, got, query)
			continue
		}
		require.Equal(t, want, got, query)
	}
}

// FindingScopes counts every scope's findings by state in the query, most open first, however
// many findings the others have.
func testFindingsScopes(t *testing.T, s Store) {
	p := core.FindingsPolicy{}
	const repoB = "https://github.com/acme/web"
	scanRun(t, s, p, "a1", repoA, "main", t0, false, issue{"A", "a.js", 1}, issue{"B", "b.js", 1}, issue{"C", "c.js", 1})
	scanRun(t, s, p, "b1", repoB, "dev", t0, false, issue{"X", "x.js", 1})
	compareDue(t, s, p, t0.Add(time.Hour))
	scanRun(t, s, p, "a2", repoA, "main", t0.Add(2*time.Hour), false, issue{"A", "a.js", 1})
	compareDue(t, s, p, t0.Add(3*time.Hour))
	scanRun(t, s, p, "a3", repoA, "main", t0.Add(4*time.Hour), false, issue{"A", "a.js", 1}, issue{"B", "b.js", 1})
	compareDue(t, s, p, t0.Add(5*time.Hour))
	got, err := s.FindingScopes(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, core.FindingScope{RepoURL: repoA, Branch: "main", Open: 1, Regressed: 1, Fixed: 1, LastSeen: got[0].LastSeen}, got[0])
	require.Equal(t, core.FindingScope{RepoURL: repoB, Branch: "dev", Open: 1, LastSeen: got[1].LastSeen}, got[1])
	require.True(t, got[0].LastSeen.After(got[1].LastSeen))
	got, err = s.FindingScopes(context.Background(), 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
}

// testFindingsLaterScanFirst: when a scan of a scope is compared after a scan of the same
// scope that completed later (its comparison was postponed, or another replica got the scope
// first), it is not compared: the later state stands, no event turns it back, the scope keeps
// the later scan, and the next scan is compared with that one.
func testFindingsLaterScanFirst(t *testing.T, s Store) {
	ctx := context.Background()
	p := core.FindingsPolicy{}
	sqli, xss := issue{"SQL injection", "api/user.js", 42}, issue{"XSS", "web/page.js", 7}
	scanRun(t, s, p, "o1", repoA, "order", t0, false, sqli, xss)
	require.Equal(t, []string{"finding.new SQL injection", "finding.new XSS"}, compareDue(t, s, p, t0.Add(time.Hour)))

	// o2 (XSS fixed) and o3 (SQL injection fixed too) complete; o3 is compared first.
	scanRun(t, s, p, "o2", repoA, "order", t0.Add(2*time.Hour), false, sqli)
	scanRun(t, s, p, "o3", repoA, "order", t0.Add(3*time.Hour), false)
	var got []string
	ok, err := s.CompareScan(ctx, "o3", func(c *core.ScanComparison) (*core.ScanResult, error) {
		require.False(t, c.Superseded)
		require.Equal(t, "o1", c.PreviousScanID)
		changed, evs, _, err := p.Compare(c, t0.Add(4*time.Hour))
		res := &core.ScanResult{Findings: changed}
		for _, ev := range evs {
			res.Events = append(res.Events, core.IngestItem{Event: ev})
			got = append(got, ev.Type+" "+ev.Data["title"].(string))
		}
		return res, err
	})
	require.NoError(t, err)
	require.True(t, ok)
	require.ElementsMatch(t, []string{"finding.fixed SQL injection", "finding.fixed XSS"}, got)

	// o2 now: superseded, nothing recorded; it is done (not due again).
	ok, err = s.CompareScan(ctx, "o2", func(c *core.ScanComparison) (*core.ScanResult, error) {
		require.True(t, c.Superseded, "o3 completed later and was compared first")
		require.Equal(t, "o3", c.PreviousScanID)
		changed, evs, _, err := p.Compare(c, t0.Add(4*time.Hour))
		require.Empty(t, changed)
		require.Empty(t, evs)
		return &core.ScanResult{}, err
	})
	require.NoError(t, err)
	require.True(t, ok)
	require.Empty(t, compareDue(t, s, p, t0.Add(5*time.Hour)), "o2 is done")
	all := findings(t, s, core.FindingFilter{RepoURL: repoA, Branch: ptr("order")})
	require.Equal(t, core.FindingFixed, all["SQL injection"].State, "o2 did not reopen what o3 fixed")
	require.Equal(t, core.FindingFixed, all["XSS"].State)

	// The next scan is compared with o3, the scope's last.
	scanRun(t, s, p, "o4", repoA, "order", t0.Add(6*time.Hour), false, xss)
	require.Equal(t, []string{"finding.regressed XSS"}, compareDue(t, s, p, t0.Add(7*time.Hour)))
}
