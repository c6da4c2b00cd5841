package core

import (
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
)

// StateSilenced is the final state of a delivery that an active silence kept from being sent:
// recorded at ingest, never attempted (docs/api.md, silences).
const StateSilenced State = "silenced"

// silencedPrefix starts the LastError of a StateSilenced delivery; the silence's id follows.
const silencedPrefix = "silenced by silence "

// SilencedBy is the LastError of a delivery that silence id kept from being sent.
func SilencedBy(id string) string { return silencedPrefix + id }

// SilenceID returns the id of the silence that kept d from being sent, or "" when d is not
// StateSilenced.
func (d *Delivery) SilenceID() string {
	if d.State != StateSilenced {
		return ""
	}
	if id, ok := strings.CutPrefix(d.LastError, silencedPrefix); ok {
		return id
	}
	return ""
}

// Silence mutes matching events at run time: while it is active, every delivery of an event its
// When rule matches is recorded as StateSilenced instead of sent. The bridge's own alerts
// (bridge.*) are never silenced. Silences are rows in the store, shared by replicas.
type Silence struct {
	ID        string    // UUIDv7
	When      string    // a rule in the route rule language (docs/configuration.md, routes)
	Comment   string    // why; free text
	CreatedBy string    // who asked for it: an API account, a dashboard user, "slack:<user id>"
	CreatedAt time.Time // when it was created; it is active from then
	ExpiresAt time.Time // when it ends by itself
	EndedAt   time.Time // when it was ended early; zero otherwise
	EndedBy   string    // who ended it early
}

// Active reports whether s silences events at now: created, not expired, not ended.
func (s *Silence) Active(now time.Time) bool {
	return s.EndedAt.IsZero() && !now.Before(s.CreatedAt) && now.Before(s.ExpiresAt)
}

// SilenceFilter selects silences for a listing, newest first.
type SilenceFilter struct {
	// ActiveAt, when set, keeps only the silences active at that time; zero lists every
	// silence (ended and expired ones too).
	ActiveAt time.Time
	Limit    int // at most this many (default DefaultPageSize)
}

// Silencer decides whether an event is silenced at now (silences.Service implements it with a
// cache of the active silences). It returns the id of the first active silence whose rule
// matches ev. It must be cheap and safe for concurrent use: ingest calls it for every event.
type Silencer interface {
	Silenced(ev *event.Event, now time.Time) (id string, ok bool)
}

// Acknowledgement records that someone acknowledged an event (from a Slack button).
type Acknowledgement struct {
	EventID  string
	UserID   string // the platform's user id (Slack: U…)
	UserName string // the user's handle at the time
	Source   string // where it came from: "slack"
	At       time.Time
}

// AuditEntry is one line of the audit log: a change made by a person (a silence created or
// ended, an event acknowledged or muted).
type AuditEntry struct {
	ID      string // UUIDv7
	At      time.Time
	Actor   string // "api:<account>", "dashboard:<account>", "slack:<user id> (<name>)"
	Action  string // one of the Audit* constants
	Subject string // the silence's or event's id
	Detail  string // a human-readable summary (the rule, the expiry, the comment)
}

// Audit actions.
const (
	AuditSilenceCreate    = "silence.create"
	AuditSilenceEnd       = "silence.end"
	AuditEventAcknowledge = "event.acknowledge"
	AuditEventMute        = "event.mute"
)
