package core

import (
	"cmp"
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v5"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// attempt makes one try of dl with p's target under the plan in force when it starts, queues the
// completion and returns the attempt's error.
func (d *Dispatcher) attempt(ctx context.Context, p *pool, dl *Delivery) error {
	plan := d.plan.Load()
	t := p.target
	route := plan.Router.Route(dl.Route)
	msg := &notify.Message{DeliveryID: dl.ID, Attempt: dl.Attempts + 1, Target: t.Name, Route: dl.Route, Event: dl.Event, Events: []*event.Event{dl.Event}}
	start := d.cfg.NowFunc()
	syncer, _ := t.Notifier.(notify.Syncer)
	err := d.send(ctx, plan, t, route, msg, syncer)
	end := d.cfg.NowFunc()
	if len(msg.Notes) > 0 {
		d.log.Warn("message cut to fit the target's limits", "target", t.Name, "delivery_id", dl.ID, "changes", msg.Notes)
		d.cfg.Observer.MessageCut(t.Name)
	}
	r := result{Completion: d.outcome(p, plan, dl, msg.Attempt, start, end, err)}
	if err == nil && syncer != nil {
		// Not done until the writer's Sync puts the output on disk; the writer reports it.
		r.sync, r.pool, r.plan, r.dl = syncer, p, plan, dl
		d.completions <- r
		return nil
	}
	d.report(t.Name, dl, r.Completion)
	d.completions <- r
	return err
}

// outcome is the completion of attempt number n of dl, which ran from start to end and ended
// with err; a rate limit pauses p's target.
func (d *Dispatcher) outcome(p *pool, plan *Plan, dl *Delivery, n int, start, end time.Time, err error) Completion {
	c := Completion{LeaseOwner: d.cfg.Owner, Attempt: Attempt{
		DeliveryID: dl.ID, Number: n, StartedAt: start, Duration: end.Sub(start), Outcome: "success",
	}, State: StateSucceeded}
	if err == nil {
		return c
	}
	de := notify.AsDeliveryError(err)
	c.Attempt.Outcome, c.Attempt.StatusCode, c.Attempt.Error = string(de.Reason), de.StatusCode, de.Error()
	c.Attempt.Response = truncateUTF8(de.Response, notify.MaxResponseBytes)
	c.LastError = de.Error()
	switch {
	case !de.Retryable || n-dl.RetryBase >= plan.Retry.MaxAttempts:
		c.State = StateDead
	default:
		c.State = StatePending
		c.NextAttemptAt = end.Add(plan.Retry.Delay(n, de.RetryAfter))
	}
	if de.Reason == notify.ReasonRateLimited {
		d.pause(p, de, end.Add(min(cmp.Or(de.RetryAfter, plan.Retry.Delay(n, 0)), plan.Retry.Max)))
	}
	return c
}

// report hands an attempt's outcome to the metrics and the attempt log.
func (d *Dispatcher) report(target string, dl *Delivery, c Completion) {
	d.cfg.Observer.Attempt(target, c.Attempt.Outcome, c.Attempt.Duration, c.State)
	if d.cfg.AttemptLog != nil {
		d.cfg.AttemptLog(dl, c.Attempt, c.State)
	}
}

// result is a completion on its way to the writer. For a success of a notify.Syncer target
// (sync set, with the attempt's pool, plan and delivery), the writer first calls sync.Sync and,
// when that fails, records and reports the failure the attempt would have had (a retryable
// server error) instead: a delivery counts as done only once its output is on disk.
type result struct {
	Completion
	sync notify.Syncer
	pool *pool
	plan *Plan
	dl   *Delivery
}

// send renders msg for t and hands it to the target's Notifier, both within delivery.timeout.
// A Syncer's message is written unsynced (the completion writer syncs it).
func (d *Dispatcher) send(ctx context.Context, plan *Plan, t *Target, route *Route, msg *notify.Message, syncer notify.Syncer) error {
	switch msg.Event.Type {
	case DigestEventType:
		if err := d.digestMessage(ctx, plan, msg); err != nil {
			return err
		}
	case GroupEventType:
		envelope := func(m *notify.Message) bool { key, _ := plan.Renderer.TemplateKey(t, route, m); return key == "" }
		events, err := d.store.GroupEvents(ctx, msg.Event.ID, groupHold(msg, envelope))
		if err != nil {
			return &notify.DeliveryError{Err: err, Reason: notify.ReasonServerError, Retryable: true}
		}
		if err := groupMessage(msg, events, envelope); err != nil {
			return &notify.DeliveryError{Err: err, Reason: notify.ReasonTemplate}
		}
	}
	// Only a template shows the scan context (Renderer.Data): a message sent without one (a
	// webhook's event as received) does not wait for it.
	if key, err := plan.Renderer.TemplateKey(t, route, msg); err == nil && key != "" {
		if err := d.loadScans(ctx, msg); err != nil {
			return err
		}
	}
	// delivery.timeout bounds rendering and sending together; the drain cancels ctx, which
	// stops a render as it stops a send.
	actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	if err := plan.Renderer.RenderContext(actx, msg, t, route); err != nil {
		// Cut off by the drain: retried after the restart, like a cut-off send. Anything else,
		// delivery.timeout included, would fail the same way again.
		return &notify.DeliveryError{Err: err, Reason: notify.ReasonTemplate, Retryable: ctx.Err() != nil}
	}
	if syncer != nil {
		return syncer.NotifyUnsynced(actx, msg)
	}
	return t.Notifier.Notify(actx, msg)
}

// digestMessage loads a digest run's events and fills msg with them (FillDigest).
func (d *Dispatcher) digestMessage(ctx context.Context, plan *Plan, msg *notify.Message) error {
	run, err := DigestRunOf(msg.Event)
	if err != nil {
		return &notify.DeliveryError{Err: fmt.Errorf("digest run %s: %w", msg.Event.ID, err), Reason: notify.ReasonTemplate}
	}
	events, err := d.store.DigestEvents(ctx, msg.Event.ID)
	if err != nil {
		return &notify.DeliveryError{Err: err, Reason: notify.ReasonServerError, Retryable: true}
	}
	var threshold float64
	if spec := plan.Router.Digest(run.Digest); spec != nil {
		threshold = spec.Threshold
	}
	FillDigest(msg, run, events, threshold)
	return nil
}

// completionLinger is how long the completion writer waits for more results after the first
// of a batch: results then share a transaction (and its fsync) instead of 2–3 each, which cut
// completion transactions about 9× at 1 000 deliveries/s. Only the recording waits; the
// receiver already has the message.
const completionLinger = 5 * time.Millisecond

// writeCompletions batches completions into transactions until the channel is closed. A batch
// that cannot be written is retried with backoff: the deliveries keep their leases meanwhile.
func (d *Dispatcher) writeCompletions() {
	batch := make([]result, 0, d.cfg.BatchSize)
	linger := time.NewTimer(completionLinger)
	for c := range d.completions {
		batch = append(batch[:0], c)
		linger.Reset(completionLinger)
	collect:
		for len(batch) < d.cfg.BatchSize {
			select {
			case c, ok := <-d.completions:
				if !ok {
					break collect
				}
				batch = append(batch, c)
			case <-linger.C:
				break collect
			}
		}
		linger.Stop()
		d.writeBatch(batch)
	}
}

// syncOutputs calls Sync once for each notify.Syncer whose successes are in batch, turns those
// results into the failure the attempt would have had when it fails, and reports them.
func (d *Dispatcher) syncOutputs(batch []result) {
	var synced map[notify.Syncer]error
	for i := range batch {
		r := &batch[i]
		if r.sync == nil {
			continue
		}
		err, done := synced[r.sync]
		if !done {
			if synced == nil {
				synced = map[notify.Syncer]error{}
			}
			err = r.sync.Sync()
			synced[r.sync] = err
		}
		if err != nil {
			a := r.Attempt
			r.Completion = d.outcome(r.pool, r.plan, r.dl, a.Number, a.StartedAt, a.StartedAt.Add(a.Duration),
				&notify.DeliveryError{Err: err, Reason: notify.ReasonServerError, Retryable: true})
		}
		d.report(r.pool.target.Name, r.dl, r.Completion)
	}
}

func (d *Dispatcher) writeBatch(batch []result) {
	d.syncOutputs(batch)
	cs := make([]Completion, len(batch))
	for i, r := range batch {
		cs[i] = r.Completion
	}
	op := func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return struct{}{}, d.store.Complete(ctx, cs)
	}
	_, err := backoff.Retry(context.Background(), op,
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: 50 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 5 * time.Second}),
		backoff.WithMaxElapsedTime(d.cfg.Lease),
		backoff.WithNotify(func(err error, next time.Duration) {
			d.log.Warn("writing delivery results failed; retrying", "count", len(cs), "retry_in", next, "err", err)
		}))
	if err != nil {
		d.log.Error("could not write delivery results; those deliveries will be retried when their leases expire",
			"count", len(cs), "err", err)
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Attempt.DeliveryID
	}
	d.forget(ids...)
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
