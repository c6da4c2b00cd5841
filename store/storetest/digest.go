package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

func digestTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"DigestRunsCoverEachEventOnce":   testDigestRuns,
		"DigestEmptyPeriod":              testDigestEmpty,
		"DigestClaimIsExclusive":         testDigestClaim,
		"DigestLostLeaseChangesNothing":  testDigestLostLease,
		"DigestSyncAddsChangesRemoves":   testDigestSync,
		"PruneKeepsEventsAwaitingDigest": testDigestPrune,
	}
}

func digestEvent(t *testing.T, id string, received time.Time) *event.Event {
	ev := newEvent(t, id)
	ev.ReceivedAt = received
	return ev
}

func runRequest(t *testing.T, name, owner string, end time.Time, sendEmpty bool) core.DigestRunRequest {
	id := fmt.Sprintf("digest_%s_%d", name, end.Unix())
	ev, err := core.NewDigestEvent(id, core.DigestRun{Digest: name, To: end}, end)
	require.NoError(t, err)
	dl := delivery("mail", core.StatePending, "")
	dl.EventID = id
	return core.DigestRunRequest{Name: name, Owner: owner, PeriodEnd: end, NextRun: end.Add(time.Hour), Event: ev, Delivery: dl, SendEmpty: sendEmpty}
}

func claimDigests(t *testing.T, s Store, owner string, now time.Time) []string {
	ds, err := s.ClaimDigests(context.Background(), owner, now, time.Minute)
	require.NoError(t, err)
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	return names
}

func eventIDs(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func testDigestRuns(t *testing.T, s Store) {
	ctx := context.Background()
	require.NoError(t, s.SyncDigests(ctx, []core.DigestSchedule{{Name: "weekly", Schedule: "x", LastEnd: t0, NextRun: t0.Add(time.Hour)}}))
	ingest(t, s,
		core.IngestItem{Event: digestEvent(t, "a", t0.Add(10*time.Minute)), Digests: []string{"weekly", "other"}},
		core.IngestItem{Event: digestEvent(t, "b", t0.Add(50*time.Minute)), Digests: []string{"weekly"}},
		core.IngestItem{Event: digestEvent(t, "late", t0.Add(70*time.Minute)), Digests: []string{"weekly"}},
		core.IngestItem{Event: digestEvent(t, "none", t0.Add(20*time.Minute))},
	)
	require.Empty(t, claimDigests(t, s, "me", t0.Add(59*time.Minute)), "not due yet")
	require.Equal(t, []string{"weekly"}, claimDigests(t, s, "me", t0.Add(61*time.Minute)))

	first := runRequest(t, "weekly", "me", t0.Add(time.Hour), false)
	n, err := s.RunDigest(ctx, first)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	got, err := s.DigestEvents(ctx, first.Event.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, eventIDs(got), "events received by the period's end")
	st, ok, err := s.DigestState(ctx, "weekly")
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, t0.Add(time.Hour).Equal(st.LastEnd))
	require.True(t, t0.Add(2*time.Hour).Equal(st.NextRun))

	ds, err := s.Deliveries(ctx, core.DeliveryFilter{Target: "mail"})
	require.NoError(t, err)
	require.Len(t, ds, 1, "the run's delivery is queued")
	require.Equal(t, first.Event.ID, ds[0].EventID)

	require.Equal(t, []string{"weekly"}, claimDigests(t, s, "me", t0.Add(3*time.Hour)))
	second := runRequest(t, "weekly", "me", t0.Add(2*time.Hour), false)
	n, err = s.RunDigest(ctx, second)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err = s.DigestEvents(ctx, second.Event.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"late"}, eventIDs(got), "each event is in exactly one run")

	win, err := s.DigestWindow(ctx, "weekly", t0, t0.Add(3*time.Hour))
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "late"}, eventIDs(win))
	win, err = s.DigestWindow(ctx, "other", t0, t0.Add(3*time.Hour))
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, eventIDs(win))
}

func testDigestEmpty(t *testing.T, s Store) {
	ctx := context.Background()
	require.NoError(t, s.SyncDigests(ctx, []core.DigestSchedule{
		{Name: "quiet", Schedule: "x", LastEnd: t0, NextRun: t0}, {Name: "proof", Schedule: "x", LastEnd: t0, NextRun: t0},
	}))
	require.ElementsMatch(t, []string{"quiet", "proof"}, claimDigests(t, s, "me", t0))
	n, err := s.RunDigest(ctx, runRequest(t, "quiet", "me", t0, false))
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = s.RunDigest(ctx, runRequest(t, "proof", "me", t0, true))
	require.NoError(t, err)
	require.Zero(t, n)
	ds, err := s.Deliveries(ctx, core.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 1, "only send_empty sends an empty period")
	require.Contains(t, ds[0].EventID, "proof")

	skipped := runRequest(t, "quiet", "me", t0.Add(time.Hour), true)
	skipped.Delivery = nil // the target is disabled
	ingest(t, s, core.IngestItem{Event: digestEvent(t, "x", t0.Add(time.Minute)), Digests: []string{"quiet"}})
	require.Contains(t, claimDigests(t, s, "me", t0.Add(time.Hour)), "quiet")
	n, err = s.RunDigest(ctx, skipped)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the period is closed")
	ds, err = s.Deliveries(ctx, core.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 1, "but nothing is sent for a disabled target")
}

