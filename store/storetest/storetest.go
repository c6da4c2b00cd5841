// Package storetest is the conformance suite every store implementation passes: the same
// tests for SQLite and PostgreSQL, so a driver cannot drift from the queue's contract.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dashboard"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/silences"
)

// Store is what the suite exercises: every consumer's slice of storage (the bus's ingest, the
// dispatcher's queue, the scheduler's digests and groups, the dashboard's and management API's
// webhooks, listings, sessions and queries), and the listings and digest and webhook reads the
// command line uses.
type Store interface {
	core.BusStore
	core.DispatcherStore
	core.SchedulerStore
	core.FindingStore
	core.OpenFindingsReader
	dashboard.Store

	// Findings lists findings, most recently seen first.
	Findings(ctx context.Context, f core.FindingFilter) ([]core.Finding, error)

	// Deliveries lists deliveries, newest first (the first page of DeliveryPage).
	Deliveries(ctx context.Context, f core.DeliveryFilter) ([]*core.Delivery, error)
	// Attempts lists a delivery's attempts, oldest first.
	Attempts(ctx context.Context, deliveryID string) ([]core.Attempt, error)
	// DigestWindow returns the events a digest collected with received_at in [from, to], in a
	// run or not (for ad-hoc reports).
	DigestWindow(ctx context.Context, name string, from, to time.Time) ([]*event.Event, error)
	// The silences service's storage (silence.go), with the reads of acknowledgements and the
	// audit log that pages and tests use.
	silences.Store
	Acknowledgements(ctx context.Context, eventID string) ([]core.Acknowledgement, error)
	AuditLog(ctx context.Context, subject string, limit int) ([]core.AuditEntry, error)
	// WebhooksChanged returns a value that changes whenever any webhook is created, changed or
	// deleted (replicas poll it to pick up other replicas' changes).
	WebhooksChanged(ctx context.Context) (string, error)
	// The events list, an event page's records and the bulk retry (store/events.go, store/retry.go).
	Events(ctx context.Context, f core.EventFilter) (core.EventPage, error)
	Event(ctx context.Context, id string) (*event.Event, error)
	EventDeliveries(ctx context.Context, eventID string, targets []string) ([]*core.Delivery, error)
	DeliveriesOf(ctx context.Context, eventIDs []string, targets []string) (map[string][]*core.Delivery, error)
	EventHolds(ctx context.Context, eventID string, targets []string) ([]core.Hold, error)
	RetryDeliveries(ctx context.Context, f core.RetryFilter, now time.Time) (int, bool, error)
	Close() error
}

// Open returns a fresh, empty store for one test; the suite closes it.
type Open func(t *testing.T) Store

