package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

// TestFindingBackoffMigration: upgrading a database with a comparison queued (migration 00014)
// keeps it due with no failed attempts, and a failed attempt can then be recorded on it.
func TestFindingBackoffMigration(t *testing.T) {
	t.Parallel()
	for _, drv := range migrationCases {
		t.Run(drv.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, p, dsn := drv.migratedTo(t, 13)
			ph := (&DB{dialect: drv.dia}).rebind
			_, err := db.ExecContext(ctx, ph(`INSERT INTO finding_scans (scan_id, received_at_ms, due_at_ms) VALUES (?, ?, ?)`), "s1", 1000, 2000)
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
