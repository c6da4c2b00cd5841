package store

import (
	"context"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// RetryDeliveries gives the dead deliveries f selects a fresh budget of attempts, due at now (as
// RetryDelivery does one), oldest first, core.RetryBatch per statement (each its own
// transaction, on the partial index deliveries_dead), at most core.MaxBulkRetry in one call. It
// returns how many it revived and whether dead ones f selects are left (call again). Storage
// failures wrap core.ErrUnavailable; the batches committed before one stay committed.
func (d *DB) RetryDeliveries(ctx context.Context, f core.RetryFilter, now time.Time) (int, bool, error) {
	cond := `state = 'dead'`
	var args []any
	if f.Target != "" {
		cond += ` AND target = ?`
		args = append(args, f.Target)
	}
	if f.Targets != nil {
		tcond, targs, some := d.targetCond("target", f.Targets)
		if !some {
			return 0, false, nil
		}
		cond += tcond
		args = append(args, targs...)
	}
	if !f.From.IsZero() {
		cond += ` AND created_at_ms >= ?`
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		cond += ` AND created_at_ms <= ?`
		args = append(args, ms(f.To))
	}
	q := `UPDATE deliveries SET state = 'pending', next_attempt_at_ms = ?, retry_base = attempts,
		lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?
		WHERE id IN (SELECT id FROM deliveries WHERE ` + cond + ` ORDER BY created_at_ms, id LIMIT ?)`
	total := 0
	for total < core.MaxBulkRetry {
		batch := min(core.RetryBatch, core.MaxBulkRetry-total)
		res, err := d.exec(ctx, d.w, q, append(append([]any{ms(now), ms(now)}, args...), batch)...)
		if err != nil {
			return total, false, unavailable("retry deliveries", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, false, unavailable("retry deliveries", err)
		}
		total += int(n)
		if n > 0 {
			_ = d.notify(ctx, d.w)
		}
		if int(n) < batch {
			return total, false, nil
		}
	}
	var more int
	if err := d.queryRow(ctx, d.r, `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries WHERE `+cond+` LIMIT 1) x`, args...).Scan(&more); err != nil {
		return total, false, unavailable("retry deliveries", err)
	}
	return total, more > 0, nil
}
