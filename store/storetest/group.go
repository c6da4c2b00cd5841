package storetest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

func groupTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"GroupItemsAreListedUntilFired":   testGroupOpen,
		"GroupFireListsItsEventsOnce":     testGroupFire,
		"GroupEventsInTimestampOrder":     testGroupEventsOrder,
		"GroupEventsHeldOneByOne":         testGroupEventsHeld,
		"GroupFireIsExclusive":            testGroupFireExclusive,
		"GroupFireYieldsToANewerGroup":    testGroupFireNewer,
		"GroupOfClosersOnlySendsNothing":  testGroupClosersOnly,
		"PruneKeepsEventsOfOpenGroups":    testGroupPrune,
		"IngestDuplicateAddsNoGroupItems": testGroupDuplicate,
	}
}

// held ingests an event received at received, held in the group (hook, r, key).
func held(t *testing.T, s Store, id, key string, received time.Time, closes bool) {
	t.Helper()
	ev := newEvent(t, id)
	ev.ReceivedAt = received
	ingest(t, s, core.IngestItem{Event: ev, Groups: []core.GroupItem{{Target: "hook", Route: "r", Key: key, Member: true, Closes: closes}}})
}

func fireRequest(t *testing.T, key string, through, lastFired, now time.Time) core.FireGroupRequest {
	t.Helper()
	id := fmt.Sprintf("group_%s_%d", key, now.UnixNano())
	body := fmt.Sprintf(`{"event":%q,"id":%q,"timestamp":%q,"data":{"route":"r","target":"hook","key":%q,"policy":"group"}}`,
		core.GroupEventType, id, now.Format(time.RFC3339Nano), key)
	ev, err := event.Parse([]byte(body))
	require.NoError(t, err)
	ev.ReceivedAt = now
	dl := delivery("hook", core.StatePending, "")
	dl.EventID, dl.NextAttemptAt, dl.CreatedAt = id, now, now
	return core.FireGroupRequest{Target: "hook", Route: "r", Key: key, Through: through, LastFired: lastFired, Event: ev, Delivery: dl}
}

func openGroups(t *testing.T, s Store) map[string]core.OpenGroup {
	t.Helper()
	gs, err := s.OpenGroups(context.Background())
	require.NoError(t, err)
	out := map[string]core.OpenGroup{}
	for _, g := range gs {
		require.Equal(t, "hook", g.Target)
		require.Equal(t, "r", g.Route)
		out[g.Key] = g
	}
	return out
}

func testGroupOpen(t *testing.T, s Store) {
	held(t, s, "a1", "scan-a", t0, false)
	held(t, s, "a2", "scan-a", t0.Add(time.Second), false)
	held(t, s, "b1", "scan-b", t0.Add(2*time.Second), true)
	gs := openGroups(t, s)
	require.Len(t, gs, 2)
	a := gs["scan-a"]
	require.Equal(t, 2, a.Members)
	require.True(t, t0.Equal(a.First))
	require.True(t, t0.Add(time.Second).Equal(a.Last))
	require.False(t, a.Closing)
	require.True(t, a.LastFired.IsZero())
	require.True(t, gs["scan-b"].Closing)
}

func testGroupFire(t *testing.T, s Store) {
	ctx := context.Background()
	held(t, s, "a1", "k", t0, false)
	held(t, s, "a2", "k", t0.Add(time.Second), false)
	held(t, s, "late", "k", t0.Add(time.Minute), false) // after Through: stays open
	now := t0.Add(30 * time.Second)
	req := fireRequest(t, "k", t0.Add(time.Second), time.Time{}, now)
	n, err := s.FireGroup(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	evs, err := s.GroupEvents(ctx, req.Event.ID, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"a1", "a2"}, eventIDs(evs))
	got := claim(t, s, "me", "hook", now, 10)
	require.Len(t, got, 1, "the group has one delivery")
	require.Equal(t, req.Event.ID, got[0].EventID)
	require.Equal(t, core.GroupEventType, got[0].Event.Type)
	gs := openGroups(t, s)
	require.Equal(t, 1, gs["k"].Members, "the late event waits for the next group")
	require.True(t, now.Equal(gs["k"].LastFired))
	n, err = s.FireGroup(ctx, fireRequest(t, "k", t0.Add(time.Second), time.Time{}, now.Add(time.Second)))
	require.NoError(t, err)
	require.Zero(t, n, "fired items are not fired again")
}

