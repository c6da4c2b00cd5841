package core

import (
	"context"
	"time"
)

// Waker is implemented by stores that can tell idle replicas that work arrived (Postgres
// LISTEN/NOTIFY). Each call to Wake returns a channel that receives a signal (coalesced: at most
// one pending) whenever due work was committed anywhere; a nil channel never fires.
type Waker interface {
	Wake() <-chan struct{}
}

// pollEvery calls poll every interval and, when store is a Waker, also as soon as it signals, so
// that work stored by another replica is picked up without waiting for the next tick. The ticker
// stays the safety net (retries that come due, expired leases, a lost listener connection).
//
// Signals can come with every commit of every replica when the queue is backed up, so polls they
// trigger are at least interval/5 apart: a signal within that gap is served at its end.
func pollEvery(ctx context.Context, interval time.Duration, store DispatcherStore, poll func(context.Context)) {
	var wake <-chan struct{}
	if w, ok := store.(Waker); ok {
		wake = w.Wake()
	}
	gap := interval / 5
	var lastWake time.Time
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
			if d := gap - time.Since(lastWake); d > 0 {
				timer := time.NewTimer(d)
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-timer.C:
				}
			}
			lastWake = time.Now()
		}
		poll(ctx)
	}
}
