// Package store keeps events, deliveries and attempts in SQL and implements core.Store: the
// ingest writer, the delivery queue's claim/renew/complete statements and the listings. SQLite
// (modernc.org/sqlite, pure Go) is the embedded default; PostgreSQL (pgx) lets several replicas
// share one database. The schema is managed by goose, one migration set per dialect.
//
// The SQL is shared: queries are written once with ? placeholders, rebound to $n for Postgres,
// and times are Unix milliseconds in integer columns on both. Only the hot paths differ: on
// Postgres, Ingest and Complete send a whole batch as arrays in one statement, and Claim locks
// its rows with FOR UPDATE SKIP LOCKED.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

//go:embed migrations
var migrations embed.FS

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// DB is a core.Store on a SQL database.
//
// SQLite: writes go through one connection (SQLite allows one writer at a time; a single
// connection avoids busy waits), reads through a small pool. Postgres: w and r are the same
// database/sql handle on a pgx pool; pg holds the pool and the LISTEN/NOTIFY state.
type DB struct {
	dialect dialect
	w, r    *sql.DB
	pg      *postgres // nil for SQLite
	stmts   sync.Map  // query → *sql.Stmt prepared once on w, used in its transactions
	events  eventCache
}

var _ core.Store = (*DB)(nil)

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

func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, dir string, opts ...goose.ProviderOption) error {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, db, sub, append([]goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}, opts...)...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close closes the connection pools (and, on Postgres, stops the listener).
func (d *DB) Close() error {
	d.stmts.Range(func(_, s any) bool { _ = s.(*sql.Stmt).Close(); return true })
	if d.pg != nil {
		return d.pg.close(d.w)
	}
	return errors.Join(d.w.Close(), d.r.Close())
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// The shared SQL goes through these: on Postgres the ? placeholders become $n and text
// arguments are made storable (see pgText); on SQLite both pass through unchanged.

func (d *DB) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	return q.ExecContext(ctx, d.rebind(query), d.args(args)...)
}

func (d *DB) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return q.QueryContext(ctx, d.rebind(query), d.args(args)...)
}

func (d *DB) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return q.QueryRowContext(ctx, d.rebind(query), d.args(args)...)
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
var writerStatements = []string{insertEventSQL, insertDeliverySQL, insertDigestItemSQL, insertGroupItemSQL,
	insertAttemptSQL, completeDeliverySQL}

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

func (s *stmt) exec(ctx context.Context, args ...any) (sql.Result, error) {
	return s.s.ExecContext(ctx, s.d.args(args)...)
}

func (s *stmt) Close() error { return s.s.Close() }

// rebind turns ? placeholders into $1, $2, … for Postgres. The shared queries have no ? inside
// string literals or identifiers.
func (d *DB) rebind(q string) string {
	if d.dialect != dialectPostgres || !strings.Contains(q, "?") {
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
	if d.dialect != dialectPostgres {
		return a
	}
	for i, v := range a {
		if s, ok := v.(string); ok {
			a[i] = pgText(s)
		}
	}
	return a
}

// Ping reports whether both the writer and a reader answer.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.w.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
	}
	if d.dialect != dialectPostgres {
		// SELECT 1 never touches the file: take the write lock (BEGIN IMMEDIATE) and let go, so
		// a database another process holds locked, or that cannot be written, is not ready.
		tx, err := d.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
		}
		_ = tx.Rollback()
	}
	var one int
	if err := d.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
	}
	return nil
}

var _ core.WriteProber = (*DB)(nil)

