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

// Attempt is the log entry of one try of a delivery (SPEC §5).
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

// IngestItem is one accepted event with the deliveries its routes produced. The deliveries are
// stored only if the event is new.
type IngestItem struct {
	Event      *event.Event
	Deliveries []*Delivery
	Digests    []string    // names of the digests the event belongs to
	Groups     []GroupItem // the groups the event is held in (or closes)
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
	Limit     int       // default 50
}

// DeliveryPage is one page of a listing.
type DeliveryPage struct {
	Deliveries []*Delivery
	NextCursor string // "" on the last page
}

// ErrUnavailable marks a storage failure (disk full, database down); ingest answers 503.
var ErrUnavailable = errors.New("storage unavailable")

// Store is what core needs from storage. Every method that writes runs in one transaction.
// Implementations: store.Open (SQLite; PostgreSQL in the scale-out issue), all passing storetest.
type Store interface {
	// RevokeSession records that the dashboard session id was signed out: SessionRevoked
	// reports it until expires (when no copy of the session's cookie can still be valid); records
	// that expired before now are deleted.
	RevokeSession(ctx context.Context, id string, expires, now time.Time) error
	// SessionRevoked reports whether the dashboard session id was signed out and its record
	// has not expired at now.
	SessionRevoked(ctx context.Context, id string, now time.Time) (bool, error)
	// Ingest stores each new event with its deliveries in one transaction and reports, per item,
	// whether its event id was already stored (then nothing of it is written).
	Ingest(ctx context.Context, items []IngestItem) (duplicate []bool, err error)
	// DueTargets names the targets that have deliveries ready to claim at now.
	DueTargets(ctx context.Context, now time.Time) ([]string, error)
	// Claim leases due deliveries to r.Owner until r.Now+r.Lease and returns them with Event set,
	// the longest due (earliest next_attempt_at) first.
	// A delivery whose event is gone or no longer parses is marked dead instead (no attempt could
	// succeed) and left out.
	Claim(ctx context.Context, r ClaimRequest) ([]*Delivery, error)
	// RenewLeases extends to until the leases owner holds on the deliveries ids (the ones this
	// process is working on); it returns how many. Leases of anything else owner claimed expire.
	RenewLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error)
	// ReleaseLeases returns owner's running deliveries with the given ids (all of owner's when
	// ids is nil) to pending, due at now: shutdown, or a worker pool retired by a reload.
	ReleaseLeases(ctx context.Context, owner string, ids []string, now time.Time) (int, error)
	// CancelDeliveries cancels the pending deliveries (and running ones whose lease expired) of
	// every target not named in keep, recording reason as their last error; it returns how
	// many. Running attempts are left to finish and record their outcome.
	CancelDeliveries(ctx context.Context, keep []string, reason string, now time.Time) (int, error)
	// Complete records attempts and the resulting delivery states.
	Complete(ctx context.Context, cs []Completion) error
	// Deliveries lists deliveries, newest first.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)
	// DeliveryPage lists one page of deliveries, newest first, with a cursor to the next.
	DeliveryPage(ctx context.Context, f DeliveryFilter) (DeliveryPage, error)
	// Delivery returns one delivery (EventType set), or ErrNotFound.
	Delivery(ctx context.Context, id string) (*Delivery, error)
	// Attempts lists a delivery's attempts, oldest first.
	Attempts(ctx context.Context, deliveryID string) ([]Attempt, error)
	// AttemptsOf lists the attempts of several deliveries, by delivery id, oldest first.
	AttemptsOf(ctx context.Context, deliveryIDs []string) (map[string][]Attempt, error)
	// RetryDelivery makes a finished or waiting delivery due again at now with a fresh budget of
	// attempts (same id, so receivers can deduplicate). ErrNotFound when it does not exist,
	// ErrConflict while an attempt is running.
	RetryDelivery(ctx context.Context, id string, now time.Time) error

	// CreateWebhook stores w unless w.Account already has max webhooks (ErrLimitReached).
	CreateWebhook(ctx context.Context, w *Webhook, max int) error
	// Webhooks lists an account's webhooks, oldest first; account "" lists every account's.
	Webhooks(ctx context.Context, account string) ([]*Webhook, error)
	// Webhook returns one of account's webhooks, or ErrNotFound (also for another account's).
	Webhook(ctx context.Context, account, id string) (*Webhook, error)
	// UpdateWebhook stores w's fields and bumps its version, provided the stored version is
	// ifVersion (0: any); ErrConflict otherwise, ErrNotFound when it is not account's.
	UpdateWebhook(ctx context.Context, w *Webhook, ifVersion int) error
	// DeleteWebhook removes one of account's webhooks, or returns ErrNotFound.
	DeleteWebhook(ctx context.Context, account, id string) error
	// WebhooksChanged returns a value that changes whenever any webhook is created, changed or
	// deleted (replicas poll it to pick up other replicas' changes).
	WebhooksChanged(ctx context.Context) (string, error)
	// Unfinished counts the pending and running deliveries of every target (the queue's length).
	Unfinished(ctx context.Context) (int, error)
	// QueueStats counts unfinished and dead deliveries per target.
	QueueStats(ctx context.Context) ([]QueueStats, error)
	// Prune deletes events received before cutoff whose deliveries are all finished, with their
	// deliveries and attempts; it returns the number of events deleted.
	Prune(ctx context.Context, cutoff time.Time) (int64, error)
	// SyncDigests records the configured digests: new ones are added as given, a changed
	// schedule gets the given NextRun (LastEnd is kept), and digests no longer configured are
	// removed with the events they were still collecting.
	SyncDigests(ctx context.Context, ds []DigestSchedule) error
	// DigestState returns a digest's schedule row; ok is false when it is not recorded yet.
	DigestState(ctx context.Context, name string) (s DigestSchedule, ok bool, err error)
	// ClaimDigests leases the digests due at now to owner and returns their schedules.
	ClaimDigests(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]DigestSchedule, error)
	// RunDigest closes a period (see DigestRunRequest) and returns how many events it covers.
	RunDigest(ctx context.Context, r DigestRunRequest) (int, error)
	// DigestEvents returns the events of a digest run (by its event id), oldest first.
	DigestEvents(ctx context.Context, runID string) ([]*event.Event, error)
	// DigestWindow returns the events a digest collected with received_at in [from, to], in a
	// run or not (for ad-hoc reports).
	DigestWindow(ctx context.Context, name string, from, to time.Time) ([]*event.Event, error)

	// OpenGroups lists the groups with items not fired yet.
	OpenGroups(ctx context.Context) ([]OpenGroup, error)
	// FireGroup fires a group (see FireGroupRequest) and returns how many events it lists.
	FireGroup(ctx context.Context, r FireGroupRequest) (int, error)
	// GroupEvents returns the events a fired group lists (by its event id), oldest first.
	GroupEvents(ctx context.Context, groupID string) ([]*event.Event, error)

	// The dashboard's queries (package dashboard). targets is a set of target names: nil means
	// every target, empty means none (an account without webhooks).

	// DeliveryCounts counts the deliveries to targets created at or after since, by status: the
	// State, except "failed" for pending ones whose last attempt failed (as listings show them).
	DeliveryCounts(ctx context.Context, targets []string, since time.Time) (map[string]int, error)
	// Activity splits [from, to) into buckets of step (the last one may be shorter) and counts
	// in each the events received (every one, not only the targets'; not the bridge's own:
	// digest runs, groups, alerts) and the attempts to targets that started in it, failed ones
	// apart.
	Activity(ctx context.Context, targets []string, from, to time.Time, step time.Duration) ([]ActivityBucket, error)
	// TargetHealth reports, for each of targets with an attempt that ended at or after since,
	// its last success and its failure streak (the attempts that failed after that success),
	// computed from the attempt log. Targets without such attempts are left out.
	TargetHealth(ctx context.Context, targets []string, since time.Time) ([]TargetHealth, error)

	// Ping reports whether storage answers.
	Ping(ctx context.Context) error
	Close() error
}

// WriteProber is a Store that can commit a trivial write on demand: what a full disk or a
// read-only file system refuses while SELECT 1 still answers. Bus.StorageReady uses it to see
// storage recover after a failed ingest commit without waiting for the next event.
type WriteProber interface {
	// ProbeWrite commits a transaction that writes to the database's log (it changes no data)
	// and returns the error of the first step that fails, wrapping ErrUnavailable.
	ProbeWrite(ctx context.Context) error
}

// ActivityBucket is one time bucket of Store.Activity.
type ActivityBucket struct {
	Start          time.Time
	Events         int // events received
	Attempts       int // attempts started, to the queried targets
	FailedAttempts int // of Attempts, those whose outcome is not "success"
}

// TargetHealth is one target's recent delivery record, from its attempts (Store.TargetHealth).
// Times are when attempts ended (start + duration).
type TargetHealth struct {
	Target        string
	LastSuccess   time.Time // zero: no success since the query's since
	LastAttempt   time.Time
	LastOutcome   string // "success" or a failure Reason
	LastError     string // of the last attempt, when it failed
	FailureStreak int    // failed attempts after LastSuccess (all of them when there was none)
}
