package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/store"
)

// listingEvent is an issue.critical event whose list fields all hold word (a scan, repository,
// title and file of its own), received at received.
func listingEvent(t *testing.T, id, word string, received time.Time) core.IngestItem {
	t.Helper()
	ev, err := event.Parse(fmt.Appendf(nil, `{"event":"issue.critical","id":%q,"timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"scan-%s",
		"issue_id":"i","severity":"sev-%s","repo_url":"https://example.com/%s","title":"%s in login","file":"src/%s.go"}}`, id, word, word, word, word, word))
	require.NoError(t, err)
	ev.ReceivedAt = received
	return core.IngestItem{Event: ev}
}

// listedBy returns the ids of the first page of each filter that names word's fields.
func listedBy(t *testing.T, db *store.DB, word string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, f := range map[string]core.EventFilter{
		"all":        {},
		"type":       {Type: event.IssueCritical},
		"severity":   {Severity: "sev-" + word},
		"repository": {Repository: "https://example.com/" + word},
		"scan":       {ScanID: "scan-" + word},
		"text":       {Text: word},
		"text+type":  {Text: word, Type: event.IssueCritical},
	} {
		page, err := db.Events(context.Background(), f)
		require.NoError(t, err, name)
		for _, e := range page.Events {
			out[name] = append(out[name], e.ID)
		}
	}
	return out
}

// TestSQLiteListsAnEventRightAfterIngest: the list's indexes are filled after the ingest commit,
// yet a list query that begins after Ingest returned finds the event by every filter.
func TestSQLiteListsAnEventRightAfterIngest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	defer db.Close()
	t0 := time.Now().UTC()
	for i, word := range []string{"zebra", "yak", "xerus"} {
		_, err := db.Ingest(ctx, []core.IngestItem{listingEvent(t, "e-"+word, word, t0.Add(time.Duration(i)*time.Millisecond))})
		require.NoError(t, err)
		n, err := store.Unlisted(db)
		require.NoError(t, err)
		require.Equal(t, 1, n, "stored unlisted: the list's indexes are not written by the ingest commit")
		got := listedBy(t, db, word)
		for name, ids := range got {
			if name == "all" || name == "type" {
				require.Equal(t, "e-"+word, ids[0], name)
				require.Len(t, ids, i+1, name)
				continue
			}
			require.Equal(t, []string{"e-" + word}, ids, name)
		}
		require.Len(t, got, 7)
	}
	require.NoError(t, store.CheckTextIndex(db))
}

// TestSQLiteListingAfterACrash: events committed but never listed (a crash between the ingest
// commit and the listing) are listed when the database opens again, text index included.
func TestSQLiteListingAfterACrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bridge.db")
	db, err := store.Open(ctx, "sqlite", path)
	require.NoError(t, err)
	t0 := time.Now().UTC()
	_, err = db.Ingest(ctx, []core.IngestItem{listingEvent(t, "e-old", "okapi", t0)})
	require.NoError(t, err)
	require.Len(t, listedBy(t, db, "okapi")["text"], 1) // listed
	store.DropListing(db)
	_, err = db.Ingest(ctx, []core.IngestItem{listingEvent(t, "e-new", "quagga", t0.Add(time.Millisecond))})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db, err = store.Open(ctx, "sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	n, err := store.Unlisted(db)
	require.NoError(t, err)
	require.Zero(t, n, "listed at open, before any list query")
	require.NoError(t, store.CheckTextIndex(db))
	got := listedBy(t, db, "quagga")
	require.Equal(t, []string{"e-new", "e-old"}, got["all"])
	for _, name := range []string{"severity", "repository", "scan", "text", "text+type"} {
		require.Equal(t, []string{"e-new"}, got[name], name)
	}
	require.Equal(t, []string{"e-old"}, listedBy(t, db, "okapi")["text"])
}

