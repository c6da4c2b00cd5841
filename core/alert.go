package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v5"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// BridgeEventPrefix starts the types of the bridge's own alert events. Those events enter the
// Bus like Cortex events (stored, routed by the rules, delivered with retries), so a route such
// as `when: 'event startsWith "bridge."'` sends them to an ops mailbox or channel. The ingest
// endpoint refuses these types from outside, registered webhooks never receive them, and a
// delivery of one that fails raises no further alert.
const BridgeEventPrefix = "bridge."

// The bridge's alert event types and their data fields. Times are RFC 3339 strings (UTC); error
// texts have URLs redacted (scheme and host only) and are cut to MaxAlertErrorRunes.
const (
	// EventDeliveryDead: a delivery of a Cortex event exhausted its attempts, or failed
	// permanently. Data: delivery_id, event_id, event (the original event's type), target,
	// route, attempts (made so far, int), reason (of the last failure, e.g. "server_error"),
	// last_error, status_code (int, when the last answer had one), and repo_url and scan_id
	// when the original event has them. Id: "bridge.delivery_dead:<delivery id>:<attempt>".
	EventDeliveryDead = "bridge.delivery_dead"
	// EventTargetUnhealthy: a target's circuit breaker opened, or FailureStreak attempts in a
	// row at Cortex events failed, whichever came first; raised once until it recovers. Data:
	// target, reason ("circuit_open" or "failure_streak"), failures (in a row, int),
	// last_error, since (when the first of those failures started).
	// Id: "bridge.target_unhealthy:<target>:<since, Unix ms>".
	EventTargetUnhealthy = "bridge.target_unhealthy"
	// EventTargetRecovered: an unhealthy target answered again (a delivery succeeded or its
	// circuit closed). Data: as the EventTargetUnhealthy it ends (failures counts every
	// failure of the episode). Id: "bridge.target_recovered:<target>:<since, Unix ms>".
	EventTargetRecovered = "bridge.target_recovered"
	// EventDigestFailed: a digest run's delivery exhausted its attempts (or failed
	// permanently: its template could not be rendered). Data: digest, delivery_id, target,
	// attempts (int), error, from and to (the period). Id:
	// "bridge.digest_failed:<digest run event id>:<attempt>".
	EventDigestFailed = "bridge.digest_failed"
)

// AlertTypes lists the bridge's alert event types.
var AlertTypes = []string{EventDeliveryDead, EventTargetUnhealthy, EventTargetRecovered, EventDigestFailed}

// Reasons of EventTargetUnhealthy.
const (
	UnhealthyCircuitOpen   = "circuit_open"
	UnhealthyFailureStreak = "failure_streak"
)

// Outcomes of an alert, as AlerterConfig.OnAlert counts them.
const (
	AlertRaised     = "raised"     // stored, with the deliveries its routes gave it
	AlertDuplicate  = "duplicate"  // its id was stored before (another replica, a repeated trigger)
	AlertDropped    = "dropped"    // queue full, bridge stopping or storage failing: logged
	AlertSuppressed = "suppressed" // about a failure to deliver an alert: never raised (no loops)
)

// MaxAlertErrorRunes is how much of an error text an alert carries.
const MaxAlertErrorRunes = 1000

// IsBridgeEvent reports whether t is one of the bridge's own alert types (prefix "bridge.").
func IsBridgeEvent(t string) bool { return strings.HasPrefix(t, BridgeEventPrefix) }

// IsReservedEventType reports whether only the bridge itself may create events of type t: its
// alerts (bridge.*), its digest runs and groups (cortex_bridge.*) and the findings it derives
// from scans (finding.*). The ingest endpoint refuses them.
func IsReservedEventType(t string) bool {
	return IsBridgeEvent(t) || strings.HasPrefix(t, "cortex_bridge.") || IsFindingEvent(t)
}

// Acceptor stores an event with its deliveries (*Bus).
type Acceptor interface {
	Accept(ctx context.Context, ev *event.Event) (AcceptResult, error)
}

