package store

// The ingest journal (SQLite on Linux): an accepted event is answered once its record is in the
// journal file, <database>-ingest, and on disk (fdatasync), and a background applier writes what
// the journal holds to SQLite about 25 ms later, many events in one transaction. The
// answer then costs one small sequential write and its fdatasync instead of a one-event SQLite
// commit, which wrote about 15 pages (BENCHMARKS.md, "The ingest journal").
//
// What it keeps of the promise that an answered event is on disk:
//   - Ingest answers after the record's fdatasync, and reports an event as a duplicate when its
//     id is in the journal waiting or in the database (the applier takes an id off the waiting
//     set only after its commit).
//   - Every read or write of the database (sql.go's helpers, inTx, catchUp) first waits for the
//     applier to have written what was answered before it began (settle), and asks it to write
//     at once; completions wait without asking (their deliveries' rows must exist, and they may
//     as well join the next batch).
//   - The applier commits with SQLite's fsync (synchronous=FULL) and, in the same transaction,
//     sets ingest_journal.applied_seq to the last record written. At open, the records past it
//     are written to the database before anything else reads it; a record torn by a crash ends
//     the journal, and its event was never answered.
//   - The file is written from the start again once everything in it is in the database
//     (journalWrapAt); it keeps the size it grew to, so a record's fdatasync has only data to
//     write.
//
// One process owns the journal (an exclusive flock): a command opening the database beside a
// running serve writes to SQLite directly and does not see events answered in the last few
// milliseconds.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/core"
)

const (
	// journalApplyDelay is how long the applier lets answered events gather before it writes
	// them to SQLite, unless a request's read asks for them first: at 1 000 events/s about 25 a
	// transaction. Nothing sent waits for it (deliveries leave at the journal's fdatasync); the
	// record of their attempts does (BENCHMARKS.md, "The ingest journal").
	journalApplyDelay = 25 * time.Millisecond
	// journalWrapAt is the journal offset, in bytes, past which the next write waits for the
	// applier and starts again at the beginning of the file.
	journalWrapAt = 8 << 20
	// journalGrowStep is the step, in bytes, in which the file grows: zeros written and synced
	// once, so that a record's fdatasync does not also record a new size. Small, because the
	// answers wait for it: 1 MiB steps held them for tens of milliseconds on this project's
	// test machine (BENCHMARKS.md, "The ingest journal").
	journalGrowStep = 64 << 10
	// journalMaxHeld bounds the bytes of records answered and not yet in the database: past it
	// (the database is slow or failing) ingest waits for the applier, and fails when it fails.
	journalMaxHeld = 64 << 20
	// journalApplyBytes bounds the records one applier transaction writes, in bytes (and
	// core.MaxIngestBatch their number).
	journalApplyBytes = 16 << 20
	// journalInlineBody is the largest body, in bytes, copied into a batch's buffer; a larger one
	// is written from where it is (pwritev).
	journalInlineBody = 16 << 10
	// journalRetry is how long the applier waits after a failed transaction before it tries
	// again (sooner when a read asks).
	journalRetry = 100 * time.Millisecond
)

// journal is the ingest journal of a SQLite database.
type journal struct {
	d      *DB
	f      *os.File
	path   string
	lookup *sql.DB   // one read connection of its own for exists: ingest never waits for the dashboard's reads
	exists *sql.Stmt // whether an event id is in the database
	// delay and wrapAt are journalApplyDelay and journalWrapAt (tests set others).
	delay  time.Duration
	wrapAt int64

	// Used by ingest alone, under ingestMu (core.Bus calls Ingest from one goroutine, so it is
	// not contended there), and by close.
	ingestMu  sync.Mutex
	off, size int64  // where the next record goes; the file's size
	seq       uint64 // the last sequence number written
	buf       []byte
	broken    error // a failed append whose bytes could not be wiped: no more appends

	written atomic.Uint64 // the last sequence number on disk in the journal
	applied atomic.Uint64 // the last sequence number in the database

	mu         sync.Mutex
	pending    []journalEntry // on disk in the journal, not yet in the database, in order
	pendingIDs map[string]int // their event ids
	held       int64          // their records' bytes
	round      chan struct{}  // closed when the applier's current round ends
	lastErr    error          // the last round's error

	more      chan struct{} // something is pending
	now       chan struct{} // a read waits: write at once
	stop      chan struct{}
	done      chan struct{}
	closed    chan struct{} // closed by close, after its last round: settle waits no more
	closeOnce sync.Once
	closeErr  error
}