// testGroupEventsOrder: a group's events come in the order of their envelope timestamps, then
// of their ids, whatever the order they were received in or their ids alone would give.
func testGroupEventsOrder(t *testing.T, s Store) {
	ctx := context.Background()
	for i, e := range []struct{ id, ts string }{
		{"a-last", "2026-01-02T03:04:07Z"}, {"z-first", "2026-01-02T03:04:05Z"}, {"m-second", "2026-01-02T03:04:06Z"}, {"b-second", "2026-01-02T03:04:06Z"},
	} {
		ev, err := event.Parse(fmt.Appendf(nil, `{"event":"scan.started","id":%q,"timestamp":%q,"data":{"scan_id":"s1"}}`, e.id, e.ts))
		require.NoError(t, err)
		ev.ReceivedAt = t0.Add(time.Duration(i) * time.Second)
		ingest(t, s, core.IngestItem{Event: ev, Groups: []core.GroupItem{{Target: "hook", Route: "r", Key: "k", Member: true}}})
	}
	req := fireRequest(t, "k", t0.Add(time.Minute), time.Time{}, t0.Add(time.Minute))
	n, err := s.FireGroup(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	evs, err := s.GroupEvents(ctx, req.Event.ID, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"z-first", "b-second", "m-second", "a-last"}, eventIDs(evs))
	require.Equal(t, "2026-01-02T03:04:05Z", evs[0].Timestamp.Format(time.RFC3339), "the events are parsed")
	for _, ev := range evs { // read in one statement: each body is its own (driverBytes keeps the driver's)
		back, err := event.Parse(ev.Raw)
		require.NoError(t, err)
		require.Equal(t, ev.ID, back.ID)
	}
	require.True(t, t0.Add(time.Second).Equal(evs[0].ReceivedAt))
}

// testGroupEventsHeld: GroupEvents with a hold function gives it each event with the group's
// size and lists what it returns, in order; and it reads large events a step at a time, so the
// full events already given to hold are garbage by the time the next one is (a group of ten
// 1 MiB events read at once held all ten bodies, their copies and parsed values together).
func testGroupEventsHeld(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 6
	long := strings.Repeat("a", 400<<10)
	for i := range n {
		body := fmt.Sprintf(`{"event":"issue.critical","id":"big-%d","timestamp":"2026-01-02T03:04:0%dZ","data":{"scan_id":"s1","issue_id":"i","severity":"high","title":%q,"more":%q}}`, i, i, long, long)
		ev, err := event.Parse([]byte(body))
		require.NoError(t, err)
		ev.ReceivedAt = t0.Add(time.Duration(i) * time.Second)
		ingest(t, s, core.IngestItem{Event: ev, Groups: []core.GroupItem{{Target: "hook", Route: "r", Key: "k", Member: true}}})
	}
	req := fireRequest(t, "k", t0.Add(time.Minute), time.Time{}, t0.Add(time.Minute))
	fired, err := s.FireGroup(ctx, req)
	require.NoError(t, err)
	require.Equal(t, n, fired)
	var given []weak.Pointer[event.Event]
	alive := 0 // the most full events given earlier that were still reachable at a later call
	evs, err := s.GroupEvents(ctx, req.Event.ID, func(ev *event.Event, members int) *event.Event {
		require.Equal(t, n, members)
		require.Len(t, ev.String("title"), len(long), "hold gets the event whole")
		runtime.GC()
		live := 0
		for _, p := range given {
			if p.Value() != nil {
				live++
			}
		}
		alive = max(alive, live)
		given = append(given, weak.Make(ev))
		return ev.Cut(1000, 4000)
	})
	require.NoError(t, err)
	require.Equal(t, []string{"big-0", "big-1", "big-2", "big-3", "big-4", "big-5"}, eventIDs(evs))
	for _, ev := range evs {
		require.Len(t, ev.String("title"), 1000, "what hold returned is listed")
		require.Less(t, len(ev.Raw), 5000)
	}
	// A step reads at most 1 MiB of bodies (two of these events), so at most one full event
	// read before the current one can still be held (by its step).
	require.LessOrEqual(t, alive, 1, "full events held at once besides the one given to hold")
}

