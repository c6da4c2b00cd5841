package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// dashboardTests are the dashboard's queries: counts by status, activity buckets and target
// health from the attempt log.
func dashboardTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"DeliveryCountsByStatus": testDeliveryCounts,
		"ActivityBuckets":        testActivity,
		"TargetHealthStreaks":    testTargetHealth,
	}
}

// record stores attempts of d without touching its state: Complete keeps an attempt row even
// when the lease is not held (here: never claimed).
func record(t *testing.T, s Store, d *core.Delivery, at time.Time, outcome string) {
	t.Helper()
	a := core.Attempt{DeliveryID: d.ID, Number: 1, StartedAt: at, Duration: time.Second, Outcome: outcome}
	if outcome != "success" {
		a.StatusCode, a.Error = 503, outcome+" at "+at.Format(time.TimeOnly)
	}
	require.NoError(t, s.Complete(context.Background(), []core.Completion{{LeaseOwner: "nobody", Attempt: a, State: core.StateDead}}))
}

func testDeliveryCounts(t *testing.T, s Store) {
	ctx := context.Background()
	mk := func(target string, created time.Time) *core.Delivery {
		d := delivery(target, core.StatePending, "")
		d.CreatedAt = created
		return d
	}
	done1, done2, done3, waiting := mk("a", t0), mk("a", t0), mk("a", t0), mk("a", t0)
	old, other := mk("a", t0.Add(-2*time.Hour)), mk("b", t0)
	waiting.NextAttemptAt, old.NextAttemptAt = t0.Add(time.Hour), t0.Add(time.Hour) // not claimed below
	ingest(t, s,
		core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{done1, other}},
		core.IngestItem{Event: newEvent(t, "e2"), Deliveries: []*core.Delivery{done2}},
		core.IngestItem{Event: newEvent(t, "e3"), Deliveries: []*core.Delivery{done3}},
		core.IngestItem{Event: newEvent(t, "e4"), Deliveries: []*core.Delivery{waiting}},
		core.IngestItem{Event: newEvent(t, "e5"), Deliveries: []*core.Delivery{old}},
	)
	got := claim(t, s, "me", "a", t0, 10)
	require.Len(t, got, 3)
	require.NoError(t, s.Complete(ctx, []core.Completion{
		{LeaseOwner: "me", Attempt: attempt(got[0], 1, "success"), State: core.StateSucceeded},
		{LeaseOwner: "me", Attempt: attempt(got[1], 1, "server_error"), State: core.StatePending, NextAttemptAt: t0.Add(time.Hour)},
		{LeaseOwner: "me", Attempt: attempt(got[2], 1, "client_error"), State: core.StateDead},
	}))

	counts, err := s.DeliveryCounts(ctx, []string{"a"}, t0.Add(-time.Hour))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"succeeded": 1, "failed": 1, "dead": 1, "pending": 1}, counts,
		"the old delivery is outside the window; b is not asked for; a pending one after a failed attempt is failed")
	counts, err = s.DeliveryCounts(ctx, []string{"a"}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"succeeded": 1, "failed": 1, "dead": 1, "pending": 2}, counts)

	counts, err = s.DeliveryCounts(ctx, nil, time.Time{})
	require.NoError(t, err)
	all := 0
	for _, n := range counts {
		all += n
	}
	require.Equal(t, 6, all, "nil targets: every target")
	counts, err = s.DeliveryCounts(ctx, []string{}, time.Time{})
	require.NoError(t, err)
	require.Empty(t, counts, "no targets: nothing")
}