// AlerterConfig tunes an Alerter. Zero fields take the defaults shown.
type AlerterConfig struct {
	// FailureStreak is how many attempts in a row at Cortex events must fail (rate limits and
	// template errors aside) to report a target unhealthy when its circuit breaker has not
	// opened (off, or not counting 4xx answers). Default 10; -1 turns it off, so only an
	// opening circuit reports.
	FailureStreak int
	// QueueSize bounds the alerts waiting to be stored (default 256). An alert beyond it is
	// dropped, logged and counted: a delivery worker never waits for an alert.
	QueueSize int
	// Timeout bounds one try at storing an alert (default 10s); up to 5 tries are made.
	Timeout time.Duration
	NowFunc func() time.Time
	Log     *slog.Logger
	// OnAlert, when set, is told each alert's type and outcome (AlertRaised, …): a metric.
	OnAlert func(eventType, outcome string)
}

func (c *AlerterConfig) withDefaults() {
	if c.FailureStreak == 0 {
		c.FailureStreak = 10
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 256
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.OnAlert == nil {
		c.OnAlert = func(string, string) {}
	}
}

// Alerter turns the dispatcher's happenings into the bridge's alert events (EventDeliveryDead,
// …) and accepts them through the Bus, so they are durable, routed by the rules, deduplicated by
// their deterministic ids and delivered with retries like Cortex events. It hooks in through
// AttemptLog and Observer; it never blocks them: alerts wait in a bounded queue that Run works
// off. It keeps per-target health in memory, so each replica reports what its own workers see.
type Alerter struct {
	cfg   AlerterConfig
	queue chan *event.Event

	qmu     sync.Mutex // guards stopped against sends on queue
	stopped bool

	mu      sync.Mutex // guards targets
	targets map[string]*targetHealth
}

// targetHealth is one target's current episode of failures.
type targetHealth struct {
	failures  int       // attempts at Cortex events that failed since the last success
	since     time.Time // when the first of them started
	lastError string
	open      bool   // its circuit is open or half-open
	unhealthy string // reason, once EventTargetUnhealthy was raised for this episode
}

// NewAlerter returns an Alerter; its alerts are stored once Run runs.
func NewAlerter(cfg AlerterConfig) *Alerter {
	cfg.withDefaults()
	return &Alerter{cfg: cfg, queue: make(chan *event.Event, cfg.QueueSize), targets: map[string]*targetHealth{}}
}

// Run accepts queued alerts through bus until ctx is done; the alerts still queued then, and any
// raised later, are dropped with a log line (the bridge is stopping).
func (a *Alerter) Run(ctx context.Context, bus Acceptor) {
	defer func() {
		a.qmu.Lock()
		a.stopped = true
		a.qmu.Unlock()
		for {
			select {
			case ev := <-a.queue:
				a.drop(ev, "the bridge is stopping")
			default:
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-a.queue:
			a.store(ctx, bus, ev)
		}
	}
}

func (a *Alerter) store(ctx context.Context, bus Acceptor, ev *event.Event) {
	op := func() (AcceptResult, error) {
		actx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
		defer cancel()
		res, err := bus.Accept(actx, ev)
		if errors.Is(err, ErrClosed) {
			return res, backoff.Permanent(err)
		}
		return res, err
	}
	res, err := backoff.Retry(ctx, op, backoff.WithMaxTries(5),
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: 200 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 5 * time.Second}))
	switch {
	case err != nil:
		a.drop(ev, err.Error())
	case res.Duplicate:
		a.cfg.OnAlert(ev.Type, AlertDuplicate)
		a.cfg.Log.Debug("bridge alert already stored", "event", ev.Type, "event_id", ev.ID)
	default:
		a.cfg.OnAlert(ev.Type, AlertRaised)
		attrs := append([]any{"event", ev.Type, "event_id", ev.ID, "deliveries", res.Deliveries}, alertAttrs(ev)...)
		if res.Deliveries == 0 && res.Held == 0 {
			a.cfg.Log.Warn("bridge alert raised, but no route sends it anywhere (route it with `when: 'event startsWith \"bridge.\"'`)", attrs...)
			return
		}
		a.cfg.Log.Info("bridge alert raised", attrs...)
	}
}

// alertAttrs are the log attributes that say what an alert is about.
func alertAttrs(ev *event.Event) []any {
	var out []any
	for _, k := range []string{"target", "digest", "delivery_id", "reason"} {
		if s := ev.String(k); s != "" {
			out = append(out, k, s)
		}
	}
	return out
}

