package core

import "time"

// Delivery states an events listing filters on (EventFilter.Delivery).
const (
	EventsFailed = "failed" // a delivery is pending after a failed attempt (it will be retried)
	EventsDead   = "dead"   // a delivery gave up (a dead letter)
	EventsHeld   = "held"   // a route held the event back (group, throttle, quiet hours)
)

// EventDeliveryStates lists the values of EventFilter.Delivery besides "" (any).
var EventDeliveryStates = []string{EventsFailed, EventsDead, EventsHeld}

// MaxEventPageSize is the largest EventFilter.Limit a listing honours (a larger one is
// clamped); DefaultPageSize is the default.
const MaxEventPageSize = 500

// EventFilter selects events for the events list, newest received first (keyset on
// received time, then id). Zero fields match everything.
type EventFilter struct {
	Type       string // the envelope "event", exactly
	Severity   string // data.severity, exactly
	Repository string // data.repo_url, exactly
	ScanID     string // data.scan_id, exactly
	// From and To bound the received time, inclusive; zero = open.
	From, To time.Time
	// Delivery is "" or one of EventDeliveryStates: events with at least one such delivery
	// (among Targets when set) or, for EventsHeld, held back by a route.
	Delivery string
	// Text: every word of it (letters and digits; case-insensitive) starts a word of the
	// event's data.title or data.file (a word of one or two characters must be a whole word).
	// At most MaxTextWords words are used.
	Text string
	// Targets restricts the list to events with a delivery to one of these targets (a tenant's
	// registered webhooks): nil = all events, empty = none.
	Targets []string
	Cursor  string // from a previous page's NextCursor; a foreign one is ErrBadCursor
	Limit   int    // 1..MaxEventPageSize; default DefaultPageSize
}

// MaxTextWords bounds the words of EventFilter.Text that are matched (the rest are ignored), and
// MaxTextWordBytes the length of each (a longer word is cut), so a query costs a bounded index
// lookup whatever is typed.
const (
	MaxTextWords = 8
	// MaxTextBytes bounds EventFilter.Text as a request gives it (bytes): the API and the
	// dashboard refuse a longer q, naming it.
	MaxTextBytes     = 512
	MaxTextWordBytes = 64
)

// EventSummary is one row of the events list: the envelope and the listed data fields, each
// cut to its first ListFieldChars characters ("" when the event lacks it or it is not a string).
type EventSummary struct {
	ID         string
	Type       string
	OccurredAt time.Time // the envelope timestamp
	ReceivedAt time.Time
	Severity   string
	Repository string // data.repo_url
	ScanID     string
	Title      string
	File       string
}

// ListFieldChars is how many characters of each listed data field are stored for the events
// list, its filters and its free-text index: filters compare the same first characters.
const ListFieldChars = 200

// EventPage is one page of the events list.
type EventPage struct {
	Events     []EventSummary
	NextCursor string // "" on the last page
}

// Hold is one route's hold of an event (group_by, throttle or quiet hours), as recorded at ingest.
type Hold struct {
	Target string
	Route  string
	Key    string // the group key ("" for a route that groups everything)
	Member bool   // false: the event only closed the group (close_on) and is not listed in it
	// GroupID is the id of the group event that delivered it once the group fired; "" while open.
	GroupID string
}

// RetryFilter selects dead deliveries for a bulk retry: the ones of Target (any target when ""),
// among Targets when not nil (empty: none), created in [From, To] (zero = open).
type RetryFilter struct {
	Target   string
	Targets  []string
	From, To time.Time
}

// MaxBulkRetry bounds how many deliveries one bulk retry revives; the answer says when more are
// left (run it again). RetryBatch is how many one statement updates.
const (
	MaxBulkRetry = 10_000
	RetryBatch   = 500
)
