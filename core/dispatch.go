package core

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"
)

// DispatcherConfig tunes the delivery side of the queue. Zero fields take the defaults shown.
type DispatcherConfig struct {
	Owner        string        // lease owner id of this process (required, unique per process)
	Timeout      time.Duration // per attempt (default 30s)
	Retry        RetryPolicy
	PollInterval time.Duration // how often due rows are claimed (default 250ms)
	QueueSize    int           // in-memory deliveries per target (default 1024)
	// Lease is how long a claim lasts without renewal (default Timeout+15s); leases are renewed
	// every Lease/3 while this process runs, so only a dead process's deliveries are reclaimed.
	Lease      time.Duration
	Retention  time.Duration // prune finished events older than this (0: keep forever)
	BatchSize  int           // completions per transaction (default 512)
	NowFunc    func() time.Time
	AttemptLog func(d *Delivery, a Attempt, state State) // optional: called after each attempt
}

func (c *DispatcherConfig) withDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	if c.Lease <= 0 {
		c.Lease = c.Timeout + 15*time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 512
	}
	if c.Retry.MaxAttempts <= 0 {
		c.Retry.MaxAttempts = 4
	}
	if c.Retry.Initial <= 0 {
		c.Retry.Initial = 5 * time.Second
	}
	if c.Retry.Max <= 0 {
		c.Retry.Max = 10 * time.Minute
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
}

// Dispatcher works the delivery queue: per-target worker pools fed directly by ingest (no
// polling wait) and by a poller that claims due rows (retries, expired leases); a heartbeat that
// renews this process's leases; a completion writer that batches attempt results.
type Dispatcher struct {
	cfg      DispatcherConfig
	store    Store
	renderer *Renderer
	router   *Router
	log      *slog.Logger
	pools    map[string]*pool

	mu       sync.Mutex
	inflight map[string]struct{} // delivery ids this process holds, from hand-off to completion

	completions chan Completion
	wg          sync.WaitGroup
}

// pool is one target's queue and workers.
type pool struct {
	target      *Target
	queue       chan *Delivery
	used        atomic.Int64 // queued + reserved slots
	limiter     *rate.Limiter
	pausedUntil atomic.Int64 // unix nanos; set by a 429 so every worker of the target waits
}

// NewDispatcher builds the pools for the enabled targets. Run starts it.
func NewDispatcher(cfg DispatcherConfig, store Store, targets []*Target, router *Router, renderer *Renderer, log *slog.Logger) *Dispatcher {
	cfg.withDefaults()
	d := &Dispatcher{
		cfg: cfg, store: store, renderer: renderer, router: router, log: log,
		pools:       map[string]*pool{},
		inflight:    map[string]struct{}{},
		completions: make(chan Completion, cfg.BatchSize*2),
	}
	for _, t := range targets {
		if t.Notifier == nil || t.Disabled != "" {
			continue
		}
		lim := rate.NewLimiter(rate.Inf, 0)
		if t.RateLimit > 0 {
			lim = rate.NewLimiter(rate.Limit(t.RateLimit), max(t.Burst, 1))
		}
		d.pools[t.Name] = &pool{target: t, queue: make(chan *Delivery, cfg.QueueSize), limiter: lim}
	}
	return d
}

// Enabled reports whether target has a worker pool (configured and not disabled).
func (d *Dispatcher) Enabled(target string) bool { return d.pools[target] != nil }

// Owner is this process's lease owner id.
func (d *Dispatcher) Owner() string { return d.cfg.Owner }

// Lease is the lease length given to claimed and directly dispatched deliveries.
func (d *Dispatcher) Lease() time.Duration { return d.cfg.Lease }

// reserve takes a queue slot of target for a delivery about to be committed; false when the
// queue is full (the delivery is then stored pending and the poller picks it up).
func (d *Dispatcher) reserve(target string) bool {
	p := d.pools[target]
	if p == nil {
		return false
	}
	for {
		u := p.used.Load()
		if u >= int64(cap(p.queue)) {
			return false
		}
		if p.used.CompareAndSwap(u, u+1) {
			return true
		}
	}
}

// release gives back a reserved slot whose delivery was not committed.
func (d *Dispatcher) release(target string) { d.pools[target].used.Add(-1) }

// handOff queues a committed delivery that holds a reserved slot. It never blocks.
func (d *Dispatcher) handOff(dl *Delivery) {
	d.mu.Lock()
	_, dup := d.inflight[dl.ID]
	if !dup {
		d.inflight[dl.ID] = struct{}{}
	}
	d.mu.Unlock()
	p := d.pools[dl.Target]
	if dup {
		p.used.Add(-1)
		return
	}
	p.queue <- dl
}