// errJournalClosed is settle's error for records still waiting once the journal is closed.
var errJournalClosed = errors.New("the ingest journal is closed")

// The journal file starts with journalMagic and the database's ingest_journal.journal_id,
// zero-padded to journalStart bytes; the records follow.
const journalStart = 128

var journalMagic = []byte("cortex-bridge ingest journal 1\n")

// journalEntry is an answered item waiting for the applier.
type journalEntry struct {
	seq  uint64
	item core.IngestItem
	size int64
}

// openJournal opens (creating) the journal at dbPath+journalSuffix for d, writes to the database
// what it holds past ingest_journal.applied_seq, and starts the applier. A journal whose head
// names another database (a restored backup, a database file replaced) is renamed
// <journal>.<unix seconds>.set-aside and a new one started. It returns nil, nil when another
// process holds the journal or the platform has no journal (then ingest writes to SQLite).
func openJournal(ctx context.Context, d *DB, dbPath string) (*journal, error) {
	if !journalSupported {
		return nil, nil
	}
	path := dbPath + journalSuffix
	var id string
	var applied int64
	if err := d.w.QueryRowContext(ctx, `SELECT journal_id, applied_seq FROM ingest_journal`).Scan(&id, &applied); err != nil {
		return nil, fmt.Errorf("ingest journal: %w", err)
	}
	if id == "" {
		id = uuid.NewString()
		if _, err := d.w.ExecContext(ctx, `UPDATE ingest_journal SET journal_id = ?`, id); err != nil {
			return nil, fmt.Errorf("ingest journal: %w", err)
		}
	}
	f, ok, err := openJournalFile(path, id)
	if err != nil || !ok {
		return nil, err
	}
	j := &journal{d: d, f: f, path: path, delay: journalApplyDelay, wrapAt: journalWrapAt, pendingIDs: map[string]int{}, round: make(chan struct{}),
		more: make(chan struct{}, 1), now: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), closed: make(chan struct{})}
	fail := func(err error) (*journal, error) {
		_ = f.Close()
		if j.lookup != nil {
			_ = j.lookup.Close()
		}
		return nil, fmt.Errorf("ingest journal %s: %w", path, err)
	}
	if err := j.replay(ctx, uint64(applied)); err != nil {
		return fail(err)
	}
	if j.lookup, err = sql.Open("sqlite", sqliteDSN(dbPath, true)); err != nil {
		return fail(err)
	}
	j.lookup.SetMaxOpenConns(1)
	if j.exists, err = j.lookup.PrepareContext(ctx, `SELECT 1 FROM events WHERE id = ?`); err != nil {
		return fail(err)
	}
	go j.run()
	return j, nil
}

// openJournalFile opens and locks the journal at path for the database whose journal id is id,
// setting aside one whose head names another, and writing the head of a new one; ok is false
// when another process holds it.
func openJournalFile(path, id string) (f *os.File, ok bool, err error) {
	head := make([]byte, journalStart)
	copy(head[copy(head, journalMagic):], id)
	for try := 0; ; try++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, sqliteFileMode)
		if err != nil {
			return nil, false, fmt.Errorf("ingest journal: %w", err)
		}
		if ok, err := lockJournal(f); err != nil || !ok {
			_ = f.Close()
			if err != nil {
				return nil, false, fmt.Errorf("ingest journal %s: %w", path, err)
			}
			return nil, false, nil
		}
		got := make([]byte, journalStart)
		n, err := f.ReadAt(got, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			_ = f.Close()
			return nil, false, fmt.Errorf("ingest journal %s: %w", path, err)
		}
		switch {
		case n == journalStart && bytes.Equal(got, head):
			return f, true, nil
		case n == 0 || try > 0:
			if _, err := f.WriteAt(head, 0); err != nil {
				_ = f.Close()
				return nil, false, fmt.Errorf("ingest journal %s: %w", path, err)
			}
			if err := f.Sync(); err != nil {
				_ = f.Close()
				return nil, false, fmt.Errorf("ingest journal %s: %w", path, err)
			}
			return f, true, nil
		}
		// Another database's journal: kept for whoever wants to look, never replayed here.
		aside := fmt.Sprintf("%s.%d.set-aside", path, time.Now().Unix())
		err = os.Rename(path, aside)
		_ = f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("ingest journal %s: set aside (it is not this database's): %w", path, err)
		}
	}
}

