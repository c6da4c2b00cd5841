package store

// Deliveries, attempts and events read back: the listings of the API, the dashboard and the CLI.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

const deliveryColumns = `d.id, d.event_id, d.target, d.route, d.state, d.attempts, d.retry_base, d.next_attempt_at_ms,
	COALESCE(d.lease_owner, ''), COALESCE(d.lease_until_ms, 0), d.last_error, d.created_at_ms, d.updated_at_ms, e.type`

// Deliveries lists the deliveries f selects, newest first: the first page of DeliveryPage.
func (d *DB) Deliveries(ctx context.Context, f core.DeliveryFilter) ([]*core.Delivery, error) {
	p, err := d.DeliveryPage(ctx, f)
	return p.Deliveries, err
}

// DeliveryPage implements api.ManagementStore. The cursor is the last row's (created_at, id), so pages
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
		limit = core.DefaultPageSize
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

func parseCursor(c string) (int64, string, error) {
	msPart, id, ok := strings.Cut(c, ".")
	created, err := strconv.ParseInt(msPart, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", core.ErrBadCursor
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

// Delivery implements api.ManagementStore.
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

// RetryDelivery implements api.ManagementStore.
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
		_ = d.notify(ctx, d.w)
		return nil
	}
	if _, err := d.Delivery(ctx, id); err != nil {
		return err
	}
	return core.ErrConflict
}

// AttemptsOf implements api.ManagementStore.
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

// Attempts lists a delivery's attempts, oldest first.
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

const eventColumns = `id, received_at_ms, sender_delivery, body`

// driverBytes scans a BLOB (SQLite) or BYTEA (Postgres) column into the []byte the driver made
// for it, without the copy database/sql makes for a *[]byte: for an event body of up to
// ingest.max_body_bytes (1 MiB by default), read for every claim and group item, that copy was
// half of what loading it allocated (BENCHMARKS.md, hostile input). It is kept after the next
// row because both drivers the store uses allocate each row's value afresh (modernc.org/sqlite:
// conn.columnBlob; pgx: pgtype's bytea scan plans, through its stdlib rows); the store tests
// check that the bodies of events loaded together stay intact.
type driverBytes []byte

// Scan implements sql.Scanner.
func (b *driverBytes) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		*b = v
	case string:
		*b = []byte(v)
	case nil:
		*b = nil
	default:
		return fmt.Errorf("event body: a %T, want bytes", src)
	}
	return nil
}

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
		var body driverBytes
		if err := rows.Scan(&id, &received, &sender, &body); err != nil {
			return nil, unavailable("load events", err)
		}
		ev, err := event.Parse([]byte(body))
		if err != nil {
			if broken != nil {
				broken[id] = err
			}
			continue
		}
		// id is the stored form (on Postgres, pgText's), which the deliveries refer to; it is
		// the parsed id wherever that was storable as it is.
		ev.ID, ev.ReceivedAt, ev.Delivery = id, fromMS(received), sender
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("load events", err)
	}
	return out, nil
}
