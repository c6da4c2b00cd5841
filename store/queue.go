package store

// The delivery queue apart from leases (lease.go): what is due, leases handed back, deliveries
// of removed targets cancelled, the queue's size, and the pruning of finished events.

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

const dueCondition = `((state = 'pending' AND next_attempt_at_ms <= ?) OR (state = 'running' AND lease_until_ms < ?))`

// dueTargetsSQL lists the targets of due deliveries in two parts, each answered from its partial
// index (deliveries_due, deliveries_leased) and so proportional to what is due, not to the
// table. A SELECT DISTINCT over the OR, a UNION, or a DISTINCT on the expired leases (a handful
// of rows) lets SQLite read the (target, created_at) listing index for its order and scan every
// delivery, four times a second (TestDueTargetsUsesTheDueIndexes); DueTargets removes repeats.
const dueTargetsSQL = `SELECT DISTINCT target FROM deliveries WHERE state = 'pending' AND next_attempt_at_ms <= ?
	UNION ALL SELECT target FROM deliveries WHERE state = 'running' AND lease_until_ms < ?`

// DueTargets implements core.DispatcherStore.
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

// ReleaseLeases implements core.QueueStore. The released deliveries wake the other replicas
// (d.notify, on Postgres): they are due now, and this one is shutting down or retiring a worker
// pool.
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

// CancelDeliveries implements core.DispatcherStore.
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

// Unfinished implements core.BusStore.
func (d *DB) Unfinished(ctx context.Context) (int, error) {
	var n int
	if err := d.queryRow(ctx, d.r, `SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'running')`).Scan(&n); err != nil {
		return 0, unavailable("count unfinished deliveries", err)
	}
	return n, nil
}

// QueueStats implements dashboard.Store.
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

// Prune implements core.DispatcherStore.
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
			return total, d.pruneScans(ctx, cutoff)
		}
		n, err := d.pruneEvents(ctx, ids)
		if err != nil {
			return total, unavailable("prune", err)
		}
		total += n
		if len(ids) < pruneBatch {
			return total, d.pruneScans(ctx, cutoff)
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
func (d *DB) pruneEvents(ctx context.Context, ids []any) (n int64, err error) {
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		if n, err = d.deleteEvents(ctx, tx, ids); err != nil || d.lister == nil {
			return err
		}
		_, err = tx.ExecContext(ctx, clampListedSQL)
		return err
	})
	return n, err
}

// deleteEvents is pruneEvents' DELETE, in tx.
func (d *DB) deleteEvents(ctx context.Context, tx *sql.Tx, ids []any) (int64, error) {
	res, err := d.exec(ctx, tx, `DELETE FROM events WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)
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