// replay writes to the database the journal's records past applied (ingest_journal.applied_seq),
// in order, and leaves the journal empty: the next record goes at its start.
func (j *journal) replay(ctx context.Context, applied uint64) error {
	st, err := j.f.Stat()
	if err != nil {
		return err
	}
	j.size, j.seq, j.off = st.Size(), applied, journalStart
	r := bufio.NewReaderSize(io.NewSectionReader(j.f, journalStart, max(j.size-journalStart, 0)), 1<<16)
	var batch []journalEntry
	var size int64
	for pos, want := int64(journalStart), uint64(0); ; {
		seq, it, n, err := readRecord(r, want, j.size-pos)
		if err != nil {
			break
		}
		pos, want = pos+n, seq+1
		if seq <= applied {
			continue
		}
		batch, size = append(batch, journalEntry{seq: seq, item: it, size: n}), size+n
		if len(batch) == core.MaxIngestBatch || size >= journalApplyBytes {
			if err := j.write(ctx, batch); err != nil {
				return err
			}
			batch, size = nil, 0
		}
		j.seq = seq
	}
	if len(batch) > 0 {
		if err := j.write(ctx, batch); err != nil {
			return err
		}
	}
	j.written.Store(j.seq)
	j.applied.Store(j.seq)
	return nil
}

// ingest is DB.Ingest through the journal: it answers once the new items' records are on disk.
func (j *journal) ingest(ctx context.Context, items []core.IngestItem) ([]bool, error) {
	j.ingestMu.Lock()
	defer j.ingestMu.Unlock()
	if j.broken != nil {
		return nil, fmt.Errorf("ingest journal %s: a failed write could not be undone: %w", j.path, j.broken)
	}
	j.mu.Lock()
	behind := j.lastErr != nil || j.held > journalMaxHeld
	j.mu.Unlock()
	if behind {
		if err := j.settle(ctx, true); err != nil {
			return nil, fmt.Errorf("the ingest journal's events cannot be written to the database: %w", err)
		}
	}
	dup, err := j.duplicates(ctx, items)
	if err != nil {
		return nil, err
	}
	// The records go in one buffer, but for bodies over journalInlineBody, which are written
	// from the events themselves: a batch of large events is not copied (it holds up to
	// core.MaxIngestBatch bodies of up to ingest.max_body_bytes), a batch of small ones is one
	// write.
	buf, seq := j.buf[:0], j.seq
	entries := make([]journalEntry, 0, len(items))
	var iov [][]byte
	var total int64
	from := 0 // where the part of buf not yet in iov begins
	for i, it := range items {
		if dup[i] {
			continue
		}
		seq++
		start := len(buf)
		if buf, err = appendRecordHead(buf, seq, it); err != nil {
			return nil, err
		}
		body := it.Event.Raw
		if len(body) <= journalInlineBody {
			buf = append(buf, body...)
		} else { // buf's part so far, then the body (later appends never write into that part)
			iov = append(iov, buf[from:len(buf):len(buf)], body)
			from = len(buf)
		}
		size := int64(len(buf) - start)
		if len(body) > journalInlineBody {
			size += int64(len(body))
		}
		entries, total = append(entries, journalEntry{seq: seq, item: it, size: size}), total+size
	}
	if len(entries) == 0 {
		return dup, nil
	}
	iov = append(iov, buf[from:])
	if j.off > journalStart && j.off+total > j.wrapAt {
		// Everything before must be in the database before its records are written over.
		if err := j.settle(ctx, true); err != nil {
			return nil, fmt.Errorf("the ingest journal's events cannot be written to the database: %w", err)
		}
		j.off = journalStart
	}
	if err := j.append(iov, total); err != nil {
		// Its records must not be read back after a crash (a shorter next write would leave
		// some of them whole behind it): zeros over them, or no more appends.
		werr := j.zero(j.off, total)
		if werr == nil {
			werr = syncJournal(j.f)
		}
		if werr != nil {
			j.broken = werr
		}
		return nil, fmt.Errorf("ingest journal %s: %w", j.path, err)
	}
	if cap(buf) <= 1<<20 { // the buffer is kept for the next batch, unless it grew large
		j.buf = buf
	}
	j.seq = seq
	j.mu.Lock()
	j.pending = append(j.pending, entries...)
	for _, e := range entries {
		j.pendingIDs[e.item.Event.ID]++
		j.held += e.size
	}
	j.written.Store(seq)
	j.mu.Unlock()
	select {
	case j.more <- struct{}{}:
	default:
	}
	return dup, nil
}