// Run runs the suite. Tests run in parallel, each on its own store.
func Run(t *testing.T, open Open) {
	tests := map[string]func(t *testing.T, s Store){
		"IngestDetectsDuplicates":        testIngestDuplicates,
		"IngestKeepsRawBody":             testIngestKeepsRawBody,
		"ClaimOnlyDue":                   testClaimOnlyDue,
		"ClaimReclaimsExpiredLease":      testClaimExpiredLease,
		"ClaimRespectsLimitAndTarget":    testClaimLimit,
		"ClaimIsExclusive":               testClaimExclusive,
		"CompleteSetsState":              testComplete,
		"CompleteIgnoresLostLease":       testCompleteLostLease,
		"RenewAndReleaseLeases":          testRenewRelease,
		"DueTargets":                     testDueTargets,
		"PruneKeepsUnfinishedDeliveries": testPrune,
		"DeliveriesFilter":               testDeliveriesFilter,
		"ReleaseSomeLeases":              testReleaseSome,
		"CancelUnconfiguredTargets":      testCancel,
		"ClaimSettlesUnloadableEvents":   testClaimUnloadable,
	}
	for name, fn := range findingTests() {
		tests[name] = fn
	}
	for name, fn := range digestTests() {
		tests[name] = fn
	}
	for name, fn := range groupTests() {
		tests[name] = fn
	}
	for name, fn := range webhookTests() {
		tests[name] = fn
	}
	for name, fn := range leaseTests() {
		tests[name] = fn
	}
	for name, fn := range sessionTests() {
		tests[name] = fn
	}
	for name, fn := range scanTests() {
		tests[name] = fn
	}
	for name, fn := range resendTests() {
		tests[name] = fn
	}
	for name, fn := range eventTests() {
		tests[name] = fn
	}
	for name, fn := range silenceTests() {
		tests[name] = fn
	}
	for name, fn := range dashboardTests() {
		tests[name] = fn
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newEvent(t *testing.T, id string) *event.Event {
	t.Helper()
	body := fmt.Sprintf(`{"event":"scan.started","id":%q,"timestamp":"2026-01-02T03:04:05Z","data":{"scan_id":"s1", "x":[1,2]}}`, id)
	ev, err := event.Parse([]byte(body))
	require.NoError(t, err)
	ev.ReceivedAt = t0
	ev.Delivery = "sender-" + id
	return ev
}

func delivery(target string, state core.State, owner string) *core.Delivery {
	d := &core.Delivery{
		ID: uuid.Must(uuid.NewV7()).String(), Target: target, Route: "r", State: state,
		NextAttemptAt: t0, CreatedAt: t0,
	}
	if owner != "" {
		d.LeaseOwner, d.LeaseUntil = owner, t0.Add(time.Minute)
	}
	return d
}

func ingest(t *testing.T, s Store, items ...core.IngestItem) []bool {
	t.Helper()
	dup, err := s.Ingest(context.Background(), items)
	require.NoError(t, err)
	require.Len(t, dup, len(items))
	return dup
}

func claim(t *testing.T, s Store, owner, target string, now time.Time, limit int) []*core.Delivery {
	t.Helper()
	ds, err := s.Claim(context.Background(), core.ClaimRequest{Owner: owner, Target: target, Now: now, Lease: time.Minute, Limit: limit})
	require.NoError(t, err)
	return ds
}

func ids(ds []*core.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func testIngestDuplicates(t *testing.T, s Store) {
	d1 := delivery("a", core.StatePending, "")
	dup := ingest(t, s,
		core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{d1}},
		core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{delivery("b", core.StatePending, "")}},
	)
	require.Equal(t, []bool{false, true}, dup, "the same id twice in one batch: the second is a duplicate")
	dup = ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{delivery("c", core.StatePending, "")}})
	require.Equal(t, []bool{true}, dup)

	all, err := s.Deliveries(context.Background(), core.DeliveryFilter{})
	require.NoError(t, err)
	require.Equal(t, []string{d1.ID}, ids(all), "a duplicate's deliveries are not stored")
}

func testIngestKeepsRawBody(t *testing.T, s Store) {
	ev := newEvent(t, "raw")
	ingest(t, s, core.IngestItem{Event: ev, Deliveries: []*core.Delivery{delivery("a", core.StatePending, "")}})
	got := claim(t, s, "o", "a", t0, 10)
	require.Len(t, got, 1)
	require.Equal(t, ev.Raw, got[0].Event.Raw)
	require.Equal(t, "raw", got[0].Event.ID)
	require.Equal(t, "sender-raw", got[0].Event.Delivery)
	require.True(t, t0.Equal(got[0].Event.ReceivedAt))
	require.Equal(t, []any{int64(1), int64(2)}, got[0].Event.Data["x"])
}

func testClaimOnlyDue(t *testing.T, s Store) {
	due := delivery("a", core.StatePending, "")
	later := delivery("a", core.StatePending, "")
	later.NextAttemptAt = t0.Add(time.Hour)
	leased := delivery("a", core.StateRunning, "someone")
	ingest(t, s,
		core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{due}},
		core.IngestItem{Event: newEvent(t, "e2"), Deliveries: []*core.Delivery{later}},
		core.IngestItem{Event: newEvent(t, "e3"), Deliveries: []*core.Delivery{leased}},
	)
	got := claim(t, s, "me", "a", t0, 10)
	require.Equal(t, []string{due.ID}, ids(got))
	require.Equal(t, core.StateRunning, got[0].State)
	require.Equal(t, "me", got[0].LeaseOwner)
	require.Empty(t, claim(t, s, "other", "a", t0, 10), "a claimed delivery is not claimed again while leased")
	require.ElementsMatch(t, []string{due.ID, later.ID, leased.ID}, ids(claim(t, s, "me", "a", t0.Add(time.Hour), 10)),
		"an hour later the retry is due and both leases have expired")
}

