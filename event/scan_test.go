package event_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
)

func TestScanOf(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name string
		data map[string]any
		want event.Scan
		ok   bool
	}{
		{"scan.started names all", map[string]any{"scan_id": "s", "repo_url": "https://github.com/a/b", "branch": "main", "commit": "abc"},
			event.Scan{ID: "s", RepoURL: "https://github.com/a/b", Branch: "main", Commit: "abc"}, true},
		{"only an id", map[string]any{"scan_id": "s"}, event.Scan{ID: "s"}, true},
		{"no scan_id", map[string]any{"repo_url": "https://github.com/a/b"}, event.Scan{}, false},
		{"empty scan_id", map[string]any{"scan_id": ""}, event.Scan{}, false},
		{"scan_id not a string", map[string]any{"scan_id": 12}, event.Scan{}, false},
		{"scan_id at its bound", map[string]any{"scan_id": long(event.MaxScanIDBytes)}, event.Scan{ID: long(event.MaxScanIDBytes)}, true},
		{"scan_id over its bound", map[string]any{"scan_id": long(event.MaxScanIDBytes + 1), "commit": "abc"}, event.Scan{}, false},
		{"fields over their bounds are left out", map[string]any{"scan_id": "s",
			"repo_url": long(event.MaxScanRepoURLBytes + 1), "branch": long(event.MaxScanBranchBytes + 1), "commit": long(event.MaxScanCommitBytes + 1)},
			event.Scan{ID: "s"}, true},
		{"fields at their bounds are kept", map[string]any{"scan_id": "s",
			"repo_url": long(event.MaxScanRepoURLBytes), "branch": long(event.MaxScanBranchBytes), "commit": long(event.MaxScanCommitBytes)},
			event.Scan{ID: "s", RepoURL: long(event.MaxScanRepoURLBytes), Branch: long(event.MaxScanBranchBytes), Commit: long(event.MaxScanCommitBytes)}, true},
		{"fields not strings", map[string]any{"scan_id": "s", "repo_url": map[string]any{"u": 1}, "branch": []any{"a"}, "commit": 7},
			event.Scan{ID: "s"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body, err := json.Marshal(map[string]any{"event": "custom.scan", "id": "e", "timestamp": "2026-01-01T00:00:00Z", "data": tc.data})
			require.NoError(t, err)
			ev, err := event.Parse(body)
			require.NoError(t, err)
			ev.ReceivedAt = at
			got, ok := event.ScanOf(ev)
			require.Equal(t, tc.ok, ok)
			if tc.ok {
				tc.want.FirstSeen, tc.want.LastSeen = at.UTC(), at.UTC()
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestScanOfDerivedEvents: the bridge's finding.* events name their scan but are not a
// sighting of it: they record no scan context.
func TestScanOfDerivedEvents(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{event.FindingNew, event.FindingFixed, event.FindingRegressed} {
		body, err := json.Marshal(map[string]any{"event": typ, "id": "e", "timestamp": "2026-01-01T00:00:00Z",
			"data": map[string]any{"scan_id": "s", "repo_url": "https://github.com/a/b", "branch": "main"}})
		require.NoError(t, err)
		ev, err := event.Parse(body)
		require.NoError(t, err)
		_, ok := event.ScanOf(ev)
		require.False(t, ok, typ)
	}
}
