package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
	"github.com/cortexbridge/cortex-bridge/store/storetest"
)

// The Postgres tests get a schema each from pgtest (this machine's server on 127.0.0.1:5432 by
// default, which scripts/test-setup starts), so they run in parallel on one database.

// openPG opens a store on dsn (one "replica": its own pool) and closes it after the test.
func openPG(t testing.TB, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "postgres", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store {
		db, err := store.Open(context.Background(), "postgres", pgtest.Schema(t, ""))
		require.NoError(t, err)
		return db
	})
}

var pgT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func pgEvent(t testing.TB, id string) *event.Event {
	t.Helper()
	jid, err := json.Marshal(id)
	require.NoError(t, err)
	ev, err := event.Parse(fmt.Appendf(nil, `{"event":"scan.started","id":%s,"timestamp":"2026-01-02T03:04:05Z","data":{"scan_id":"s1"}}`, jid))
	require.NoError(t, err)
	ev.ReceivedAt = pgT0
	return ev
}

func pgDelivery(target string, state core.State, owner string) *core.Delivery {
	d := &core.Delivery{ID: uuid.Must(uuid.NewV7()).String(), Target: target, Route: "r", State: state, NextAttemptAt: pgT0, CreatedAt: pgT0}
	if owner != "" {
		d.LeaseOwner, d.LeaseUntil = owner, pgT0.Add(time.Minute)
	}
	return d
}

// pendingItems makes n events with one pending delivery each to target.
func pendingItems(t testing.TB, prefix string, n int, target string) []core.IngestItem {
	items := make([]core.IngestItem, n)
	for i := range items {
		items[i] = core.IngestItem{Event: pgEvent(t, fmt.Sprintf("%s%d", prefix, i)),
			Deliveries: []*core.Delivery{pgDelivery(target, core.StatePending, "")}}
	}
	return items
}

func TestPostgresOpenErrors(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), "postgres", "")
	require.ErrorContains(t, err, "storage.dsn")
	_, err = store.Open(context.Background(), "postgres", "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=2")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret", "the password never shows")
	require.Contains(t, err.Error(), "127.0.0.1:1/x")

	_, dsn := pgtest.Admin(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", "no_such_schema_here")
	u.RawQuery = q.Encode()
	_, err = store.Open(context.Background(), "postgres", u.String())
	require.ErrorContains(t, err, "search_path")
}

