package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/event"
)

// MaxIngestBatch is the most events one ingest transaction commits (group commit, docs/architecture.md).
const MaxIngestBatch = 512

// AcceptResult is the outcome of Bus.Accept.
type AcceptResult struct {
	Duplicate  bool // the event id was stored before; nothing was enqueued
	Deliveries int  // deliveries enqueued for a new event
	Held       int  // groups the new event was held in (grouping, throttling, quiet hours)
	// Silenced is the id of the silence that matched the new event ("" when none did): its
	// deliveries were recorded as StateSilenced, counted in Deliveries.
	Silenced string
}

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("bridge is shutting down")

// ErrQueueFull is returned by Accept while more deliveries than the limit set by
// SetMaxPending wait in the queue: the sender should retry later (backpressure).
var ErrQueueFull = errors.New("the delivery queue is full")

// pendingRefresh is how often the bus recounts the unfinished deliveries for its limit.
const pendingRefresh = 2 * time.Second

// storageRetry is how long after a failed commit Accept answers ErrUnavailable at once instead
// of queueing for a commit that would wait out the database's own timeouts; the first request
// after it tries again.
const storageRetry = time.Second

// BusStore is what the Bus needs from storage: the ingest commit, the queue's length for its
// limit, and a health check for readiness. A store that is also a WriteProber lets StorageReady
// see storage recover by itself.
type BusStore interface {
	// Ingest stores each new event with its deliveries in one transaction and reports, per item,
	// whether its event id was already stored (then nothing of it is written). Its errors wrap
	// ErrUnavailable.
	Ingest(ctx context.Context, items []IngestItem) (duplicate []bool, err error)
	// Unfinished counts the pending and running deliveries of every target (the queue's length).
	Unfinished(ctx context.Context) (int, error)
	// Ping reports whether storage answers (an error wrapping ErrUnavailable when not).
	Ping(ctx context.Context) error
}

// Bus accepts verified events: it routes each one, then a single writer goroutine stores events
// and their deliveries in group-committed transactions and answers every waiting request only
// after the commit. New deliveries go straight to the dispatcher's workers.
type Bus struct {
	store BusStore
	// findings is store when it reads finding statuses (FindingStatusReader): issue.critical
	// events then get finding_status at ingest.
	findings FindingStatusReader
	disp     *Dispatcher
	now      func() time.Time
	log      *slog.Logger

	reqs      chan *acceptReq
	mu        sync.RWMutex
	closed    bool
	writerWG  sync.WaitGroup
	closeOnce sync.Once
	stop      chan struct{}

	maxPending atomic.Int64 // 0: no limit
	enqueued   atomic.Int64 // deliveries enqueued since the bus started
	countBase  atomic.Int64 // the last count of unfinished deliveries minus enqueued when it began
	commitSeq  atomic.Int64 // odd while an ingest commit is in progress
	downUntil  atomic.Int64 // Unix ns: until then storage is taken as down (after a failed commit)
	// commitFailed holds the error of the last ingest commit when it failed; nil after a
	// commit (or a trial write by StorageReady) succeeded.
	commitFailed atomic.Pointer[error]
	silencer     atomic.Pointer[Silencer] // nil: nothing is silenced
}

type acceptReq struct {
	item     IngestItem
	reserved []*pool // per delivery: the pool whose queue slot it holds, or nil
	silenced string  // the silence that matched the event: its config targets' deliveries are StateSilenced
	done     chan acceptResp
}

type acceptResp struct {
	res AcceptResult
	err error
}

// NewBus starts the ingest writer; Close stops it. Events are routed with disp's plan in force.
func NewBus(store BusStore, disp *Dispatcher, now func() time.Time, log *slog.Logger) *Bus {
	if now == nil {
		now = time.Now
	}
	b := &Bus{store: store, disp: disp, now: now, log: log, reqs: make(chan *acceptReq, MaxIngestBatch*2), stop: make(chan struct{})}
	b.findings, _ = store.(FindingStatusReader)
	b.writerWG.Go(b.write)
	b.writerWG.Go(b.countPending)
	return b
}

