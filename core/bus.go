package core

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// MaxIngestBatch is the most events one ingest transaction commits (DESIGN.md: group commit).
const MaxIngestBatch = 512

// AcceptResult is the outcome of Bus.Accept.
type AcceptResult struct {
	Duplicate  bool // the event id was stored before; nothing was enqueued
	Deliveries int  // deliveries enqueued for a new event
}

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("bridge is shutting down")

// Bus accepts verified events: it routes each one, then a single writer goroutine stores events
// and their deliveries in group-committed transactions and answers every waiting request only
// after the commit. New deliveries go straight to the dispatcher's workers.
type Bus struct {
	store Store
	disp  *Dispatcher
	now   func() time.Time
	log   *slog.Logger

	reqs      chan *acceptReq
	mu        sync.RWMutex
	closed    bool
	writerWG  sync.WaitGroup
	closeOnce sync.Once
}

type acceptReq struct {
	item     IngestItem
	reserved []*pool // per delivery: the pool whose queue slot it holds, or nil
	done     chan acceptResp
}

type acceptResp struct {
	res AcceptResult
	err error
}

// NewBus starts the ingest writer; Close stops it. Events are routed with disp's plan in force.
func NewBus(store Store, disp *Dispatcher, now func() time.Time, log *slog.Logger) *Bus {
	if now == nil {
		now = time.Now
	}
	b := &Bus{store: store, disp: disp, now: now, log: log, reqs: make(chan *acceptReq, MaxIngestBatch*2)}
	b.writerWG.Go(b.write)
	return b
}

// Accept routes ev and stores it with its deliveries. It returns once the transaction has
// committed (or failed: then an error wrapping ErrUnavailable, and nothing is stored), so a nil
// error means the event is durable. ev.ReceivedAt is set here.
func (b *Bus) Accept(ctx context.Context, ev *Event) (AcceptResult, error) {
	now := b.now().UTC()
	ev.ReceivedAt = now
	router := b.disp.Plan().Router
	assigned := router.Assign(ev, b.disp.Enabled)
	req := &acceptReq{item: IngestItem{Event: ev, Digests: router.DigestsFor(ev)}, reserved: make([]*pool, len(assigned)), done: make(chan acceptResp, 1)}
	for i, a := range assigned {
		dl := &Delivery{
			ID: uuid.Must(uuid.NewV7()).String(), EventID: ev.ID, Target: a.Target, Route: a.Route.Name,
			State: StatePending, NextAttemptAt: now, CreatedAt: now, Event: ev,
		}
		if p := b.disp.reserve(a.Target); p != nil {
			req.reserved[i] = p
			dl.State, dl.LeaseOwner, dl.LeaseUntil = StateRunning, b.disp.Owner(), now.Add(b.disp.Lease())
		}
		req.item.Deliveries = append(req.item.Deliveries, dl)
	}
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

// Close stops accepting, commits what is queued and stops the writer.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		close(b.reqs)
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
	items := make([]IngestItem, len(batch))
	for i, r := range batch {
		items[i] = r.item
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	dup, err := b.store.Ingest(ctx, items)
	cancel()
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
			r.done <- acceptResp{res: AcceptResult{Deliveries: len(r.item.Deliveries)}}
		}
	}
	if err != nil {
		b.log.Error("storing events failed; senders were told to retry (503)", "count", len(batch), "err", err)
	}
}

func (b *Bus) releaseAll(r *acceptReq) {
	for _, p := range r.reserved {
		if p != nil {
			p.release()
		}
	}
}
