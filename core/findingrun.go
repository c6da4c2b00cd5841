package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// Finding is one finding of a scope as the store keeps it: the latest values its scans
// reported, its state, and when and in which scans it was seen.
type Finding struct {
	RepoURL, Branch string // the scope
	Fingerprint     string
	Title           string
	File            string
	Line            int64 // 0: unknown
	Severity        string
	State           string    // FindingOpen, FindingRegressed or FindingFixed
	FirstSeen       time.Time // completion of the first scan that had it
	LastSeen        time.Time // completion of the last scan that had it
	FixedAt         time.Time // completion of the scan that fixed it; zero unless fixed
	FirstScanID     string
	LastScanID      string // the last scan that had it
}

// ScanComparison is what a scan's completion is compared from, read in the transaction that
// records its result (FindingStore.CompareScan).
type ScanComparison struct {
	ScanID         string
	CompletedAt    time.Time // when its scan.completed was received
	RepoURL        string    // the scope; "" when the scan's repository and branch are not known
	Branch         string
	PreviousScanID string // the scope's previous completed scan; "": this one is its first
	// Superseded is set when a scan of the scope that completed later has been compared
	// already (this one's comparison failed and was postponed, or another replica got the scope
	// first): comparing it now would turn that later state back, so nothing is compared or
	// recorded and the scope keeps its last scan.
	Superseded bool
	Findings   []FindingRecord // the scan's findings, one per fingerprint
	// Known are the scope's findings that are open, and those fixed that this scan has again.
	Known []Finding
}

// ScanResult is what a comparison records, in the same transaction: the findings changed
// (inserted or replaced by scope and fingerprint) and the derived events, stored with their
// deliveries like ingest stores events.
type ScanResult struct {
	Findings []Finding
	Events   []IngestItem
}

// DueScan is a scan whose comparison is due (FindingStore.DueScans).
type DueScan struct {
	ScanID   string
	Attempts int // failed attempts so far (FindingStore.PostponeScan)
}

// FindingStatusReader reads what ingest gives an issue.critical event as finding_status.
type FindingStatusReader interface {
	// FindingStatus returns FindingStatusUnknown when the scope of scanID is not known, else
	// FindingStatusNew, FindingStatusRecurring or FindingStatusRegressed for fingerprint in it.
	// Errors wrap ErrUnavailable.
	FindingStatus(ctx context.Context, scanID, fingerprint string) (string, error)
}

// OpenFindingsReader summarises the open findings for a digest run (Scheduler): a store that
// has it gives every digest its open findings' age.
type OpenFindingsReader interface {
	// OpenFindings returns, per repository and branch with open findings, how many and the
	// oldest first_seen, oldest first, at most limit of them. Errors wrap ErrUnavailable.
	OpenFindings(ctx context.Context, limit int) ([]notify.OpenFindings, error)
}

// FindingStore is what the FindingsRunner needs from storage. Errors wrap ErrUnavailable.
type FindingStore interface {
	FindingStatusReader
	// DueScans lists up to limit scans whose completion waits for its comparison and is due
	// at now, oldest due first.
	DueScans(ctx context.Context, now time.Time, limit int) ([]DueScan, error)
	// PostponeScan records a failed comparison of scanID that is not done: attempts (failed
	// attempts so far), the next attempt's time and the error's text (at most
	// MaxFindingErrorBytes). A done comparison is left as it is.
	PostponeScan(ctx context.Context, scanID string, attempts int, due time.Time, lastErr string) error
	// CompareScan runs the comparison of scanID in one transaction: unless another replica has
	// it or it is done (then false and fn is not called), it reads the ScanComparison (with
	// the scope locked, so comparisons of one scope run one at a time), calls fn, and stores
	// fn's result, the scope's new previous scan (when the scope is known) and the comparison
	// as done. An fn error rolls everything back and is returned as it is.
	CompareScan(ctx context.Context, scanID string, fn func(*ScanComparison) (*ScanResult, error)) (bool, error)
	// PruneFindings forgets the findings fixed before fixedBefore, and the scans' finding
	// records and done comparisons received before it, returning how many findings went.
	PruneFindings(ctx context.Context, fixedBefore time.Time) (int, error)
}

