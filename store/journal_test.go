package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/store"
)

// journalItem is an event id with one running delivery d-<id>, received at t.
func journalItem(t *testing.T, id string, t0 time.Time) core.IngestItem {
	t.Helper()
	ev, err := event.Parse([]byte(`{"event":"issue.critical","id":"` + id + `","timestamp":"2026-01-01T00:00:00Z",
		"data":{"scan_id":"s-` + id + `","issue_id":"i","severity":"critical","title":"SQL injection","file":"a.go","repo_url":"https://github.com/acme/api"}}`))
	require.NoError(t, err)
	ev.ReceivedAt, ev.Delivery = t0, "sender-"+id
	return core.IngestItem{Event: ev, Deliveries: []*core.Delivery{{ID: "d-" + id, EventID: id, Target: "wh", Route: "r",
		State: core.StateRunning, LeaseOwner: "me", LeaseUntil: t0.Add(time.Minute), NextAttemptAt: t0, CreatedAt: t0}}}
}

// openJournaled opens a SQLite store at a new path whose journal applier waits delay.
func openJournaled(t *testing.T, delay time.Duration, wrapAt int64) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bridge.db")
	db, err := store.Open(context.Background(), "sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.True(t, db.Journaled())
	store.SetJournal(db, delay, wrapAt)
	return db, path
}

// openWithEvent opens a journaled store whose applier waits (openJournaled) and ingests
// journalItem(id) into it, received at t0.
func openWithEvent(t *testing.T, id string) (db *store.DB, path string, t0 time.Time) {
	t.Helper()
	t0 = time.Now().UTC()
	db, path = openJournaled(t, time.Hour, 8<<20)
	_, err := db.Ingest(context.Background(), []core.IngestItem{journalItem(t, id, t0)})
	require.NoError(t, err)
	return db, path, t0
}

// reopenCrashed opens the crash image of db (store.CrashImage) in a new directory.
func reopenCrashed(t *testing.T, db *store.DB, path string) (*store.DB, string) {
	t.Helper()
	img, err := store.CrashImage(db, path, t.TempDir())
	require.NoError(t, err)
	again, err := store.Open(context.Background(), "sqlite", img)
	require.NoError(t, err)
	t.Cleanup(func() { again.Close() })
	return again, img
}

// requireStored checks that each id's event and its delivery are in db, as ingest stored them.
func requireStored(t *testing.T, db *store.DB, ids ...string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		dl, err := db.Delivery(ctx, "d-"+id)
		require.NoError(t, err, id)
		require.Equal(t, core.StateRunning, dl.State, id)
		require.Equal(t, "me", dl.LeaseOwner, id)
		ev, err := db.Event(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, "sender-"+id, ev.Delivery, id)
		require.Equal(t, "SQL injection", ev.String("title"), id)
	}
}

// TestJournalAnswersBeforeTheDatabase: an answered event waits in the journal (the applier is
// slow here), yet a duplicate of it is reported as one and every read and completion finds it.
func TestJournalAnswersBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openJournaled(t, time.Hour, 8<<20)
	t0 := time.Now().UTC()
	dup, err := db.Ingest(ctx, []core.IngestItem{journalItem(t, "e1", t0), journalItem(t, "e2", t0), journalItem(t, "e1", t0)})
	require.NoError(t, err)
	require.Equal(t, []bool{false, false, true}, dup, "the same id twice in one batch")
	dup, err = db.Ingest(ctx, []core.IngestItem{journalItem(t, "e2", t0), journalItem(t, "e3", t0)})
	require.NoError(t, err)
	require.Equal(t, []bool{true, false}, dup, "e2 is waiting in the journal")

	// A completion waits for its delivery's row, without hurrying the applier: here until a read
	// has it write.
	completed := make(chan error, 1)
	go func() {
		completed <- db.Complete(ctx, []core.Completion{{LeaseOwner: "me", State: core.StateSucceeded,
			Attempt: core.Attempt{DeliveryID: "d-e3", Number: 1, StartedAt: t0, Outcome: "success"}}})
	}()
	requireStored(t, db, "e1", "e2")
	require.NoError(t, <-completed)
	dl, err := db.Delivery(ctx, "d-e3")
	require.NoError(t, err)
	require.Equal(t, core.StateSucceeded, dl.State)

	dup, err = db.Ingest(ctx, []core.IngestItem{journalItem(t, "e1", t0)})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, dup, "e1 is in the database")
}

