// Package store keeps events, deliveries and attempts in SQL and implements core.Store: the
// ingest writer, the delivery queue's claim/renew/complete statements and the listings. SQLite
// (modernc.org/sqlite, pure Go) is the embedded default; the schema is managed by goose.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/cortexbridge/cortex-bridge/core"
)

//go:embed migrations
var migrations embed.FS

// DB is a core.Store on a SQL database. Writes go through one connection (SQLite allows one
// writer at a time; a single connection avoids busy waits), reads through a small pool.
type DB struct {
	w, r *sql.DB
}

var _ core.Store = (*DB)(nil)

// Open opens (creating if needed) the database named by driver and dsn and applies pending
// migrations. driver is "sqlite" (dsn: a file path). It returns an error naming the file when
// the database cannot be opened or migrated.
func Open(ctx context.Context, driver, dsn string) (*DB, error) {
	switch driver {
	case "sqlite", "":
		return openSQLite(ctx, dsn)
	default:
		return nil, fmt.Errorf("storage.driver: unknown driver %q (want sqlite)", driver)
	}
}

func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, dir string) error {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close closes both connection pools.
func (d *DB) Close() error { return errors.Join(d.w.Close(), d.r.Close()) }

// Ping reports whether both the writer and a reader answer.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.w.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
	}
	var one int
	if err := d.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
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

