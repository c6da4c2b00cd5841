package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// The dashboard's read-only queries. They run on the reader pool and aggregate in SQL, so a page
// costs a few indexed scans of the window it shows, not a load of the log.

// targetCond returns " AND <col> IN (…)" for targets (nil: no condition) and whether the query
// can match anything at all (an empty, non-nil set matches nothing).
func (d *DB) targetCond(col string, targets []string) (string, []any, bool) {
	if targets == nil {
		return "", nil, true
	}
	if len(targets) == 0 {
		return "", nil, false
	}
	cond, args := d.inList(col, targets)
	return ` AND ` + cond, args, true
}

// DeliveryCounts implements dashboard.Store.
func (d *DB) DeliveryCounts(ctx context.Context, targets []string, since time.Time) (map[string]int, error) {
	out := map[string]int{}
	cond, cargs, some := d.targetCond("target", targets)
	if !some {
		return out, nil
	}
	rows, err := d.query(ctx, d.r, `SELECT CASE WHEN state = 'pending' AND attempts > retry_base THEN 'failed' ELSE state END, COUNT(*)
		FROM deliveries WHERE created_at_ms >= ?`+cond+` GROUP BY 1`, append([]any{ms(since)}, cargs...)...)
	if err != nil {
		return nil, unavailable("count deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, unavailable("count deliveries", err)
		}
		out[status] += n
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("count deliveries", err)
	}
	return out, nil
}

// Activity implements dashboard.Store.
func (d *DB) Activity(ctx context.Context, targets []string, from, to time.Time, step time.Duration) ([]core.ActivityBucket, error) {
	if !to.After(from) {
		return nil, nil
	}
	span := to.Sub(from)
	if step <= 0 || step > span {
		step = span
	}
	n := int((span + step - 1) / step)
	out := make([]core.ActivityBucket, n)
	for i := range out {
		out[i].Start = from.Add(time.Duration(i) * step).UTC()
	}
	f, t, st := ms(from), ms(to), step.Milliseconds()
	bucket := func(rows *sql.Rows, set func(b *core.ActivityBucket, counts []int64)) error {
		defer rows.Close()
		for rows.Next() {
			var i int64
			counts := []int64{0, 0}
			if err := rows.Scan(&i, &counts[0], &counts[1]); err != nil {
				return err
			}
			if i >= 0 && i < int64(n) {
				set(&out[i], counts)
			}
		}
		return rows.Err()
	}
	// The bridge stores events of its own (digest runs and groups: cortex_bridge.*; alerts:
	// bridge.*; findings derived from scans: finding.*, see core.IsReservedEventType); they were
	// not received.
	rows, err := d.query(ctx, d.r, `SELECT (received_at_ms - ?) / ?, COUNT(*), 0 FROM events
		WHERE received_at_ms >= ? AND received_at_ms < ?
			AND substr(type, 1, 7) <> 'bridge.' AND substr(type, 1, 14) <> 'cortex_bridge.'
			AND substr(type, 1, 8) <> 'finding.' GROUP BY 1`, f, st, f, t)
	if err == nil {
		err = bucket(rows, func(b *core.ActivityBucket, c []int64) { b.Events = int(c[0]) })
	}
	if err != nil {
		return nil, unavailable("activity", err)
	}
	cond, cargs, some := d.targetCond("d.target", targets)
	if !some {
		return out, nil
	}
	rows, err = d.query(ctx, d.r, `SELECT (a.started_at_ms - ?) / ?, COUNT(*), SUM(CASE WHEN a.outcome <> 'success' THEN 1 ELSE 0 END)
		FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
		WHERE a.started_at_ms >= ? AND a.started_at_ms < ?`+cond+` GROUP BY 1`, append([]any{f, st, f, t}, cargs...)...)
	if err == nil {
		err = bucket(rows, func(b *core.ActivityBucket, c []int64) { b.Attempts, b.FailedAttempts = int(c[0]), int(c[1]) })
	}
	if err != nil {
		return nil, unavailable("activity", err)
	}
	return out, nil
}

// TargetHealth implements dashboard.Store. One statement: the attempts in the window (t), each
// target's last success (ok) and last attempt (last, by end time then insertion order), and the
// failures that ended after the last success.
func (d *DB) TargetHealth(ctx context.Context, targets []string, since time.Time) ([]core.TargetHealth, error) {
	cond, cargs, some := d.targetCond("d.target", targets)
	if !some {
		return nil, nil
	}
	rows, err := d.query(ctx, d.r, `WITH t AS (
			SELECT d.target AS target, a.outcome AS outcome, a.error AS error,
				a.started_at_ms + a.duration_ms AS ended, a.id AS aid
			FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE a.started_at_ms + a.duration_ms >= ?`+cond+`),
		ok AS (SELECT target, MAX(ended) AS last_ok FROM t WHERE outcome = 'success' GROUP BY target),
		last AS (SELECT target, outcome, error, ended FROM (
			SELECT target, outcome, error, ended,
				ROW_NUMBER() OVER (PARTITION BY target ORDER BY ended DESC, aid DESC) AS rn FROM t) x
			WHERE rn = 1)
		SELECT last.target, COALESCE(ok.last_ok, 0), last.ended, last.outcome, last.error,
			(SELECT COUNT(*) FROM t WHERE t.target = last.target AND t.outcome <> 'success'
				AND t.ended > COALESCE(ok.last_ok, -1))
		FROM last LEFT JOIN ok ON ok.target = last.target
		ORDER BY last.target`, append([]any{ms(since)}, cargs...)...)
	if err != nil {
		return nil, unavailable("target health", err)
	}
	defer rows.Close()
	var out []core.TargetHealth
	for rows.Next() {
		var h core.TargetHealth
		var lastOK, lastAt int64
		if err := rows.Scan(&h.Target, &lastOK, &lastAt, &h.LastOutcome, &h.LastError, &h.FailureStreak); err != nil {
			return nil, unavailable("target health", err)
		}
		h.LastSuccess, h.LastAttempt = fromMS(lastOK), fromMS(lastAt)
		if h.LastOutcome == "success" {
			h.LastError = ""
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("target health", err)
	}
	return out, nil
}
