package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

// leaseTests pin down who may change a leased delivery: only the owner of a running delivery's
// lease may complete it or renew the lease, whatever happened to the delivery meanwhile.
func leaseTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"CompleteOnlyRunningLeasesOfTheOwner": testCompleteOnlyOwnRunning,
		"RenewOnlyRunningLeasesOfTheOwner":    testRenewOnlyRunningLeasesOfTheOwner,
		"RenewManyLeases":                     testRenewMany,
		"ClaimOldestDueFirst":                 testClaimOrder,
	}
}

// byID returns the stored deliveries by id.
func byID(t *testing.T, s Store) map[string]*core.Delivery {
	t.Helper()
	all, err := s.Deliveries(context.Background(), core.DeliveryFilter{})
	require.NoError(t, err)
	out := map[string]*core.Delivery{}
	for _, d := range all {
		out[d.ID] = d
	}
	return out
}

// testCompleteOnlyRunningLeasesOfTheOwner: a completion is the end of an attempt that may have
// taken longer than its lease. Whatever the delivery became meanwhile (cancelled, handed back,
// completed already, leased to another owner, never running), the late completion changes
// nothing; its attempt is still logged.
func testCompleteOnlyOwnRunning(t *testing.T, s Store) {
	ctx := context.Background()
	tests := map[string]struct {
		state core.State // as ingested
		owner string     // lease owner as ingested
		// setup runs before the late completion by "me"; it returns the state the delivery must keep.
		setup func(t *testing.T, d *core.Delivery) core.State
	}{
		"cancelled after its lease expired": {core.StateRunning, "me", func(t *testing.T, d *core.Delivery) core.State {
			n, err := s.CancelDeliveries(ctx, nil, "target no longer configured", t0.Add(2*time.Minute))
			require.NoError(t, err)
			require.Positive(t, n)
			return core.StateCancelled
		}},
		"handed back": {core.StateRunning, "me", func(t *testing.T, d *core.Delivery) core.State {
			n, err := s.ReleaseLeases(ctx, "me", []string{d.ID}, t0)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			return core.StatePending
		}},
		"completed already": {core.StateRunning, "me", func(t *testing.T, d *core.Delivery) core.State {
			require.NoError(t, s.Complete(ctx, []core.Completion{{LeaseOwner: "me", Attempt: attempt(d, 1, "success"), State: core.StateSucceeded}}))
			return core.StateSucceeded
		}},
		"leased to another owner":                      {core.StateRunning, "other", nil},
		"pending, with a stale owner":                  {core.StatePending, "me", nil},
		"dead, with a stale owner":                     {core.StateDead, "me", nil},
		"succeeded, with a stale owner":                {core.StateSucceeded, "me", nil},
		"cancelled, with a stale owner":                {core.StateCancelled, "me", nil},
		"pending and never leased (empty owner given)": {core.StatePending, "", nil},
	}
	for name, tc := range tests {
		d := delivery(name, tc.state, tc.owner)
		ingest(t, s, core.IngestItem{Event: newEvent(t, name), Deliveries: []*core.Delivery{d}})
		want := tc.state
		if tc.setup != nil {
			want = tc.setup(t, d)
		}
		before := byID(t, s)[d.ID]
		owner := "me"
		if tc.owner == "" {
			owner = ""
		}
		require.NoError(t, s.Complete(ctx, []core.Completion{{LeaseOwner: owner, Attempt: attempt(d, 2, "client_error"),
			State: core.StateDead, NextAttemptAt: t0.Add(time.Hour), LastError: "late completion"}}), name)
		after := byID(t, s)[d.ID]
		require.Equal(t, want, after.State, name)
		require.Equal(t, before, after, "%s: a late completion changes nothing", name)
		atts, err := s.Attempts(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, 2, atts[len(atts)-1].Number, "%s: the attempt happened and is logged", name)
	}
}

