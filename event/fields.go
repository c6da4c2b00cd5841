package event

// Known event types, as Cortex documents them. Other types are accepted unless ingest.strict_events is set.
const (
	ScanStarted   = "scan.started"
	ScanProgress  = "scan.progress"
	ScanCompleted = "scan.completed"
	ScanFailed    = "scan.failed"
	ScanTimeout   = "scan.timeout"
	IssueCritical = "issue.critical"
)

// The events the bridge derives from comparing scans (docs/events.md, Findings): each type
// starts with FindingPrefix. Defined here, beside Cortex's own, so every package names them
// from one place.
const (
	FindingPrefix    = "finding."
	FindingNew       = "finding.new"       // a finding never seen before in its scope
	FindingFixed     = "finding.fixed"     // in the previous completed scan, absent from this one
	FindingRegressed = "finding.regressed" // fixed before, present again
)

// Types lists the known event types in the order Cortex documents them.
var Types = []string{
	ScanStarted, ScanProgress, ScanCompleted,
	ScanFailed, ScanTimeout, IssueCritical,
}

// IsKnownType reports whether t is one of Types.
func IsKnownType(t string) bool {
	_, ok := eventFields[t]
	return ok
}

// FieldKind is the JSON type a known data field must have.
type FieldKind int

// Field kinds. Numbers are decoded as float64, integers as int64.
const (
	KindString FieldKind = iota
	KindNumber
	KindInt
)

// Field describes one known data field of a Cortex event type: its name, JSON kind and, for numbers, the
// inclusive range it must lie in.
type Field struct {
	Name     string
	Kind     FieldKind
	Min, Max float64 // bounds for KindNumber/KindInt; Max 0 means unbounded above
	HasMin   bool
}

var (
	fScanID       = Field{Name: "scan_id", Kind: KindString}
	fRepoURL      = Field{Name: "repo_url", Kind: KindString}
	fDuration     = Field{Name: "duration_seconds", Kind: KindNumber, HasMin: true}
	fPercent      = func(name string) Field { return Field{Name: name, Kind: KindNumber, HasMin: true, Max: 100} }
	requiredScan  = map[string]bool{"scan_id": true}
	requiredIssue = map[string]bool{"scan_id": true, "issue_id": true, "severity": true, "title": true}
)

type eventSpec struct {
	fields   []Field
	required map[string]bool
}

// eventFields is the table Cortex documents: data fields per event type, required ones marked.
var eventFields = map[string]eventSpec{
	ScanStarted: {required: requiredScan, fields: []Field{
		fScanID, fRepoURL, {Name: "branch", Kind: KindString}, {Name: "commit", Kind: KindString},
	}},
	ScanProgress: {required: requiredScan, fields: []Field{
		fScanID, fRepoURL, fPercent("progress"), {Name: "stage", Kind: KindString},
	}},
	ScanCompleted: {required: requiredScan, fields: []Field{
		fScanID, fRepoURL, {Name: "status", Kind: KindString}, fPercent("score"),
		{Name: "issues_count", Kind: KindInt, HasMin: true}, fDuration,
	}},
	ScanFailed: {required: requiredScan, fields: []Field{
		fScanID, fRepoURL, {Name: "error", Kind: KindString}, fDuration,
	}},
	ScanTimeout: {required: requiredScan, fields: []Field{
		fScanID, fRepoURL, fDuration, {Name: "timeout_seconds", Kind: KindNumber, HasMin: true},
	}},
	IssueCritical: {required: requiredIssue, fields: []Field{
		fScanID, {Name: "issue_id", Kind: KindString}, {Name: "severity", Kind: KindString},
		{Name: "title", Kind: KindString}, {Name: "file", Kind: KindString},
		{Name: "line", Kind: KindInt, HasMin: true, Min: 1}, fRepoURL,
		{Name: "rule_id", Kind: KindString}, {Name: "description", Kind: KindString},
		{Name: "cwe", Kind: KindString},
	}},
}

// ShortcutFields returns every known data field of every event type (each name once, with its
// kind), in a stable order. Rules and templates expose these at top level; a field an event lacks
// is nil there.
func ShortcutFields() []Field {
	seen := map[string]bool{}
	var out []Field
	for _, t := range Types {
		for _, f := range eventFields[t].fields {
			if !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f)
			}
		}
	}
	return out
}
