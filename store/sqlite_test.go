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