func testDigestClaim(t *testing.T, s Store) {
	ctx := context.Background()
	require.NoError(t, s.SyncDigests(ctx, []core.DigestSchedule{{Name: "d", Schedule: "x", LastEnd: t0, NextRun: t0}}))
	require.Equal(t, []string{"d"}, claimDigests(t, s, "one", t0))
	require.Empty(t, claimDigests(t, s, "two", t0.Add(30*time.Second)), "leased")
	require.Equal(t, []string{"d"}, claimDigests(t, s, "two", t0.Add(2*time.Minute)), "the lease expired")
}

func testDigestLostLease(t *testing.T, s Store) {
	ctx := context.Background()
	require.NoError(t, s.SyncDigests(ctx, []core.DigestSchedule{{Name: "d", Schedule: "x", LastEnd: t0, NextRun: t0}}))
	ingest(t, s, core.IngestItem{Event: digestEvent(t, "a", t0), Digests: []string{"d"}})
	require.Equal(t, []string{"d"}, claimDigests(t, s, "slow", t0))
	require.Equal(t, []string{"d"}, claimDigests(t, s, "fast", t0.Add(2*time.Minute)))
	_, err := s.RunDigest(ctx, runRequest(t, "d", "slow", t0, true))
	require.True(t, errors.Is(err, core.ErrLeaseLost), "%v", err)
	n, err := s.RunDigest(ctx, runRequest(t, "d", "fast", t0, true))
	require.NoError(t, err)
	require.Equal(t, 1, n, "the lost run changed nothing")
}

func testDigestSync(t *testing.T, s Store) {
	ctx := context.Background()
	require.NoError(t, s.SyncDigests(ctx, []core.DigestSchedule{
		{Name: "keep", Schedule: "a", LastEnd: t0, NextRun: t0.Add(time.Hour)},
		{Name: "drop", Schedule: "a", LastEnd: t0, NextRun: t0.Add(time.Hour)},
	}))
	ingest(t, s, core.IngestItem{Event: digestEvent(t, "e", t0), Digests: []string{"drop"}})
	later := t0.Add(24 * time.Hour)
	require.NoError(t, s.SyncDigests(ctx, []core.DigestSchedule{
		{Name: "keep", Schedule: "b", LastEnd: later, NextRun: later.Add(time.Minute)},
		{Name: "new", Schedule: "a", LastEnd: later, NextRun: later.Add(time.Hour)},
	}))
	st, ok, err := s.DigestState(ctx, "keep")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "b", st.Schedule)
	require.True(t, t0.Equal(st.LastEnd), "a schedule change keeps the period's start")
	require.True(t, later.Add(time.Minute).Equal(st.NextRun))
	_, ok, err = s.DigestState(ctx, "drop")
	require.NoError(t, err)
	require.False(t, ok)
	win, err := s.DigestWindow(ctx, "drop", t0.Add(-time.Hour), later)
	require.NoError(t, err)
	require.Empty(t, win, "a removed digest's waiting events are released")
	st, ok, err = s.DigestState(ctx, "new")
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, later.Equal(st.LastEnd))
}

func testDigestPrune(t *testing.T, s Store) {
	ctx := context.Background()
	require.NoError(t, s.SyncDigests(ctx, []core.DigestSchedule{{Name: "d", Schedule: "x", LastEnd: t0, NextRun: t0}}))
	ingest(t, s, core.IngestItem{Event: digestEvent(t, "waiting", t0), Digests: []string{"d"}})
	n, err := s.Prune(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "an event waiting for its digest is kept")
	require.Equal(t, []string{"d"}, claimDigests(t, s, "me", t0))
	run := runRequest(t, "d", "me", t0, false)
	_, err = s.RunDigest(ctx, run)
	require.NoError(t, err)
	n, err = s.Prune(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "kept while the run's delivery is unfinished")
	got := claim(t, s, "me", "mail", t0.Add(time.Hour), 10)
	require.Len(t, got, 1)
	require.NoError(t, s.Complete(ctx, []core.Completion{{LeaseOwner: "me", Attempt: attempt(got[0], 1, "success"), State: core.StateSucceeded}}))
	n, err = s.Prune(ctx, t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(2), n, "the event and the run's event go once the digest is delivered")
}
