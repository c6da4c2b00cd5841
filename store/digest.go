package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// SyncDigests implements core.SchedulerStore.
func (d *DB) SyncDigests(ctx context.Context, ds []core.DigestSchedule) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		keep := map[string]bool{}
		for _, s := range ds {
			keep[s.Name] = true
			var schedule string
			err := d.queryRow(ctx, tx, `SELECT schedule FROM digests WHERE name = ?`, s.Name).Scan(&schedule)
			switch {
			case err == sql.ErrNoRows:
				// Another replica syncing the same config at the same time may have added it.
				_, err = d.exec(ctx, tx, `INSERT INTO digests (name, schedule, last_end_ms, next_run_at_ms) VALUES (?, ?, ?, ?)
					ON CONFLICT (name) DO NOTHING`, s.Name, s.Schedule, ms(s.LastEnd), ms(s.NextRun))
			case err == nil && schedule != s.Schedule:
				_, err = d.exec(ctx, tx, `UPDATE digests SET schedule = ?, next_run_at_ms = ? WHERE name = ?`, s.Schedule, ms(s.NextRun), s.Name)
			}
			if err != nil {
				return err
			}
		}
		rows, err := d.query(ctx, tx, `SELECT name FROM digests ORDER BY name`)
		if err != nil {
			return err
		}
		var gone []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			if !keep[n] {
				gone = append(gone, n)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, n := range gone {
			if _, err := d.exec(ctx, tx, `DELETE FROM digests WHERE name = ?`, n); err != nil {
				return err
			}
			if _, err := d.exec(ctx, tx, `DELETE FROM digest_items WHERE digest = ? AND run_id IS NULL`, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return unavailable("sync digests", err)
	}
	return nil
}

// DigestState implements dashboard.Store.
func (d *DB) DigestState(ctx context.Context, name string) (core.DigestSchedule, bool, error) {
	s := core.DigestSchedule{Name: name}
	var last, next int64
	err := d.queryRow(ctx, d.r, `SELECT schedule, last_end_ms, next_run_at_ms FROM digests WHERE name = ?`, name).Scan(&s.Schedule, &last, &next)
	if err == sql.ErrNoRows {
		return s, false, nil
	}
	if err != nil {
		return s, false, unavailable("digest state", err)
	}
	s.LastEnd, s.NextRun = fromMS(last), fromMS(next)
	return s, true, nil
}

// ClaimDigests implements core.SchedulerStore.
func (d *DB) ClaimDigests(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]core.DigestSchedule, error) {
	// On Postgres a concurrent claim of the same row waits for this one's commit, then re-checks
	// the WHERE against the new lease and skips the row: each digest goes to one replica.
	rows, err := d.query(ctx, d.w, `UPDATE digests SET lease_owner = ?, lease_until_ms = ?
		WHERE next_run_at_ms <= ? AND (lease_owner IS NULL OR lease_until_ms < ?)
		RETURNING name, schedule, last_end_ms, next_run_at_ms`, owner, ms(now.Add(lease)), ms(now), ms(now))
	if err != nil {
		return nil, unavailable("claim digests", err)
	}
	defer rows.Close()
	var out []core.DigestSchedule
	for rows.Next() {
		var s core.DigestSchedule
		var last, next int64
		if err := rows.Scan(&s.Name, &s.Schedule, &last, &next); err != nil {
			return nil, unavailable("claim digests", err)
		}
		s.LastEnd, s.NextRun = fromMS(last), fromMS(next)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("claim digests", err)
	}
	return out, nil
}

// RunDigest implements core.SchedulerStore.
func (d *DB) RunDigest(ctx context.Context, r core.DigestRunRequest) (int, error) {
	var n int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := d.exec(ctx, tx, `UPDATE digest_items SET run_id = ?
			WHERE digest = ? AND run_id IS NULL AND received_at_ms <= ?`, r.Event.ID, r.Name, ms(r.PeriodEnd))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if (n > 0 || r.SendEmpty) && r.Delivery != nil {
			if err := d.insertOwnEvent(ctx, tx, r.Event, r.Delivery); err != nil {
				return err
			}
		}
		res, err = d.exec(ctx, tx, `UPDATE digests SET last_end_ms = ?, next_run_at_ms = ?, lease_owner = NULL, lease_until_ms = NULL
			WHERE name = ? AND lease_owner = ?`, ms(r.PeriodEnd), ms(r.NextRun), r.Name, r.Owner)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			return core.ErrLeaseLost
		}
		return nil
	})
	if err == core.ErrLeaseLost {
		return 0, fmt.Errorf("digest %s: %w", r.Name, err)
	}
	if err != nil {
		return 0, unavailable("run digest", err)
	}
	return int(n), nil
}

// insertOwnEvent stores one of the bridge's own events (a digest run, a fired group) with its
// delivery, and wakes the idle replicas.
func (d *DB) insertOwnEvent(ctx context.Context, tx *sql.Tx, ev *event.Event, dl *core.Delivery) error {
	if _, err := d.exec(ctx, tx, d.dialect.insertEvent, eventArgs(ev)...); err != nil {
		return err
	}
	d.lister.stored()
	stmt, err := d.prepare(ctx, tx, insertDeliverySQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
	if err := insertDeliveries(ctx, stmt, ev.ID, ev.ReceivedAt, []*core.Delivery{dl}); err != nil {
		return err
	}
	if dl.State != core.StatePending {
		return nil
	}
	return d.notify(ctx, tx)
}

// DigestEvents implements core.DispatcherStore.
func (d *DB) DigestEvents(ctx context.Context, runID string) ([]*event.Event, error) {
	return d.queryEventsInOrder(ctx, nil, `SELECT e.id, length(e.body) FROM digest_items di JOIN events e ON e.id = di.event_id
		WHERE di.run_id = ? ORDER BY e.occurred_at_ms, e.id`, runID)
}

// DigestWindow returns the events digest name collected with received_at in [from, to], in a
// run or not (the digest command's ad-hoc reports), oldest first.
func (d *DB) DigestWindow(ctx context.Context, name string, from, to time.Time) ([]*event.Event, error) {
	return d.queryEventsInOrder(ctx, nil, `SELECT e.id, length(e.body) FROM digest_items di JOIN events e ON e.id = di.event_id
		WHERE di.digest = ? AND di.received_at_ms >= ? AND di.received_at_ms <= ? ORDER BY e.occurred_at_ms, e.id`, name, ms(from), ms(to))
}
