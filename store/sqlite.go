package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqlitePragmas are applied to every connection. modernc.org/sqlite takes them as
// _pragma=name(value); mattn-style options such as _journal_mode are silently ignored there.
// synchronous(FULL): an acknowledged event is on disk, not only in the WAL's OS buffers.
var sqlitePragmas = []string{
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"busy_timeout(5000)",
	"foreign_keys(ON)",
}

// statementContext is the context the statements of a SQLite write transaction (ingest,
// completions) run under: ctx without its cancellation and deadline. modernc.org/sqlite starts a
// goroutine to watch the context of every statement that can be cancelled (interruptOnDone in its
// sqlite.go), 4 of the 10 goroutines an event with two deliveries started at one event per commit
// (BENCHMARKS.md, "Allocation profiles of ingest and dispatch"). These statements insert or update a few rows
// each; the transaction itself still begins under ctx (the wait for the writer connection and
// for SQLite's lock end with ctx, and database/sql rolls it back when ctx ends), and no interrupt
// could stop the fsync of its commit anyway.
func statementContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// sqliteReaderCache is each read connection's page cache (PRAGMA cache_size, negative: KiB), a
// quarter of SQLite's default 2 000 KiB. The readers mostly read event bodies (claims, group and
// digest loads, listings), whose pages serve once: with the default, reading ten 1 MiB bodies
// filled the four readers' caches with 8 MB that stayed for the life of the process, a fifth of
// what one huge signed string per event added to the RSS (BENCHMARKS.md, "Hostile input:
// grouped 1 MiB events"). The queue's hot path
// (ingest, completions) is on the writer, which keeps the default.
const sqliteReaderCache = "cache_size(-512)"

// sqliteDSN builds the modernc DSN for path; readOnly connections refuse writes.
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		q.Add("_pragma", sqliteReaderCache)
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("storage.dsn: required (a SQLite file path)")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("storage.dsn: %w", err)
		}
	}
	if err := restrictSQLiteFiles(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w, &sqliteDialect); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	d := &DB{dialect: &sqliteDialect, w: w, r: r, close: func() error { return errors.Join(w.Close(), r.Close()) }}
	if err := d.prepareWriter(ctx); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// What the journal holds is written before anything reads, and before the listing below.
	if d.journal, err = openJournal(ctx, d, path); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Events a crash left unlisted (past the watermark) are listed before anything reads. Looked
	// for with a read first: a CLI command opening the database beside serve takes no write lock
	// when nothing is pending.
	d.lister = newLister()
	var pending bool
	if err := r.QueryRowContext(ctx, `SELECT listed_rowid < (SELECT COALESCE(max(rowid), 0) FROM events) FROM event_listing`).
		Scan(&pending); err != nil {
		d.lister = nil
		_ = d.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	d.lister.dirty.Store(pending)
	if err := d.catchUp(ctx); err != nil {
		d.lister = nil
		_ = d.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	go d.lister.run(d)
	return d, nil
}

// journalSuffix names the ingest journal after the database file (journal.go).
const journalSuffix = "-ingest"

// sqliteFileMode is the mode of the database file, its -wal and -shm companions and its ingest
// journal: owner read/write only, like the audit log, because they hold registered webhooks'
// signing secrets and every event's payload.
const sqliteFileMode os.FileMode = 0o600

// restrictSQLiteFiles creates the database file with sqliteFileMode when it is missing (SQLite
// then gives the -wal and -shm files it creates the database file's mode) and narrows an
// existing database, -wal or -shm file that group or others may read (a file from an older
// version, or copied in) to sqliteFileMode. Its errors name storage.dsn.
func restrictSQLiteFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, sqliteFileMode)
	if err != nil {
		return fmt.Errorf("storage.dsn: %w", err)
	}
	_ = f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + journalSuffix} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("storage.dsn: %w", err)
		}
		if st.Mode().Perm()&^sqliteFileMode != 0 {
			if err := os.Chmod(p, sqliteFileMode); err != nil {
				return fmt.Errorf("storage.dsn: %s is readable by others and cannot be restricted to %04o: %w", p, sqliteFileMode, err)
			}
		}
	}
	return nil
}

// unsyncedTx runs fn in a transaction on the writer committed without its own fsync: the writer
// connection is held while its synchronous setting is NORMAL for this one transaction, then
// FULL again. In WAL mode such a commit is safe from corruption and becomes durable with the
// next FULL commit (the next ingest's fsync of the WAL covers it) or checkpoint; a crash before
// then may lose it whole. For writes whose loss is harmless or repaired: completions (a repeat
// of the delivery) and listings (the watermark brings them back; listing.go).
func (d *DB) unsyncedTx(ctx context.Context, fn func(context.Context, *sql.Tx) error) (err error) {
	conn, err := d.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Restored whatever happens from here: a cancelled context can fail the NORMAL pragma after
	// it took effect (the driver reports ctx.Err() for a statement that completed).
	defer func() {
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = FULL"); rerr != nil {
			// Never hand the connection back to ingest without its fsync: close it (database/sql
			// opens a new one, with the DSN's pragmas).
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, rerr)
		}
	}()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