// settle returns how long a scan's completion waits before its comparison.
func (p FindingsPolicy) settle() time.Duration {
	if p.Settle <= 0 {
		return DefaultFindingsSettle
	}
	return p.Settle
}

// completion returns the scan whose comparison a scan.completed event received at now queues,
// and when it is due; "" for other events.
func (p FindingsPolicy) completion(ev *event.Event, now time.Time) (string, time.Time) {
	if scan, _ := ev.Data["scan_id"].(string); ev.Type == event.ScanCompleted && scan != "" && len(scan) <= event.MaxScanIDBytes {
		return scan, now.Add(p.settle())
	}
	return "", time.Time{}
}

// Compare works out what changed between c's scan and the scope's previous completed one: the
// findings to store, and the derived events (at most MaxFindingEvents; left says how many
// more there were). now is the derived events' timestamp.
func (p FindingsPolicy) Compare(c *ScanComparison, now time.Time) (changed []Finding, events []*event.Event, left int, err error) {
	if c.RepoURL == "" || c.Superseded {
		return nil, nil, 0, nil
	}
	known := make(map[string]*Finding, len(c.Known))
	for i := range c.Known {
		known[c.Known[i].Fingerprint] = &c.Known[i]
	}
	quiet := c.PreviousScanID == "" && p.Baseline == BaselineQuiet
	emit := func(typ string, f *Finding) error {
		if len(events) == MaxFindingEvents {
			left++
			return nil
		}
		ev, err := newFindingEvent(typ, c, f, now)
		if err != nil {
			return err
		}
		events = append(events, ev)
		return nil
	}
	present := make(map[string]bool, len(c.Findings))
	for _, r := range c.Findings {
		present[r.Fingerprint] = true
		f := known[r.Fingerprint]
		typ := ""
		switch {
		case f == nil:
			f = &Finding{RepoURL: c.RepoURL, Branch: c.Branch, Fingerprint: r.Fingerprint, State: FindingOpen,
				FirstSeen: c.CompletedAt, FirstScanID: c.ScanID}
			if !quiet {
				typ = EventFindingNew
			}
		case f.State == FindingFixed:
			f.State, f.FixedAt, typ = FindingRegressed, time.Time{}, EventFindingRegressed
		}
		// Title, file and line follow the latest scan: a line shift moves the finding.
		f.Title, f.File, f.Line, f.Severity = r.Title, r.File, r.Line, r.Severity
		f.LastSeen, f.LastScanID = c.CompletedAt, c.ScanID
		changed = append(changed, *f)
		if typ != "" {
			if err := emit(typ, f); err != nil {
				return nil, nil, 0, err
			}
		}
	}
	for i := range c.Known {
		f := &c.Known[i]
		if f.State == FindingFixed || present[f.Fingerprint] {
			continue
		}
		f.State, f.FixedAt = FindingFixed, c.CompletedAt
		changed = append(changed, *f)
		if err := emit(EventFindingFixed, f); err != nil {
			return nil, nil, 0, err
		}
	}
	return changed, events, left, nil
}

// newFindingEvent builds a derived event about f. Its id is the same whenever the same
// comparison runs again: "finding.<kind>:<hash of scan id and fingerprint>".
func newFindingEvent(typ string, c *ScanComparison, f *Finding, now time.Time) (*event.Event, error) {
	data := map[string]any{
		"repo_url": c.RepoURL, "branch": c.Branch, "scan_id": c.ScanID, "previous_scan_id": c.PreviousScanID,
		"fingerprint": f.Fingerprint, "title": f.Title, "file": f.File, "line": f.Line, "severity": f.Severity,
		"first_seen": f.FirstSeen.UTC().Format(time.RFC3339Nano), "last_seen": f.LastSeen.UTC().Format(time.RFC3339Nano),
	}
	id := typ + ":" + hashParts(c.ScanID, f.Fingerprint)
	body, err := json.Marshal(map[string]any{"event": typ, "id": id, "timestamp": now.UTC().Format(time.RFC3339Nano), "data": data})
	if err != nil {
		return nil, err
	}
	ev, err := event.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("%s event: %w", typ, err)
	}
	ev.ReceivedAt, ev.Fingerprint = now.UTC(), f.Fingerprint
	return ev, nil
}