// Run starts workers, poller, heartbeat, pruner and completion writer, and blocks until ctx is
// done. Then it stops taking work, lets running attempts finish (each bounded by Timeout),
// writes their completions and hands the leases of queued deliveries back.
func (d *Dispatcher) Run(ctx context.Context) {
	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	var workers sync.WaitGroup
	for _, p := range d.pools {
		for range max(p.target.Concurrency, 1) {
			workers.Go(func() { d.work(ctx, workCtx, p) })
		}
	}
	writerDone := make(chan struct{})
	go func() { d.writeCompletions(); close(writerDone) }()
	var loops sync.WaitGroup
	loops.Go(func() { d.every(ctx, d.cfg.PollInterval, d.poll) })
	loops.Go(func() { d.every(ctx, d.cfg.Lease/3, d.heartbeat) })
	if d.cfg.Retention > 0 {
		loops.Go(func() { d.every(ctx, time.Hour, d.prune) })
	}
	<-ctx.Done()
	loops.Wait()
	workers.Wait()
	close(d.completions)
	<-writerDone
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := d.store.ReleaseLeases(rctx, d.cfg.Owner, d.cfg.NowFunc()); err != nil {
		d.log.Error("could not hand back leases; they expire on their own", "err", err)
	} else if n > 0 {
		d.log.Info("handed back queued deliveries", "count", n)
	}
}

func (d *Dispatcher) every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// poll claims due deliveries for every target with free queue slots.
func (d *Dispatcher) poll(ctx context.Context) {
	now := d.cfg.NowFunc()
	targets, err := d.store.DueTargets(ctx, now)
	if err != nil {
		d.log.Warn("poll: listing due deliveries failed", "err", err)
		return
	}
	for _, name := range targets {
		p := d.pools[name]
		if p == nil {
			continue // disabled or removed target: its deliveries wait
		}
		n := 0
		for n < d.cfg.BatchSize && d.reserve(name) {
			n++
		}
		if n == 0 {
			continue
		}
		ds, err := d.store.Claim(ctx, ClaimRequest{Owner: d.cfg.Owner, Target: name, Now: now, Lease: d.cfg.Lease, Limit: n})
		if err != nil {
			d.log.Warn("poll: claim failed", "target", name, "err", err)
		}
		for i := len(ds); i < n; i++ {
			d.release(name)
		}
		for _, dl := range ds {
			d.handOff(dl)
		}
	}
}

func (d *Dispatcher) heartbeat(ctx context.Context) {
	if _, err := d.store.RenewLeases(ctx, d.cfg.Owner, d.cfg.NowFunc().Add(d.cfg.Lease)); err != nil {
		d.log.Warn("renewing leases failed", "err", err)
	}
}

func (d *Dispatcher) prune(ctx context.Context) {
	n, err := d.store.Prune(ctx, d.cfg.NowFunc().Add(-d.cfg.Retention))
	if err != nil {
		d.log.Warn("pruning old events failed", "err", err)
	} else if n > 0 {
		d.log.Info("pruned events past retention", "count", n)
	}
}

// work runs one worker of pool p until stop is done. Attempts run under workCtx so that a
// shutdown lets them finish.
func (d *Dispatcher) work(stop, workCtx context.Context, p *pool) {
	for {
		select {
		case <-stop.Done():
			return
		case dl := <-p.queue:
			p.used.Add(-1)
			if !d.waitTurn(stop, p) {
				return // shutting down: the lease is handed back
			}
			d.attempt(workCtx, p, dl)
		}
	}
}