func testClaimExpiredLease(t *testing.T, s Store) {
	leased := delivery("a", core.StateRunning, "crashed")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{leased}})
	require.Empty(t, claim(t, s, "me", "a", t0.Add(59*time.Second), 10))
	got := claim(t, s, "me", "a", t0.Add(61*time.Second), 10)
	require.Equal(t, []string{leased.ID}, ids(got))
	require.Equal(t, "me", got[0].LeaseOwner)
}

func testClaimLimit(t *testing.T, s Store) {
	var items []core.IngestItem
	for i := range 5 {
		items = append(items, core.IngestItem{Event: newEvent(t, fmt.Sprint("e", i)),
			Deliveries: []*core.Delivery{delivery("a", core.StatePending, ""), delivery("b", core.StatePending, "")}})
	}
	ingest(t, s, items...)
	got := claim(t, s, "me", "a", t0, 3)
	require.Len(t, got, 3)
	for _, d := range got {
		require.Equal(t, "a", d.Target)
		require.NotNil(t, d.Event)
	}
	require.Len(t, claim(t, s, "me", "a", t0, 10), 2)
	require.Len(t, claim(t, s, "me", "b", t0, 10), 5)
	require.Empty(t, claim(t, s, "me", "a", t0, 0))
}

func testClaimExclusive(t *testing.T, s Store) {
	const n = 200
	var items []core.IngestItem
	for i := range n {
		items = append(items, core.IngestItem{Event: newEvent(t, fmt.Sprint("e", i)),
			Deliveries: []*core.Delivery{delivery("a", core.StatePending, "")}})
	}
	ingest(t, s, items...)
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			owner := fmt.Sprint("worker", w)
			for {
				ds, err := s.Claim(context.Background(), core.ClaimRequest{Owner: owner, Target: "a", Now: t0, Lease: time.Minute, Limit: 7})
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					if prev, ok := seen[d.ID]; ok {
						t.Errorf("delivery %s claimed by %s and %s", d.ID, prev, owner)
					}
					seen[d.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, n)
}

func attempt(d *core.Delivery, n int, outcome string) core.Attempt {
	return core.Attempt{DeliveryID: d.ID, Number: n, StartedAt: t0, Duration: 1500 * time.Millisecond,
		Outcome: outcome, StatusCode: 503, Error: "boom", Response: `{"error":"x"}`}
}

func testComplete(t *testing.T, s Store) {
	ok, retry, dead := delivery("a", core.StatePending, ""), delivery("a", core.StatePending, ""), delivery("a", core.StatePending, "")
	ingest(t, s,
		core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{ok}},
		core.IngestItem{Event: newEvent(t, "e2"), Deliveries: []*core.Delivery{retry}},
		core.IngestItem{Event: newEvent(t, "e3"), Deliveries: []*core.Delivery{dead}},
	)
	require.Len(t, claim(t, s, "me", "a", t0, 10), 3)
	next := t0.Add(5 * time.Second)
	require.NoError(t, s.Complete(context.Background(), []core.Completion{
		{LeaseOwner: "me", Attempt: attempt(ok, 1, "success"), State: core.StateSucceeded},
		{LeaseOwner: "me", Attempt: attempt(retry, 1, "server_error"), State: core.StatePending, NextAttemptAt: next, LastError: "server_error (status 503)"},
		{LeaseOwner: "me", Attempt: attempt(dead, 1, "client_error"), State: core.StateDead, LastError: "client_error (status 400)"},
	}))
	states := map[string]*core.Delivery{}
	all, err := s.Deliveries(context.Background(), core.DeliveryFilter{})
	require.NoError(t, err)
	for _, d := range all {
		states[d.ID] = d
	}
	require.Equal(t, core.StateSucceeded, states[ok.ID].State)
	require.Equal(t, 1, states[ok.ID].Attempts)
	require.Empty(t, states[ok.ID].LeaseOwner)
	require.Equal(t, core.StatePending, states[retry.ID].State)
	require.True(t, next.Equal(states[retry.ID].NextAttemptAt))
	require.Equal(t, "server_error (status 503)", states[retry.ID].LastError)
	require.Equal(t, core.StateDead, states[dead.ID].State)

	deadOnly, err := s.Deliveries(context.Background(), core.DeliveryFilter{State: core.StateDead})
	require.NoError(t, err)
	require.Equal(t, []string{dead.ID}, ids(deadOnly))

	atts, err := s.Attempts(context.Background(), retry.ID)
	require.NoError(t, err)
	require.Equal(t, []core.Attempt{attempt(retry, 1, "server_error")}, atts)

	require.Empty(t, claim(t, s, "me", "a", next.Add(-time.Millisecond), 10), "a retry waits for next_attempt_at")
	got := claim(t, s, "me", "a", next, 10)
	require.Equal(t, []string{retry.ID}, ids(got))
	require.Equal(t, 1, got[0].Attempts)
}