// SetMaxPending limits the queue: while more than n deliveries are unfinished (pending or
// running, all targets), Accept refuses new events with ErrQueueFull. n <= 0 removes the
// limit. The count is refreshed every 2 s, plus what was enqueued since, so the queue can
// exceed n by about one refresh's worth of ingest.
func (b *Bus) SetMaxPending(n int) {
	b.maxPending.Store(int64(max(n, 0)))
}

// SetSilencer makes Accept consult s for every event but the bridge's own alerts (nil: no
// silences). A silenced event is stored with its deliveries in StateSilenced, which are never
// sent; it joins no digest and no group.
func (b *Bus) SetSilencer(s Silencer) {
	if s == nil {
		b.silencer.Store(nil)
		return
	}
	b.silencer.Store(&s)
}

// silencedBy returns the id of the active silence that matches ev at now, or "".
func (b *Bus) silencedBy(ev *event.Event, now time.Time) string {
	s := b.silencer.Load()
	if s == nil {
		return ""
	}
	return silenceOf(*s, ev, now)
}

// silenceOf returns the id of the active silence of s (nil: none) that matches ev at now, or
// "". The bridge's own alerts are never silenced: a silence must not hide that the bridge
// itself is failing.
func silenceOf(s Silencer, ev *event.Event, now time.Time) string {
	if s == nil || IsBridgeEvent(ev.Type) {
		return ""
	}
	if id, ok := s.Silenced(ev, now); ok {
		return id
	}
	return ""
}

// QueueFull reports whether more deliveries wait than SetMaxPending allows: Accept refuses
// Cortex events with ErrQueueFull meanwhile (and /readyz says so).
func (b *Bus) QueueFull() bool {
	limit := b.maxPending.Load()
	return limit > 0 && b.countBase.Load()+b.enqueued.Load() > limit
}

// countPending refreshes the unfinished-delivery count while a limit is set.
func (b *Bus) countPending() {
	t := time.NewTicker(pendingRefresh)
	defer t.Stop()
	for {
		if b.maxPending.Load() > 0 {
			b.recount()
		}
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
	}
}

// countTries is how many counts recount takes at most to find one no commit overlapped.
const countTries = 3

// recount sets the queue's size to a count of the unfinished deliveries plus what is enqueued
// after it (countBase + enqueued). A count during which no ingest commit was in progress is
// exact. Under steady ingest one nearly always is, so after countTries the last count is kept
// with what was enqueued before it began: a commit that landed during the count is then counted
// twice until the next refresh — an overestimate by a few milliseconds of ingest, the safe side
// of a limit. (Dropping such commits instead let a queue at its limit take one more event.)
func (b *Bus) recount() {
	for try := 1; ; try++ {
		seq, before := b.commitSeq.Load(), b.enqueued.Load()
		ctx, cancel := context.WithTimeout(Unhurried(context.Background()), pendingRefresh)
		n, err := b.store.Unfinished(ctx)
		cancel()
		if err != nil {
			return
		}
		if exact := seq%2 == 0 && b.commitSeq.Load() == seq; exact || try == countTries {
			b.countBase.Store(int64(n) - before)
			return
		}
		time.Sleep(time.Duration(try) * 5 * time.Millisecond)
	}
}

