package event

import (
	"strings"
	"time"
)

// Scan is the scan context: what the events of one scan (one data.scan_id) said about the
// scan as a whole. Cortex sends the repository, branch and commit in some events of a scan
// (scan.started names all three) and not in others (its own sample issue.critical event has no
// repo_url), so the bridge records them at ingest and a message about any event of the scan can
// show them. The first value an event gave for a field is kept; later events do not change it.
type Scan struct {
	ID        string    // data.scan_id
	RepoURL   string    // data.repo_url; "" if no event of the scan gave one
	Branch    string    // data.branch; "" if unknown
	Commit    string    // data.commit; "" if unknown
	FirstSeen time.Time // the earliest ReceivedAt of the scan's events (UTC)
	LastSeen  time.Time // the latest ReceivedAt of the scan's events (UTC)
}

// Bounds of the scan context, in bytes. A scan_id longer than MaxScanIDBytes records nothing;
// a repo_url, branch or commit longer than its bound is not recorded (cutting it would record
// a different repository, branch or commit). They keep the scans table's rows small whatever an
// event holds: a Git ref name is far below 256 bytes in practice, a commit id is 40 (SHA-1) or
// 64 (SHA-256) hex digits, and URLs of hosted repositories are well under 2 KiB.
const (
	MaxScanIDBytes      = 256
	MaxScanRepoURLBytes = 2048
	MaxScanBranchBytes  = 256
	MaxScanCommitBytes  = 128
)

// ScanOf returns the scan context ev carries: its data.scan_id with the repo_url, branch and
// commit it names (each "" when absent, not a string, or over its bound), FirstSeen and LastSeen
// both ev.ReceivedAt. ok is false when ev has no string scan_id of 1–MaxScanIDBytes bytes, and
// for the events the bridge derives (FindingPrefix): they name the scan they were compared for,
// but are not a sighting of it (their received time is the comparison's).
func ScanOf(ev *Event) (s Scan, ok bool) {
	id := ev.String("scan_id")
	if id == "" || len(id) > MaxScanIDBytes || strings.HasPrefix(ev.Type, FindingPrefix) {
		return Scan{}, false
	}
	bounded := func(name string, max int) string {
		if v := ev.String(name); len(v) <= max {
			return v
		}
		return ""
	}
	s = Scan{
		ID:        id,
		RepoURL:   bounded("repo_url", MaxScanRepoURLBytes),
		Branch:    bounded("branch", MaxScanBranchBytes),
		Commit:    bounded("commit", MaxScanCommitBytes),
		FirstSeen: ev.ReceivedAt.UTC(),
		LastSeen:  ev.ReceivedAt.UTC(),
	}
	return s, true
}
