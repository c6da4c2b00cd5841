package store

import (
	"context"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

// TestListingMigrationCopiesStoredEvents: upgrading a database that holds events (migration
// 00010) fills the listed columns from each body (strings only, cut to core.ListFieldChars), and
// the free-text index finds the events stored before it.
func TestListingMigrationCopiesStoredEvents(t *testing.T) {
	t.Parallel()
	long := ""
	for range core.ListFieldChars + 10 {
		long += "ü"
	}
	bodies := map[string]string{
		"issue":   `{"event":"issue.critical","id":"issue","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s1","issue_id":"i","severity":"high","title":"SQL injection in login","file":"src/auth/login.go","repo_url":"` + long + `"}}`,
		"numbers": `{"event":"scan.completed","id":"numbers","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":7,"severity":["x"],"title":null}}`,
		"nul":     `{"event":"x","id":"nul","timestamp":"2026-01-01T00:00:00Z","data":{"title":"a\u0000b","scan_id":"s2"}}`,
	}
	for _, drv := range []struct {
		migrationCase
		nulOK bool // the body with \u0000 is read (SQLite); jsonb cannot hold it (Postgres)
	}{{sqliteCase, true}, {postgresCase, false}} {
		t.Run(drv.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, p, dsn := drv.migratedTo(t, 8)
			var err error
			q := `INSERT INTO events (id, type, occurred_at_ms, received_at_ms, sender_delivery, body) VALUES ($1, 'x', 1, $2, '', $3)`
			if !drv.dia.numbered {
				q = `INSERT INTO events (id, type, occurred_at_ms, received_at_ms, sender_delivery, body) VALUES (?, 'x', 1, ?, '', ?)`
			}
			i := int64(0)
			for id, body := range bodies {
				i++
				_, err := db.ExecContext(ctx, q, id, i, []byte(body))
				require.NoError(t, err)
			}
			_, err = p.Up(ctx)
			require.NoError(t, err)

			got := map[string][5]string{}
			rows, err := db.QueryContext(ctx, `SELECT id, severity, repository, scan_id, title, file FROM events`)
			require.NoError(t, err)
			for rows.Next() {
				var id string
				var f [5]string
				require.NoError(t, rows.Scan(&id, &f[0], &f[1], &f[2], &f[3], &f[4]))
				got[id] = f
			}
			require.NoError(t, rows.Err())
			require.Equal(t, [5]string{"high", long[:len("ü")*core.ListFieldChars], "s1", "SQL injection in login", "src/auth/login.go"}, got["issue"])
			require.Equal(t, [5]string{}, got["numbers"], "fields that are not strings are left empty")
			require.Equal(t, map[bool]string{true: "s2", false: ""}[drv.nulOK], got["nul"][2])
			require.NoError(t, db.Close())

			st, err := Open(ctx, map[string]string{"sqlite": "sqlite", "pgx": "postgres"}[drv.driver], dsn)
			require.NoError(t, err)
			defer st.Close()
			page, err := st.Events(ctx, core.EventFilter{Text: "login"})
			require.NoError(t, err)
			require.Len(t, page.Events, 1, "the text index holds the events stored before it")
			require.Equal(t, "issue", page.Events[0].ID)
		})
	}
}