// Accept routes ev and stores it with its deliveries. It returns once the transaction has
// committed (or failed: then an error wrapping ErrUnavailable, and nothing is stored), so a nil
// error means the event is durable. ev.ReceivedAt is set here.
func (b *Bus) Accept(ctx context.Context, ev *event.Event) (AcceptResult, error) {
	// The bridge's own alerts pass: a full queue is when they matter, and they are few.
	if b.QueueFull() && !IsBridgeEvent(ev.Type) {
		return AcceptResult{}, ErrQueueFull
	}
	if time.Now().UnixNano() < b.downUntil.Load() {
		return AcceptResult{}, fmt.Errorf("%w: the last commit failed less than %s ago", ErrUnavailable, storageRetry)
	}
	now := b.now().UTC()
	ev.ReceivedAt = now
	plan := b.disp.Plan()
	finding := plan.Findings.FindingOf(ev)
	if finding != nil {
		ev.Fingerprint = finding.Fingerprint // computed by FindingOf anyway: rules read it as fingerprint
	}
	if finding != nil && b.findings != nil && plan.Router.UsesFindingStatus() {
		status, err := b.findings.FindingStatus(ctx, finding.ScanID, finding.Fingerprint)
		if err != nil {
			return AcceptResult{}, fmt.Errorf("%w: finding status: %v", ErrUnavailable, err)
		}
		ev.FindingStatus = status
	}
	// A silence covers the config's targets only: registered webhooks belong to tenants, who
	// cannot see or end silences, so their deliveries go on (docs/api.md, Silences). A silenced
	// event still reports its scan's finding or completion (findings).
	silence := b.silencedBy(ev, now)
	req := &acceptReq{done: make(chan acceptResp, 1), silenced: silence}
	req.item, req.reserved = b.disp.ingestItem(plan, ev, now, true, silence)
	req.item.Finding = finding
	return b.submit(req)
}

// submit queues req for the ingest writer and waits for its commit.
func (b *Bus) submit(req *acceptReq) (AcceptResult, error) {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		b.releaseAll(req)
		return AcceptResult{}, ErrClosed
	}
	b.reqs <- req
	b.mu.RUnlock()
	r := <-req.done
	return r.res, r.err
}

// StorageReady is the readiness of storage as ingest sees it (/readyz's "storage" check): the
// store's Ping error, if any; else nil until an ingest commit fails (a full disk, a read-only
// file system: Ping may still answer), then an error wrapping ErrUnavailable until storage
// takes writes again. Meanwhile each call makes a trial write when
// the store is a WriteProber (a trivial commit, only while the last commit failed), so an idle
// bridge becomes ready again without waiting for an event that a load balancer would not send
// it; otherwise only the next successful ingest commit clears it.
func (b *Bus) StorageReady(ctx context.Context) error {
	if err := b.store.Ping(ctx); err != nil {
		return err
	}
	failed := b.commitFailed.Load()
	if failed == nil {
		return nil
	}
	p, ok := b.store.(WriteProber)
	if !ok {
		return fmt.Errorf("%w: the last ingest commit failed: %v", ErrUnavailable, *failed)
	}
	if err := p.ProbeWrite(ctx); err != nil {
		return fmt.Errorf("%w: the last ingest commit failed and a trial write fails too: %v", ErrUnavailable, err)
	}
	b.commitFailed.CompareAndSwap(failed, nil)
	return nil
}

// Close stops accepting, commits what is queued and stops the writer.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		close(b.reqs)
		close(b.stop)
		b.mu.Unlock()
	})
	b.writerWG.Wait()
}

