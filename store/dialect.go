package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/cortexbridge/cortex-bridge/core"
)

// dialect is everything that differs between SQLite and PostgreSQL, chosen once when the
// database opens (sqliteDialect, postgresDialect): the statements that are not the shared ?
// SQL, and the hot paths written differently for each. Methods use its fields and so have one
// code path for both databases.
type dialect struct {
	goose      goose.Dialect
	migrations string // the embedded migration directory
	numbered   bool   // placeholders are $1, $2, … (Postgres) instead of ?
	// soleWriter: one process owns the database (SQLite; docs/operations.md), so what it
	// commits is every change (core.SoleWriter).
	soleWriter bool

	// text makes a string argument storable (Postgres rejects NUL bytes and invalid UTF-8 in
	// text columns: pgText); identity on SQLite.
	text func(string) string
	// inList returns a condition that col is one of vals, with its arguments: an IN list of
	// placeholders on SQLite, = ANY(array) on Postgres (one statement whatever the length).
	inList func(col string, vals []string) (string, []any)

	// insertEvent stores one event (insertEventSQL; SQLite's unlisted, listing.go). listed is the
	// condition that lets a list query use the list's partial indexes of listed events
	// (migration 00015 on SQLite; "" on Postgres, which indexes at insert).
	insertEvent, listed string

	// textMatch is the events list's free-text filter for words (textWords: only letters and
	// digits, lower-cased): every word starts a word of title or file (migration 00010's index:
	// FTS5 on SQLite, a tsvector GIN index on Postgres).
	textMatch func(words []string) textQuery

	// exists reports whether query q (a textQuery.set with existsOnly) has a row; nil where no
	// textQuery is existsOnly.
	exists func(d *DB, ctx context.Context, q string, args []any) (bool, error)

	// claimSQL leases the due deliveries of one target (see claimSQLite, claimPostgres).
	claimSQL string
	// notifySQL wakes the listening replicas when its transaction commits (Postgres sends one
	// notification per transaction however often it is run); "" on SQLite, where nobody listens.
	notifySQL string

	// checkWriter makes sure the writer can take a write lock, beyond answering a ping.
	checkWriter func(ctx context.Context, w *sql.DB) error
	// probeWrite runs, in tx, a statement whose commit must reach the database's log.
	probeWrite func(ctx context.Context, tx *sql.Tx) error

	// ingest and complete are the two hot write paths: SQLite runs prepared statements in one
	// transaction, Postgres sends a whole batch as arrays in one statement.
	ingest   func(d *DB, ctx context.Context, items []core.IngestItem) ([]bool, error)
	complete func(d *DB, ctx context.Context, cs []core.Completion) error
	// ingestTx is ingest inside a transaction that also writes other rows (a scan comparison's
	// derived events).
	ingestTx func(d *DB, ctx context.Context, tx *sql.Tx, items []core.IngestItem) ([]bool, error)

	// forUpdate locks the rows a SELECT reads until the transaction ends (Postgres); "" on
	// SQLite, whose one writer connection runs one transaction at a time. skipLocked also skips
	// rows another transaction holds.
	forUpdate, skipLocked string

	// indexedBy makes a query read table through index where the database has such a hint
	// (SQLite, which otherwise prefers an equality index to the partial one that gives the
	// order); "" on Postgres, whose planner weighs the LIMIT.
	indexedBy func(index string) string
}

// textQuery is the free-text filter in the forms Events plans with (narrowing); each takes arg.
type textQuery struct {
	set, drive, walk string
	existsOnly       bool // probe whether set has a row, never drive (the walk form is planned by the database)
	// recent, when set, asks (with arg) whether one of the newest recentEvents events matches:
	// a cheap first probe for a word many events have, whose index probe reads all their ids.
	recent string
	// chunk: dense text is walked in chunks and checked in Go (store.textMatches), since a
	// per-event check of FTS5 costs a lookup each; false: the walk form is cheap (Postgres's
	// stored tsvector).
	chunk bool
	arg   any
}