// ProbeWrite implements core.WriteProber: one transaction on the writer that must reach the
// database's log to commit. SQLite: rewriting user_version with its own value dirties the
// header page, so the commit appends a WAL frame (a full disk fails it); SQLite skips an UPDATE
// that changes nothing, so a row update would not do. PostgreSQL: taking a transaction id makes
// the commit write and flush a WAL record. No data changes.
func (d *DB) ProbeWrite(ctx context.Context) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("trial write", err)
	}
	defer func() { _ = tx.Rollback() }()
	if d.dialect == dialectPostgres {
		_, err = tx.ExecContext(ctx, "SELECT txid_current()")
	} else {
		var v int64
		if err = tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err == nil {
			_, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
		}
	}
	if err != nil {
		return unavailable("trial write", err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable("trial write", err)
	}
	return nil
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

const insertDigestItemSQL = `INSERT INTO digest_items (digest, event_id, received_at_ms) VALUES (?, ?, ?)`

const completeDeliverySQL = `UPDATE deliveries
	SET state = ?, attempts = ?, next_attempt_at_ms = ?, last_error = ?,
	    lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?
	WHERE id = ? AND state = 'running' AND lease_owner = ?`

const insertEventSQL = `INSERT INTO events
	(id, type, occurred_at_ms, received_at_ms, sender_delivery, body)
	VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

// Ingest implements core.Store.
func (d *DB) Ingest(ctx context.Context, items []core.IngestItem) ([]bool, error) {
	if d.dialect == dialectPostgres {
		dup, err := d.pgIngest(ctx, items)
		if err != nil {
			return nil, unavailable("ingest", err)
		}
		return dup, nil
	}
	dup := make([]bool, len(items))
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		insEvent, err := d.prepare(ctx, tx, insertEventSQL)
		if err != nil {
			return err
		}
		defer insEvent.Close()
		insDelivery, err := d.prepare(ctx, tx, insertDeliverySQL)
		if err != nil {
			return err
		}
		defer insDelivery.Close()
		insItem, err := d.prepare(ctx, tx, insertDigestItemSQL)
		if err != nil {
			return err
		}
		defer insItem.Close()
		insGroup, err := d.prepare(ctx, tx, insertGroupItemSQL)
		if err != nil {
			return err
		}
		defer insGroup.Close()
		for i, it := range items {
			ev := it.Event
			res, err := insEvent.exec(ctx, ev.ID, ev.Type, ms(ev.Timestamp), ms(ev.ReceivedAt), ev.Delivery, ev.Raw)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				dup[i] = true
				continue
			}
			if err := insertDeliveries(ctx, insDelivery, ev.ID, it.Deliveries); err != nil {
				return err
			}
			for _, name := range it.Digests {
				if _, err := insItem.exec(ctx, name, ev.ID, ms(ev.ReceivedAt)); err != nil {
					return err
				}
			}
			if err := insertGroupItems(ctx, insGroup, ev, it.Groups); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("ingest", err)
	}
	return dup, nil
}

const insertDeliverySQL = `INSERT INTO deliveries
	(id, event_id, target, route, state, attempts, next_attempt_at_ms, lease_owner,
	 lease_until_ms, last_error, created_at_ms, updated_at_ms)
	VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)`

func insertDeliveries(ctx context.Context, stmt *stmt, eventID string, ds []*core.Delivery) error {
	for _, dl := range ds {
		var owner, until any
		if dl.LeaseOwner != "" {
			owner, until = dl.LeaseOwner, ms(dl.LeaseUntil)
		}
		if _, err := stmt.exec(ctx, dl.ID, eventID, dl.Target, dl.Route, string(dl.State),
			ms(dl.NextAttemptAt), owner, until, dl.LastError, ms(dl.CreatedAt), ms(dl.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
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

const dueCondition = `((state = 'pending' AND next_attempt_at_ms <= ?) OR (state = 'running' AND lease_until_ms < ?))`

// dueTargetsSQL lists the targets of due deliveries in two parts, each answered from its partial
// index (deliveries_due, deliveries_leased) and so proportional to what is due, not to the
// table. A SELECT DISTINCT over the OR, a UNION, or a DISTINCT on the expired leases (a handful
// of rows) lets SQLite read the (target, created_at) listing index for its order and scan every
// delivery, four times a second (TestDueTargetsUsesTheDueIndexes); DueTargets removes repeats.
const dueTargetsSQL = `SELECT DISTINCT target FROM deliveries WHERE state = 'pending' AND next_attempt_at_ms <= ?
	UNION ALL SELECT target FROM deliveries WHERE state = 'running' AND lease_until_ms < ?`

// DueTargets implements core.Store.
func (d *DB) DueTargets(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := d.query(ctx, d.r, dueTargetsSQL, ms(now), ms(now))
	if err != nil {
		return nil, unavailable("due targets", err)
	}
	defer rows.Close()
	var out []string
	seen := map[string]bool{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, unavailable("due targets", err)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("due targets", err)
	}
	return out, nil
}

const eventColumns = `id, received_at_ms, sender_delivery, body`

// queryEvents runs q, which selects eventColumns, and parses each stored body. A body that no
// longer parses (a stricter validation after an upgrade, a hand-edited database) is left out and
// its id and error are put in broken when broken is not nil.
func (d *DB) queryEvents(ctx context.Context, broken map[string]error, q string, args ...any) ([]*event.Event, error) {
	rows, err := d.query(ctx, d.r, q, args...)
	if err != nil {
		return nil, unavailable("load events", err)
	}
	defer rows.Close()
	var out []*event.Event
	for rows.Next() {
		var id, sender string
		var received int64
		var body []byte
		if err := rows.Scan(&id, &received, &sender, &body); err != nil {
			return nil, unavailable("load events", err)
		}
		ev, err := event.Parse(body)
		if err != nil {
			if broken != nil {
				broken[id] = err
			}
			continue
		}
		ev.ReceivedAt, ev.Delivery = fromMS(received), sender
		if d.dialect == dialectPostgres {
			ev.ID = id // the stored (pgText) form, which the deliveries refer to
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("load events", err)
	}
	return out, nil
}

func (d *DB) inList(col string, vals []string) (string, []any) {
	if d.dialect == dialectPostgres {
		return col + ` = ANY(?)`, []any{pgTexts(vals)}
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return col + ` IN (?` + strings.Repeat(", ?", len(vals)-1) + `)`, args
}

// ReleaseLeases implements core.Store. On Postgres the released deliveries wake the other
// replicas: they are due now, and this one is shutting down or retiring a worker pool.
func (d *DB) ReleaseLeases(ctx context.Context, owner string, ids []string, now time.Time) (int, error) {
	if ids != nil && len(ids) == 0 {
		return 0, nil
	}
	q := `UPDATE deliveries
		SET state = 'pending', lease_owner = NULL, lease_until_ms = NULL, next_attempt_at_ms = ?, updated_at_ms = ?
		WHERE state = 'running' AND lease_owner = ?`
	args := []any{ms(now), ms(now), owner}
	var total int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		for chunk := range slices.Chunk(ids, maxListArgs) {
			cond, cargs := d.inList("id", chunk)
			res, err := d.exec(ctx, tx, q+` AND `+cond, append(slices.Clip(args), cargs...)...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		if ids == nil {
			res, err := d.exec(ctx, tx, q, args...)
			if err != nil {
				return err
			}
			if total, err = res.RowsAffected(); err != nil {
				return err
			}
		}
		if total > 0 {
			return d.notify(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return 0, unavailable("release leases", err)
	}
	return int(total), nil
}

// maxListArgs bounds the values of one IN list (SQLite limits the parameters of a statement).
const maxListArgs = 500

// CancelDeliveries implements core.Store.
func (d *DB) CancelDeliveries(ctx context.Context, keep []string, reason string, now time.Time) (int, error) {
	q := `UPDATE deliveries
		SET state = 'cancelled', last_error = ?, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?
		WHERE (state = 'pending' OR (state = 'running' AND lease_until_ms < ?))`
	args := []any{reason, ms(now), ms(now)}
	if len(keep) > 0 {
		// Target names come from the config: a short list.
		cond, cargs := d.inList("target", keep)
		q += ` AND NOT (` + cond + `)`
		args = append(args, cargs...)
	}
	res, err := d.exec(ctx, d.w, q, args...)
	if err != nil {
		return 0, unavailable("cancel deliveries", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("cancel deliveries", err)
	}
	return int(n), nil
}

// Unfinished implements core.Store.
func (d *DB) Unfinished(ctx context.Context) (int, error) {
	var n int
	if err := d.queryRow(ctx, d.r, `SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'running')`).Scan(&n); err != nil {
		return 0, unavailable("count unfinished deliveries", err)
	}
	return n, nil
}

// QueueStats implements core.Store.
func (d *DB) QueueStats(ctx context.Context) ([]core.QueueStats, error) {
	// Two queries, each from a partial index (unfinished deliveries; dead ones), so a scrape
	// costs what is queued or dead, not the whole delivery history.
	byTarget := map[string]*core.QueueStats{}
	stats := func(target string) *core.QueueStats {
		st := byTarget[target]
		if st == nil {
			st = &core.QueueStats{Target: target}
			byTarget[target] = st
		}
		return st
	}
	rows, err := d.query(ctx, d.r, `SELECT target,
			SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END),
			SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END),
			MIN(created_at_ms)
		FROM deliveries WHERE state IN ('pending', 'running') GROUP BY target`)
	if err != nil {
		return nil, unavailable("queue stats", err)
	}
	for rows.Next() {
		var target string
		var pending, running, oldest int64
		if err := rows.Scan(&target, &pending, &running, &oldest); err != nil {
			rows.Close()
			return nil, unavailable("queue stats", err)
		}
		st := stats(target)
		st.Pending, st.Running, st.OldestUnfinished = int(pending), int(running), fromMS(oldest)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, unavailable("queue stats", err)
	}
	rows, err = d.query(ctx, d.r, `SELECT target, COUNT(*) FROM deliveries WHERE state = 'dead' GROUP BY target`)
	if err != nil {
		return nil, unavailable("queue stats", err)
	}
	defer rows.Close()
	for rows.Next() {
		var target string
		var dead int64
		if err := rows.Scan(&target, &dead); err != nil {
			return nil, unavailable("queue stats", err)
		}
		stats(target).Dead = int(dead)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("queue stats", err)
	}
	out := make([]core.QueueStats, 0, len(byTarget))
	for _, st := range byTarget {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b core.QueueStats) int { return strings.Compare(a.Target, b.Target) })
	return out, nil
}

const insertAttemptSQL = `INSERT INTO attempts
	(delivery_id, number, started_at_ms, duration_ms, outcome, status_code, error, response)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

