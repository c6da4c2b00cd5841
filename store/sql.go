package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// The shared SQL goes through these: the ? placeholders become $n where the dialect numbers
// them, and text arguments are made storable (dialect.text).

// A statement on a pool (q is d.w or d.r, not a transaction) first waits for the events the
// ingest journal answered to be in the database (settled).

func (d *DB) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	d.settled(ctx, q)
	return q.ExecContext(ctx, d.rebind(query), d.args(args)...)
}

func (d *DB) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	d.settled(ctx, q)
	return q.QueryContext(ctx, d.rebind(query), d.args(args)...)
}

func (d *DB) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	d.settled(ctx, q)
	return q.QueryRowContext(ctx, d.rebind(query), d.args(args)...)
}

// settled waits, before a statement on one of the pools (q a *sql.DB), until every event the
// ingest journal answered is in the database (journal.settle: asking it to write at once unless
// ctx is core.Unhurried). A transaction waited when it began (inTx). When the wait fails (ctx
// ended, the database cannot be written), the statement runs anyway: it fails on ctx too, or
// reads what is there.
func (d *DB) settled(ctx context.Context, q querier) {
	if d.journal == nil {
		return
	}
	if _, pool := q.(*sql.DB); pool {
		_ = d.journal.settle(ctx, !core.IsUnhurried(ctx))
	}
}

// stmt is a prepared statement whose arguments go through DB.args.
type stmt struct {
	d *DB
	s *sql.Stmt
}

// writerStatements are the statements of the hot write paths (ingest, completions, digest and
// group runs), prepared once on the writer when SQLite opens: preparing them in every
// transaction was 4–9 % of the CPU of a busy bridge. (They must be ready before any
// transaction: the writer has one connection, which a transaction holds.)
var writerStatements = []string{insertUnlistedEventSQL, insertDeliverySQL, insertDigestItemSQL, insertGroupItemSQL, upsertScanSQL,
	insertScanFindingSQL, insertFindingScanSQL, insertAttemptSQL, completeDeliverySQL}

func (d *DB) prepareWriter(ctx context.Context) error {
	for _, q := range writerStatements {
		s, err := d.w.PrepareContext(ctx, d.rebind(q))
		if err != nil {
			return err
		}
		d.stmts.Store(q, s)
	}
	return nil
}

// prepare returns query as a statement of q: in a transaction, the writer's statement prepared
// at open (writerStatements) bound to it, else prepared now.
func (d *DB) prepare(ctx context.Context, q querier, query string) (*stmt, error) {
	if tx, ok := q.(*sql.Tx); ok {
		if cached, ok := d.stmts.Load(query); ok {
			return &stmt{d: d, s: tx.StmtContext(ctx, cached.(*sql.Stmt))}, nil
		}
	}
	s, err := q.PrepareContext(ctx, d.rebind(query))
	if err != nil {
		return nil, err
	}
	return &stmt{d: d, s: s}, nil
}

// prepareAll prepares each of queries in tx (prepare), in order; closeAll closes them. On an
// error the ones already prepared are closed.
func (d *DB) prepareAll(ctx context.Context, tx *sql.Tx, queries ...string) (stmts []*stmt, closeAll func(), err error) {
	closeAll = func() {
		for _, s := range stmts {
			_ = s.Close()
		}
	}
	for _, q := range queries {
		s, err := d.prepare(ctx, tx, q)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		stmts = append(stmts, s)
	}
	return stmts, closeAll, nil
}

func (s *stmt) exec(ctx context.Context, args ...any) (sql.Result, error) {
	return s.s.ExecContext(ctx, s.d.args(args)...)
}

func (s *stmt) Close() error { return s.s.Close() }

// rebind turns ? placeholders into $1, $2, … for Postgres. The shared queries have no ? inside
// string literals or identifiers.
func (d *DB) rebind(q string) string {
	if !d.dialect.numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (d *DB) args(a []any) []any {
	for i, v := range a {
		if s, ok := v.(string); ok {
			if t := d.dialect.text(s); t != s { // only then re-box: most text is storable as it is
				a[i] = t
			}
		}
	}
	return a
}

// inList returns a condition that col is one of vals, with its arguments (dialect.inList). At
// most maxListArgs values: callers chunk longer lists.
func (d *DB) inList(col string, vals []string) (string, []any) { return d.dialect.inList(col, vals) }

// maxListArgs bounds the values of one IN list (SQLite limits the parameters of a statement).
const maxListArgs = 500

func (d *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	d.settled(ctx, d.w)
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// notify queues a wake-up for the listening replicas, sent when tx commits (dialect.notifySQL;
// nothing where nobody listens).
func (d *DB) notify(ctx context.Context, tx querier) error {
	if d.dialect.notifySQL == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, d.dialect.notifySQL)
	return err
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %v", core.ErrUnavailable, op, err)
}