// Two replicas (two pools) claim the same target concurrently: every delivery goes to exactly
// one of them, with its lease in the database.
func TestPostgresReplicasClaimExclusively(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, "")
	a, b := openPG(t, dsn), openPG(t, dsn)
	const n = 600
	items := pendingItems(t, "e", n, "x")
	_, err := a.Ingest(context.Background(), items[:n/2])
	require.NoError(t, err)
	_, err = b.Ingest(context.Background(), items[n/2:])
	require.NoError(t, err)

	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for r, db := range []*store.DB{a, b} {
		for w := range 3 {
			wg.Go(func() {
				owner := fmt.Sprintf("replica%d/worker%d", r, w)
				for {
					ds, err := db.Claim(context.Background(), core.ClaimRequest{Owner: owner, Target: "x", Now: pgT0, Lease: time.Minute, Limit: 5})
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
						if d.Event == nil || d.Event.ID != d.EventID {
							t.Errorf("delivery %s claimed without its event", d.ID)
						}
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	require.Len(t, seen, n)
	all, err := a.Deliveries(context.Background(), core.DeliveryFilter{Limit: n})
	require.NoError(t, err)
	require.Len(t, all, n)
	for _, d := range all {
		require.Equal(t, core.StateRunning, d.State)
		require.Equal(t, seen[d.ID], d.LeaseOwner, "the database's lease matches the claim")
	}
}

// A replica dies with deliveries leased (it never renews nor releases them): once the leases
// expire, another replica claims them, and the dead owner can no longer complete them.
func TestPostgresKilledReplicaLeasesAreReclaimed(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, "")
	survivor := openPG(t, dsn)
	doomed, err := store.Open(context.Background(), "postgres", dsn)
	require.NoError(t, err)
	_, err = doomed.Ingest(context.Background(), pendingItems(t, "e", 10, "x"))
	require.NoError(t, err)
	ctx := context.Background()
	got, err := doomed.Claim(ctx, core.ClaimRequest{Owner: "doomed", Target: "x", Now: pgT0, Lease: time.Minute, Limit: 100})
	require.NoError(t, err)
	require.Len(t, got, 10)
	require.NoError(t, doomed.Close()) // killed: no ReleaseLeases, no more renewals

	ds, err := survivor.Claim(ctx, core.ClaimRequest{Owner: "survivor", Target: "x", Now: pgT0.Add(59 * time.Second), Lease: time.Minute, Limit: 100})
	require.NoError(t, err)
	require.Empty(t, ds, "the leases still run")
	due, err := survivor.DueTargets(ctx, pgT0.Add(61*time.Second))
	require.NoError(t, err)
	require.Equal(t, []string{"x"}, due)
	ds, err = survivor.Claim(ctx, core.ClaimRequest{Owner: "survivor", Target: "x", Now: pgT0.Add(61 * time.Second), Lease: time.Minute, Limit: 100})
	require.NoError(t, err)
	require.Len(t, ds, 10, "every expired lease is reclaimed")

	// The dead owner's late result (e.g. written just before it died) changes nothing.
	require.NoError(t, survivor.Complete(ctx, []core.Completion{{LeaseOwner: "doomed",
		Attempt: core.Attempt{DeliveryID: ds[0].ID, Number: 1, StartedAt: pgT0, Outcome: "success"}, State: core.StateSucceeded}}))
	all, err := survivor.Deliveries(ctx, core.DeliveryFilter{State: core.StateRunning, Limit: 100})
	require.NoError(t, err)
	require.Len(t, all, 10)
	for _, d := range all {
		require.Equal(t, "survivor", d.LeaseOwner)
	}
}

// Replicas starting together on an empty schema migrate it once, one after the other.
func TestPostgresConcurrentMigrations(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, "")
	const replicas = 4
	dbs := make([]*store.DB, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { dbs[i], errs[i] = store.Open(context.Background(), "postgres", dsn) })
	}
	wg.Wait()
	for i := range replicas {
		require.NoError(t, errs[i], "replica %d", i)
		defer dbs[i].Close()
	}
	pool, _ := pgtest.Admin(t)
	u, _ := url.Parse(dsn)
	schema := u.Query().Get("search_path")
	rows, err := pool.Query(context.Background(), "SELECT version_id FROM "+schema+".goose_db_version ORDER BY id")
	require.NoError(t, err)
	var versions []int64
	for rows.Next() {
		var v int64
		require.NoError(t, rows.Scan(&v))
		versions = append(versions, v)
	}
	require.NoError(t, rows.Err())
	want := []int64{0} // goose's own first row
	files, err := os.ReadDir("migrations/postgres")
	require.NoError(t, err)
	for _, f := range files { // in name order: by version (branches may leave gaps in the numbers)
		v, err := strconv.ParseInt(strings.SplitN(f.Name(), "_", 2)[0], 10, 64)
		require.NoError(t, err, f.Name())
		want = append(want, v)
	}
	require.Equal(t, store.LatestMigration("migrations/postgres"), want[len(want)-1])
	require.Equal(t, want, versions, "each migration applied once")
	_, err = dbs[0].Ingest(context.Background(), pendingItems(t, "e", 1, "x"))
	require.NoError(t, err)
}

// The same events reach two replicas at once (a sender retrying through a load balancer), in
// opposite orders: each event is stored once, and the batches do not deadlock.
func TestPostgresSameEventsOnTwoReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, "")
	a, b := openPG(t, dsn), openPG(t, dsn)
	const n = 200
	for round := range 5 {
		prefix := fmt.Sprintf("r%d-", round)
		fwd := pendingItems(t, prefix, n, "x")
		rev := pendingItems(t, prefix, n, "x")
		for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
			rev[i], rev[j] = rev[j], rev[i]
		}
		var dupA, dupB []bool
		var errA, errB error
		var wg sync.WaitGroup
		wg.Go(func() { dupA, errA = a.Ingest(context.Background(), fwd) })
		wg.Go(func() { dupB, errB = b.Ingest(context.Background(), rev) })
		wg.Wait()
		require.NoError(t, errA)
		require.NoError(t, errB)
		for i := range n {
			require.NotEqual(t, dupA[i], dupB[n-1-i], "event %d: stored by exactly one replica", i)
		}
	}
	all, err := a.Deliveries(context.Background(), core.DeliveryFilter{Limit: 10 * n})
	require.NoError(t, err)
	require.Len(t, all, 5*n, "one delivery per event")
}

