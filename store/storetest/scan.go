package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

func scanTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"ScanContextFromEarlierEvents": testScanContext,
		"ScanContextInOneBatch":        testScanContextOneBatch,
		"ScanContextBounds":            testScanContextBounds,
		"ScanContextPruned":            testScanContextPruned,
	}
}

// scanEvent builds an event of type typ with data, received at t0+after.
func scanEvent(t *testing.T, id, typ string, data map[string]any, after time.Duration) *event.Event {
	t.Helper()
	body, err := json.Marshal(map[string]any{"event": typ, "id": id, "timestamp": "2026-01-02T03:04:05Z", "data": data})
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	ev.ReceivedAt = t0.Add(after)
	return ev
}

func scans(t *testing.T, s Store, ids ...string) map[string]event.Scan {
	t.Helper()
	got, err := s.Scans(context.Background(), ids)
	require.NoError(t, err)
	return got
}

func testScanContext(t *testing.T, s Store) {
	ingest(t, s, core.IngestItem{Event: scanEvent(t, "e1", event.ScanStarted, map[string]any{
		"scan_id": "scan_abc123", "repo_url": "https://github.com/acme/payments", "branch": "main", "commit": "9f2c1e7",
	}, 0)})
	// The Cortex docs' sample issue event: no repo_url, no commit.
	ingest(t, s, core.IngestItem{Event: scanEvent(t, "e2", event.IssueCritical, map[string]any{
		"scan_id": "scan_abc123", "issue_id": "i1", "severity": "critical", "title": "SQLi", "file": "api/user.js", "line": 42,
	}, time.Minute)})
	// A later event naming another repository does not change what the scan said first; a
	// duplicate (same id) records nothing, not even its time.
	ingest(t, s, core.IngestItem{Event: scanEvent(t, "e3", event.ScanCompleted, map[string]any{
		"scan_id": "scan_abc123", "repo_url": "https://evil.example/p",
	}, 2*time.Minute)})
	dup := ingest(t, s, core.IngestItem{Event: scanEvent(t, "e3", event.ScanCompleted, map[string]any{
		"scan_id": "scan_abc123",
	}, time.Hour)})
	require.Equal(t, []bool{true}, dup)
	// Only a time: a scan whose events named nothing else is still recorded.
	ingest(t, s, core.IngestItem{Event: scanEvent(t, "e4", event.ScanProgress, map[string]any{"scan_id": "bare"}, 0)})

	got := scans(t, s, "scan_abc123", "bare", "unknown", "", "scan_abc123")
	require.Equal(t, map[string]event.Scan{
		"scan_abc123": {ID: "scan_abc123", RepoURL: "https://github.com/acme/payments", Branch: "main", Commit: "9f2c1e7",
			FirstSeen: t0, LastSeen: t0.Add(2 * time.Minute)},
		"bare": {ID: "bare", FirstSeen: t0, LastSeen: t0},
	}, got)
	require.Empty(t, scans(t, s))
}

func testScanContextOneBatch(t *testing.T, s Store) {
	// Out of order in one batch: the issue first (no repository), then the start, then an event
	// that names another commit; and an event of another scan between them.
	dup := ingest(t, s,
		core.IngestItem{Event: scanEvent(t, "i", event.IssueCritical, map[string]any{
			"scan_id": "s1", "issue_id": "i1", "severity": "high", "title": "x"}, 3*time.Second)},
		core.IngestItem{Event: scanEvent(t, "o", event.ScanStarted, map[string]any{"scan_id": "s2", "branch": "dev"}, 0)},
		core.IngestItem{Event: scanEvent(t, "st", event.ScanStarted, map[string]any{
			"scan_id": "s1", "repo_url": "https://gitlab.example/g/p", "commit": "aaaa"}, time.Second)},
		core.IngestItem{Event: scanEvent(t, "st", event.ScanStarted, map[string]any{
			"scan_id": "s1", "branch": "ignored: a duplicate in the batch"}, time.Second)},
		core.IngestItem{Event: scanEvent(t, "c", event.ScanCompleted, map[string]any{
			"scan_id": "s1", "commit": "bbbb", "branch": "release"}, 2*time.Second)},
	)
	require.Equal(t, []bool{false, false, false, true, false}, dup)
	require.Equal(t, map[string]event.Scan{
		"s1": {ID: "s1", RepoURL: "https://gitlab.example/g/p", Branch: "release", Commit: "aaaa",
			FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(3 * time.Second)},
		"s2": {ID: "s2", Branch: "dev", FirstSeen: t0, LastSeen: t0},
	}, scans(t, s, "s1", "s2"))
}