// append writes iov (total bytes) at the journal's offset, growing the file first when needed,
// and waits for it to be on disk.
func (j *journal) append(iov [][]byte, total int64) error {
	if end := j.off + total; end > j.size {
		size := (end + journalGrowStep - 1) / journalGrowStep * journalGrowStep
		if err := j.zero(j.size, size-j.size); err != nil {
			return err
		}
		if err := j.f.Sync(); err != nil { // the new size, once
			return err
		}
		j.size = size
	}
	if err := writeJournal(j.f, iov, j.off); err != nil {
		return err
	}
	if err := syncJournal(j.f); err != nil {
		return err
	}
	j.off += total
	return nil
}

// zero writes n zero bytes at off, in steps of at most journalGrowStep (not synced).
func (j *journal) zero(off, n int64) error {
	zeros := make([]byte, min(n, journalGrowStep))
	for at := off; at < off+n; at += int64(len(zeros)) {
		if _, err := j.f.WriteAt(zeros[:min(int64(len(zeros)), off+n-at)], at); err != nil {
			return err
		}
	}
	return nil
}

// duplicates reports, per item, whether its event id is answered already: waiting in the
// journal, in the database, or earlier in items.
func (j *journal) duplicates(ctx context.Context, items []core.IngestItem) ([]bool, error) {
	dup := make([]bool, len(items))
	seen := make(map[string]bool, len(items))
	ask := make([]string, 0, len(items))
	j.mu.Lock()
	for i, it := range items {
		id := it.Event.ID
		if seen[id] || j.pendingIDs[id] > 0 {
			dup[i] = true
			continue
		}
		seen[id] = true
		ask = append(ask, id)
	}
	j.mu.Unlock()
	// Looked for in the database after the journal: the applier takes an id off pendingIDs only
	// after its commit, which a read beginning now sees. One prepared lookup per id: a batch at
	// 1 000 events/s holds one or two.
	stored := map[string]bool{}
	for _, id := range ask {
		var one int
		switch err := j.exists.QueryRowContext(ctx, id).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			stored[id] = true
		}
	}
	for i, it := range items {
		if stored[it.Event.ID] {
			dup[i] = true
		}
	}
	return dup, nil
}

// settle waits until every record on disk in the journal when it was called is in the database;
// with now it asks the applier to write at once, without it waits for the applier's next round.
// It returns ctx's error when ctx ends first, and the applier's error when its round fails.
func (j *journal) settle(ctx context.Context, now bool) error {
	target := j.written.Load()
	for {
		j.mu.Lock()
		if j.applied.Load() >= target {
			j.mu.Unlock()
			return nil
		}
		round := j.round
		j.mu.Unlock()
		if now {
			select {
			case j.now <- struct{}{}:
			default:
			}
		}
		select {
		case <-round:
		case <-ctx.Done():
			return ctx.Err()
		case <-j.closed:
			if j.applied.Load() < target {
				return errJournalClosed
			}
			return nil
		}
		j.mu.Lock()
		err := j.lastErr
		j.mu.Unlock()
		if err != nil && j.applied.Load() < target {
			return err
		}
	}
}