// Two replicas sync the same digests and claim them at the same moment: no conflict, and each
// due digest is claimed by one of them.
func TestPostgresDigestsFireOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, "")
	a, b := openPG(t, dsn), openPG(t, dsn)
	ctx := context.Background()
	var ds []core.DigestSchedule
	for i := range 20 {
		ds = append(ds, core.DigestSchedule{Name: fmt.Sprint("d", i), Schedule: "x", LastEnd: pgT0, NextRun: pgT0})
	}
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() { errA = a.SyncDigests(ctx, ds) })
	wg.Go(func() { errB = b.SyncDigests(ctx, ds) })
	wg.Wait()
	require.NoError(t, errA)
	require.NoError(t, errB)

	var gotA, gotB []core.DigestSchedule
	wg.Go(func() { gotA, errA = a.ClaimDigests(ctx, "a", pgT0, time.Minute) })
	wg.Go(func() { gotB, errB = b.ClaimDigests(ctx, "b", pgT0, time.Minute) })
	wg.Wait()
	require.NoError(t, errA)
	require.NoError(t, errB)
	require.Len(t, append(gotA, gotB...), 20, "every digest claimed once")
	names := map[string]bool{}
	for _, s := range append(gotA, gotB...) {
		require.False(t, names[s.Name], "digest %s claimed twice", s.Name)
		names[s.Name] = true
	}
}

// awaitSignal waits for a wake-up on ch.
func awaitSignal(t *testing.T, ch <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up: %s", why)
	}
}

// noSignal checks that nothing wakes ch for a moment.
func noSignal(t *testing.T, ch <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("unexpected wake-up: %s", why)
	case <-time.After(300 * time.Millisecond):
	}
}

// listening waits until db's listener has connected n times, and drains the signal each
// (re)connection sends.
func listening(t *testing.T, db *store.DB, ch <-chan struct{}, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { _, c := store.ListenerState(db); return c >= n }, 10*time.Second, 5*time.Millisecond)
	awaitSignal(t, ch, "after LISTEN")
}