func (a *Alerter) drop(ev *event.Event, why string) {
	a.cfg.OnAlert(ev.Type, AlertDropped)
	a.cfg.Log.Warn("bridge alert dropped: "+why, append([]any{"event", ev.Type, "event_id", ev.ID}, alertAttrs(ev)...)...)
}

// raise queues an alert without waiting.
func (a *Alerter) raise(typ, id string, data map[string]any) {
	ev, err := newAlertEvent(typ, id, data, a.cfg.NowFunc())
	if err != nil { // a bug: the data above always marshals
		a.cfg.OnAlert(typ, AlertDropped)
		a.cfg.Log.Error("bridge alert could not be built", "event", typ, "event_id", id, "err", err)
		return
	}
	a.qmu.Lock()
	why := ""
	if a.stopped {
		why = "the bridge is stopping"
	} else {
		select {
		case a.queue <- ev:
		default:
			why = fmt.Sprintf("the alert queue is full (%d waiting)", cap(a.queue))
		}
	}
	a.qmu.Unlock()
	if why != "" {
		a.drop(ev, why)
	}
}

func newAlertEvent(typ, id string, data map[string]any, now time.Time) (*event.Event, error) {
	body, err := json.Marshal(map[string]any{"event": typ, "id": id, "timestamp": now.UTC().Format(time.RFC3339Nano), "data": data})
	if err != nil {
		return nil, err
	}
	return event.Parse(body)
}

// AttemptLog returns a DispatcherConfig.AttemptLog that calls next (when set), then lets a see
// the attempt: a dead delivery raises EventDeliveryDead (EventDigestFailed for a digest run),
// and failures in a row make the target unhealthy. Attempts at delivering alerts count for
// nothing, so the failure of an alert's own target never raises another alert.
func (a *Alerter) AttemptLog(next func(*Delivery, Attempt, State)) func(*Delivery, Attempt, State) {
	return func(d *Delivery, at Attempt, state State) {
		if next != nil {
			next(d, at, state)
		}
		a.attempt(d, at, state)
	}
}

// Observer returns an Observer that passes everything to next (nil: nothing) and also lets a
// see circuits opening and closing.
func (a *Alerter) Observer(next Observer) Observer {
	if next == nil {
		next = nopObserver{}
	}
	return alertObserver{Observer: next, a: a}
}

type alertObserver struct {
	Observer
	a *Alerter
}

func (o alertObserver) CircuitOpen(target string, open bool) {
	o.Observer.CircuitOpen(target, open)
	o.a.circuit(target, open)
}

func (a *Alerter) attempt(d *Delivery, at Attempt, state State) {
	typ, alerts := d.EventType, IsBridgeEvent(d.EventType)
	if d.Event != nil {
		typ, alerts = d.Event.Type, CarriesAlerts(d.Event)
	}
	if alerts {
		if state == StateDead {
			a.cfg.OnAlert(EventDeliveryDead, AlertSuppressed)
			a.cfg.Log.Warn("a bridge alert could not be delivered; no alert is raised about it",
				"delivery_id", d.ID, "event_id", d.EventID, "event", typ, "target", d.Target, "err", redactError(at.Error))
		}
		return
	}
	a.health(d.Target, at)
	if state != StateDead {
		return
	}
	if typ == DigestEventType {
		a.digestFailed(d, at)
		return
	}
	data := map[string]any{"delivery_id": d.ID, "event_id": d.EventID, "event": typ, "target": d.Target, "route": d.Route,
		"attempts": at.Number, "reason": at.Outcome, "last_error": redactError(at.Error)}
	if at.StatusCode != 0 {
		data["status_code"] = at.StatusCode
	}
	if d.Event != nil {
		for _, k := range []string{"repo_url", "scan_id"} {
			if s := d.Event.String(k); s != "" {
				data[k] = s
			}
		}
		if run, err := GroupRunOf(d.Event); err == nil && d.Event.Type == GroupEventType {
			// A held message: say which group, so the operator can find its events.
			data["group_key"], data["group_policy"] = run.Key, run.Policy
		}
	}
	a.raise(EventDeliveryDead, fmt.Sprintf("%s:%s:%d", EventDeliveryDead, d.ID, at.Number), data)
}

