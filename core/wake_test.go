package core

import (
	"context"
	"testing"
	"time"
)

// wakeStore is a DispatcherStore (methods unused) that is a Waker.
type wakeStore struct {
	DispatcherStore
	ch chan struct{}
}

func (s wakeStore) Wake() <-chan struct{} { return s.ch }

func TestPollEveryPollsOnWakeAndTick(t *testing.T) {
	polls := make(chan time.Time, 16)
	poll := func(context.Context) { polls <- time.Now() }
	await := func(why string) time.Time {
		t.Helper()
		select {
		case at := <-polls:
			return at
		case <-time.After(5 * time.Second):
			t.Fatalf("no poll: %s", why)
			return time.Time{}
		}
	}

	// A 2s interval: the ticker does not fire during this part; wake-up polls are 400ms apart at least.
	ch := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pollEvery(ctx, 2*time.Second, wakeStore{ch: ch}, poll); close(done) }()
	start := time.Now()
	ch <- struct{}{}
	first := await("a Waker signal polls at once, long before the tick")
	if d := first.Sub(start); d > 300*time.Millisecond {
		t.Fatalf("first wake-up poll took %v", d)
	}
	ch <- struct{}{}
	second := await("the next signal is served too")
	if d := second.Sub(first); d < 390*time.Millisecond || d > 1500*time.Millisecond {
		t.Fatalf("wake-up polls %v apart, want interval/5 (400ms)", d)
	}
	cancel()
	<-done

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go pollEvery(ctx, 10*time.Millisecond, nil, poll) // not a Waker: the ticker alone
	await("the ticker")
}
