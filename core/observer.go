package core

import "time"

// Observer receives the bridge's measurements as they happen (package metrics implements it
// with Prometheus). Implementations must be cheap and safe for concurrent use.
type Observer interface {
	// Attempt is one delivery attempt: outcome is "success" or the failure Reason, state the
	// delivery's state after it.
	Attempt(target, outcome string, d time.Duration, state State)
	// RuleError is a rule that failed at run time (counted as not matched).
	RuleError(route string)
	// DigestRun is a closed digest period: outcome "sent", "empty" (nothing to send) or
	// "skipped" (its target is disabled).
	DigestRun(digest, outcome string)
	// CircuitOpen reports a target's circuit breaker opening or closing.
	CircuitOpen(target string, open bool)
	// MessageCut is an attempt whose message the target's Notifier cut to fit the platform's
	// limits (notify.Message.Notes, logged with the delivery).
	MessageCut(target string)
	// Silenced is a delivery to target recorded as StateSilenced (an active silence matched
	// its event): final without an attempt.
	Silenced(target string)
	// FindingScan is a scan's comparison (FindingsRunner): outcome FindingScanCompared,
	// FindingScanSkipped (its repository is not known) or FindingScanFailed (one attempt).
	FindingScan(outcome string)
}

// QueueStats is the queue's state for one target (metrics read it at scrape time).
type QueueStats struct {
	Target           string
	Pending, Running int
	Dead             int
	OldestUnfinished time.Time // created_at of the oldest pending or running delivery; zero if none
}

// nopObserver is the Observer used when none is configured.
type nopObserver struct{}

func (nopObserver) Attempt(string, string, time.Duration, State) {}
func (nopObserver) RuleError(string)                             {}
func (nopObserver) DigestRun(string, string)                     {}
func (nopObserver) CircuitOpen(string, bool)                     {}
func (nopObserver) MessageCut(string)                            {}
func (nopObserver) Silenced(string)                              {}
func (nopObserver) FindingScan(string)                           {}
