package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ListenerState reports db's Postgres listener: the backend pid of its current connection (0
// before the first) and how many times it has connected and run LISTEN.
func ListenerState(db *DB) (pid uint32, connects int64) {
	return db.pg.pid.Load(), db.pg.connects.Load()
}

// LatestMigration exposes latestMigration to the tests.
var LatestMigration = latestMigration

// QueryPlan returns SQLite's EXPLAIN QUERY PLAN of one of the store's statements, one detail per
// line.
func QueryPlan(db *DB, query string, args ...any) (string, error) {
	rows, err := db.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return "", err
		}
		out = append(out, detail)
	}
	return strings.Join(out, "\n"), rows.Err()
}

// DueTargetsSQL exposes the poller's query to the tests.
const DueTargetsSQL = dueTargetsSQL

// ClaimSQLite exposes SQLite's claim statement to the tests.
const ClaimSQLite = claimSQLite

// ListPlan tunes the events list's plans for a test (listPlan): a filter drives only when it
// matches at most Sparse events; dense free text is walked in chunks of Chunk events, at most
// Chunks of them; a filter on deliveries is walked in the list's order only when Ordered, from
// no more deliveries than events wanted in its first step, at most Budget index entries in
// all, probing a column filter's index over at most Probe entries per event of a step.
type ListPlan struct {
	Sparse, Chunk, Chunks, Budget, Probe int
	Ordered                              bool
}

// SetListPlan sets db's events list plans to p; the zero ListPlan with Ordered: the defaults.
func SetListPlan(db *DB, p ListPlan) {
	if p == (ListPlan{Ordered: true}) {
		db.listPlan = listPlan{}
		return
	}
	db.listPlan = listPlan{sparse: p.Sparse, chunk: p.Chunk, chunks: p.Chunks, budget: p.Budget, probe: p.Probe, noOrdered: !p.Ordered}
}

// WriterSynchronous returns PRAGMA synchronous of db's SQLite writer connection (2 is FULL).
func WriterSynchronous(db *DB) (int, error) {
	var v int
	err := db.w.QueryRow("PRAGMA synchronous").Scan(&v)
	return v, err
}

// ReaderCacheSize returns PRAGMA cache_size of one of db's SQLite read connections.
func ReaderCacheSize(db *DB) (int, error) {
	var v int
	err := db.r.QueryRow("PRAGMA cache_size").Scan(&v)
	return v, err
}

// Unlisted counts db's SQLite events stored and not yet listed (listing.go).
func Unlisted(db *DB) (int, error) {
	var n int
	db.settled(context.Background(), db.r) // what the ingest journal answered is in the table
	err := db.r.QueryRow("SELECT COUNT(*) FROM events WHERE listed = 0").Scan(&n)
	return n, err
}

// StopListing stops db's background listing: only list queries and Close list then.
func StopListing(db *DB) {
	db.lister.once.Do(func() { close(db.lister.stop) })
	<-db.lister.done
}

// DropListing stops every listing of db, as a crash right after an ingest commit would: Close
// then leaves the events pending unlisted, for the next open.
func DropListing(db *DB) {
	StopListing(db)
	db.lister = nil
}

// CheckTextIndex runs FTS5's integrity-check of the events list's text index against the
// events table: an error when an indexed row differs from its event or an event is missing (so
// also while some event is not listed yet).
func CheckTextIndex(db *DB) error {
	db.settled(context.Background(), db.w)
	_, err := db.w.Exec("INSERT INTO events_text (events_text, rank) VALUES ('integrity-check', 1)")
	return err
}

// ExecWriter runs q on db's writer, outside the store's statements (tests that break the
// database on purpose).
func ExecWriter(db *DB, q string, args ...any) error {
	db.settled(context.Background(), db.w)
	_, err := db.w.Exec(q, args...)
	return err
}

// WALFrames stops db's writer from checkpointing by itself (wal_autocheckpoint = 0), then
// checkpoints the WAL and truncates it, and returns how many frames (one page each) it held:
// called before and after some commits, the second call counts the pages they wrote.
func WALFrames(db *DB) (int, error) {
	db.settled(context.Background(), db.w) // the ingest journal's events written first
	if _, err := db.w.Exec("PRAGMA wal_autocheckpoint = 0"); err != nil {
		return 0, err
	}
	var busy, frames, done int
	if err := db.w.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
		return 0, err
	}
	// TRUNCATE reports the emptied log: the frames are PASSIVE's count.
	if err := db.w.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, new(int), new(int)); err != nil {
		return 0, err
	}
	if busy != 0 {
		return 0, fmt.Errorf("wal_checkpoint: busy")
	}
	return frames, nil
}

// CatchUp lists what db has pending (listing.go).
func CatchUp(db *DB) error { return db.catchUp(context.Background()) }

// HoldListing takes db's listing turn, as a long catch-up would, until the returned func runs.
func HoldListing(db *DB) (release func()) {
	db.lister.turn <- struct{}{}
	return func() { <-db.lister.turn }
}

// CatchUpCtx is catchUp with ctx.
func CatchUpCtx(ctx context.Context, db *DB) error { return db.catchUp(ctx) }

// ListPendingUntil runs one catch-up step bounded by until (listPending) in a writer
// transaction and returns whether events up to until remain, and until as it was used.
func ListPendingUntil(db *DB, until int64) (more bool, used int64, err error) {
	err = db.unsyncedTx(context.Background(), func(ctx context.Context, tx *sql.Tx) (err error) {
		more, err = listPending(ctx, tx, &until)
		return err
	})
	return more, until, err
}

// SetJournal sets how long db's journal applier lets answered events gather (a read still has
// them written at once) and the offset past which the journal starts again at its beginning.
func SetJournal(db *DB, delay time.Duration, wrapAt int64) {
	db.journal.delay, db.journal.wrapAt = delay, wrapAt
}

// JournalOffset is where db's journal writes its next record.
func JournalOffset(db *DB) int64 { return db.journal.off }

// CrashImage copies db's files (database, WAL, ingest journal) to dir as a crash would leave
// them on disk now: the listing and the journal's applier are stopped first, so the copy is
// what was committed, and the events answered since the applier's last transaction are only in
// the journal. db takes no more writes than a Close (which writes what its journal holds).
func CrashImage(db *DB, path, dir string) (string, error) {
	StopListing(db)
	j := db.journal
	close(j.stop)
	<-j.done
	j.stop, j.done = make(chan struct{}), make(chan struct{})
	close(j.done) // Close finds the applier stopped
	out := filepath.Join(dir, filepath.Base(path))
	for _, suffix := range []string{"", "-wal", journalSuffix} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(out+suffix, b, 0o600); err != nil {
			return "", err
		}
	}
	return out, nil
}