// TestJournalReplaysAfterACrash: what the journal answered and a crash kept from the database
// is written there at the next open, once.
func TestJournalReplaysAfterACrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Now().UTC()
	db, path := openJournaled(t, time.Hour, 8<<20)
	_, err := db.Ingest(ctx, []core.IngestItem{journalItem(t, "e1", t0), journalItem(t, "e2", t0)})
	require.NoError(t, err)
	requireStored(t, db, "e1", "e2") // a read has the applier write them
	_, err = db.Ingest(ctx, []core.IngestItem{journalItem(t, "e3", t0)})
	require.NoError(t, err)
	_, err = db.Ingest(ctx, []core.IngestItem{journalItem(t, "e4", t0)})
	require.NoError(t, err)

	// e3 and e4 were answered and are only in the journal.
	again, _ := reopenCrashed(t, db, path)
	requireStored(t, again, "e1", "e2", "e3", "e4")
	dup, err := again.Ingest(ctx, []core.IngestItem{journalItem(t, "e3", t0), journalItem(t, "e4", t0), journalItem(t, "e5", t0)})
	require.NoError(t, err)
	require.Equal(t, []bool{true, true, false}, dup)
}

// TestJournalTornRecord: a record cut short or overwritten by a crash ends the journal: the
// records before it are written to the database, it and anything after are not.
func TestJournalTornRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Now().UTC()
	for _, tc := range []struct {
		name  string
		spoil func(b []byte, at int64) []byte
	}{
		{"cut short", func(b []byte, at int64) []byte { return b[:at-7] }},
		{"a byte changed", func(b []byte, at int64) []byte { b[at-3] ^= 0xff; return b }},
		{"zeros", func(b []byte, at int64) []byte {
			clear(b[at-40 : at])
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, path := openJournaled(t, time.Hour, 8<<20)
			for _, id := range []string{"e1", "e2", "e3"} {
				_, err := db.Ingest(ctx, []core.IngestItem{journalItem(t, id, t0)})
				require.NoError(t, err)
			}
			end := store.JournalOffset(db)
			img, err := store.CrashImage(db, path, t.TempDir())
			require.NoError(t, err)
			b, err := os.ReadFile(img + "-ingest")
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(img+"-ingest", tc.spoil(b, end), 0o600))
			again, err := store.Open(ctx, "sqlite", img)
			require.NoError(t, err)
			defer again.Close()
			requireStored(t, again, "e1", "e2")
			_, err = again.Delivery(ctx, "d-e3")
			require.ErrorIs(t, err, core.ErrNotFound, "e3's record is torn")
			dup, err := again.Ingest(ctx, []core.IngestItem{journalItem(t, "e3", t0)})
			require.NoError(t, err)
			require.Equal(t, []bool{false}, dup, "the sender's retry of e3 is a new event")
			requireStored(t, again, "e3")
		})
	}
}

// TestJournalDoesNotBringBackPrunedEvents: the journal still holds the records of events in
// the database; after they are pruned, a crash and an open do not write them again.
func TestJournalDoesNotBringBackPrunedEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-time.Hour)
	db, path := openJournaled(t, time.Hour, 8<<20)
	items := []core.IngestItem{journalItem(t, "e1", t0), journalItem(t, "e2", t0)}
	for i := range items {
		items[i].Deliveries = nil // an event with an unfinished delivery is kept
	}
	_, err := db.Ingest(ctx, items)
	require.NoError(t, err)
	n, err := db.Prune(ctx, t0.Add(time.Minute))
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	again, _ := reopenCrashed(t, db, path)
	_, err = again.Event(ctx, "e1")
	require.ErrorIs(t, err, core.ErrNotFound)
	_, err = again.Event(ctx, "e2")
	require.ErrorIs(t, err, core.ErrNotFound)
}