// testGroupFireExclusive: replicas firing the same group at once send it once.
func testGroupFireExclusive(t *testing.T, s Store) {
	for i := range 20 {
		held(t, s, fmt.Sprintf("e%d", i), "k", t0, false)
	}
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for r := range counts {
		req := fireRequest(t, "k", t0, time.Time{}, t0.Add(time.Duration(r+1)*time.Millisecond))
		wg.Go(func() {
			n, err := s.FireGroup(context.Background(), req)
			require.NoError(t, err)
			counts[r] = n
		})
	}
	wg.Wait()
	total, fired := 0, 0
	for _, n := range counts {
		total += n
		if n > 0 {
			fired++
		}
	}
	require.Equal(t, 20, total)
	require.Equal(t, 1, fired, "one replica fired it: %v", counts)
	require.Len(t, claim(t, s, "me", "hook", t0.Add(time.Second), 10), 1)
}

// testGroupFireNewer: a replica that saw an older state does not fire a key another replica
// fired since (a throttle allows one message per interval).
func testGroupFireNewer(t *testing.T, s Store) {
	ctx := context.Background()
	held(t, s, "a", "k", t0, false)
	n, err := s.FireGroup(ctx, fireRequest(t, "k", t0, time.Time{}, t0.Add(time.Second)))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	held(t, s, "b", "k", t0.Add(2*time.Second), false)
	n, err = s.FireGroup(ctx, fireRequest(t, "k", t0.Add(2*time.Second), time.Time{}, t0.Add(3*time.Second)))
	require.NoError(t, err)
	require.Zero(t, n, "stale: a group of the key fired after what the caller saw")
	require.Equal(t, 1, openGroups(t, s)["k"].Members, "and the item is still open")
	n, err = s.FireGroup(ctx, fireRequest(t, "k", t0.Add(2*time.Second), t0.Add(time.Second), t0.Add(4*time.Second)))
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func testGroupClosersOnly(t *testing.T, s Store) {
	ctx := context.Background()
	ev := newEvent(t, "closer")
	ingest(t, s, core.IngestItem{Event: ev, Groups: []core.GroupItem{{Target: "hook", Route: "r", Key: "k", Closes: true}}})
	g := openGroups(t, s)["k"]
	require.Zero(t, g.Members)
	require.True(t, g.Closing)
	n, err := s.FireGroup(ctx, fireRequest(t, "k", t0, time.Time{}, t0))
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, openGroups(t, s), "the closer is cleared")
	require.Empty(t, claim(t, s, "me", "hook", t0, 10), "nothing to send")
}

func testGroupPrune(t *testing.T, s Store) {
	ctx := context.Background()
	held(t, s, "a", "k", t0, false)
	n, err := s.Prune(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "an event in an open group is kept")
	req := fireRequest(t, "k", t0, time.Time{}, t0)
	_, err = s.FireGroup(ctx, req)
	require.NoError(t, err)
	n, err = s.Prune(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "kept while the group's delivery is unfinished")
	got := claim(t, s, "me", "hook", t0, 10)
	require.Len(t, got, 1)
	require.NoError(t, s.Complete(ctx, []core.Completion{{LeaseOwner: "me", Attempt: attempt(got[0], 1, "success"), State: core.StateSucceeded}}))
	n, err = s.Prune(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(2), n, "the event and the group event")
}

func testGroupDuplicate(t *testing.T, s Store) {
	held(t, s, "a", "k", t0, false)
	ev := newEvent(t, "a")
	dup := ingest(t, s, core.IngestItem{Event: ev, Groups: []core.GroupItem{{Target: "hook", Route: "r", Key: "k", Member: true}}})
	require.Equal(t, []bool{true}, dup)
	require.Equal(t, 1, openGroups(t, s)["k"].Members)
}
