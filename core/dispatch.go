package core

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// Defaults of DispatcherConfig. DefaultTimeout is also delivery.timeout's (docs/configuration.md).
const (
	DefaultTimeout      = 30 * time.Second       // per attempt
	DefaultPollInterval = 250 * time.Millisecond // between claims of due rows
	DefaultQueueSize    = 1024                   // in-memory deliveries per target
	DefaultBatchSize    = 512                    // completions per transaction
	// DefaultLeaseMargin is what a default lease adds to the attempt timeout: time for the
	// completion writer to record the outcome before another replica may claim the delivery.
	DefaultLeaseMargin = 15 * time.Second
)

// DispatcherConfig tunes the delivery side of the queue. Zero fields take the defaults shown.
type DispatcherConfig struct {
	Owner        string        // lease owner id of this process (required, unique per process)
	Timeout      time.Duration // per attempt (default DefaultTimeout)
	DrainTimeout time.Duration // how long running attempts may finish after a stop (default Timeout)
	PollInterval time.Duration // how often due rows are claimed (default DefaultPollInterval)
	QueueSize    int           // in-memory deliveries per target (default DefaultQueueSize)
	// Lease is how long a claim lasts without renewal (default Timeout+DefaultLeaseMargin);
	// leases are renewed every Lease/3 while this process runs, so only a dead process's
	// deliveries are reclaimed.
	Lease time.Duration
	// Retention: finished events older than this are pruned a minute after Run starts, then
	// hourly (0: keep forever).
	Retention time.Duration
	// ReplayWindow, when set, returns how long an event id must be kept so that ingest still
	// answers a replay "duplicate" (api.Ingest.ReplayWindow: 2 × ingest.tolerance plus a
	// margin). Prune never removes an event younger than that, even when Retention is shorter:
	// a pruned id would let a byte-identical request in again while its timestamp is fresh.
	ReplayWindow func() time.Duration
	BatchSize    int // completions per transaction (default DefaultBatchSize)
	NowFunc      func() time.Time
	AttemptLog   func(d *Delivery, a Attempt, state State) // optional: called after each attempt
	Observer     Observer                                  // optional: measurements (metrics)
}

func (c *DispatcherConfig) withDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = c.Timeout
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Lease <= 0 {
		c.Lease = c.Timeout + DefaultLeaseMargin
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
}

// Plan is what the dispatcher delivers with: the targets, the routes and digests, the templates
// and the retry policy. Apply replaces it while the bridge runs (config reload).
type Plan struct {
	Targets  []*Target
	Router   *Router
	Renderer *Renderer
	Retry    RetryPolicy
	Findings FindingsPolicy // how findings are identified and compared (findings.go)
}

func (p *Plan) withDefaults() {
	if p.Router == nil {
		p.Router = &Router{}
	}
	if p.Retry.MaxAttempts <= 0 {
		p.Retry.MaxAttempts = DefaultMaxAttempts
	}
	if p.Retry.Initial <= 0 {
		p.Retry.Initial = DefaultBackoffInitial
	}
	if p.Retry.Max <= 0 {
		p.Retry.Max = DefaultBackoffMax
	}
}

// DispatcherStore is what the Dispatcher needs from storage: the delivery queue (claim, lease,
// complete), the events of digest runs and groups it renders, and pruning. Every method that
// writes runs in one transaction; errors wrap ErrUnavailable. A store that is also a Waker
// lets the poller claim at once what another replica stored.
type DispatcherStore interface {
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
	// Prune deletes events received before cutoff whose deliveries are all finished, with their
	// deliveries and attempts, and the scan contexts whose last event was received before
	// cutoff; it returns the number of events deleted.
	Prune(ctx context.Context, cutoff time.Time) (int64, error)
	// Scans returns the scan contexts recorded at ingest (event.ScanOf, merged per scan) for the
	// given scan ids, keyed by scan id; an id with no record is absent.
	Scans(ctx context.Context, ids []string) (map[string]event.Scan, error)
	// DigestEvents returns the events of a digest run (by its event id), oldest first.
	DigestEvents(ctx context.Context, runID string) ([]*event.Event, error)
	// GroupEvents returns the events a fired group lists (by its event id), oldest first. When
	// hold is not nil it is given each event as it is loaded, with the number of events the
	// group lists, and what it returns is listed instead (a group item: the event cut,
	// GroupItem); the store then never holds more full bodies at once than one step of its load.
	GroupEvents(ctx context.Context, groupID string, hold func(ev *event.Event, members int) *event.Event) ([]*event.Event, error)
}

