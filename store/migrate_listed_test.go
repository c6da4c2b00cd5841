package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// TestListedMigrationKeepsStoredEventsListed: upgrading a SQLite database that holds events
// (migration 00015) leaves every one of them listed, in the partial indexes and the text index,
// with the watermark at the last; events stored after it are listed by the lister; and the
// migration down puts the text index back to indexing at insert, consistent.
func TestListedMigrationKeepsStoredEventsListed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw, p, path := sqliteCase.migratedTo(t, 13)
	var err error
	evs := map[string]*event.Event{}
	for i, id := range []string{"old1", "old2"} {
		ev, err := event.Parse(fmt.Appendf(nil, `{"event":"issue.critical","id":%q,"timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s1","issue_id":"i","severity":"high","title":"Path traversal","file":"src/walrus.go"}}`, id))
		require.NoError(t, err)
		ev.ReceivedAt = time.UnixMilli(int64(1000 + i)).UTC()
		evs[id] = ev
		_, err = raw.ExecContext(ctx, insertEventSQL, eventArgs(ev)...) // indexed at insert (migration 00010's trigger)
		require.NoError(t, err)
	}
	_, err = p.Up(ctx)
	require.NoError(t, err)
	var unlisted, mark, last int64
	require.NoError(t, raw.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM events WHERE listed = 0), listed_rowid,
		(SELECT max(rowid) FROM events) FROM event_listing`).Scan(&unlisted, &mark, &last))
	require.Zero(t, unlisted)
	require.Equal(t, last, mark, "the watermark starts at the last stored event")
	checkText := func() error {
		_, err := raw.ExecContext(ctx, `INSERT INTO events_text (events_text, rank) VALUES ('integrity-check', 1)`)
		return err
	}
	require.NoError(t, checkText())

	db, err := Open(ctx, "sqlite", path)
	require.NoError(t, err)
	ev, err := event.Parse([]byte(`{"event":"issue.critical","id":"new","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s1","issue_id":"i","severity":"high","title":"Walrus","file":"x.go"}}`))
	require.NoError(t, err)
	ev.ReceivedAt = time.UnixMilli(2000).UTC()
	_, err = db.Ingest(ctx, []core.IngestItem{{Event: ev}})
	require.NoError(t, err)
	for _, f := range []core.EventFilter{{Text: "walrus"}, {Severity: "high"}, {ScanID: "s1"}, {Type: event.IssueCritical}} {
		page, err := db.Events(ctx, f)
		require.NoError(t, err)
		var ids []string
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		require.Equal(t, []string{"new", "old2", "old1"}, ids, "%+v", f)
	}
	require.NoError(t, db.Close())

	_, err = p.DownTo(ctx, 13)
	require.NoError(t, err)
	require.NoError(t, checkText(), "down: every event listed, the text index whole")
	_, err = raw.ExecContext(ctx, `DELETE FROM events WHERE id = 'old1'`)
	require.NoError(t, err)
	require.NoError(t, checkText())
}