// An idle replica is woken by NOTIFY when another replica commits work that is due now.
func TestPostgresNotifyWakesOtherReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, "")
	writer, idle := openPG(t, dsn), openPG(t, dsn)
	ctx := context.Background()
	wake := idle.Wake()
	listening(t, idle, wake, 1)
	second := idle.Wake() // every subscriber is signalled
	noSignal(t, wake, "nothing happened")

	_, err := writer.Ingest(ctx, []core.IngestItem{{Event: pgEvent(t, "mine"),
		Deliveries: []*core.Delivery{pgDelivery("x", core.StateRunning, "writer")}}})
	require.NoError(t, err)
	noSignal(t, wake, "deliveries handed straight to the writer's own workers are not for others")

	_, err = writer.Ingest(ctx, pendingItems(t, "e", 3, "x"))
	require.NoError(t, err)
	awaitSignal(t, wake, "pending deliveries were ingested")
	awaitSignal(t, second, "pending deliveries were ingested (second subscriber)")
	noSignal(t, wake, "one commit, one wake-up")

	_, err = writer.Ingest(ctx, pendingItems(t, "e", 3, "x"))
	require.NoError(t, err)
	noSignal(t, wake, "duplicates store nothing")

	other := openPG(t, pgtest.Schema(t, ""))
	_, err = other.Ingest(ctx, pendingItems(t, "e", 3, "x"))
	require.NoError(t, err)
	noSignal(t, wake, "a bridge on another schema of the database is not ours")

	// A retry that is due at once wakes the others; one due later does not.
	ds, err := writer.Claim(ctx, core.ClaimRequest{Owner: "writer", Target: "x", Now: pgT0, Lease: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Len(t, ds, 3)
	att := func(d *core.Delivery) core.Attempt {
		return core.Attempt{DeliveryID: d.ID, Number: 1, StartedAt: pgT0, Duration: time.Second, Outcome: "server_error"}
	}
	require.NoError(t, writer.Complete(ctx, []core.Completion{
		{LeaseOwner: "writer", Attempt: att(ds[0]), State: core.StatePending, NextAttemptAt: pgT0.Add(time.Minute)},
		{LeaseOwner: "writer", Attempt: att(ds[1]), State: core.StateSucceeded},
	}))
	noSignal(t, wake, "a later retry is found by polling when due")
	require.NoError(t, writer.Complete(ctx, []core.Completion{
		{LeaseOwner: "writer", Attempt: att(ds[2]), State: core.StatePending, NextAttemptAt: pgT0.Add(time.Second)},
	}))
	awaitSignal(t, wake, "a retry due at once")

	// Leases handed back at shutdown are due now.
	ds, err = writer.Claim(ctx, core.ClaimRequest{Owner: "writer", Target: "x", Now: pgT0.Add(time.Hour), Lease: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.NotEmpty(t, ds)
	n, err := writer.ReleaseLeases(ctx, "writer", nil, pgT0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, len(ds), n)
	awaitSignal(t, wake, "leases were handed back")

	// A digest run queues its delivery.
	require.NoError(t, writer.SyncDigests(ctx, []core.DigestSchedule{{Name: "d", Schedule: "x", LastEnd: pgT0, NextRun: pgT0}}))
	claimed, err := writer.ClaimDigests(ctx, "writer", pgT0, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	runEv, err := core.NewDigestEvent("digest_d_1", core.DigestRun{Digest: "d", To: pgT0}, pgT0)
	require.NoError(t, err)
	dl := pgDelivery("mail", core.StatePending, "")
	dl.EventID = runEv.ID
	_, err = writer.RunDigest(ctx, core.DigestRunRequest{Name: "d", Owner: "writer", PeriodEnd: pgT0, NextRun: pgT0.Add(time.Hour),
		Event: runEv, Delivery: dl, SendEmpty: true})
	require.NoError(t, err)
	awaitSignal(t, wake, "a digest run was queued")
}

// The listener reconnects when its connection is killed, and wakes its subscribers then (work
// notified meanwhile was missed).
func TestPostgresListenerReconnects(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, "")
	writer, idle := openPG(t, dsn), openPG(t, dsn)
	wake := idle.Wake()
	listening(t, idle, wake, 1)
	pid, _ := store.ListenerState(idle)

	pool, _ := pgtest.Admin(t)
	var killed bool
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", pid).Scan(&killed))
	require.True(t, killed)
	listening(t, idle, wake, 2)
	newPID, _ := store.ListenerState(idle)
	require.NotEqual(t, pid, newPID)

	_, err := writer.Ingest(context.Background(), pendingItems(t, "e", 1, "x"))
	require.NoError(t, err)
	awaitSignal(t, wake, "after the reconnect")
}

// Postgres text cannot hold NUL bytes or invalid UTF-8, which SQLite stores as given: the
// Postgres store writes them as U+FFFD instead of failing the whole batch, and finds them again.
func TestPostgresStoresAnyText(t *testing.T) {
	t.Parallel()
	db := openPG(t, pgtest.Schema(t, ""))
	ctx := context.Background()
	ev := pgEvent(t, "nul\x00id")
	ev.Delivery = "bad\xffsender"
	d := pgDelivery("x", core.StatePending, "")
	dup, err := db.Ingest(ctx, []core.IngestItem{{Event: ev, Deliveries: []*core.Delivery{d}, Digests: []string{"dig\x00est"}}})
	require.NoError(t, err)
	require.Equal(t, []bool{false}, dup)
	dup, err = db.Ingest(ctx, []core.IngestItem{{Event: pgEvent(t, "nul\x00id")}})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, dup, "the same id is still a duplicate")

	ds, err := db.Claim(ctx, core.ClaimRequest{Owner: "o", Target: "x", Now: pgT0, Lease: time.Minute, Limit: 1})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.NotNil(t, ds[0].Event)
	require.Equal(t, "nul\uFFFDid", ds[0].Event.ID)
	require.Equal(t, "bad\uFFFDsender", ds[0].Event.Delivery)
	require.NoError(t, db.Complete(ctx, []core.Completion{{LeaseOwner: "o", State: core.StateDead, LastError: "x\x00y",
		Attempt: core.Attempt{DeliveryID: d.ID, Number: 1, StartedAt: pgT0, Outcome: "client_error", Response: "\x89PNG\x00\xff"}}}))
	atts, err := db.Attempts(ctx, d.ID)
	require.NoError(t, err)
	require.Len(t, atts, 1)
	require.Equal(t, "\uFFFDPNG\uFFFD\uFFFD", atts[0].Response)
	win, err := db.DigestWindow(ctx, "dig\x00est", pgT0, pgT0)
	require.NoError(t, err)
	require.Len(t, win, 1)
}

// TestPostgresProbeWrite: the trial write commits on a healthy server (it takes a transaction
// id, so its commit writes WAL) and fails, wrapping core.ErrUnavailable, once the store is closed.
func TestPostgresProbeWrite(t *testing.T) {
	t.Parallel()
	db, err := store.Open(context.Background(), "postgres", pgtest.Schema(t, ""))
	require.NoError(t, err)
	require.NoError(t, db.ProbeWrite(context.Background()))
	require.NoError(t, db.Close())
	require.ErrorIs(t, db.ProbeWrite(context.Background()), core.ErrUnavailable)
}
