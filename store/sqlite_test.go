package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/storetest"
)

func openSQLite(t *testing.T) core.Store {
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
	ev, err := core.ParseEvent([]byte(`{"event":"x","id":"e1","timestamp":"2026-01-01T00:00:00Z","data":{}}`))
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