func (b *Bus) write() {
	batch := make([]*acceptReq, 0, MaxIngestBatch)
	for r := range b.reqs {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < MaxIngestBatch {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		b.commit(batch)
	}
}

func (b *Bus) commit(batch []*acceptReq) {
	b.commitSeq.Add(1) // odd: counts taken now are not exact (recount)
	defer b.commitSeq.Add(1)
	items := make([]IngestItem, len(batch))
	for i, r := range batch {
		items[i] = r.item
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	dup, err := b.store.Ingest(ctx, items)
	cancel()
	// The bookkeeping comes before the answers, so a sender's next event already sees it (the
	// queue's size, storage being down).
	if err != nil {
		b.commitFailed.Store(&err)
		b.downUntil.Store(time.Now().Add(storageRetry).UnixNano())
		b.log.Error("storing events failed; senders were told to retry (503)", "count", len(batch), "err", err)
	} else {
		b.commitFailed.Store(nil)
		b.downUntil.Store(0)
		if c := b.disp.scans; c != nil && c.active() {
			// Before any delivery of the batch is handed off: its message shows what was committed.
			stored := make([]*event.Event, 0, len(batch))
			for i, r := range batch {
				if !dup[i] {
					stored = append(stored, r.item.Event)
				}
			}
			c.committed(stored)
		}
		var enqueued int64
		for i, r := range batch {
			if dup[i] {
				continue
			}
			for _, dl := range r.item.Deliveries {
				if dl.State == StateSilenced {
					b.disp.cfg.Observer.Silenced(dl.Target)
				} else {
					enqueued++
				}
			}
		}
		b.enqueued.Add(enqueued)
	}
	for i, r := range batch {
		switch {
		case err != nil:
			b.releaseAll(r)
			r.done <- acceptResp{err: err}
		case dup[i]:
			b.releaseAll(r)
			r.done <- acceptResp{res: AcceptResult{Duplicate: true}}
		default:
			for j, dl := range r.item.Deliveries {
				if p := r.reserved[j]; p != nil {
					b.disp.handOff(p, dl)
				}
			}
			held := 0
			for _, g := range r.item.Groups {
				if g.Member {
					held++
				}
			}
			r.done <- acceptResp{res: AcceptResult{Deliveries: len(r.item.Deliveries), Held: held, Silenced: r.silenced}}
		}
	}
}

// ingestItem routes ev as ingest does at now (ev.ReceivedAt): its deliveries, digests, groups
// and the comparison a scan.completed asks for (findings). With silence (the id of a silence
// matching ev), the config's targets get a silenced delivery each and nothing is held or
// digested; registered webhooks are delivered to as usual. With reserve, a delivery whose
// target's pool has room is leased to this replica at once (reserved holds, per delivery, that
// pool or nil, to hand it off after the commit); without, every delivery is pending for the
// poller.
func (d *Dispatcher) ingestItem(plan *Plan, ev *event.Event, now time.Time, reserve bool, silence string) (item IngestItem, reserved []*pool) {
	router := plan.Router
	assigned := router.Assign(ev, d.Enabled)
	silenced := silence != ""
	item = IngestItem{Event: ev}
	if !silenced {
		item.Digests = router.DigestsFor(ev)
	}
	item.ScanCompleted, item.CompareAt = plan.Findings.completion(ev, now)
	var member map[[2]string]bool
	for _, a := range assigned {
		if silenced && !strings.HasPrefix(a.Target, WebhookPrefix) {
			item.Deliveries = append(item.Deliveries, &Delivery{
				ID: uuid.Must(uuid.NewV7()).String(), EventID: ev.ID, Target: a.Target, Route: a.Route.Name,
				State: StateSilenced, NextAttemptAt: now, CreatedAt: now, Event: ev, LastError: SilencedBy(silence),
			})
			if reserve {
				reserved = append(reserved, nil)
			}
			continue
		}
		if g, drop := router.hold(a.Route, a.Target, ev, now); drop {
			continue
		} else if g != nil {
			item.Groups = append(item.Groups, *g)
			if member == nil {
				member = map[[2]string]bool{}
			}
			member[[2]string{a.Target, a.Route.Name}] = true
			continue
		}
		dl := &Delivery{
			ID: uuid.Must(uuid.NewV7()).String(), EventID: ev.ID, Target: a.Target, Route: a.Route.Name,
			State: StatePending, NextAttemptAt: now, CreatedAt: now, Event: ev,
		}
		if reserve {
			p := d.reserve(a.Target)
			if p != nil {
				dl.State, dl.LeaseOwner, dl.LeaseUntil = StateRunning, d.Owner(), now.Add(d.Lease())
			}
			reserved = append(reserved, p)
		}
		item.Deliveries = append(item.Deliveries, dl)
	}
	if !silenced {
		item.Groups = append(item.Groups, router.closers(ev, member, d.Enabled)...)
	}
	return item, reserved
}

func (b *Bus) releaseAll(r *acceptReq) {
	for _, p := range r.reserved {
		if p != nil {
			p.release()
		}
	}
}
