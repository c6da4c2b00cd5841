package core

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// pool is one target's in-memory queue and workers: each target has its own, so a slow or dead
// target never delays the others.
type pool struct {
	target      *Target
	queue       chan *Delivery
	used        atomic.Int64 // queued + reserved slots
	limiter     *rate.Limiter
	pausedUntil atomic.Int64 // unix nanos; set by a 429 so every worker of the target waits

	mu      sync.Mutex // guards retired against hand-offs
	retired bool
	stop    chan struct{} // closed when the pool retires
	workers sync.WaitGroup

	breaker   *gobreaker.TwoStepCircuitBreaker[struct{}] // nil when turned off
	openUntil atomic.Int64                               // unix nanos; when an open circuit lets a probe through
}

// newPool builds target t's pool with a queue of size deliveries.
func (d *Dispatcher) newPool(t *Target, size int) *pool {
	lim := rate.NewLimiter(rate.Inf, 0)
	if t.RateLimit > 0 {
		lim = rate.NewLimiter(rate.Limit(t.RateLimit), max(t.Burst, 1))
	}
	p := &pool{target: t, queue: make(chan *Delivery, size), limiter: lim, stop: make(chan struct{})}
	if t.Breaker.Failures >= 0 {
		failures, openFor := uint32(cmp.Or(t.Breaker.Failures, 5)), cmp.Or(t.Breaker.OpenFor, 30*time.Second)
		p.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        t.Name,
			MaxRequests: 1, // one probe while half-open
			Timeout:     openFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			OnStateChange: func(name string, from, to gobreaker.State) {
				if to == gobreaker.StateOpen {
					p.openUntil.Store(d.cfg.NowFunc().Add(openFor).UnixNano())
				}
				d.cfg.Observer.CircuitOpen(name, to != gobreaker.StateClosed)
				d.log.Warn("circuit "+to.String()+": "+map[gobreaker.State]string{
					gobreaker.StateOpen:     "the target's deliveries wait, then one probe is sent",
					gobreaker.StateHalfOpen: "probing the target",
					gobreaker.StateClosed:   "the target answers again",
				}[to], "target", name, "from", from.String())
			},
		})
	}
	return p
}

// OpenCircuits returns the targets whose circuit breaker is open or probing (half-open), as
// the dashboard's target health shows them; targets without a breaker are never in it.
func (d *Dispatcher) OpenCircuits() map[string]bool {
	d.poolsMu.RLock()
	defer d.poolsMu.RUnlock()
	out := map[string]bool{}
	for name, p := range d.pools {
		if p.breaker != nil && p.breaker.State() != gobreaker.StateClosed {
			out[name] = true
		}
	}
	return out
}

// admit waits until p's circuit lets an attempt through and returns the callback that reports
// its outcome; false when the dispatcher or the pool stops first.
func (d *Dispatcher) admit(ctx context.Context, p *pool) (func(error), bool) {
	if p.breaker == nil {
		return func(error) {}, true
	}
	for {
		done, err := p.breaker.Allow()
		if err == nil {
			return done, true
		}
		wait := 200 * time.Millisecond // half-open: another worker's probe is out
		if until := time.Unix(0, p.openUntil.Load()); until.After(d.cfg.NowFunc()) {
			wait = until.Sub(d.cfg.NowFunc())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false
		case <-p.stop:
			t.Stop()
			return nil, false
		case <-t.C:
		}
	}
}

// breakerFailure is what the circuit breaker counts: an attempt that says the target is down
// (network, timeout, 5xx), not one the receiver refused for this message (4xx), a rate limit
// (handled by pausing) or a template error (ours).
func breakerFailure(err error) error {
	if err == nil {
		return nil
	}
	if de := notify.AsDeliveryError(err); !de.Retryable || de.Reason == notify.ReasonRateLimited {
		return nil
	}
	return err
}