const deliveryColumns = `d.id, d.event_id, d.target, d.route, d.state, d.attempts, d.retry_base, d.next_attempt_at_ms,
	COALESCE(d.lease_owner, ''), COALESCE(d.lease_until_ms, 0), d.last_error, d.created_at_ms, d.updated_at_ms, e.type`

// Deliveries implements core.Store.
func (d *DB) Deliveries(ctx context.Context, f core.DeliveryFilter) ([]*core.Delivery, error) {
	p, err := d.DeliveryPage(ctx, f)
	return p.Deliveries, err
}

// DeliveryPage implements core.Store. The cursor is the last row's (created_at, id), so pages
// stay stable while new deliveries arrive.
func (d *DB) DeliveryPage(ctx context.Context, f core.DeliveryFilter) (core.DeliveryPage, error) {
	q := `SELECT ` + deliveryColumns + ` FROM deliveries d JOIN events e ON e.id = d.event_id WHERE 1 = 1`
	var args []any
	switch {
	case f.Failed:
		q += ` AND d.state = 'pending' AND d.attempts > d.retry_base`
	case f.State != "":
		q += ` AND d.state = ?`
		args = append(args, string(f.State))
	}
	if f.Target != "" {
		q += ` AND d.target = ?`
		args = append(args, f.Target)
	}
	if f.Targets != nil {
		if len(f.Targets) == 0 {
			return core.DeliveryPage{}, nil
		}
		cond, cargs := d.inList("d.target", f.Targets)
		q += ` AND ` + cond
		args = append(args, cargs...)
	}
	if f.EventType != "" {
		q += ` AND e.type = ?`
		args = append(args, f.EventType)
	}
	if !f.From.IsZero() {
		q += ` AND d.created_at_ms >= ?`
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND d.created_at_ms <= ?`
		args = append(args, ms(f.To))
	}
	if f.Cursor != "" {
		created, id, err := parseCursor(f.Cursor)
		if err != nil {
			return core.DeliveryPage{}, err
		}
		q += ` AND (d.created_at_ms < ? OR (d.created_at_ms = ? AND d.id < ?))`
		args = append(args, created, created, id)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	q += ` ORDER BY d.created_at_ms DESC, d.id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := d.query(ctx, d.r, q, args...)
	if err != nil {
		return core.DeliveryPage{}, unavailable("list deliveries", err)
	}
	defer rows.Close()
	var out []*core.Delivery
	for rows.Next() {
		dl, err := scanDelivery(rows)
		if err != nil {
			return core.DeliveryPage{}, unavailable("list deliveries", err)
		}
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return core.DeliveryPage{}, unavailable("list deliveries", err)
	}
	page := core.DeliveryPage{Deliveries: out}
	if len(out) > limit {
		page.Deliveries = out[:limit]
		last := out[limit-1]
		page.NextCursor = fmt.Sprintf("%d.%s", last.CreatedAt.UnixMilli(), last.ID)
	}
	return page, nil
}

// ErrBadCursor is returned for a cursor that no listing produced.
var ErrBadCursor = errors.New("cursor: not one this listing returned")

func parseCursor(c string) (int64, string, error) {
	msPart, id, ok := strings.Cut(c, ".")
	created, err := strconv.ParseInt(msPart, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", ErrBadCursor
	}
	return created, id, nil
}

func scanDelivery(rows interface{ Scan(...any) error }) (*core.Delivery, error) {
	dl := &core.Delivery{}
	var state string
	var next, until, created, updated int64
	if err := rows.Scan(&dl.ID, &dl.EventID, &dl.Target, &dl.Route, &state, &dl.Attempts, &dl.RetryBase, &next,
		&dl.LeaseOwner, &until, &dl.LastError, &created, &updated, &dl.EventType); err != nil {
		return nil, err
	}
	dl.State = core.State(state)
	dl.NextAttemptAt, dl.LeaseUntil, dl.CreatedAt, dl.UpdatedAt = fromMS(next), fromMS(until), fromMS(created), fromMS(updated)
	return dl, nil
}

// Delivery implements core.Store.
func (d *DB) Delivery(ctx context.Context, id string) (*core.Delivery, error) {
	row := d.queryRow(ctx, d.r, `SELECT `+deliveryColumns+` FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = ?`, id)
	dl, err := scanDelivery(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.ErrNotFound
	}
	if err != nil {
		return nil, unavailable("get delivery", err)
	}
	return dl, nil
}

// RetryDelivery implements core.Store.
func (d *DB) RetryDelivery(ctx context.Context, id string, now time.Time) error {
	res, err := d.exec(ctx, d.w, `UPDATE deliveries SET state = 'pending', next_attempt_at_ms = ?, retry_base = attempts,
		lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?
		WHERE id = ? AND state <> 'running'`, ms(now), ms(now), id)
	if err != nil {
		return unavailable("retry delivery", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("retry delivery", err)
	} else if n == 1 {
		if d.dialect == dialectPostgres {
			_, _ = d.w.ExecContext(ctx, `SELECT pg_notify('`+notifyChannel+`', COALESCE(current_schema(), ''))`)
		}
		return nil
	}
	if _, err := d.Delivery(ctx, id); err != nil {
		return err
	}
	return core.ErrConflict
}

// AttemptsOf implements core.Store.
func (d *DB) AttemptsOf(ctx context.Context, ids []string) (map[string][]core.Attempt, error) {
	out := map[string][]core.Attempt{}
	for chunk := range slices.Chunk(ids, maxListArgs) {
		cond, args := d.inList("delivery_id", chunk)
		rows, err := d.query(ctx, d.r, `SELECT delivery_id, number, started_at_ms, duration_ms, outcome, status_code, error, response
			FROM attempts WHERE `+cond+` ORDER BY delivery_id, number, id`, args...)
		if err != nil {
			return nil, unavailable("list attempts", err)
		}
		for rows.Next() {
			var a core.Attempt
			var started, dur int64
			if err := rows.Scan(&a.DeliveryID, &a.Number, &started, &dur, &a.Outcome, &a.StatusCode, &a.Error, &a.Response); err != nil {
				rows.Close()
				return nil, unavailable("list attempts", err)
			}
			a.StartedAt, a.Duration = fromMS(started), time.Duration(dur)*time.Millisecond
			out[a.DeliveryID] = append(out[a.DeliveryID], a)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, unavailable("list attempts", err)
		}
	}
	return out, nil
}

// Attempts implements core.Store.
func (d *DB) Attempts(ctx context.Context, deliveryID string) ([]core.Attempt, error) {
	rows, err := d.query(ctx, d.r, `SELECT number, started_at_ms, duration_ms, outcome, status_code, error, response
		FROM attempts WHERE delivery_id = ? ORDER BY number, id`, deliveryID)
	if err != nil {
		return nil, unavailable("list attempts", err)
	}
	defer rows.Close()
	var out []core.Attempt
	for rows.Next() {
		a := core.Attempt{DeliveryID: deliveryID}
		var started, dur int64
		if err := rows.Scan(&a.Number, &started, &dur, &a.Outcome, &a.StatusCode, &a.Error, &a.Response); err != nil {
			return nil, unavailable("list attempts", err)
		}
		a.StartedAt, a.Duration = fromMS(started), time.Duration(dur)*time.Millisecond
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list attempts", err)
	}
	return out, nil
}

// Prune implements core.Store.
func (d *DB) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	// In batches of pruneBatch events, oldest first (keyset on received_at_ms, id), each its own
	// short transaction, so ingest (which shares SQLite's one writer) waits for one batch at
	// most, never for the whole prune.
	var total int64
	lastMS, lastID := int64(math.MinInt64), ""
	for {
		rows, err := d.query(ctx, d.r, `SELECT received_at_ms, id FROM events
			WHERE (received_at_ms, id) > (?, ?) AND received_at_ms < ? ORDER BY received_at_ms, id LIMIT ?`,
			lastMS, lastID, ms(cutoff), pruneBatch)
		if err != nil {
			return total, unavailable("prune", err)
		}
		var ids []any
		for rows.Next() {
			var id string
			if err := rows.Scan(&lastMS, &id); err != nil {
				rows.Close()
				return total, unavailable("prune", err)
			}
			ids, lastID = append(ids, id), id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, unavailable("prune", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := d.pruneEvents(ctx, ids)
		if err != nil {
			return total, unavailable("prune", err)
		}
		total += n
		if len(ids) < pruneBatch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// pruneBatch is how many events one prune transaction looks at.
const pruneBatch = 500

// pruneEvents deletes those of the events ids that can go. Kept: events with unfinished
// deliveries, events still waiting for a digest or in an open group, and events of a digest
// run or group whose delivery is unfinished.
func (d *DB) pruneEvents(ctx context.Context, ids []any) (int64, error) {
	res, err := d.exec(ctx, d.w, `DELETE FROM events WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)
		AND NOT EXISTS (SELECT 1 FROM deliveries WHERE deliveries.event_id = events.id
			AND deliveries.state IN ('pending', 'running'))
		AND NOT EXISTS (SELECT 1 FROM digest_items di WHERE di.event_id = events.id
			AND (di.run_id IS NULL OR EXISTS (SELECT 1 FROM deliveries dd WHERE dd.event_id = di.run_id
				AND dd.state IN ('pending', 'running'))))
		AND NOT EXISTS (SELECT 1 FROM group_items gi WHERE gi.event_id = events.id
			AND (gi.group_id IS NULL OR EXISTS (SELECT 1 FROM deliveries dd WHERE dd.event_id = gi.group_id
				AND dd.state IN ('pending', 'running'))))`, ids...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