// run is the applier: journalApplyDelay after the first record waiting (at once when a read
// waits), it writes everything waiting to the database.
func (j *journal) run() {
	defer close(j.done)
	for {
		now := false
		select {
		case <-j.stop:
			return
		case <-j.more:
		case <-j.now:
			now = true
		}
		if !now {
			t := time.NewTimer(j.delay)
			select {
			case <-j.stop:
				t.Stop()
				return
			case <-t.C:
			case <-j.now:
				t.Stop()
			}
		}
		if j.applyRound() != nil {
			select {
			case <-j.stop:
				return
			case <-time.After(journalRetry):
			case <-j.now:
			}
			select {
			case j.more <- struct{}{}:
			default:
			}
		}
	}
}

// applyRound writes what is waiting to the database, in transactions of at most
// core.MaxIngestBatch records and journalApplyBytes, and ends the round (waking settle).
func (j *journal) applyRound() error {
	j.mu.Lock()
	entries := j.pending
	j.mu.Unlock()
	var err error
	for len(entries) > 0 {
		n, bytes := 0, int64(0)
		for n < len(entries) && n < core.MaxIngestBatch && (n == 0 || bytes+entries[n].size <= journalApplyBytes) {
			bytes += entries[n].size
			n++
		}
		if err = j.write(context.Background(), entries[:n]); err != nil {
			break
		}
		last := entries[n-1].seq
		j.mu.Lock()
		for _, e := range entries[:n] {
			if id := e.item.Event.ID; j.pendingIDs[id] <= 1 {
				delete(j.pendingIDs, id)
			} else {
				j.pendingIDs[id]--
			}
			j.held -= e.size
		}
		clear(j.pending[:n]) // the bodies go with them (entries shares the array)
		j.pending = j.pending[n:]
		j.applied.Store(last)
		j.mu.Unlock()
		entries = entries[n:]
	}
	j.mu.Lock()
	if len(j.pending) == 0 {
		j.pending, j.pendingIDs = nil, map[string]int{} // a backlog's map does not stay
	}
	j.lastErr = err
	close(j.round)
	j.round = make(chan struct{})
	j.mu.Unlock()
	return err
}

// journalWriteTimeout bounds one applier transaction (the wait for the writer connection and
// SQLite's lock included).
const journalWriteTimeout = 30 * time.Second

// write stores entries in one transaction with the database's fsync, and moves applied_seq to
// the last of them in it.
func (j *journal) write(ctx context.Context, entries []journalEntry) error {
	ctx, cancel := context.WithTimeout(ctx, journalWriteTimeout)
	defer cancel()
	items := make([]core.IngestItem, len(entries))
	for i, e := range entries {
		items[i] = e.item
	}
	tx, err := j.d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := j.writeTx(ctx, tx, items, entries[len(entries)-1].seq); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (j *journal) writeTx(ctx context.Context, tx *sql.Tx, items []core.IngestItem, last uint64) error {
	if _, err := j.d.sqliteIngestTx(ctx, tx, items); err != nil {
		return err
	}
	_, err := tx.ExecContext(statementContext(ctx), `UPDATE ingest_journal SET applied_seq = ?`, int64(last))
	return err
}

// close stops the applier, writes what is waiting to the database and closes the file (once:
// later calls return the first one's error). Records it could not write stay in the journal
// for the next open; settle stops waiting for them.
func (j *journal) close() error {
	j.closeOnce.Do(func() {
		close(j.stop)
		<-j.done
		err := j.applyRound()
		close(j.closed)
		j.closeErr = errors.Join(err, j.exists.Close(), j.lookup.Close(), j.f.Close())
	})
	return j.closeErr
}
