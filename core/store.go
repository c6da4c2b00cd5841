package core

import (
	"context"
	"errors"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
)

// State is where a delivery is in its life: pending → running → succeeded | pending (retry) | dead.
type State string

// Delivery states.
const (
	StatePending   State = "pending"   // waiting for next_attempt_at
	StateRunning   State = "running"   // claimed: leased by one worker
	StateSucceeded State = "succeeded" // the target accepted it
	StateDead      State = "dead"      // permanent failure or max_attempts reached; kept and listed
	StateCancelled State = "cancelled" // its target was removed
)

// Delivery is one (event, target) pair: the unit of work of the queue, the row the delivery log
// shows, and, once dead, an entry of the dead-letter list.
type Delivery struct {
	ID            string // UUIDv7; stable across retries
	EventID       string
	Target        string
	Route         string // the first route that named Target for this event
	State         State
	Attempts      int // attempts made so far
	RetryBase     int // attempts made before the last manual retry; max_attempts counts from it
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	EventType     string       // set in listings
	Event         *event.Event // loaded by Claim; nil in listings
}

// Attempt is the log entry of one try of a delivery (docs/architecture.md, the life of a delivery).
type Attempt struct {
	DeliveryID string
	Number     int // 1 for the first try
	StartedAt  time.Time
	Duration   time.Duration
	Outcome    string // "success" or a Reason
	StatusCode int    // HTTP status or SMTP reply code; 0 if none
	Error      string
	Response   string // at most notify.MaxResponseBytes of the receiver's answer
}

// unhurriedKey marks a context as Unhurried's.
type unhurriedKey struct{}

// Unhurried marks ctx as background work's (the dispatcher's poller and workers, the scheduler,
// the findings runner, the silences and webhooks refreshes): a
// store that accepts events before they are in its database (SQLite's ingest journal, a few
// milliseconds) may have it wait for them to be written in their own time, where a request's
// read has them written at once. Either way it reads every event accepted before it began,
// unless the database cannot be written: then it reads what is there.
func Unhurried(ctx context.Context) context.Context {
	return context.WithValue(ctx, unhurriedKey{}, true)
}

// IsUnhurried reports whether ctx was marked by Unhurried.
func IsUnhurried(ctx context.Context) bool { return ctx.Value(unhurriedKey{}) != nil }

// IngestItem is one accepted event with the deliveries its routes produced. The deliveries are
// stored only if the event is new.
type IngestItem struct {
	Event      *event.Event
	Deliveries []*Delivery
	Digests    []string    // names of the digests the event belongs to
	Groups     []GroupItem // the groups the event is held in (or closes)
	// Finding is the finding an issue.critical event reports: stored as a member of its scan
	// (once per scan and fingerprint).
	Finding *FindingRecord
	// ScanCompleted is the scan_id of a scan.completed event: its comparison with the scope's
	// previous scan is queued, due at CompareAt (FindingsRunner).
	ScanCompleted string
	CompareAt     time.Time
}

// FireGroupRequest fires a group in one transaction: the items of (Target, Route, Key) not yet
// fired and received by Through are closed; if any is a member, Event is stored with Delivery
// and the group's fire time (now, as Event.ReceivedAt) is recorded for its key. Nothing is
// done, and 0 returned, when a group of the key fired after LastFired (another replica was
// first) or no item is left.
type FireGroupRequest struct {
	Target, Route, Key string
	Through            time.Time
	LastFired          time.Time
	Event              *event.Event
	Delivery           *Delivery
}

// DigestSchedule is a configured digest as the store keeps it: when it runs next and where its
// previous period ended.
type DigestSchedule struct {
	Name     string
	Schedule string    // the cron spec and zone; a change re-plans NextRun
	LastEnd  time.Time // end of the previous period (for a new digest: when it was configured)
	NextRun  time.Time
}

// DigestRunRequest closes a digest's period in one transaction: every event of the digest not
// yet in a run and received by PeriodEnd joins the run of Event, which is stored with Delivery
// (unless the period is empty and SendEmpty is false, or Delivery is nil: nothing to send); the
// schedule moves to NextRun.
type DigestRunRequest struct {
	Name      string
	Owner     string // must hold the digest's lease
	PeriodEnd time.Time
	NextRun   time.Time
	Event     *event.Event
	Delivery  *Delivery
	SendEmpty bool
}

// ErrLeaseLost is returned when a claimed row was taken over by another owner.
var ErrLeaseLost = errors.New("lease lost to another owner")

// Completion is the outcome of one attempt, written back by the completion writer. The delivery
// changes only while LeaseOwner still holds its lease; the attempt row is always kept.
type Completion struct {
	LeaseOwner    string
	Attempt       Attempt
	State         State     // StateSucceeded, StatePending (retry at NextAttemptAt) or StateDead
	NextAttemptAt time.Time // for StatePending
	LastError     string
}

// ClaimRequest asks for up to Limit due deliveries of Target: pending ones whose next_attempt_at
// has passed and running ones whose lease expired before Now.
type ClaimRequest struct {
	Owner  string
	Target string
	Now    time.Time
	Lease  time.Duration
	Limit  int
}

// DeliveryFilter selects deliveries for listings, newest first; zero fields match everything.
type DeliveryFilter struct {
	State     State
	Failed    bool     // pending deliveries whose last attempt failed (they will be retried)
	Target    string   // one target
	Targets   []string // any of these targets (an account's webhooks); nil = all, empty = none
	EventType string
	From, To  time.Time // created_at range, inclusive; zero = open
	Cursor    string    // from a previous page's NextCursor
	Limit     int       // default DefaultPageSize
}

// DefaultPageSize is how many deliveries a listing page holds when DeliveryFilter.Limit is not
// set (also the management API's default limit).
const DefaultPageSize = 50

// DeliveryPage is one page of a listing.
type DeliveryPage struct {
	Deliveries []*Delivery
	NextCursor string // "" on the last page
}

// ErrUnavailable marks a storage failure (disk full, database down); ingest answers 503.
var ErrUnavailable = errors.New("storage unavailable")

// ErrBadCursor is returned by a listing (events, deliveries, findings) for a cursor that no
// listing produced: a client error (400), never a storage failure.
var ErrBadCursor = errors.New("cursor: not one this listing returned")

// WriteProber is a BusStore that can commit a trivial write on demand: what a full disk or a
// read-only file system refuses while SELECT 1 still answers. Bus.StorageReady uses it to see
// storage recover after a failed ingest commit without waiting for the next event.
type WriteProber interface {
	// ProbeWrite commits a transaction that writes to the database's log (it changes no data)
	// and returns the error of the first step that fails, wrapping ErrUnavailable.
	ProbeWrite(ctx context.Context) error
}

// ActivityBucket is one time bucket of the dashboard's activity chart (dashboard.Store.Activity).
type ActivityBucket struct {
	Start          time.Time
	Events         int // events received
	Attempts       int // attempts started, to the queried targets
	FailedAttempts int // of Attempts, those whose outcome is not "success"
}

// TargetHealth is one target's recent delivery record, from its attempts
// (dashboard.Store.TargetHealth).
// Times are when attempts ended (start + duration).
type TargetHealth struct {
	Target        string
	LastSuccess   time.Time // zero: no success since the query's since
	LastAttempt   time.Time
	LastOutcome   string // "success" or a failure Reason
	LastError     string // of the last attempt, when it failed
	FailureStreak int    // failed attempts after LastSuccess (all of them when there was none)
}