// Defaults of FindingsRunner.
const (
	DefaultFindingsInterval = time.Second // how often due comparisons are looked for
	findingsBatch           = 32          // comparisons looked for at a time
	findingsPruneEvery      = time.Hour
)

// FindingsRetry is when a scan whose comparison failed is compared again: exponential backoff
// (RetryPolicy.Delay, cenkalti/backoff) from 5 s, capped at an hour between attempts; a scan is
// tried until its comparison succeeds (docs/events.md, "Findings").
var FindingsRetry = RetryPolicy{Initial: 5 * time.Second, Max: time.Hour}

// MaxFindingErrorBytes bounds the error text a failed comparison keeps with its scan.
const MaxFindingErrorBytes = 1000

// The outcomes of a scan's comparison (Observer.FindingScan).
const (
	FindingScanCompared = "compared" // compared with its scope's previous completed scan
	FindingScanSkipped  = "skipped"  // not compared: its repository is not known, or a later scan of its scope was compared first
	FindingScanFailed   = "failed"   // an attempt failed; tried again later (FindingsRetry)
)

// FindingsRunner compares each completed scan with the previous completed scan of its scope
// (docs/events.md, "Findings") once its settle time has passed, and stores the findings that
// changed with the derived events in one transaction: with several replicas and after a
// crash, each completion's events are stored once.
type FindingsRunner struct {
	Store FindingStore
	Disp  *Dispatcher // routes the derived events with its plan in force
	// Silencer is consulted for each derived event as ingest consults the Bus's (SetSilencer):
	// a matching silence records its config targets' deliveries as StateSilenced; registered
	// webhooks are delivered to. nil: nothing is silenced.
	Silencer Silencer
	Interval time.Duration // default DefaultFindingsInterval
	// Retry is when a failed comparison is tried again (zero: FindingsRetry).
	Retry   RetryPolicy
	NowFunc func() time.Time
	Log     *slog.Logger // nil: discarded

	lastPrune time.Time
}

func (r *FindingsRunner) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

func (r *FindingsRunner) now() time.Time {
	if r.NowFunc != nil {
		return r.NowFunc().UTC()
	}
	return time.Now().UTC()
}