// TestJournalStartsAgainAtItsBeginning: past its wrap offset the journal waits for the
// database and writes from its start again; a crash after several laps loses nothing.
func TestJournalStartsAgainAtItsBeginning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Now().UTC()
	db, path := openJournaled(t, time.Hour, 4<<10)
	var ids []string
	maxOff := int64(0)
	for i := range 40 {
		id := fmt.Sprintf("w%02d", i)
		ids = append(ids, id)
		_, err := db.Ingest(ctx, []core.IngestItem{journalItem(t, id, t0)})
		require.NoError(t, err)
		maxOff = max(maxOff, store.JournalOffset(db))
	}
	require.Less(t, maxOff, int64(8<<10), "the journal started again at its beginning")
	again, _ := reopenCrashed(t, db, path)
	requireStored(t, again, ids...)
}

// TestJournalHasOneOwner: a second open of the same database (a command beside serve) gets no
// journal and writes to SQLite; the first one's answered events are not lost by it.
func TestJournalHasOneOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, path, t0 := openWithEvent(t, "e1")
	other, err := store.Open(ctx, "sqlite", path)
	require.NoError(t, err)
	defer other.Close()
	require.False(t, other.Journaled())
	_, err = other.Ingest(ctx, []core.IngestItem{journalItem(t, "e2", t0)})
	require.NoError(t, err)
	requireStored(t, db, "e1", "e2")
}

// TestJournalOfAnotherDatabaseIsSetAside: a journal whose head names another database (the
// database file replaced by a backup or a new one, the journal left beside it) is not replayed
// into it: it is renamed aside and a new journal started.
func TestJournalOfAnotherDatabaseIsSetAside(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, path, t0 := openWithEvent(t, "e1")
	img, err := store.CrashImage(db, path, t.TempDir())
	require.NoError(t, err)
	for _, suffix := range []string{"", "-wal"} { // a new database where the old one was
		require.NoError(t, os.Remove(img+suffix))
	}
	again, err := store.Open(ctx, "sqlite", img)
	require.NoError(t, err)
	defer again.Close()
	require.True(t, again.Journaled())
	_, err = again.Event(ctx, "e1")
	require.ErrorIs(t, err, core.ErrNotFound, "the other database's journal is not replayed here")
	aside, err := filepath.Glob(img + "-ingest.*.set-aside")
	require.NoError(t, err)
	require.Len(t, aside, 1, "it is kept, renamed")
	dup, err := again.Ingest(ctx, []core.IngestItem{journalItem(t, "e1", t0)})
	require.NoError(t, err)
	require.Equal(t, []bool{false}, dup)
	requireStored(t, again, "e1")
	require.NoError(t, again.Close())
	require.NoError(t, again.Close(), "a second Close is harmless")
}

// TestJournalLargeBatch: one batch whose bodies are written from where they are (over 16 KiB)
// in more slices than one pwritev takes (two a record, at most 1 024 a call), with small bodies
// copied between them and one body of 700 KiB, is read back whole after a crash.
func TestJournalLargeBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Now().UTC()
	db, path := openJournaled(t, time.Hour, 8<<20)
	var items []core.IngestItem
	var ids []string
	for i := range 600 {
		id := fmt.Sprintf("b%03d", i)
		it := journalItem(t, id, t0)
		pad := 0 // every seventh body small (copied), the others written in place
		switch {
		case i == 300:
			pad = 700 << 10
		case i%7 != 0:
			pad = 20 << 10
		}
		if pad > 0 {
			field := `"pad":"` + strings.Repeat("x", pad) + `",`
			it.Event.Raw = []byte(strings.Replace(string(it.Event.Raw), `"issue_id"`, field+`"issue_id"`, 1))
		}
		items, ids = append(items, it), append(ids, id)
	}
	_, err := db.Ingest(ctx, items)
	require.NoError(t, err)
	again, _ := reopenCrashed(t, db, path)
	requireStored(t, again, ids...)
	for _, i := range []int{0, 1, 300, 599} { // copied, written in place, the largest, the last
		ev, err := again.Event(ctx, ids[i])
		require.NoError(t, err)
		require.Equal(t, string(items[i].Event.Raw), string(ev.Raw), "%s byte for byte", ids[i])
	}
}