// Dispatcher works the delivery queue: per-target worker pools fed directly by ingest (no
// polling wait) and by a poller that claims due rows (retries, expired leases, other replicas'
// work); a heartbeat that renews this process's leases; a completion writer that batches attempt
// results.
type Dispatcher struct {
	cfg   DispatcherConfig
	store DispatcherStore
	log   *slog.Logger
	plan  atomic.Pointer[Plan]

	poolsMu sync.RWMutex
	pools   map[string]*pool
	run     *runState // set while Run runs, so Apply can start workers

	mu       sync.Mutex
	inflight map[string]struct{} // delivery ids this process holds, from hand-off to completion

	completions chan result
	// scans caches scan contexts for messages when the store is a SoleWriter (nil otherwise);
	// the bus merges what it commits (Bus.commit).
	scans *scanCache
}

// runState is what workers started during Run share.
type runState struct {
	stop    context.Context // done when Run is asked to stop: workers take no more work
	work    context.Context // attempts run under it, so a stop lets them finish
	workers *sync.WaitGroup
}

// NewDispatcher builds the pools for plan's enabled targets. Run starts it.
func NewDispatcher(cfg DispatcherConfig, store DispatcherStore, plan *Plan, log *slog.Logger) *Dispatcher {
	cfg.withDefaults()
	d := &Dispatcher{
		cfg: cfg, store: store, log: log,
		pools:       map[string]*pool{},
		inflight:    map[string]struct{}{},
		completions: make(chan result, cfg.BatchSize*2),
	}
	if sw, ok := store.(SoleWriter); ok && sw.SoleWriter() {
		d.scans = newScanCache()
	}
	d.Apply(plan)
	return d
}

// Plan returns the plan in force.
func (d *Dispatcher) Plan() *Plan { return d.plan.Load() }

// Enabled reports whether target has a worker pool (configured and not disabled).
func (d *Dispatcher) Enabled(target string) bool {
	d.poolsMu.RLock()
	defer d.poolsMu.RUnlock()
	return d.pools[target] != nil
}

// Owner is this process's lease owner id.
func (d *Dispatcher) Owner() string { return d.cfg.Owner }

// Lease is the lease length given to claimed and directly dispatched deliveries.
func (d *Dispatcher) Lease() time.Duration { return d.cfg.Lease }

// Apply puts plan in force. A target whose Fingerprint is unchanged keeps its pool and
// Notifier (plan's new Target for it is returned unused, for the caller to close); a changed
// target gets a new pool, and the old one finishes its running attempts and hands its queued
// deliveries back; the pool of a target that is gone or disabled stops the same way. Deliveries
// of targets that are no longer configured at all are cancelled with a reason.
func (d *Dispatcher) Apply(plan *Plan) (unused []*Target) {
	plan.withDefaults()
	d.poolsMu.Lock()
	defer d.poolsMu.Unlock()
	next := map[string]*pool{}
	configured := make([]string, 0, len(plan.Targets))
	for _, t := range plan.Targets {
		configured = append(configured, t.Name)
		if t.Notifier == nil || t.Disabled != "" {
			continue
		}
		if old := d.pools[t.Name]; old != nil && (old.target == t || t.Fingerprint != "" && old.target.Fingerprint == t.Fingerprint) {
			next[t.Name] = old
			if old.target != t {
				unused = append(unused, t)
			}
			continue
		}
		p := d.newPool(t, d.cfg.QueueSize)
		next[t.Name] = p
		if d.run != nil {
			d.startWorkers(p)
		}
	}
	for name, old := range d.pools {
		if next[name] != old {
			d.retire(old, configured)
		}
	}
	d.pools = next
	d.plan.Store(plan)
	if d.run != nil || len(configured) > 0 {
		go d.cancelUnconfigured(configured)
	}
	return unused
}

// cancelUnconfigured cancels the unfinished deliveries of targets no longer in the config, which
// would otherwise wait forever.
func (d *Dispatcher) cancelUnconfigured(configured []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := d.store.CancelDeliveries(ctx, configured, "target no longer configured", d.cfg.NowFunc())
	switch {
	case err != nil:
		d.log.Warn("could not cancel the deliveries of removed targets; they stay pending", "err", err)
	case n > 0:
		d.log.Info("cancelled deliveries of targets no longer configured", "count", n)
	}
}