const insertEventSQL = `INSERT INTO events
	(id, type, occurred_at_ms, received_at_ms, sender_delivery, body)
	VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

// Ingest implements core.Store.
func (d *DB) Ingest(ctx context.Context, items []core.IngestItem) ([]bool, error) {
	dup := make([]bool, len(items))
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		insEvent, err := tx.PrepareContext(ctx, insertEventSQL)
		if err != nil {
			return err
		}
		defer insEvent.Close()
		insDelivery, err := tx.PrepareContext(ctx, insertDeliverySQL)
		if err != nil {
			return err
		}
		defer insDelivery.Close()
		insItem, err := tx.PrepareContext(ctx, `INSERT INTO digest_items (digest, event_id, received_at_ms) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insItem.Close()
		for i, it := range items {
			ev := it.Event
			res, err := insEvent.ExecContext(ctx, ev.ID, ev.Type, ms(ev.Timestamp), ms(ev.ReceivedAt), ev.Delivery, ev.Raw)
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
				if _, err := insItem.ExecContext(ctx, name, ev.ID, ms(ev.ReceivedAt)); err != nil {
					return err
				}
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
	 lease_until_ms, created_at_ms, updated_at_ms)
	VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`

func insertDeliveries(ctx context.Context, stmt *sql.Stmt, eventID string, ds []*core.Delivery) error {
	for _, dl := range ds {
		var owner, until any
		if dl.LeaseOwner != "" {
			owner, until = dl.LeaseOwner, ms(dl.LeaseUntil)
		}
		if _, err := stmt.ExecContext(ctx, dl.ID, eventID, dl.Target, dl.Route, string(dl.State),
			ms(dl.NextAttemptAt), owner, until, ms(dl.CreatedAt), ms(dl.CreatedAt)); err != nil {
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

// DueTargets implements core.Store.
func (d *DB) DueTargets(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT DISTINCT target FROM deliveries WHERE `+dueCondition, ms(now), ms(now))
	if err != nil {
		return nil, unavailable("due targets", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, unavailable("due targets", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Claim implements core.Store.
func (d *DB) Claim(ctx context.Context, r core.ClaimRequest) ([]*core.Delivery, error) {
	if r.Limit <= 0 {
		return nil, nil
	}
	now := ms(r.Now)
	rows, err := d.w.QueryContext(ctx, `UPDATE deliveries
		SET state = 'running', lease_owner = ?, lease_until_ms = ?, updated_at_ms = ?
		WHERE id IN (SELECT id FROM deliveries WHERE target = ? AND `+dueCondition+`
			ORDER BY next_attempt_at_ms LIMIT ?)
		RETURNING id, event_id, target, route, attempts, next_attempt_at_ms, last_error, created_at_ms`,
		r.Owner, ms(r.Now.Add(r.Lease)), now, r.Target, now, now, r.Limit)
	if err != nil {
		return nil, unavailable("claim", err)
	}
	var out []*core.Delivery
	for rows.Next() {
		dl := &core.Delivery{State: core.StateRunning, LeaseOwner: r.Owner, LeaseUntil: r.Now.Add(r.Lease), UpdatedAt: r.Now}
		var next, created int64
		if err := rows.Scan(&dl.ID, &dl.EventID, &dl.Target, &dl.Route, &dl.Attempts, &next, &dl.LastError, &created); err != nil {
			rows.Close()
			return nil, unavailable("claim", err)
		}
		dl.NextAttemptAt, dl.CreatedAt = fromMS(next), fromMS(created)
		out = append(out, dl)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, unavailable("claim", err)
	}
	if err := d.loadEvents(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// loadEvents sets Event on each delivery from the events table.
func (d *DB) loadEvents(ctx context.Context, ds []*core.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	byID := map[string][]*core.Delivery{}
	args := make([]any, 0, len(ds))
	for _, dl := range ds {
		if _, ok := byID[dl.EventID]; !ok {
			args = append(args, dl.EventID)
		}
		byID[dl.EventID] = append(byID[dl.EventID], dl)
	}
	q := `SELECT ` + eventColumns + ` FROM events WHERE id IN (?` + strings.Repeat(", ?", len(args)-1) + `)`
	evs, err := d.queryEvents(ctx, q, args...)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		for _, dl := range byID[ev.ID] {
			dl.Event = ev
		}
	}
	return nil
}

const eventColumns = `id, received_at_ms, sender_delivery, body`

// queryEvents runs q, which selects eventColumns, and parses each stored body.
func (d *DB) queryEvents(ctx context.Context, q string, args ...any) ([]*core.Event, error) {
	rows, err := d.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, unavailable("load events", err)
	}
	defer rows.Close()
	var out []*core.Event
	for rows.Next() {
		var id, sender string
		var received int64
		var body []byte
		if err := rows.Scan(&id, &received, &sender, &body); err != nil {
			return nil, unavailable("load events", err)
		}
		ev, err := core.ParseEvent(body)
		if err != nil {
			return nil, fmt.Errorf("stored event %s no longer parses: %w", id, err)
		}
		ev.ReceivedAt, ev.Delivery = fromMS(received), sender
		out = append(out, ev)
	}
	return out, rows.Err()
}

// RenewLeases implements core.Store.
func (d *DB) RenewLeases(ctx context.Context, owner string, until time.Time) (int, error) {
	res, err := d.w.ExecContext(ctx, `UPDATE deliveries SET lease_until_ms = ?
		WHERE state = 'running' AND lease_owner = ?`, ms(until), owner)
	if err != nil {
		return 0, unavailable("renew leases", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ReleaseLeases implements core.Store.
func (d *DB) ReleaseLeases(ctx context.Context, owner string, now time.Time) (int, error) {
	res, err := d.w.ExecContext(ctx, `UPDATE deliveries
		SET state = 'pending', lease_owner = NULL, lease_until_ms = NULL, next_attempt_at_ms = ?, updated_at_ms = ?
		WHERE state = 'running' AND lease_owner = ?`, ms(now), ms(now), owner)
	if err != nil {
		return 0, unavailable("release leases", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Complete implements core.Store.
func (d *DB) Complete(ctx context.Context, cs []core.Completion) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		insAttempt, err := tx.PrepareContext(ctx, `INSERT INTO attempts
			(delivery_id, number, started_at_ms, duration_ms, outcome, status_code, error, response)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insAttempt.Close()
		upd, err := tx.PrepareContext(ctx, `UPDATE deliveries
			SET state = ?, attempts = ?, next_attempt_at_ms = ?, last_error = ?,
			    lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?
			WHERE id = ? AND state = 'running' AND lease_owner = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()
		for _, c := range cs {
			a := c.Attempt
			if _, err := insAttempt.ExecContext(ctx, a.DeliveryID, a.Number, ms(a.StartedAt), a.Duration.Milliseconds(),
				a.Outcome, a.StatusCode, a.Error, a.Response); err != nil {
				return err
			}
			end := a.StartedAt.Add(a.Duration)
			if _, err := upd.ExecContext(ctx, string(c.State), a.Number, ms(c.NextAttemptAt), c.LastError,
				ms(end), a.DeliveryID, c.LeaseOwner); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return unavailable("complete", err)
	}
	return nil
}

const deliveryColumns = `id, event_id, target, route, state, attempts, next_attempt_at_ms,
	COALESCE(lease_owner, ''), COALESCE(lease_until_ms, 0), last_error, created_at_ms, updated_at_ms`

// Deliveries implements core.Store.
func (d *DB) Deliveries(ctx context.Context, f core.DeliveryFilter) ([]*core.Delivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE 1 = 1`
	var args []any
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, string(f.State))
	}
	if f.Target != "" {
		q += ` AND target = ?`
		args = append(args, f.Target)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q += ` ORDER BY created_at_ms DESC, id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := d.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, unavailable("list deliveries", err)
	}
	defer rows.Close()
	var out []*core.Delivery
	for rows.Next() {
		dl := &core.Delivery{}
		var state string
		var next, until, created, updated int64
		if err := rows.Scan(&dl.ID, &dl.EventID, &dl.Target, &dl.Route, &state, &dl.Attempts, &next,
			&dl.LeaseOwner, &until, &dl.LastError, &created, &updated); err != nil {
			return nil, unavailable("list deliveries", err)
		}
		dl.State = core.State(state)
		dl.NextAttemptAt, dl.LeaseUntil, dl.CreatedAt, dl.UpdatedAt = fromMS(next), fromMS(until), fromMS(created), fromMS(updated)
		out = append(out, dl)
	}
	return out, rows.Err()
}

// Attempts implements core.Store.
func (d *DB) Attempts(ctx context.Context, deliveryID string) ([]core.Attempt, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT number, started_at_ms, duration_ms, outcome, status_code, error, response
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
	return out, rows.Err()
}

// Prune implements core.Store.
func (d *DB) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	// Kept: events with unfinished deliveries, events still waiting for a digest, and events of a
	// digest run whose delivery is unfinished.
	res, err := d.w.ExecContext(ctx, `DELETE FROM events WHERE received_at_ms < ?
		AND NOT EXISTS (SELECT 1 FROM deliveries WHERE deliveries.event_id = events.id
			AND deliveries.state IN ('pending', 'running'))
		AND NOT EXISTS (SELECT 1 FROM digest_items di WHERE di.event_id = events.id
			AND (di.run_id IS NULL OR EXISTS (SELECT 1 FROM deliveries dd WHERE dd.event_id = di.run_id
				AND dd.state IN ('pending', 'running'))))`, ms(cutoff))
	if err != nil {
		return 0, unavailable("prune", err)
	}
	return res.RowsAffected()
}
