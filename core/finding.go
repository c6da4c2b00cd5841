package core

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/event"
)

// FindingEventPrefix starts the types of the events the bridge derives from comparing scans
// (docs/events.md, "Findings"). Like the bridge's alerts they enter the queue as events,
// routed by the rules; the ingest endpoint refuses them from outside.
const FindingEventPrefix = event.FindingPrefix

// The derived finding event types. Each carries, in data: repo_url, branch, scan_id,
// previous_scan_id ("" for the first completed scan of the scope), fingerprint, title, file,
// line (int, 0 when unknown), severity, first_seen and last_seen (RFC 3339, UTC).
const (
	// EventFindingNew: a finding never seen before in its scope (repository and branch).
	EventFindingNew = event.FindingNew
	// EventFindingFixed: a finding of the previous completed scan that this one lacks.
	EventFindingFixed = event.FindingFixed
	// EventFindingRegressed: a finding that was fixed, present again.
	EventFindingRegressed = event.FindingRegressed
)

// FindingEventTypes lists the derived finding event types.
var FindingEventTypes = []string{EventFindingNew, EventFindingFixed, EventFindingRegressed}

// IsFindingEvent reports whether t is a derived finding event type (prefix "finding.").
func IsFindingEvent(t string) bool { return strings.HasPrefix(t, FindingEventPrefix) }

// The values of finding_status, the rule variable an issue.critical event has at ingest
// (docs/events.md, "Findings").
const (
	FindingStatusNew       = "new"       // the scope has no such finding yet
	FindingStatusRecurring = "recurring" // the finding is open in the scope
	FindingStatusRegressed = "regressed" // the finding was fixed in the scope
	FindingStatusUnknown   = "unknown"   // the scan's scope (repository, branch) is not known yet
)

// The states a stored finding is in (Finding.State).
const (
	FindingOpen      = "open"      // present in the last completed scan
	FindingRegressed = "regressed" // open again after it was fixed
	FindingFixed     = "fixed"     // absent from the last completed scan
)

// Baseline modes (findings.baseline): what the first completed scan of a scope sends.
const (
	BaselineNotify = "notify" // finding.new for each of its findings
	BaselineQuiet  = "quiet"  // nothing; its findings are recorded
)

// Bounds of what a finding keeps of its event's fields, in bytes (cut at a rune boundary):
// every field is attacker-influenced, and findings outlive the events they came from.
const (
	MaxFindingTitleBytes    = 500
	MaxFindingFileBytes     = 1024
	MaxFindingSeverityBytes = 32
	// MaxFingerprintBytes bounds a data.fingerprint sent by Cortex that is kept as it is; a
	// longer one is replaced by its hash.
	MaxFingerprintBytes = 128
)

// MaxFindingEvents is how many derived events one scan completion emits at most; the findings
// beyond it are still recorded (their state changes), the count of events left out is logged.
// It keeps one completion's transaction and its deliveries bounded whatever the scan holds.
const MaxFindingEvents = 1000

// Defaults of FindingsPolicy.
const (
	DefaultFindingsRetention = 90 * 24 * time.Hour // a finding fixed this long is forgotten
	DefaultFindingsSettle    = 5 * time.Second     // a completion waits this long for late findings
)

// FindingsPolicy is the findings: section of the config at run time (docs/configuration.md).
type FindingsPolicy struct {
	// Fingerprint lists the data fields whose values identify a finding within its scope;
	// empty: rule_id (title when the event has none) and file. A data.fingerprint string sent by
	// Cortex wins over both.
	Fingerprint []string
	Baseline    string        // BaselineNotify (default) or BaselineQuiet
	Retention   time.Duration // a finding fixed for longer is forgotten; default DefaultFindingsRetention
	Settle      time.Duration // how long after a scan.completed its comparison runs; default DefaultFindingsSettle
}

// FindingRecord is one finding as an issue.critical event reports it: what ingest stores as
// the scan's membership (bounded by the Max* constants).
type FindingRecord struct {
	ScanID      string
	Fingerprint string
	Title       string
	File        string
	Line        int64 // 0: unknown
	Severity    string
}

// FindingOf returns the finding an issue.critical event reports, or nil for any other event.
func (p FindingsPolicy) FindingOf(ev *event.Event) *FindingRecord {
	if ev.Type != event.IssueCritical {
		return nil
	}
	scan, _ := ev.Data["scan_id"].(string)
	if scan == "" || len(scan) > event.MaxScanIDBytes { // no scan context either (event.ScanOf)
		return nil
	}
	line, _ := ev.Data["line"].(int64)
	return &FindingRecord{
		ScanID:      scan,
		Fingerprint: p.fingerprint(ev.Data),
		Title:       truncateUTF8(str(ev.Data, "title"), MaxFindingTitleBytes),
		File:        truncateUTF8(str(ev.Data, "file"), MaxFindingFileBytes),
		Line:        line,
		Severity:    truncateUTF8(str(ev.Data, "severity"), MaxFindingSeverityBytes),
	}
}

// FingerprintOf returns the fingerprint of the finding ev reports or is about, the rule
// variable fingerprint: for an issue.critical with a scan (FindingOf non-nil) as FindingOf
// computes it; for a derived finding event (finding.*) its data.fingerprint; "" for other
// events, whose findings the bridge does not track. Silences that mute a finding
// (silences.MuteRule) key on it.
func (p FindingsPolicy) FingerprintOf(ev *event.Event) string {
	switch {
	case ev.Fingerprint != "":
		return ev.Fingerprint
	case ev.Type == event.IssueCritical:
		if f := p.FindingOf(ev); f != nil {
			return f.Fingerprint
		}
	case IsFindingEvent(ev.Type):
		return str(ev.Data, "fingerprint")
	}
	return ""
}

// fingerprint identifies a finding within its scope: data.fingerprint when Cortex sent one
// (hashed when longer than MaxFingerprintBytes), else a hash of the configured fields' values
// (FindingsPolicy.Fingerprint) as 32 hex digits. The line is not part of the default, so a
// finding keeps its identity when code above it moves.
func (p FindingsPolicy) fingerprint(data map[string]any) string {
	if fp, ok := data["fingerprint"].(string); ok && fp != "" {
		if len(fp) <= MaxFingerprintBytes && utf8.ValidString(fp) {
			return fp
		}
		return hashParts("fingerprint", fp)
	}
	fields := p.Fingerprint
	var parts []string
	if len(fields) == 0 {
		rule := str(data, "rule_id")
		if rule == "" {
			rule = "title:" + str(data, "title")
		} else {
			rule = "rule:" + rule
		}
		parts = []string{rule, str(data, "file")}
	} else {
		for _, f := range fields {
			parts = append(parts, valueText(data[f]))
		}
	}
	return hashParts(parts...)
}

// hashParts hashes parts, each length-prefixed so ("ab","c") and ("a","bc") differ.
func hashParts(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, s := range parts {
		l := len(s)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// valueText is a data value as fingerprint text: strings as they are, numbers and other values
// in a fixed form, absent as "".
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return "s:" + x
	default:
		b, _ := json.Marshal(x) // maps marshal with sorted keys
		return "j:" + string(b)
	}
}

func str(data map[string]any, name string) string {
	s, _ := data[name].(string)
	return s
}