// testRenewOnlyRunningLeasesOfTheOwner: renewing names deliveries by id; only those running
// under the caller's own lease are extended, so a worker cannot keep (or steal) another's.
func testRenewOnlyRunningLeasesOfTheOwner(t *testing.T, s Store) {
	ctx := context.Background()
	mine, yours := delivery("a", core.StatePending, ""), delivery("a", core.StatePending, "")
	stalePending, staleDead := delivery("b", core.StatePending, "me"), delivery("c", core.StateDead, "me")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{mine}},
		core.IngestItem{Event: newEvent(t, "e2"), Deliveries: []*core.Delivery{yours}},
		core.IngestItem{Event: newEvent(t, "e3"), Deliveries: []*core.Delivery{stalePending, staleDead}})
	require.Equal(t, []string{mine.ID}, ids(claim(t, s, "me", "a", t0, 1)))
	require.Equal(t, []string{yours.ID}, ids(claim(t, s, "you", "a", t0, 1)))
	before := byID(t, s)

	n, err := s.RenewLeases(ctx, "me", []string{yours.ID, stalePending.ID, staleDead.ID, "unknown"}, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "none of these is a running delivery leased to me")
	require.Equal(t, before, byID(t, s), "nothing changed")

	n, err = s.RenewLeases(ctx, "me", []string{mine.ID, yours.ID}, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	after := byID(t, s)
	require.True(t, t0.Add(time.Hour).Equal(after[mine.ID].LeaseUntil), "my lease is extended")
	require.Equal(t, before[yours.ID], after[yours.ID], "yours is not")
	require.Equal(t, []string{yours.ID}, ids(claim(t, s, "thief", "a", t0.Add(30*time.Minute), 10)),
		"your lease expired on time and mine did not")
}

// testRenewMany: a renewal of more ids than one statement takes counts every lease it extends.
func testRenewMany(t *testing.T, s Store) {
	const n = 1234
	var items []core.IngestItem
	for i := range n {
		items = append(items, core.IngestItem{Event: newEvent(t, fmt.Sprint("e", i)), Deliveries: []*core.Delivery{delivery("a", core.StatePending, "")}})
	}
	ingest(t, s, items...)
	got := claim(t, s, "me", "a", t0, n)
	require.Len(t, got, n)
	renewed, err := s.RenewLeases(context.Background(), "me", ids(got), t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, n, renewed)
	require.Empty(t, claim(t, s, "other", "a", t0.Add(30*time.Minute), n), "every lease was extended, the last chunk's too")
	require.Len(t, claim(t, s, "other", "a", t0.Add(61*time.Minute), n), n)
}

// testClaimOrder: a claim takes the deliveries due longest first, returns them in that order,
// with their stored fields and the new lease.
func testClaimOrder(t *testing.T, s Store) {
	var ds []*core.Delivery
	// Stored in another order than due: Postgres returns updated rows in table order.
	for _, ago := range []time.Duration{1, 3, 5, 4, 2} {
		d := delivery("a", core.StatePending, "")
		d.NextAttemptAt = t0.Add(-ago * time.Second)
		d.CreatedAt = t0.Add(-time.Hour)
		ds = append(ds, d)
		ingest(t, s, core.IngestItem{Event: newEvent(t, fmt.Sprint("e", ago)), Deliveries: []*core.Delivery{d}})
	}
	got := claim(t, s, "me", "a", t0, 3)
	require.Equal(t, []string{ds[2].ID, ds[3].ID, ds[1].ID}, ids(got), "5, 4 and 3 seconds overdue, in that order")
	for _, d := range got {
		require.Equal(t, core.StateRunning, d.State)
		require.Equal(t, "me", d.LeaseOwner)
		require.True(t, t0.Add(time.Minute).Equal(d.LeaseUntil), "leased for ClaimRequest.Lease")
		require.True(t, t0.Add(-time.Hour).Equal(d.CreatedAt))
		require.Equal(t, "a", d.Target)
		require.Equal(t, "r", d.Route)
		require.NotNil(t, d.Event)
		require.Equal(t, d.EventID, d.Event.ID)
	}
	require.Empty(t, claim(t, s, "me", "a", t0, -1), "a negative limit claims nothing")
	require.Equal(t, []string{ds[4].ID, ds[0].ID}, ids(claim(t, s, "me", "a", t0, 10)))
}
