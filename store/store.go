// Package store keeps events, deliveries and attempts in SQL: the ingest writer, the delivery
// queue's claim/renew/complete statements, digests and groups, registered webhooks, dashboard
// sessions and the listings. *DB satisfies each consumer's storage interface (core.BusStore,
// core.QueueStore, core.ScheduleStore, api.ManagementStore, dashboard.Store). SQLite
// (modernc.org/sqlite, pure Go) is the embedded default; PostgreSQL (pgx) lets several replicas
// share one database. The schema is managed by goose, one migration set per database.
//
// The SQL is shared: queries are written once with ? placeholders, rebound to $n for Postgres,
// and times are Unix milliseconds in integer columns on both. What differs is chosen once per
// database in a dialect (dialect.go): on Postgres, Ingest and Complete send a whole batch as
// arrays in one statement, Claim locks its rows with FOR UPDATE SKIP LOCKED, and committed work
// wakes the other replicas.
//
// Files by entity: ingest.go (events in), queue.go and lease.go (the delivery queue), list.go
// (deliveries and attempts read back), events.go (the events list and an event's deliveries and
// holds), retry.go (bulk retry), digest.go, group.go, webhook.go, session.go, dashboard.go;
// sql.go holds the helpers every statement goes through.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/pressly/goose/v3"

	"github.com/cortexbridge/cortex-bridge/core"
)

//go:embed migrations
var migrations embed.FS

// DB is the store on a SQL database.
//
// SQLite: writes go through one connection (SQLite allows one writer at a time; a single
// connection avoids busy waits), reads through a small pool. Postgres: w and r are the same
// database/sql handle on a pgx pool; pg holds the pool and the LISTEN/NOTIFY state.
type DB struct {
	dialect *dialect
	w, r    *sql.DB
	pg      *postgres    // nil for SQLite
	close   func() error // closes w and r (and, on Postgres, the listener and pool)
	stmts   sync.Map     // query → *sql.Stmt prepared once on w, used in its transactions
	events  eventCache
	lister  *lister // SQLite: lists events after their ingest commit (listing.go); nil on Postgres
	// journal is SQLite's ingest journal (journal.go); nil on Postgres, and when another
	// process holds it.
	journal *journal
	// listPlan tunes the events list (zero: the defaults; export_test.go sets it).
	listPlan listPlan
}

// Open opens (creating if needed) the database named by driver and dsn and applies pending
// migrations. driver is "sqlite" (dsn: a file path) or "postgres" (dsn: a postgres:// URL; pgx
// pool settings such as pool_max_conns may be given in it). It returns an error naming the
// database (never its password) when it cannot be opened or migrated.
func Open(ctx context.Context, driver, dsn string) (*DB, error) {
	switch driver {
	case "sqlite", "":
		return openSQLite(ctx, dsn)
	case "postgres":
		return openPostgres(ctx, dsn)
	default:
		return nil, fmt.Errorf("storage.driver: unknown driver %q (want sqlite or postgres)", driver)
	}
}

func migrate(ctx context.Context, db *sql.DB, dia *dialect, opts ...goose.ProviderOption) error {
	sub, err := fs.Sub(migrations, dia.migrations)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dia.goose, db, sub, append([]goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}, opts...)...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close writes what SQLite's ingest journal holds to the database and closes the connection
// pools (and, on Postgres, stops the listener).
func (d *DB) Close() error {
	var jerr, lerr error
	if d.journal != nil {
		jerr = d.journal.close()
	}
	if d.lister != nil {
		lerr = d.lister.close(d)
	}
	d.stmts.Range(func(_, s any) bool { _ = s.(*sql.Stmt).Close(); return true })
	return errors.Join(jerr, lerr, d.close())
}

// Journaled reports whether ingest goes through SQLite's ingest journal (journal.go): false on
// PostgreSQL, off Linux, and when another process held the journal when the database opened.
func (d *DB) Journaled() bool { return d.journal != nil }

// Ping reports whether both the writer and a reader answer.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.w.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
	}
	if err := d.dialect.checkWriter(ctx, d.w); err != nil {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
	}
	var one int
	if err := d.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
	}
	return nil
}

var _ core.WriteProber = (*DB)(nil)

// ProbeWrite implements core.WriteProber: one transaction on the writer that must reach the
// database's log to commit (dialect.probeWrite says how for each database). No data changes.
func (d *DB) ProbeWrite(ctx context.Context) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("trial write", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := d.dialect.probeWrite(ctx, tx); err != nil {
		return unavailable("trial write", err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable("trial write", err)
	}
	return nil
}