// waitTurn waits out a target-wide pause (after a 429) and the target's rate limit.
func (d *Dispatcher) waitTurn(ctx context.Context, p *pool) bool {
	if until := time.Unix(0, p.pausedUntil.Load()); until.After(d.cfg.NowFunc()) {
		t := time.NewTimer(until.Sub(d.cfg.NowFunc()))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return p.limiter.Wait(ctx) == nil
}

func (d *Dispatcher) attempt(ctx context.Context, p *pool, dl *Delivery) {
	t := p.target
	route := d.router.Route(dl.Route)
	msg := &Message{DeliveryID: dl.ID, Attempt: dl.Attempts + 1, Target: t.Name, Route: dl.Route, Event: dl.Event, Events: []*Event{dl.Event}}
	start := d.cfg.NowFunc()
	err := d.send(ctx, t, route, msg)
	end := d.cfg.NowFunc()
	c := Completion{LeaseOwner: d.cfg.Owner, Attempt: Attempt{
		DeliveryID: dl.ID, Number: msg.Attempt, StartedAt: start, Duration: end.Sub(start), Outcome: "success",
	}, State: StateSucceeded}
	if err != nil {
		de := AsDeliveryError(err)
		c.Attempt.Outcome, c.Attempt.StatusCode, c.Attempt.Error = string(de.Reason), de.StatusCode, de.Error()
		c.Attempt.Response = truncateUTF8(de.Response, MaxResponseBytes)
		c.LastError = de.Error()
		switch {
		case !de.Retryable || msg.Attempt >= d.cfg.Retry.MaxAttempts:
			c.State = StateDead
		default:
			c.State = StatePending
			c.NextAttemptAt = end.Add(d.cfg.Retry.Delay(msg.Attempt, de.RetryAfter))
		}
		if de.Reason == ReasonRateLimited {
			d.pause(p, de, end.Add(min(cmp.Or(de.RetryAfter, d.cfg.Retry.Delay(msg.Attempt, 0)), d.cfg.Retry.Max)))
		}
	}
	if d.cfg.AttemptLog != nil {
		d.cfg.AttemptLog(dl, c.Attempt, c.State)
	}
	d.completions <- c
}

// send renders msg for t and hands it to the target's Notifier, within delivery.timeout.
func (d *Dispatcher) send(ctx context.Context, t *Target, route *Route, msg *Message) error {
	if msg.Event.Type == DigestEventType {
		if err := d.digestMessage(ctx, msg); err != nil {
			return err
		}
	}
	if err := d.renderer.Render(msg, t, route); err != nil {
		return &DeliveryError{Err: err, Reason: ReasonTemplate}
	}
	actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	return t.Notifier.Notify(actx, msg)
}

// digestMessage loads a digest run's events and computes the digest its template shows; the
// events also go along as a CSV attachment.
func (d *Dispatcher) digestMessage(ctx context.Context, msg *Message) error {
	run, err := DigestRunOf(msg.Event)
	if err != nil {
		return &DeliveryError{Err: fmt.Errorf("digest run %s: %w", msg.Event.ID, err), Reason: ReasonTemplate}
	}
	events, err := d.store.DigestEvents(ctx, msg.Event.ID)
	if err != nil {
		return &DeliveryError{Err: err, Reason: ReasonServerError, Retryable: true}
	}
	var threshold float64
	if spec := d.router.Digest(run.Digest); spec != nil {
		threshold = spec.Threshold
	}
	dg := NewDigest(run.Digest, run.From, run.To, events, threshold)
	dg.Template = run.Template
	msg.Digest, msg.Events = dg, events
	if len(events) > 0 {
		msg.Attachments = []Attachment{{Name: fmt.Sprintf("cortex-digest-%s-%s.csv", run.Digest, run.To.UTC().Format("2006-01-02")),
			ContentType: "text/csv", Data: dg.CSV()}}
	}
	return nil
}

// pause holds back every worker of p's target until until (C04: other deliveries to a
// rate-limited target wait too); a global rate limit pauses every target of the same type.
func (d *Dispatcher) pause(p *pool, de *DeliveryError, until time.Time) {
	for _, q := range d.pools {
		if q == p || (de.Global && q.target.Type == p.target.Type) {
			for {
				cur := q.pausedUntil.Load()
				if cur >= until.UnixNano() || q.pausedUntil.CompareAndSwap(cur, until.UnixNano()) {
					break
				}
			}
		}
	}
}

// writeCompletions batches completions into transactions until the channel is closed. A batch
// that cannot be written is retried with backoff: the deliveries keep their leases meanwhile.
func (d *Dispatcher) writeCompletions() {
	batch := make([]Completion, 0, d.cfg.BatchSize)
	for c := range d.completions {
		batch = append(batch[:0], c)
	drain:
		for len(batch) < d.cfg.BatchSize {
			select {
			case c, ok := <-d.completions:
				if !ok {
					break drain
				}
				batch = append(batch, c)
			default:
				break drain
			}
		}
		d.writeBatch(batch)
	}
}

func (d *Dispatcher) writeBatch(batch []Completion) {
	op := func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return struct{}{}, d.store.Complete(ctx, batch)
	}
	_, err := backoff.Retry(context.Background(), op,
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: 50 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 5 * time.Second}),
		backoff.WithMaxElapsedTime(d.cfg.Lease),
		backoff.WithNotify(func(err error, next time.Duration) {
			d.log.Warn("writing delivery results failed; retrying", "count", len(batch), "retry_in", next, "err", err)
		}))
	if err != nil {
		d.log.Error("could not write delivery results; those deliveries will be retried when their leases expire",
			"count", len(batch), "err", err)
	}
	d.mu.Lock()
	for _, c := range batch {
		delete(d.inflight, c.Attempt.DeliveryID)
	}
	d.mu.Unlock()
}

// Idle reports whether nothing is queued or running in this process (for tests and shutdown).
func (d *Dispatcher) Idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.inflight) == 0
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
