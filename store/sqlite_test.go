package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/storetest"
)

func openSQLite(t *testing.T) storetest.Store {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	return db
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, openSQLite)
}

func TestSQLiteReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "bridge.db")
	db, err := store.Open(context.Background(), "sqlite", path)
	require.NoError(t, err)
	ev, err := event.Parse([]byte(`{"event":"x","id":"e1","timestamp":"2026-01-01T00:00:00Z","data":{}}`))
	require.NoError(t, err)
	dup, err := db.Ingest(context.Background(), []core.IngestItem{{Event: ev}})
	require.NoError(t, err)
	require.Equal(t, []bool{false}, dup)
	require.NoError(t, db.Close())

	db, err = store.Open(context.Background(), "sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	dup, err = db.Ingest(context.Background(), []core.IngestItem{{Event: ev}})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, dup, "migrations ran once; the event survived the reopen")
}

func TestOpenUnknownDriver(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), "mysql", "x")
	require.ErrorContains(t, err, "storage.driver")
}

// TestQueueQueriesUseTheirIndexes: what runs several times a second (the poller, claims) or at
// every scrape reads the partial indexes of due, unfinished or dead rows, never every delivery
// ever made: the table grows with history until retention prunes it.
func TestQueueQueriesUseTheirIndexes(t *testing.T) {
	t.Parallel()
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	defer db.Close()
	for _, tc := range []struct {
		name, query string
		args        []any
		want        []string
	}{
		{"due targets", store.DueTargetsSQL, []any{0, 0}, []string{"USING INDEX deliveries_due", "USING INDEX deliveries_leased"}},
		{"claim", store.ClaimSQLite, []any{"o", 0, 0, "t", 0, 0, 10}, []string{"USING INDEX deliveries_target_due"}},
		{"unfinished", `SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'running')`, nil, []string{"deliveries_target_due"}},
		{"dead per target", `SELECT target, COUNT(*) FROM deliveries WHERE state = 'dead' GROUP BY target`, nil, []string{"deliveries_dead"}},
	} {
		plan, err := store.QueryPlan(db, tc.query, tc.args...)
		require.NoError(t, err, tc.name)
		for _, w := range tc.want {
			require.Contains(t, plan, w, "%s:\n%s", tc.name, plan)
		}
		require.NotRegexp(t, `SCAN deliveries($|\n| USING INDEX deliveries_(target_)?listing)`, plan, tc.name)
	}
}

// TestSQLiteFilesAreOwnerOnly: the database (it holds registered webhooks' signing secrets) and
// its -wal and -shm files are 0600 when the bridge creates them, and an existing database or WAL
// readable by others is narrowed to 0600 when it is opened.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		existing os.FileMode // 0: no file before Open
	}{
		"created":             {},
		"existing 0644":       {existing: 0o644},
		"existing 0666":       {existing: 0o666},
		"existing owner-only": {existing: 0o600},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bridge.db")
			if tc.existing != 0 {
				db, err := store.Open(context.Background(), "sqlite", path)
				require.NoError(t, err)
				require.NoError(t, db.Close())
				for _, p := range []string{path, path + "-wal", path + "-shm", path + "-ingest"} {
					if _, err := os.Stat(p); err == nil {
						require.NoError(t, os.Chmod(p, tc.existing))
					}
				}
			}
			db, err := store.Open(context.Background(), "sqlite", path)
			require.NoError(t, err)
			defer db.Close()
			ev, err := event.Parse([]byte(`{"event":"x","id":"e1","timestamp":"2026-01-01T00:00:00Z","data":{}}`))
			require.NoError(t, err)
			_, err = db.Ingest(context.Background(), []core.IngestItem{{Event: ev}})
			require.NoError(t, err)
			_, err = db.Event(context.Background(), "e1") // the journal's applier has written it: the WAL exists now
			require.NoError(t, err)
			for _, p := range []string{path, path + "-wal", path + "-shm", path + "-ingest"} {
				st, err := os.Stat(p)
				require.NoError(t, err)
				require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "%s", filepath.Base(p))
			}
		})
	}
}

// TestProbeWriteReachesTheLog: the trial write /readyz makes after a failed ingest commit must
// reach the disk (a full disk must fail it), not be skipped as a change of nothing: on SQLite
// the WAL grows by its commit, and no data changes.
func TestProbeWriteReachesTheLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bridge.db")
	db, err := store.Open(context.Background(), "sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	walSize := func() int64 {
		st, err := os.Stat(path + "-wal")
		require.NoError(t, err)
		return st.Size()
	}
	before := walSize()
	for i := range 3 {
		require.NoError(t, db.ProbeWrite(context.Background()))
		after := walSize()
		require.Greater(t, after, before, "trial write %d appended nothing to the WAL", i+1)
		before = after
	}
	require.NoError(t, db.MigrationsCurrent(context.Background()), "the schema is untouched")
}

// TestSQLiteCompletionLeavesIngestDurable: a completion batch commits without its own fsync
// (synchronous NORMAL on the writer for that transaction), and the writer is FULL again after
// it, also after a batch that failed, so an acknowledged event is still on disk.
func TestSQLiteCompletionLeavesIngestDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t).(*store.DB)
	now := time.Now().UTC()
	ev, err := event.Parse([]byte(`{"event":"x","id":"e1","timestamp":"2026-01-01T00:00:00Z","data":{}}`))
	require.NoError(t, err)
	ev.ReceivedAt = now
	dl := &core.Delivery{ID: "d1", Target: "t", Route: "r", State: core.StateRunning, LeaseOwner: "me",
		LeaseUntil: now.Add(time.Minute), NextAttemptAt: now, CreatedAt: now}
	_, err = db.Ingest(ctx, []core.IngestItem{{Event: ev, Deliveries: []*core.Delivery{dl}}})
	require.NoError(t, err)
	for name, cs := range map[string][]core.Completion{
		"written": {{LeaseOwner: "me", State: core.StateSucceeded, Attempt: core.Attempt{DeliveryID: "d1", Number: 1, StartedAt: now, Outcome: "success"}}},
		"failed":  {{LeaseOwner: "me", State: core.StateSucceeded, Attempt: core.Attempt{DeliveryID: "no-such-delivery", Number: 1, StartedAt: now, Outcome: "success"}}},
	} {
		err := db.Complete(ctx, cs)
		if name == "written" {
			require.NoError(t, err)
		} else {
			require.Error(t, err, "an attempt of an unknown delivery breaks its foreign key")
		}
		sync, err := store.WriterSynchronous(db)
		require.NoError(t, err)
		require.Equal(t, 2, sync, "%s: the writer is back to synchronous=FULL", name)
	}
	got, err := db.Delivery(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, core.StateSucceeded, got.State)
}

// TestSQLiteReaderCacheIsSmall: read connections keep a 512 KiB page cache, not SQLite's 2 000
// KiB: the event bodies they read would otherwise stay in it for the life of the process.
func TestSQLiteReaderCacheIsSmall(t *testing.T) {
	t.Parallel()
	db := openSQLite(t).(*store.DB)
	size, err := store.ReaderCacheSize(db)
	require.NoError(t, err)
	require.Equal(t, -512, size)
	w, err := store.WriterSynchronous(db)
	require.NoError(t, err)
	require.Equal(t, 2, w, "the writer keeps synchronous=FULL")
}