// Run runs due comparisons every Interval, and forgets old fixed findings every hour, until
// ctx is done. A comparison that fails is logged and postponed by RunDue; storage errors that
// keep RunDue from its work are logged and retried at the next tick.
func (r *FindingsRunner) Run(ctx context.Context) {
	ctx = Unhurried(ctx)
	t := time.NewTicker(orDefault(r.Interval, DefaultFindingsInterval))
	defer t.Stop()
	for {
		if err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
			r.log().Warn("findings: reading or postponing due comparisons failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// RunDue runs every comparison due now, and the hourly prune when it is time. A comparison
// that fails is logged (Warn, once per attempt) and postponed per FindingsRetry; the others
// run on. The error is the storage's, when it could not list or postpone scans.
func (r *FindingsRunner) RunDue(ctx context.Context) error {
	now := r.now()
	if now.Sub(r.lastPrune) >= findingsPruneEvery {
		policy := r.Disp.Plan().Findings
		n, err := r.Store.PruneFindings(ctx, now.Add(-orDefault(policy.Retention, DefaultFindingsRetention)))
		if err != nil {
			return err
		}
		r.lastPrune = now
		if n > 0 {
			r.log().Info("findings: forgot findings fixed longer than findings.retention", "count", n)
		}
	}
	var errs []error
	for {
		scans, err := r.Store.DueScans(ctx, now, findingsBatch)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		ran := 0
		for _, s := range scans {
			// One scan that cannot be compared does not hold up the others.
			ok, err := r.compare(ctx, s.ScanID)
			if err != nil {
				if ctx.Err() != nil {
					return errors.Join(append(errs, ctx.Err())...)
				}
				if err := r.postpone(ctx, s, now, err); err != nil {
					errs = append(errs, fmt.Errorf("scan %q: %w", s.ScanID, err))
				}
				continue
			}
			if ok {
				ran++
			}
		}
		if len(scans) < findingsBatch || ran == 0 {
			return errors.Join(errs...)
		}
	}
}

// postpone records a failed attempt at s's comparison and when the next one is due, and logs it.
func (r *FindingsRunner) postpone(ctx context.Context, s DueScan, now time.Time, failure error) error {
	attempt := s.Attempts + 1
	policy := r.Retry
	if policy == (RetryPolicy{}) {
		policy = FindingsRetry
	}
	delay := policy.Delay(attempt, 0)
	if err := r.Store.PostponeScan(ctx, s.ScanID, attempt, now.Add(delay), truncateUTF8(failure.Error(), MaxFindingErrorBytes)); err != nil {
		return err
	}
	r.Disp.cfg.Observer.FindingScan(FindingScanFailed)
	r.log().Warn("findings: comparing a scan failed; will retry", "scan_id", s.ScanID, "attempt", attempt,
		"retry_in", delay.Round(time.Millisecond).String(), "err", failure)
	return nil
}

// compare runs the comparison of one scan (FindingStore.CompareScan).
func (r *FindingsRunner) compare(ctx context.Context, scanID string) (bool, error) {
	var summary []any
	var silenced []string // the targets of silenced deliveries, counted once the result is stored
	var unknown bool      // the scan's scope is not known: nothing compared
	var superseded string // a later scan of the scope was compared first: nothing compared
	ok, err := r.Store.CompareScan(ctx, scanID, func(c *ScanComparison) (*ScanResult, error) {
		silenced = silenced[:0]
		unknown = c.RepoURL == ""
		if c.Superseded {
			superseded = c.PreviousScanID
		}
		plan := r.Disp.Plan()
		now := r.now()
		changed, events, left, err := plan.Findings.Compare(c, now)
		if err != nil {
			return nil, err
		}
		res := &ScanResult{Findings: changed}
		for _, ev := range events {
			item, _ := r.Disp.ingestItem(plan, ev, now, false, silenceOf(r.Silencer, ev, now))
			for _, dl := range item.Deliveries {
				if dl.State == StateSilenced {
					silenced = append(silenced, dl.Target)
				}
			}
			res.Events = append(res.Events, item)
		}
		summary = []any{"scan_id", c.ScanID, "repo_url", c.RepoURL, "branch", c.Branch, "previous_scan_id", c.PreviousScanID,
			"findings", len(c.Findings), "changed", len(changed), "events", len(events)}
		if left > 0 {
			summary = append(summary, "events_left_out", left)
		}
		return res, nil
	})
	if ok && err == nil {
		for _, t := range silenced {
			r.Disp.cfg.Observer.Silenced(t)
		}
		switch {
		case unknown:
			r.Disp.cfg.Observer.FindingScan(FindingScanSkipped)
			r.log().Warn("findings: scan not compared: no event of it named its repository (repo_url)", "scan_id", scanID)
		case superseded != "":
			r.Disp.cfg.Observer.FindingScan(FindingScanSkipped)
			r.log().Warn("findings: scan not compared: a scan of its repository and branch that completed later was compared first",
				"scan_id", scanID, "later_scan_id", superseded)
		default:
			r.Disp.cfg.Observer.FindingScan(FindingScanCompared)
			r.log().Info("findings: scan compared", summary...)
		}
	}
	return ok, err
}