var sqliteDialect = dialect{
	goose:       goose.DialectSQLite3,
	migrations:  "migrations/sqlite",
	soleWriter:  true,
	text:        func(s string) string { return s },
	insertEvent: insertUnlistedEventSQL,
	listed:      ` AND e.listed = 1`,
	inList: func(col string, vals []string) (string, []any) {
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		return col + ` IN (?` + strings.Repeat(", ?", len(vals)-1) + `)`, args
	},
	textMatch: func(words []string) textQuery {
		terms := make([]string, len(words))
		for i, w := range words {
			terms[i] = `"` + w + `"` + map[bool]string{true: "*"}[prefixWord(w)]
		}
		set := `SELECT rowid FROM events_text WHERE events_text MATCH ?`
		// drive: looked up by rowid; walk: the match set built once (+ keeps it from driving).
		return textQuery{set: set, drive: `e.rowid IN (` + set + `)`, walk: `+e.rowid IN (` + set + `)`,
			chunk: true, arg: strings.Join(terms, " ")}
	},
	claimSQL:  claimSQLite,
	indexedBy: func(index string) string { return ` INDEXED BY ` + index },
	// SELECT 1 never touches the file: take the write lock (BEGIN IMMEDIATE) and let go, so a
	// database another process holds locked, or that cannot be written, is not ready.
	checkWriter: func(ctx context.Context, w *sql.DB) error {
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		_ = tx.Rollback()
		return nil
	},
	// Rewriting user_version with its own value dirties the header page, so the commit appends
	// a WAL frame (a full disk fails it); SQLite skips an UPDATE that changes nothing, so a row
	// update would not do.
	probeWrite: func(ctx context.Context, tx *sql.Tx) error {
		var v int64
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
		return err
	},
	ingest:   (*DB).sqliteIngest,
	complete: (*DB).sqliteComplete,
	ingestTx: (*DB).sqliteIngestTx,
}

var postgresDialect = dialect{
	goose:       goose.DialectPostgres,
	migrations:  "migrations/postgres",
	numbered:    true,
	text:        pgText,
	insertEvent: insertEventSQL,
	inList: func(col string, vals []string) (string, []any) {
		return col + ` = ANY(?)`, []any{pgTexts(vals)}
	},
	textMatch: func(words []string) textQuery {
		// The column text_words and its index events_text (migrations 00010, 00016): a word of
		// 3 characters or more is matched as a prefix by its own entry, marked '>' (words are
		// lower-cased as the column's are; the query is taken as it is, not parsed, so the mark
		// stays). Counting through a GIN index reads a heap page per match (it has no
		// index-only scans), so the probe only asks whether one event matches (else the planner
		// walks the whole list for a word no event has) and the planner, which keeps statistics
		// of the words, does the rest.
		terms := make([]string, len(words))
		for i, w := range words {
			terms[i] = "'" + map[bool]string{true: ">"}[prefixWord(w)] + w + "'"
		}
		cond := `e.text_words @@ ?::tsquery`
		return textQuery{set: `SELECT 1 FROM events e WHERE ` + cond, existsOnly: true, drive: cond, walk: cond, arg: strings.Join(terms, " & "),
			recent: `SELECT 1 FROM (SELECT e.text_words FROM events e ORDER BY e.received_at_ms DESC, e.id DESC LIMIT ` +
				strconv.Itoa(recentEvents) + `) e WHERE ` + cond + ` LIMIT 1`}
	},
	// With LIMIT 1 the planner would scan the table for a word it believes common enough,
	// reading every row when none has it: the probe takes the index (a bitmap of the matches,
	// then one heap page) by ruling the scans out for its own transaction.
	exists: func(d *DB, ctx context.Context, q string, args []any) (bool, error) {
		tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return false, err
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off`); err != nil {
			return false, err
		}
		var one int
		switch err := d.queryRow(ctx, tx, q+` LIMIT 1`, args...).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return false, nil
		case err != nil:
			return false, err
		}
		return true, nil
	},
	claimSQL:    claimPostgres,
	notifySQL:   `SELECT pg_notify('` + notifyChannel + `', COALESCE(current_schema(), ''))`,
	checkWriter: func(context.Context, *sql.DB) error { return nil },
	// Taking a transaction id makes the commit write and flush a WAL record.
	probeWrite: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "SELECT txid_current()")
		return err
	},
	ingest:   (*DB).pgIngest,
	complete: (*DB).pgComplete,
	ingestTx: func(d *DB, ctx context.Context, tx *sql.Tx, items []core.IngestItem) ([]bool, error) {
		return d.pgIngestIn(ctx, tx, items)
	},
	indexedBy:  func(string) string { return "" },
	forUpdate:  " FOR UPDATE",
	skipLocked: " FOR UPDATE SKIP LOCKED",
}
