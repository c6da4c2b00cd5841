package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

// TestTextPrefixesMigration: upgrading a PostgreSQL database that holds events (migration
// 00016) stores their words' prefixes, so the free text finds the events stored before it by a
// word's prefix and a short word whole, and not by a prefix of 2 characters.
func TestTextPrefixesMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, p, dsn := postgresCase.migratedTo(t, 15)
	var err error
	for id, text := range map[string][2]string{"a": {"Path traversal in avatar handler", "src/avatar/avatar_7.go"}, "b": {"Weak hash", "lib/crypto.py"}} {
		_, err := db.ExecContext(ctx, `INSERT INTO events (id, type, occurred_at_ms, received_at_ms, sender_delivery, body, title, file)
			VALUES ($1, 'x', 1, 1000, '', '\x7b7d', $2, $3)`, id, text[0], text[1])
		require.NoError(t, err)
	}
	_, err = p.Up(ctx)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	st, err := Open(ctx, "postgres", dsn)
	require.NoError(t, err)
	defer st.Close()
	for text, want := range map[string][]string{"avat 7": {"a"}, "TRAVERSAL": {"a"}, "cry py": {"b"}, "av": nil, "go": {"a"}, "handlers": nil} {
		page, err := st.Events(ctx, core.EventFilter{Text: text})
		require.NoError(t, err)
		var ids []string
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		require.Equal(t, want, ids, "q=%s", text)
	}
}