func testCompleteLostLease(t *testing.T, s Store) {
	d := delivery("a", core.StatePending, "")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{d}})
	require.Len(t, claim(t, s, "slow", "a", t0, 1), 1)
	require.Len(t, claim(t, s, "fast", "a", t0.Add(2*time.Minute), 1), 1, "the slow owner's lease expired")
	require.NoError(t, s.Complete(context.Background(), []core.Completion{
		{LeaseOwner: "slow", Attempt: attempt(d, 1, "success"), State: core.StateSucceeded},
	}))
	all, err := s.Deliveries(context.Background(), core.DeliveryFilter{})
	require.NoError(t, err)
	require.Equal(t, core.StateRunning, all[0].State, "a lost lease cannot complete the delivery")
	require.Equal(t, "fast", all[0].LeaseOwner)
	atts, err := s.Attempts(context.Background(), d.ID)
	require.NoError(t, err)
	require.Len(t, atts, 1, "the attempt happened and is logged")
}

func testRenewRelease(t *testing.T, s Store) {
	a, b := delivery("a", core.StatePending, ""), delivery("a", core.StatePending, "")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{a}},
		core.IngestItem{Event: newEvent(t, "e2"), Deliveries: []*core.Delivery{b}})
	mine := claim(t, s, "me", "a", t0, 1)
	require.Len(t, mine, 1)
	require.Len(t, claim(t, s, "you", "a", t0, 1), 1)

	n, err := s.RenewLeases(context.Background(), "me", []string{mine[0].ID, "not-mine", "unknown"}, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the owner's own leases among ids")
	got := claim(t, s, "thief", "a", t0.Add(30*time.Minute), 10)
	require.Len(t, got, 1, "only the lease that was not renewed expired")
	require.NotEqual(t, "me", got[0].LeaseOwner)

	n, err = s.ReleaseLeases(context.Background(), "me", []string{}, t0.Add(31*time.Minute))
	require.NoError(t, err)
	require.Zero(t, n, "an empty list releases nothing")
	n, err = s.ReleaseLeases(context.Background(), "me", nil, t0.Add(31*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, claim(t, s, "next", "a", t0.Add(31*time.Minute), 10), 1, "a released delivery is due at once")
}

func testDueTargets(t *testing.T, s Store) {
	later := delivery("later", core.StatePending, "")
	later.NextAttemptAt = t0.Add(time.Hour)
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{
		delivery("a", core.StatePending, ""), delivery("b", core.StateRunning, "x"), later,
	}})
	got, err := s.DueTargets(context.Background(), t0)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, got)
	got, err = s.DueTargets(context.Background(), t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a", "b", "later"}, got)
}

func testPrune(t *testing.T, s Store) {
	done, open := delivery("a", core.StatePending, ""), delivery("a", core.StatePending, "")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "done"), Deliveries: []*core.Delivery{done}},
		core.IngestItem{Event: newEvent(t, "open"), Deliveries: []*core.Delivery{open}})
	got := claim(t, s, "me", "a", t0, 10)
	require.Len(t, got, 2)
	require.NoError(t, s.Complete(context.Background(), []core.Completion{
		{LeaseOwner: "me", Attempt: attempt(done, 1, "success"), State: core.StateSucceeded}}))

	n, err := s.Prune(context.Background(), t0)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is older than the cutoff")
	n, err = s.Prune(context.Background(), t0.Add(time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "only the finished event is pruned")

	dup := ingest(t, s, core.IngestItem{Event: newEvent(t, "open")}, core.IngestItem{Event: newEvent(t, "done")})
	require.Equal(t, []bool{true, false}, dup, "a pruned id is forgotten; a kept one is still a duplicate")
	atts, err := s.Attempts(context.Background(), done.ID)
	require.NoError(t, err)
	require.Empty(t, atts, "attempts go with their event")
}