// reserve takes a queue slot for a delivery about to be committed or claimed; false when the
// queue is full (the delivery then waits in the store for the poller).
func (p *pool) reserve() bool {
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

// release gives back a reserved slot whose delivery was not committed or claimed.
func (p *pool) release() { p.used.Add(-1) }

// reserve takes a slot in target's pool and returns the pool, or nil when the target has no
// pool or its queue is full.
func (d *Dispatcher) reserve(target string) *pool {
	d.poolsMu.RLock()
	p := d.pools[target]
	d.poolsMu.RUnlock()
	if p == nil || !p.reserve() {
		return nil
	}
	return p
}

// handOff queues a committed or claimed delivery into the pool that holds its slot. It never
// blocks. A delivery for a pool retired meanwhile is handed back to the store.
func (d *Dispatcher) handOff(p *pool, dl *Delivery) {
	d.mu.Lock()
	_, dup := d.inflight[dl.ID]
	if !dup {
		d.inflight[dl.ID] = struct{}{}
	}
	d.mu.Unlock()
	if dup {
		p.release()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retired {
		p.release()
		d.forget(dl.ID)
		go d.handBack(dl.ID)
		return
	}
	p.queue <- dl
}

// handBack returns deliveries this process leased but will not work to pending, due now.
func (d *Dispatcher) handBack(ids ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.store.ReleaseLeases(ctx, d.cfg.Owner, ids, d.cfg.NowFunc()); err != nil {
		d.log.Warn("could not hand back deliveries; they are retried when their leases expire", "count", len(ids), "err", err)
	}
}

// retire stops p: no more hand-offs, workers stop after their running attempt, queued
// deliveries go back to the store, and the target's Notifier is closed once idle. When the
// target left the config (configured lists what remains), what its running attempts leave
// unfinished is cancelled too. The caller holds poolsMu.
func (d *Dispatcher) retire(p *pool, configured []string) {
	p.mu.Lock()
	p.retired = true
	p.mu.Unlock()
	close(p.stop)
	go func() {
		var ids []string
		for {
			select {
			case dl := <-p.queue:
				p.release()
				ids = append(ids, dl.ID)
				continue
			default:
			}
			break
		}
		if len(ids) > 0 {
			d.forget(ids...)
			d.handBack(ids...)
		}
		p.workers.Wait()
		_ = notify.Close(p.target.Notifier)
		if !slices.Contains(configured, p.target.Name) {
			d.cancelUnconfigured(configured)
		}
	}()
}

// startWorkers starts p's workers under the running dispatcher. The caller holds poolsMu.
func (d *Dispatcher) startWorkers(p *pool) {
	rs := d.run
	for range max(p.target.Concurrency, 1) {
		p.workers.Add(1)
		rs.workers.Add(1)
		go func() {
			defer rs.workers.Done()
			defer p.workers.Done()
			d.work(rs, p)
		}()
	}
}

// work runs one worker of pool p until the dispatcher stops or p retires. Attempts run under
// rs.work, so that a stop lets them finish.
func (d *Dispatcher) work(rs *runState, p *pool) {
	for {
		select {
		case <-rs.stop.Done():
			return
		case <-p.stop:
			return
		case dl := <-p.queue:
			p.release()
			if !d.waitTurn(rs.stop, p) {
				d.forget(dl.ID)
				return // stopping: Run hands the lease back
			}
			done, ok := d.admit(rs.stop, p)
			if !ok {
				d.forget(dl.ID)
				return
			}
			done(breakerFailure(d.attempt(rs.work, p, dl)))
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
		case <-p.stop:
			return false
		case <-t.C:
		}
	}
	return p.limiter.Wait(ctx) == nil
}

// pause holds back every worker of p's target until until (C04: other deliveries to a
// rate-limited target wait too); a global rate limit pauses every target of the same type.
func (d *Dispatcher) pause(p *pool, de *notify.DeliveryError, until time.Time) {
	d.poolsMu.RLock()
	defer d.poolsMu.RUnlock()
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