// Run starts workers, poller, heartbeat, pruner and completion writer, and blocks until ctx is
// done. Then it stops taking work, lets running attempts finish for up to DrainTimeout (then
// cuts them off), writes their completions, closes the targets' Notifiers and hands the leases
// of queued deliveries back.
func (d *Dispatcher) Run(ctx context.Context) {
	ctx = Unhurried(ctx)
	workCtx, stopWork := context.WithCancel(Unhurried(context.Background()))
	defer stopWork()
	var workers sync.WaitGroup
	d.poolsMu.Lock()
	d.run = &runState{stop: ctx, work: workCtx, workers: &workers}
	for _, p := range d.pools {
		d.startWorkers(p)
	}
	d.poolsMu.Unlock()

	writerDone := make(chan struct{})
	go func() { d.writeCompletions(); close(writerDone) }()
	var loops sync.WaitGroup
	loops.Go(func() { pollEvery(ctx, d.cfg.PollInterval, d.store, d.poll) }) // and on Waker signals
	loops.Go(func() { d.every(ctx, d.cfg.Lease/3, d.heartbeat) })
	if d.cfg.Retention > 0 {
		loops.Go(func() {
			// First soon after the start (a bridge restarted more often than hourly still
			// prunes), then hourly.
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Minute):
				d.prune(ctx)
			}
			d.every(ctx, time.Hour, d.prune)
		})
	}
	<-ctx.Done()
	loops.Wait()
	idle := make(chan struct{})
	go func() { workers.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-time.After(d.cfg.DrainTimeout):
		d.log.Warn("drain timeout: cutting off running attempts; they are retried after the restart", "drain_timeout", d.cfg.DrainTimeout)
		stopWork()
		<-idle
	}
	close(d.completions)
	<-writerDone
	d.poolsMu.Lock()
	for _, p := range d.pools {
		_ = notify.Close(p.target.Notifier)
	}
	d.poolsMu.Unlock()
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := d.store.ReleaseLeases(rctx, d.cfg.Owner, nil, d.cfg.NowFunc()); err != nil {
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
		p := d.reserve(name)
		if p == nil {
			continue // disabled, removed or full: its deliveries wait
		}
		n := 1
		for n < d.cfg.BatchSize && p.reserve() {
			n++
		}
		ds, err := d.store.Claim(ctx, ClaimRequest{Owner: d.cfg.Owner, Target: name, Now: now, Lease: d.cfg.Lease, Limit: n})
		if err != nil {
			d.log.Warn("poll: claim failed", "target", name, "err", err)
		}
		for i := len(ds); i < n; i++ {
			p.release()
		}
		for _, dl := range ds {
			d.handOff(p, dl)
		}
	}
}

// heartbeat renews the leases of the deliveries this process holds (queued or running), and
// only those: a lease claimed but not held, by a failure between claim and hand-off, expires.
func (d *Dispatcher) heartbeat(ctx context.Context) {
	d.mu.Lock()
	ids := make([]string, 0, len(d.inflight))
	for id := range d.inflight {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if _, err := d.store.RenewLeases(ctx, d.cfg.Owner, ids, d.cfg.NowFunc().Add(d.cfg.Lease)); err != nil {
		d.log.Warn("renewing leases failed", "err", err)
	}
}

func (d *Dispatcher) prune(ctx context.Context) {
	n, err := d.Prune(ctx)
	if err != nil {
		d.log.Warn("pruning old events failed", "err", err)
	} else if n > 0 {
		d.log.Info("pruned events past retention", "count", n)
	}
}

// Prune deletes the finished events received longer ago than Retention, or than ReplayWindow
// when that is longer, with their deliveries and attempts, and returns how many went. Run calls
// it a minute after the start, then hourly; with Retention 0 it deletes nothing. Errors wrap
// ErrUnavailable.
func (d *Dispatcher) Prune(ctx context.Context) (int64, error) {
	if d.cfg.Retention <= 0 {
		return 0, nil
	}
	keep := d.cfg.Retention
	if d.cfg.ReplayWindow != nil {
		keep = max(keep, d.cfg.ReplayWindow())
	}
	n, err := d.store.Prune(ctx, d.cfg.NowFunc().Add(-keep))
	if d.scans != nil {
		d.scans.clear() // scan contexts may have gone with the events, even when err is set
	}
	return n, err
}

// Idle reports whether nothing is queued or running in this process (for tests and shutdown).
func (d *Dispatcher) Idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.inflight) == 0
}

// forget drops a delivery from the in-flight set.
func (d *Dispatcher) forget(ids ...string) {
	d.mu.Lock()
	for _, id := range ids {
		delete(d.inflight, id)
	}
	d.mu.Unlock()
}