func testDeliveriesFilter(t *testing.T, s Store) {
	var items []core.IngestItem
	for i := range 4 {
		ev := newEvent(t, fmt.Sprint("e", i))
		d1, d2 := delivery("a", core.StatePending, ""), delivery("b", core.StatePending, "")
		d1.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		d2.CreatedAt = d1.CreatedAt
		items = append(items, core.IngestItem{Event: ev, Deliveries: []*core.Delivery{d1, d2}})
	}
	ingest(t, s, items...)
	got, err := s.Deliveries(context.Background(), core.DeliveryFilter{Target: "a", Limit: 3})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, "e3", got[0].EventID, "newest first")
	for _, d := range got {
		require.Equal(t, "a", d.Target)
		require.Equal(t, core.StatePending, d.State)
	}
}

func testReleaseSome(t *testing.T, s Store) {
	a, b := delivery("a", core.StatePending, ""), delivery("a", core.StatePending, "")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{a}},
		core.IngestItem{Event: newEvent(t, "e2"), Deliveries: []*core.Delivery{b}})
	require.Len(t, claim(t, s, "me", "a", t0, 10), 2)
	n, err := s.ReleaseLeases(context.Background(), "me", []string{a.ID, "unknown"}, t0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = s.ReleaseLeases(context.Background(), "someone-else", []string{b.ID}, t0)
	require.NoError(t, err)
	require.Zero(t, n, "only the owner's leases")
	require.Equal(t, []string{a.ID}, ids(claim(t, s, "next", "a", t0, 10)))
}

func testCancel(t *testing.T, s Store) {
	kept, gone, leased, done := delivery("kept", core.StatePending, ""), delivery("gone", core.StatePending, ""),
		delivery("gone", core.StateRunning, "x"), delivery("gone", core.StatePending, "")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{kept, gone}},
		core.IngestItem{Event: newEvent(t, "e2"), Deliveries: []*core.Delivery{leased}},
		core.IngestItem{Event: newEvent(t, "e3"), Deliveries: []*core.Delivery{done}})
	got := claim(t, s, "me", "gone", t0, 1)
	require.Len(t, got, 1)
	require.NoError(t, s.Complete(context.Background(), []core.Completion{{LeaseOwner: "me", Attempt: attempt(got[0], 1, "success"), State: core.StateSucceeded}}))
	n, err := s.CancelDeliveries(context.Background(), []string{"kept"}, "target no longer configured", t0)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the pending delivery of the removed target; the leased one is still running")
	n, err = s.CancelDeliveries(context.Background(), []string{"kept"}, "target no longer configured", t0.Add(2*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n, "once its lease has expired, the running one too")
	all, err := s.Deliveries(context.Background(), core.DeliveryFilter{State: core.StateCancelled})
	require.NoError(t, err)
	require.Len(t, all, 2)
	for _, d := range all {
		require.Equal(t, "gone", d.Target)
		require.Equal(t, "target no longer configured", d.LastError)
	}
	require.Len(t, claim(t, s, "me", "kept", t0, 10), 1, "other targets are untouched")
}

// testClaimUnloadable: a delivery whose stored event no longer parses is marked dead by the claim,
// with the reason, and the other deliveries of the batch are returned.
func testClaimUnloadable(t *testing.T, s Store) {
	good, bad := delivery("a", core.StatePending, ""), delivery("a", core.StatePending, "")
	broken := newEvent(t, "broken")
	broken.Raw = []byte(`{"event":"scan.started","id":"broken"}`) // stored as is; it no longer parses
	ingest(t, s, core.IngestItem{Event: newEvent(t, "fine"), Deliveries: []*core.Delivery{good}},
		core.IngestItem{Event: broken, Deliveries: []*core.Delivery{bad}})
	got := claim(t, s, "me", "a", t0, 10)
	require.Equal(t, []string{good.ID}, ids(got))
	dead, err := s.Deliveries(context.Background(), core.DeliveryFilter{State: core.StateDead})
	require.NoError(t, err)
	require.Equal(t, []string{bad.ID}, ids(dead))
	require.Contains(t, dead[0].LastError, "no longer parses")
	require.Contains(t, dead[0].LastError, "timestamp: required")
}
