package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
)

// Message is one rendered notification for one target. The worker renders it from the target's
// template just before each attempt and hands it to the target's Notifier.
type Message struct {
	DeliveryID string         // stable across retries; sent as X-Cortex-Delivery by the webhook target
	Attempt    int            // 1 for the first try
	Target     string         // target name
	Route      string         // the first route that sent the event to this target
	Event      *event.Event   // the event; for a group or digest, the first of Events
	Events     []*event.Event // every event the message covers (one for a single delivery)
	// Body is the rendered payload: JSON for webhook, slack and discord targets (validated by the
	// template engine), plain text for email. Nil means "the adapter's default".
	Body []byte
	// Subject and HTML are the email parts; other targets ignore them.
	Subject string
	HTML    string
	// Digest is set for a digest run's message; Events then holds the period's events.
	Digest *Digest
	// Group is set for the message of a fired group (grouping, throttling, quiet hours); Events
	// then holds its events, oldest first.
	Group *GroupRun
	// Scans are the scan contexts of the events' scans (event.Scan, recorded at ingest), by scan
	// id, set before rendering; templates fill what an event lacks (repo_url, branch, commit)
	// from its scan's. Nil when none is known (dry runs without a store).
	Scans map[string]event.Scan
	// Attachments are files to send along (the digest's CSV); only email sends them.
	Attachments []Attachment
	// Notes say what the Notifier changed to fit the platform's limits ("text cut from 3 200 to
	// 3 000 characters"); the dispatcher logs them as a warning.
	Notes []string
}

// Notifier delivers one rendered Message to one destination. It honours ctx, never retries
// internally (the queue owns retries) and classifies every failure with *DeliveryError.
// A Notifier is used by several workers at once and must be safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, msg *Message) error
}

// Syncer is a Notifier whose output can be made durable in bulk, later than each message is
// written: the file (audit) target. NotifyUnsynced does what Notify does except the fsync; Sync
// returns once everything NotifyUnsynced wrote before Sync began is on disk, or the error that
// kept it from being (then none of those messages may count as delivered). The dispatcher uses
// it so that the lines of many attempts share one fsync, taken just before their results are
// recorded; Notify stays durable on its own for every other caller.
type Syncer interface {
	Notifier
	NotifyUnsynced(ctx context.Context, msg *Message) error
	Sync() error
}

// Reason says why a delivery attempt failed, for the attempt log and metrics.
type Reason string

// Failure reasons.
const (
	ReasonClientError Reason = "client_error" // 4xx other than 408/425/429, SMTP 5xx
	ReasonServerError Reason = "server_error" // 5xx, SMTP 4xx
	ReasonRateLimited Reason = "rate_limited" // 429
	ReasonTimeout     Reason = "timeout"      // no answer within delivery.timeout: possibly delivered
	ReasonNetwork     Reason = "network"      // connection refused, reset, DNS
	ReasonRedirect    Reason = "redirect"     // 3xx: redirects are not followed
	ReasonLimit       Reason = "limit"        // payload over a platform limit after truncation
	ReasonConfig      Reason = "config"       // the target's configuration cannot work
	ReasonTemplate    Reason = "template"     // the message could not be rendered
)

// DeliveryError is what a Notifier returns when an attempt fails. Retryable says whether the
// queue should try again; RetryAfter, when non-zero, is the receiver's requested wait (from
// Retry-After or a platform's retry_after), which wins over the backoff when longer.
type DeliveryError struct {
	Err        error
	Reason     Reason
	Retryable  bool
	RetryAfter time.Duration
	// Global marks a rate limit that covers every target of the same type (Discord's global
	// 429): the dispatcher pauses them all for RetryAfter, not only this one.
	Global     bool
	StatusCode int    // HTTP status or SMTP reply code; 0 if none
	Response   string // the start of the receiver's answer (at most MaxResponseBytes)
}

// MaxResponseBytes is how much of a receiver's answer an attempt records: 1 KiB (README.md, "Deliveries").
const MaxResponseBytes = 1024

func (e *DeliveryError) Error() string {
	msg := string(e.Reason)
	if e.StatusCode != 0 {
		msg = fmt.Sprintf("%s (status %d)", msg, e.StatusCode)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// AsDeliveryError returns err as a *DeliveryError. An error that is not one (a Notifier bug) is
// wrapped as a retryable failure, so a delivery is never dropped by accident.
func AsDeliveryError(err error) *DeliveryError {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &DeliveryError{Err: err, Reason: ReasonTimeout, Retryable: true}
	}
	return &DeliveryError{Err: err, Reason: ReasonNetwork, Retryable: true}
}

// EventURL is the address of an event's page, the one every alert links to:
// publicURL (server.public_url, a trailing "/" ignored) + "/events/" + id path-escaped, so an
// id holding "/", "?", "#", "+" or a space names that event and nothing else.
func EventURL(publicURL, id string) string {
	return strings.TrimSuffix(publicURL, "/") + "/events/" + url.PathEscape(id)
}