func testActivity(t *testing.T, s Store) {
	ctx := context.Background()
	from := t0.Add(-3 * time.Hour)
	var items []core.IngestItem
	var ds []*core.Delivery
	// Events received 2h50m, 1h30m (two) and 10m before t0, one at t0 (outside [from, t0)),
	// one 4h before (outside), and a digest run and an alert of the bridge's (not received).
	for i, ago := range []time.Duration{170 * time.Minute, 90 * time.Minute, 90 * time.Minute, 10 * time.Minute, 0, 4 * time.Hour} {
		ev := newEvent(t, fmt.Sprint("e", i))
		ev.ReceivedAt = t0.Add(-ago)
		d := delivery("a", core.StatePending, "")
		ds = append(ds, d)
		items = append(items, core.IngestItem{Event: ev, Deliveries: []*core.Delivery{d, delivery("b", core.StatePending, "")}})
	}
	run, err := event.Parse([]byte(`{"event":"` + core.DigestEventType + `","id":"run1","timestamp":"2026-01-02T03:04:05Z","data":{}}`))
	require.NoError(t, err)
	run.ReceivedAt = t0.Add(-time.Hour)
	alert, err := event.Parse([]byte(`{"event":"bridge.delivery_dead","id":"alert1","timestamp":"2026-01-02T03:04:05Z","data":{}}`))
	require.NoError(t, err)
	alert.ReceivedAt = t0.Add(-time.Hour)
	derived, err := event.Parse([]byte(`{"event":"finding.fixed","id":"finding1","timestamp":"2026-01-02T03:04:05Z","data":{}}`))
	require.NoError(t, err)
	derived.ReceivedAt = t0.Add(-time.Hour)
	items = append(items, core.IngestItem{Event: run}, core.IngestItem{Event: alert}, core.IngestItem{Event: derived})
	ingest(t, s, items...)

	record(t, s, ds[0], t0.Add(-170*time.Minute), "success")
	record(t, s, ds[1], t0.Add(-80*time.Minute), "server_error")
	record(t, s, ds[1], t0.Add(-70*time.Minute), "success")
	record(t, s, ds[3], t0.Add(-5*time.Minute), "network")
	record(t, s, ds[4], t0, "network") // at the window's end: outside

	buckets, err := s.Activity(ctx, []string{"a"}, from, t0, time.Hour)
	require.NoError(t, err)
	require.Len(t, buckets, 3)
	for i, b := range buckets {
		require.True(t, from.Add(time.Duration(i)*time.Hour).Equal(b.Start), "bucket %d starts at from + %dh", i, i)
	}
	require.Equal(t, []core.ActivityBucket{
		{Start: buckets[0].Start, Events: 1, Attempts: 1, FailedAttempts: 0},
		{Start: buckets[1].Start, Events: 2, Attempts: 2, FailedAttempts: 1},
		{Start: buckets[2].Start, Events: 1, Attempts: 1, FailedAttempts: 1},
	}, buckets)

	buckets, err = s.Activity(ctx, []string{"b"}, from, t0, time.Hour)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 1}, []int{buckets[0].Events, buckets[1].Events, buckets[2].Events}, "events count whatever the targets")
	for _, b := range buckets {
		require.Zero(t, b.Attempts, "b had no attempts")
	}
	buckets, err = s.Activity(ctx, []string{}, from, t0, 2*time.Hour)
	require.NoError(t, err)
	require.Len(t, buckets, 2, "3h in steps of 2h: the last bucket is shorter")
	require.Equal(t, 3, buckets[0].Events)
	require.Equal(t, 1, buckets[1].Events)
	require.Zero(t, buckets[1].Attempts)
	buckets, err = s.Activity(ctx, nil, from, t0, 0)
	require.NoError(t, err)
	require.Equal(t, []core.ActivityBucket{{Start: from, Events: 4, Attempts: 4, FailedAttempts: 2}}, buckets, "step 0: one bucket")
}

func testTargetHealth(t *testing.T, s Store) {
	ctx := context.Background()
	var items []core.IngestItem
	da, db, dc := delivery("a", core.StatePending, ""), delivery("b", core.StatePending, ""), delivery("c", core.StatePending, "")
	dOld := delivery("old", core.StatePending, "")
	items = append(items, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{da, db, dc, dOld}})
	ingest(t, s, items...)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	// a: failed, succeeded, then failed twice: streak 2.
	record(t, s, da, at(1), "server_error")
	record(t, s, da, at(2), "success")
	record(t, s, da, at(3), "timeout")
	record(t, s, da, at(4), "network")
	// b: only failures: every one counts.
	record(t, s, db, at(1), "server_error")
	record(t, s, db, at(2), "server_error")
	record(t, s, db, at(3), "client_error")
	// c: recovered.
	record(t, s, dc, at(1), "network")
	record(t, s, dc, at(5), "success")
	// old: before the window.
	record(t, s, dOld, t0.Add(-48*time.Hour), "network")

	end := func(m int) time.Time { return at(m).Add(time.Second) }
	got, err := s.TargetHealth(ctx, nil, t0)
	require.NoError(t, err)
	require.Equal(t, []core.TargetHealth{
		{Target: "a", LastSuccess: end(2), LastAttempt: end(4), LastOutcome: "network", LastError: "network at 03:08:05", FailureStreak: 2},
		{Target: "b", LastAttempt: end(3), LastOutcome: "client_error", LastError: "client_error at 03:07:05", FailureStreak: 3},
		{Target: "c", LastSuccess: end(5), LastAttempt: end(5), LastOutcome: "success", FailureStreak: 0},
	}, got)

	got, err = s.TargetHealth(ctx, []string{"b", "old", "unknown"}, t0.Add(-72*time.Hour))
	require.NoError(t, err)
	require.Len(t, got, 2, "only the targets asked for, with attempts in the window")
	require.Equal(t, "b", got[0].Target)
	require.Equal(t, "old", got[1].Target)
	require.Equal(t, 1, got[1].FailureStreak)
	require.True(t, got[1].LastSuccess.IsZero())

	got, err = s.TargetHealth(ctx, []string{}, time.Time{})
	require.NoError(t, err)
	require.Empty(t, got)
}
