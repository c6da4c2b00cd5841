package store

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// reader is a read func for eventCache.load over a fixed set of events that counts the ids it
// was asked for; block, when set, holds each read until it is closed.
type reader struct {
	mu    sync.Mutex
	evs   map[string]*event.Event
	asked []string
	block chan struct{}
	err   error
}

func (r *reader) read(ids []string) (map[string]*event.Event, error) {
	r.mu.Lock()
	r.asked = append(r.asked, ids...)
	block := r.block
	r.mu.Unlock()
	if block != nil {
		<-block
	}
	out := map[string]*event.Event{}
	for _, id := range ids {
		if ev := r.evs[id]; ev != nil {
			out[id] = &event.Event{ID: ev.ID, Raw: ev.Raw} // a new copy, as a parse makes
		}
	}
	return out, r.err
}

func (r *reader) askedFor() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.asked)
}

// TestEventCacheHoldsEventsWeakly: a loaded event is shared while something holds it, and its
// entry goes once it has been collected, without keeping it alive.
func TestEventCacheHoldsEventsWeakly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var c eventCache
	r := &reader{evs: map[string]*event.Event{"e1": {ID: "e1"}, "e2": {ID: "e2"}}}
	got, err := c.load(ctx, []string{"e1", "e1", "gone"}, r.read)
	require.NoError(t, err)
	require.Equal(t, []string{"e1", "gone"}, r.askedFor(), "each id read once")
	require.Len(t, got, 1, "an id with no event is absent")
	first := got["e1"]
	got, err = c.load(ctx, []string{"e2", "e1"}, r.read)
	require.NoError(t, err)
	require.Same(t, first, got["e1"], "held: shared")
	require.Equal(t, []string{"e1", "gone", "e2"}, r.askedFor())

	runtime.KeepAlive(first)
	first, got = nil, nil
	require.Eventually(t, func() bool {
		runtime.GC()
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.m) == 0 && len(c.reading) == 0
	}, 5*time.Second, 10*time.Millisecond, "the entries of collected events are removed")
	got, err = c.load(ctx, []string{"e1"}, r.read)
	require.NoError(t, err)
	require.Equal(t, "e1", got["e1"].ID)
	require.Equal(t, []string{"e1", "gone", "e2", "e1"}, r.askedFor(), "collected: read again")
}

// TestEventCacheWaitsForARead: a load wanting an event another load is reading waits for that
// read and shares its copy; what the other read could not give, it reads itself; a read that
// fails shares nothing; a cancelled wait returns the context's error.
func TestEventCacheWaitsForARead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var c eventCache
	r := &reader{evs: map[string]*event.Event{"e1": {ID: "e1"}}, block: make(chan struct{})}
	firstDone := make(chan map[string]*event.Event)
	go func() {
		got, err := c.load(ctx, []string{"e1", "gone"}, r.read)
		assert.NoError(t, err)
		firstDone <- got
	}()
	require.Eventually(t, func() bool { return len(r.askedFor()) == 2 }, 5*time.Second, time.Millisecond)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := c.load(cancelled, []string{"e1"}, r.read)
	require.ErrorIs(t, err, core.ErrUnavailable)
	require.ErrorContains(t, err, context.Canceled.Error())

	secondDone := make(chan map[string]*event.Event)
	go func() {
		got, err := c.load(ctx, []string{"e1", "gone"}, r.read)
		assert.NoError(t, err)
		secondDone <- got
	}()
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, []string{"e1", "gone"}, r.askedFor(), "the second load waits instead of reading")
	close(r.block)
	first, second := <-firstDone, <-secondDone
	require.Same(t, first["e1"], second["e1"])
	require.Equal(t, []string{"e1", "gone", "gone"}, r.askedFor(), "the id the first read did not find is read again")

	var failing eventCache
	bad := &reader{evs: r.evs, err: errors.New("disk on fire")}
	_, err = failing.load(ctx, []string{"e1"}, bad.read)
	require.EqualError(t, err, "disk on fire")
	got, err := failing.load(ctx, []string{"e1"}, r.read)
	require.NoError(t, err)
	require.Equal(t, "e1", got["e1"].ID, "nothing was shared from the failed read")
	require.Empty(t, failing.reading)
	runtime.KeepAlive(first)
}

// TestClaimsShareTheParsedEvent: the deliveries of one event claimed by two targets' workers get
// one parsed copy while the first is held, and a claim after it is collected parses a new one
// equal to it.
func TestClaimsShareTheParsedEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	defer db.Close()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev, err := event.Parse([]byte(`{"event":"scan.started","id":"e1","timestamp":"2026-01-02T03:04:05Z","data":{"scan_id":"s1"}}`))
	require.NoError(t, err)
	ev.ReceivedAt, ev.Delivery = now, "sender-1"
	var dls []*core.Delivery
	for i, target := range []string{"a", "b", "c"} {
		dls = append(dls, &core.Delivery{ID: "d" + target, EventID: "e1", Target: target, Route: "r",
			State: core.StatePending, NextAttemptAt: now.Add(time.Duration(i) * time.Millisecond), CreatedAt: now})
	}
	_, err = db.Ingest(ctx, []core.IngestItem{{Event: ev, Deliveries: dls}})
	require.NoError(t, err)
	claim := func(target string) *event.Event {
		got, err := db.Claim(ctx, core.ClaimRequest{Owner: "me", Target: target, Now: now.Add(time.Second), Lease: time.Minute, Limit: 10})
		require.NoError(t, err)
		require.Len(t, got, 1)
		return got[0].Event
	}
	a := claim("a")
	require.Same(t, a, claim("b"), "claimed while a's copy is held: the same copy")
	require.Equal(t, "s1", a.Data["scan_id"])
	require.Equal(t, "sender-1", a.Delivery)
	require.True(t, now.Equal(a.ReceivedAt))
	want := *a
	a = nil
	require.Eventually(t, func() bool {
		runtime.GC()
		db.events.mu.Lock()
		defer db.events.mu.Unlock()
		return len(db.events.m) == 0 && len(db.events.reading) == 0
	}, 5*time.Second, 10*time.Millisecond)
	c := claim("c")
	require.Equal(t, want, *c, "parsed again, the same event")
}