func (a *Alerter) digestFailed(d *Delivery, at Attempt) {
	data := map[string]any{"delivery_id": d.ID, "target": d.Target, "attempts": at.Number, "error": redactError(at.Error)}
	if d.Event != nil {
		if run, err := DigestRunOf(d.Event); err == nil {
			data["digest"], data["from"], data["to"] = run.Digest, run.From.UTC().Format(time.RFC3339), run.To.UTC().Format(time.RFC3339)
		}
	}
	if data["digest"] == nil {
		data["digest"] = strings.TrimPrefix(d.Route, "digest:")
	}
	a.raise(EventDigestFailed, fmt.Sprintf("%s:%s:%d", EventDigestFailed, d.EventID, at.Number), data)
}

// countsAgainst says whether an attempt outcome says something about the target's health: a rate
// limit is the target working as documented, a template error is ours.
func countsAgainst(outcome string) bool {
	return outcome != "success" && outcome != string(notify.ReasonRateLimited) && outcome != string(notify.ReasonTemplate)
}

// health records an attempt at a Cortex event to target.
func (a *Alerter) health(target string, at Attempt) {
	if at.Outcome != "success" && !countsAgainst(at.Outcome) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.target(target)
	if at.Outcome == "success" {
		a.recover(target, h)
		return
	}
	if h.failures == 0 {
		h.since = at.StartedAt
	}
	h.failures++
	h.lastError = redactError(at.Error)
	if h.unhealthy == "" && a.cfg.FailureStreak > 0 && h.failures >= a.cfg.FailureStreak {
		a.unhealthy(target, h, UnhealthyFailureStreak)
	}
}

// circuit records target's circuit opening (or half-opening) and closing.
func (a *Alerter) circuit(target string, open bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.target(target)
	if !open {
		a.recover(target, h)
		return
	}
	wasOpen := h.open // half-open, or open again after a failed probe: the same episode
	h.open = true
	switch {
	case h.unhealthy != "":
	case h.failures > 0:
		a.unhealthy(target, h, UnhealthyCircuitOpen)
	case !wasOpen:
		// Only deliveries of alerts failed (they are not counted): reporting this would loop.
		a.cfg.OnAlert(EventTargetUnhealthy, AlertSuppressed)
		a.cfg.Log.Warn("circuit opened by failed deliveries of bridge alerts only; no alert is raised about it", "target", target)
	}
}

// target returns target's health record. The caller holds a.mu.
func (a *Alerter) target(name string) *targetHealth {
	h := a.targets[name]
	if h == nil {
		h = &targetHealth{}
		a.targets[name] = h
	}
	return h
}

// unhealthy raises EventTargetUnhealthy for h's episode. The caller holds a.mu, so alerts about
// one target are queued in order.
func (a *Alerter) unhealthy(target string, h *targetHealth, reason string) {
	h.unhealthy = reason
	a.raise(EventTargetUnhealthy, fmt.Sprintf("%s:%s:%d", EventTargetUnhealthy, target, h.since.UnixMilli()), a.healthData(target, h))
}

// recover ends h's episode, raising EventTargetRecovered when it was reported unhealthy. The
// caller holds a.mu.
func (a *Alerter) recover(target string, h *targetHealth) {
	if h.unhealthy != "" {
		a.raise(EventTargetRecovered, fmt.Sprintf("%s:%s:%d", EventTargetRecovered, target, h.since.UnixMilli()), a.healthData(target, h))
	}
	*h = targetHealth{}
}

func (a *Alerter) healthData(target string, h *targetHealth) map[string]any {
	return map[string]any{"target": target, "reason": h.unhealthy, "failures": h.failures, "last_error": h.lastError,
		"since": h.since.UTC().Format(time.RFC3339Nano)}
}

// redactError hides the path, query and user info of every URL in an error text (adapters
// redact their errors already; this is the second line, since alerts travel further:
// notify.RedactURLsIn) and cuts it to MaxAlertErrorRunes.
func redactError(s string) string {
	s = notify.RedactURLsIn(s)
	if utf8.RuneCountInString(s) > MaxAlertErrorRunes {
		s = string([]rune(s)[:MaxAlertErrorRunes-1]) + "…"
	}
	return s
}
