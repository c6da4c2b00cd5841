package store

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// TestFindingBackoffMigration: upgrading a database with a comparison queued (migration 00014)
// keeps it due with no failed attempts, and a failed attempt can then be recorded on it.
func TestFindingBackoffMigration(t *testing.T) {
	t.Parallel()
	for _, drv := range []struct {
		name, driver, store string
		dia                 *dialect
		dsn                 func(t *testing.T) string
	}{
		{"sqlite", "sqlite", "sqlite", &sqliteDialect, func(t *testing.T) string { return filepath.Join(t.TempDir(), "old.db") }},
		{"postgres", "pgx", "postgres", &postgresDialect, func(t *testing.T) string { return pgtest.Schema(t, "") }},
	} {
		t.Run(drv.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := drv.dsn(t)
			db, err := sql.Open(drv.driver, dsn)
			require.NoError(t, err)
			defer db.Close()
			sub, err := fs.Sub(migrations, drv.dia.migrations)
			require.NoError(t, err)
			p, err := goose.NewProvider(drv.dia.goose, db, sub, goose.WithDisableGlobalRegistry(true))
			require.NoError(t, err)
			_, err = p.UpTo(ctx, 13)
			require.NoError(t, err)
			ph := (&DB{dialect: drv.dia}).rebind
			_, err = db.ExecContext(ctx, ph(`INSERT INTO finding_scans (scan_id, received_at_ms, due_at_ms) VALUES (?, ?, ?)`), "s1", 1000, 2000)
			require.NoError(t, err)
			_, err = p.UpTo(ctx, 14)
			require.NoError(t, err)
			require.NoError(t, db.Close())

			st, err := Open(ctx, drv.store, dsn)
			require.NoError(t, err)
			defer st.Close()
			due, err := st.DueScans(ctx, time.UnixMilli(2000), 10)
			require.NoError(t, err)
			require.Equal(t, []core.DueScan{{ScanID: "s1"}}, due)
			require.NoError(t, st.PostponeScan(ctx, "s1", 1, time.UnixMilli(9000), "boom"))
			due, err = st.DueScans(ctx, time.UnixMilli(9000), 10)
			require.NoError(t, err)
			require.Equal(t, []core.DueScan{{ScanID: "s1", Attempts: 1}}, due)
			var lastErr string
			require.NoError(t, st.r.QueryRowContext(ctx, st.rebind(`SELECT last_error FROM finding_scans WHERE scan_id = ?`), "s1").Scan(&lastErr))
			require.Equal(t, "boom", lastErr)
		})
	}
}
