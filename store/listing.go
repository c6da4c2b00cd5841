package store

// The events list's indexes on SQLite, filled after the ingest commit (migration 00015).

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// listDelay is how long the lister waits after the first event committed unlisted before it
// lists what has come by then: at 1 000 events/s about 500 events, whose index pages are written
// once for all of them (BENCHMARKS.md, "Ingest without the list's indexes" and "The ingest
// journal"). A list query does not wait out the delay: it lists what is pending first (catchUp).
const listDelay = 500 * time.Millisecond

// listBatch is the most events one listing transaction lists: it holds the writer for about
// 40–60 µs per event on a busy machine (BENCHMARKS.md, "Ingest without the list's indexes"), and
// so delays the ingest journal's applier and the reads waiting for it (not the answers to
// senders, which wait only for the journal); more pending are listed in several.
const listBatch = 512

// listBytes bounds the bodies one listing transaction lists, since setting listed reads each
// whole row: a 1 MiB event took 6–15 ms to list on a busy machine, though only its first page
// is rewritten (BENCHMARKS.md, "Ingest without the list's indexes").
const listBytes = 1 << 20

// lister lists SQLite's events after their ingest commit: ingest stores each event with
// listed = 0, which keeps it out of the list's partial indexes (type, severity, repository,
// scan, id) and the FTS5 index events_text; a listing transaction sets listed = 1 on every event
// past the watermark (event_listing.listed_rowid, the last rowid listed), which fills the
// indexes (trigger events_text_list for the text), and moves the watermark in the same
// transaction. A crash loses at most an unsynced listing, whose events are past the watermark
// again and are listed at the next open. nil on PostgreSQL, which indexes at insert.
type lister struct {
	turn  chan struct{} // one listing at a time: holds a token while catchUp lists (a lock a caller can stop waiting for)
	dirty atomic.Bool   // an event may have been stored unlisted since the last listing began
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once // closes stop
}

func newLister() *lister {
	return &lister{turn: make(chan struct{}, 1), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// stored notes that an event was inserted unlisted (called in its transaction, before the commit).
func (l *lister) stored() {
	if l == nil {
		return
	}
	l.dirty.Store(true)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run lists in the background until stop: listDelay after a wake-up, everything pending.
func (l *lister) run(d *DB) {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			return
		case <-l.wake:
		}
		select {
		case <-l.stop:
			return
		case <-time.After(listDelay):
		}
		// A failed listing (a full disk) stays pending: the next wake-up, a list query or the
		// next open lists it.
		_ = d.catchUp(core.Unhurried(context.Background()))
	}
}

// close stops the background listing and lists what is pending, so a database closed cleanly
// holds no unlisted event.
func (l *lister) close(d *DB) error {
	l.once.Do(func() { close(l.stop) })
	<-l.done
	return d.catchUp(context.Background())
}

// catchUp lists every event stored unlisted when it starts (up to the last rowid then: events
// committed meanwhile are left to the next listing, so a steady flood cannot keep it going); at
// once when nothing is pending (no database access). Events runs it first, so an event
// acknowledged before the list query began is listed. Waiting for another listing to end stops
// with ctx. Its transactions commit without their own fsync (unsyncedTx): losing one loses
// nothing the watermark does not bring back.
func (d *DB) catchUp(ctx context.Context) error {
	l := d.lister
	if l == nil {
		return nil
	}
	if d.journal != nil {
		// The events the journal answered are in the database first, to be listed.
		_ = d.journal.settle(ctx, !core.IsUnhurried(ctx))
	}
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return unavailable("list new events", ctx.Err())
	}
	defer func() { <-l.turn }()
	if !l.dirty.Swap(false) {
		return nil
	}
	var until int64 // the last rowid when this catch-up began (listPending reads it first)
	for more := true; more; {
		err := d.unsyncedTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
			more, err = listPending(ctx, tx, &until)
			return err
		})
		if err != nil {
			l.dirty.Store(true)
			return unavailable("list new events", err)
		}
	}
	return nil
}

// listPending lists up to listBatch events past the watermark and up to *until in tx (*until 0:
// the last rowid now, which it sets), fewer when their bodies exceed listBytes together (at
// least one), and moves the watermark to the last of them; more reports that events up to
// *until remain.
func listPending(ctx context.Context, tx *sql.Tx, until *int64) (more bool, err error) {
	var mark, last int64
	if err := tx.QueryRowContext(ctx, `SELECT listed_rowid, (SELECT COALESCE(max(rowid), 0) FROM events) FROM event_listing`).
		Scan(&mark, &last); err != nil {
		return false, err
	}
	if *until == 0 || *until > last { // a prune may have lowered the last rowid since
		*until = last
	}
	last = *until
	if last <= mark {
		return false, nil
	}
	// length() of a blob reads its size, not its pages.
	rows, err := tx.QueryContext(ctx, `SELECT rowid, length(body) FROM events WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?`, mark, last, listBatch)
	if err != nil {
		return false, err
	}
	upto, bytes := mark, int64(0)
	for rows.Next() {
		var rowid, n int64
		if err := rows.Scan(&rowid, &n); err != nil {
			rows.Close()
			return false, err
		}
		if upto > mark && bytes+n > listBytes {
			break
		}
		upto, bytes = rowid, bytes+n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	if upto == mark { // none found (cannot be while last > mark): no endless loop
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE events SET listed = 1 WHERE rowid > ? AND rowid <= ? AND listed = 0`, mark, upto); err != nil {
		return false, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE event_listing SET listed_rowid = ?`, upto)
	return upto < last, err
}

// clampListedSQL keeps the watermark at or below the last event's rowid after events are
// deleted: SQLite gives a new row the last rowid + 1, which must be past the watermark to be
// listed (run in the deleting transaction; prune).
const clampListedSQL = `UPDATE event_listing SET listed_rowid = min(listed_rowid, (SELECT COALESCE(max(rowid), 0) FROM events))`