func testScanContextBounds(t *testing.T, s Store) {
	long := func(n int) string { return strings.Repeat("a", n) }
	ingest(t, s,
		core.IngestItem{Event: scanEvent(t, "e1", event.ScanStarted, map[string]any{
			"scan_id":  long(event.MaxScanIDBytes + 1),
			"repo_url": "https://github.com/acme/payments"}, 0)},
		core.IngestItem{Event: scanEvent(t, "e2", event.ScanStarted, map[string]any{
			"scan_id":  long(event.MaxScanIDBytes),
			"repo_url": "https://x.example/" + long(event.MaxScanRepoURLBytes),
			"branch":   long(event.MaxScanBranchBytes + 1),
			"commit":   long(event.MaxScanCommitBytes),
		}, 0)},
		core.IngestItem{Event: scanEvent(t, "e3", event.ScanStarted, map[string]any{
			"scan_id": long(event.MaxScanIDBytes), "branch": "main", "repo_url": "https://x.example/r"}, time.Second)},
		// Not strings: not recorded.
		core.IngestItem{Event: scanEvent(t, "e4", "custom.event", map[string]any{"scan_id": 7, "repo_url": "https://y.example"}, 0)},
		core.IngestItem{Event: scanEvent(t, "e5", "custom.event", map[string]any{"scan_id": "s5", "repo_url": []any{"x"}, "commit": "c\x00d"}, 0)},
	)
	got := scans(t, s, long(event.MaxScanIDBytes+1), long(event.MaxScanIDBytes), "7", "s5")
	require.Len(t, got, 2, "an overlong or non-string scan_id records nothing")
	require.Equal(t, event.Scan{ID: long(event.MaxScanIDBytes), RepoURL: "https://x.example/r", Branch: "main",
		Commit: long(event.MaxScanCommitBytes), FirstSeen: t0, LastSeen: t0.Add(time.Second)}, got[long(event.MaxScanIDBytes)],
		"overlong values are not recorded (a later event's are); one at the bound is")
	require.Empty(t, got["s5"].RepoURL)
	require.Contains(t, []string{"c\x00d", "c\uFFFDd"}, got["s5"].Commit, "a NUL byte is stored (PostgreSQL: as U+FFFD)")
}

func testScanContextPruned(t *testing.T, s Store) {
	ingest(t, s,
		core.IngestItem{Event: scanEvent(t, "old", event.ScanStarted, map[string]any{"scan_id": "old", "commit": "1"}, 0)},
		core.IngestItem{Event: scanEvent(t, "new1", event.ScanStarted, map[string]any{"scan_id": "new", "commit": "2"}, 0)},
		core.IngestItem{Event: scanEvent(t, "new2", event.IssueCritical, map[string]any{
			"scan_id": "new", "issue_id": "i", "severity": "low", "title": "t"}, time.Hour)},
	)
	_, err := s.Prune(context.Background(), t0.Add(time.Minute))
	require.NoError(t, err)
	got := scans(t, s, "old", "new")
	require.NotContains(t, got, "old", "a scan whose last event is older than the cutoff goes")
	require.Equal(t, "2", got["new"].Commit, "a scan with a newer event stays, with what its older events told")
}