// TestSQLiteListingPruneKeepsTheTextIndex: pruning listed and unlisted events leaves the text
// index consistent (an FTS5 'delete' of a row never indexed would corrupt it), and an event
// stored after every event was pruned (SQLite then reuses rowids) is listed.
func TestSQLiteListingPruneKeepsTheTextIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	defer db.Close()
	store.StopListing(db) // only list queries list: the test decides what is listed
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ingest := func(id, word string, at time.Time) {
		t.Helper()
		_, err := db.Ingest(ctx, []core.IngestItem{listingEvent(t, id, word, at)})
		require.NoError(t, err)
	}
	ingest("e1", "ibis", t0)
	ingest("e2", "ibis", t0.Add(time.Hour))
	ingest("e3", "koala", t0.Add(2*time.Hour))
	require.Len(t, listedBy(t, db, "ibis")["text"], 2) // lists e1, e2, e3
	// The control: a listed event missing from the text index is what the check finds.
	require.NoError(t, store.ExecWriter(db, `INSERT INTO events (id, type, occurred_at_ms, received_at_ms, body, title, listed)
		VALUES ('broken', 'x', 0, 0, x'7b7d', 'ibis', 1)`))
	require.Error(t, store.CheckTextIndex(db))
	require.NoError(t, store.ExecWriter(db, `UPDATE events SET listed = 0 WHERE id = 'broken'`))
	require.NoError(t, store.ExecWriter(db, `DELETE FROM events WHERE id = 'broken'`))
	require.NoError(t, store.CheckTextIndex(db), "an unlisted event's delete leaves the index alone")

	ingest("e4", "ibis", t0.Add(3*time.Hour))  // unlisted
	ingest("e5", "koala", t0.Add(4*time.Hour)) // unlisted
	n, err := store.Unlisted(db)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	// Listed (e1) and unlisted (e4) events pruned, one listed (e2, e3) and one unlisted (e5) kept.
	_, err = db.Prune(ctx, t0.Add(30*time.Minute))
	require.NoError(t, err)
	require.NoError(t, store.ExecWriter(db, `DELETE FROM events WHERE id = 'e4'`))
	require.Equal(t, []string{"e2"}, listedBy(t, db, "ibis")["text"])
	require.Equal(t, []string{"e5", "e3"}, listedBy(t, db, "koala")["text"])
	require.NoError(t, store.CheckTextIndex(db))

	// Every event pruned, the newest unlisted: the next one takes a rowid at or below the old
	// watermark and must still be listed.
	ingest("e6", "lemur", t0.Add(5*time.Hour))
	_, err = db.Prune(ctx, t0.Add(24*time.Hour))
	require.NoError(t, err)
	require.NoError(t, store.CheckTextIndex(db))
	ingest("e7", "lemur", t0.Add(6*time.Hour))
	got := listedBy(t, db, "lemur")
	require.Equal(t, []string{"e7"}, got["text"])
	require.Equal(t, []string{"e7"}, got["severity"])
	require.Equal(t, []string{"e7"}, got["all"])
	require.NoError(t, store.CheckTextIndex(db))
}

// TestSQLiteListsManyPendingEvents: more events pending than one listing transaction takes (by
// count, and by the size of their bodies) are all listed before a list query runs.
func TestSQLiteListsManyPendingEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openUnlisting(t)
	t0 := time.Now().UTC()
	big := strings.Repeat("x", 700<<10)
	var items []core.IngestItem
	const total = 1100 // more than two listings' count (listBatch)
	for i := range total {
		it := listingEvent(t, fmt.Sprintf("e%04d", i), "gnu", t0.Add(time.Duration(i)*time.Millisecond))
		if i%500 == 7 { // three bodies of 700 KiB: no two in one listing
			it.Event.Raw = []byte(strings.Replace(string(it.Event.Raw), `"issue_id":"i"`, `"issue_id":"i","pad":"`+big+`"`, 1))
		}
		items = append(items, it)
	}
	_, err := db.Ingest(ctx, items)
	require.NoError(t, err)
	n, err := store.Unlisted(db)
	require.NoError(t, err)
	require.Equal(t, total, n)
	page, err := db.Events(ctx, core.EventFilter{Text: "gnu", Limit: 200})
	require.NoError(t, err)
	require.Len(t, page.Events, 200)
	n, err = store.Unlisted(db)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, store.CheckTextIndex(db))
}

// TestSQLiteCatchUpIsBounded: a list query's catch-up stops waiting for another listing when
// its context ends, and a catch-up lists only what was stored when it began (events stored
// meanwhile are left to the next one), so a steady flood cannot keep a list query waiting.
func TestSQLiteCatchUpIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openUnlisting(t)
	t0 := time.Now().UTC()
	for i := range 5 {
		_, err := db.Ingest(ctx, []core.IngestItem{listingEvent(t, fmt.Sprintf("e%d", i), "yak", t0.Add(time.Duration(i)*time.Millisecond))})
		require.NoError(t, err)
	}

	release := store.HoldListing(db)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.ErrorIs(t, store.CatchUpCtx(short, db), core.ErrUnavailable)
	require.Less(t, time.Since(start), 5*time.Second, "gave up when its context ended")
	release()

	// A step bounded by the third event's rowid lists up to it, whatever was stored after.
	n, err := store.Unlisted(db)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	more, until, err := store.ListPendingUntil(db, 3)
	require.NoError(t, err)
	require.False(t, more)
	require.EqualValues(t, 3, until)
	n, err = store.Unlisted(db)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the two stored after the bound are left to the next listing")
	require.NoError(t, store.CatchUp(db))
	n, err = store.Unlisted(db)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, store.CheckTextIndex(db))
}

// openUnlisting opens a SQLite store in a temporary folder with its background listing stopped,
// closed when the test ends: events stay unlisted until a list query or catch-up lists them.
func openUnlisting(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	store.StopListing(db)
	return db
}
