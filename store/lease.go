package store

// The lease half of the queue: Claim hands due deliveries to one owner for a while, RenewLeases
// extends what that owner still works on, and Complete writes the attempt and the new state back,
// for the lease's owner only. Kept apart so the mutation run in docs/security.md can cover exactly
// these (TestSQLite and TestPostgres run the storetest suite over them).

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// claimSQL leases the due deliveries of one target. The redundant state IN (…) lets the
// planner use the partial index of unfinished deliveries (deliveries_target_due, in
// next_attempt_at order) instead of every delivery the target ever had. SQLite has one writer, so the subquery and
// the update cannot interleave with another claim. Postgres locks the chosen rows and skips rows
// another claim holds (FOR UPDATE SKIP LOCKED, in an ARRAY subquery evaluated once, then the
// update finds the rows by primary key), so concurrent claims on any number of replicas never
// return the same delivery. Arguments: owner, lease until, now, target, now, now, limit.
const (
	claimSQLite = `UPDATE deliveries
		SET state = 'running', lease_owner = ?, lease_until_ms = ?, updated_at_ms = ?
		WHERE id IN (SELECT id FROM deliveries WHERE target = ? AND state IN ('pending', 'running') AND ` + dueCondition + `
			ORDER BY next_attempt_at_ms LIMIT ?)
		RETURNING id, event_id, target, route, attempts, retry_base, next_attempt_at_ms, last_error, created_at_ms`
	claimPostgres = `UPDATE deliveries
		SET state = 'running', lease_owner = $1, lease_until_ms = $2, updated_at_ms = $3
		WHERE id = ANY(ARRAY(SELECT id FROM deliveries WHERE target = $4 AND state IN ('pending', 'running')
			AND ((state = 'pending' AND next_attempt_at_ms <= $5) OR (state = 'running' AND lease_until_ms < $6))
			ORDER BY next_attempt_at_ms LIMIT $7
			FOR UPDATE SKIP LOCKED))
		RETURNING id, event_id, target, route, attempts, retry_base, next_attempt_at_ms, last_error, created_at_ms`
)

// Claim implements core.QueueStore.
func (d *DB) Claim(ctx context.Context, r core.ClaimRequest) ([]*core.Delivery, error) {
	if r.Limit <= 0 {
		return nil, nil
	}
	now := ms(r.Now)
	d.settled(ctx, d.w)
	rows, err := d.w.QueryContext(ctx, d.dialect.claimSQL, d.args([]any{r.Owner, ms(r.Now.Add(r.Lease)), now, r.Target, now, now, r.Limit})...)
	if err != nil {
		return nil, unavailable("claim", err)
	}
	var out []*core.Delivery
	for rows.Next() {
		dl := &core.Delivery{State: core.StateRunning, LeaseOwner: r.Owner, LeaseUntil: r.Now.Add(r.Lease), UpdatedAt: r.Now}
		var next, created int64
		if err := rows.Scan(&dl.ID, &dl.EventID, &dl.Target, &dl.Route, &dl.Attempts, &dl.RetryBase, &next, &dl.LastError, &created); err != nil {
			rows.Close()
			return nil, unavailable("claim", err)
		}
		dl.NextAttemptAt, dl.CreatedAt = fromMS(next), fromMS(created)
		out = append(out, dl)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, unavailable("claim", err)
	}
	// UPDATE … RETURNING gives rows in table order (id order on SQLite), not in the order the
	// subquery chose them: a retried delivery would go after newer ones.
	slices.SortStableFunc(out, func(a, b *core.Delivery) int { return a.NextAttemptAt.Compare(b.NextAttemptAt) })
	broken := map[string]error{}
	if err := d.loadEvents(ctx, out, broken); err != nil {
		// Hand the claim back rather than hold leases nobody works on.
		_, _ = d.ReleaseLeases(context.WithoutCancel(ctx), r.Owner, deliveryIDs(out), r.Now)
		return nil, err
	}
	return d.settleUnloadable(ctx, out, broken, r.Now)
}

// settleUnloadable marks dead the claimed deliveries whose event is gone or no longer parses:
// no attempt can ever succeed, and leaving them claimed would block them for good. It returns
// the others.
func (d *DB) settleUnloadable(ctx context.Context, ds []*core.Delivery, broken map[string]error, now time.Time) ([]*core.Delivery, error) {
	ok := ds[:0:0]
	for _, dl := range ds {
		if dl.Event != nil {
			ok = append(ok, dl)
			continue
		}
		reason := "its event is no longer stored"
		if err := broken[dl.EventID]; err != nil {
			reason = "its stored event no longer parses: " + err.Error()
		}
		if _, err := d.exec(ctx, d.w, `UPDATE deliveries SET state = 'dead', last_error = ?, lease_owner = NULL,
			lease_until_ms = NULL, updated_at_ms = ? WHERE id = ? AND state = 'running'`, reason, ms(now), dl.ID); err != nil {
			return nil, unavailable("claim", err)
		}
	}
	return ok, nil
}

func deliveryIDs(ds []*core.Delivery) []string {
	out := make([]string, len(ds))
	for i, dl := range ds {
		out[i] = dl.ID
	}
	return out
}

// loadEvents sets Event on each delivery from the events table.
func (d *DB) loadEvents(ctx context.Context, ds []*core.Delivery, broken map[string]error) error {
	ids := make([]string, 0, len(ds))
	for _, dl := range ds {
		ids = append(ids, dl.EventID)
	}
	slices.Sort(ids)
	byID, err := d.eventsByID(ctx, slices.Compact(ids), broken)
	if err != nil {
		return err
	}
	for _, dl := range ds {
		dl.Event = byID[dl.EventID]
	}
	return nil
}

// RenewLeases implements core.QueueStore.
func (d *DB) RenewLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error) {
	total := 0
	for chunk := range slices.Chunk(ids, maxListArgs) {
		cond, args := d.inList("id", chunk)
		res, err := d.exec(ctx, d.w, `UPDATE deliveries SET lease_until_ms = ?
			WHERE state = 'running' AND lease_owner = ? AND `+cond, append([]any{ms(until), owner}, args...)...)
		if err != nil {
			return total, unavailable("renew leases", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, unavailable("renew leases", err)
		}
		total += int(n)
	}
	return total, nil
}

// Complete implements core.QueueStore: every attempt row, and the delivery updates of the
// owners that still hold their leases, in one transaction (dialect.complete).
func (d *DB) Complete(ctx context.Context, cs []core.Completion) error {
	if err := d.dialect.complete(d, ctx, cs); err != nil {
		return unavailable("complete", err)
	}
	return nil
}

const insertAttemptSQL = `INSERT INTO attempts
	(delivery_id, number, started_at_ms, duration_ms, outcome, status_code, error, response)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

const completeDeliverySQL = `UPDATE deliveries
	SET state = ?, attempts = ?, next_attempt_at_ms = ?, last_error = ?,
	    lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?
	WHERE id = ? AND state = 'running' AND lease_owner = ?`

// sqliteComplete runs the statements prepared at open (writerStatements) in one transaction,
// committed without its own fsync (unsyncedTx). A crash before the next fsync loses only the
// record of the attempt: the delivery is still running under its lease, which was committed with
// an fsync, and is sent again with the same delivery id once the lease expires — a repeat, never
// a loss (docs/operations.md, "The delivery guarantee"; the kill -9 test counts the repeats). It
// saved the completion commits' fsyncs, 15 % of all at one event per commit (BENCHMARKS.md,
// "Allocation profiles of ingest and dispatch").
//
// With the ingest journal, the completions wait for the applier's next round (their deliveries'
// rows may still be in the journal) without hurrying it: they join its batching.
func (d *DB) sqliteComplete(ctx context.Context, cs []core.Completion) error {
	if d.journal != nil {
		if err := d.journal.settle(ctx, false); err != nil {
			return err
		}
	}
	return d.unsyncedTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return d.completeIn(statementContext(ctx), tx, cs)
	})
}

// completeIn writes cs with the writer's prepared statements in tx.
func (d *DB) completeIn(ctx context.Context, tx *sql.Tx, cs []core.Completion) error {
	st, closeAll, err := d.prepareAll(ctx, tx, insertAttemptSQL, completeDeliverySQL)
	if err != nil {
		return err
	}
	defer closeAll()
	insAttempt, upd := st[0], st[1]
	for _, c := range cs {
		a := c.Attempt
		if _, err := insAttempt.exec(ctx, a.DeliveryID, a.Number, ms(a.StartedAt), a.Duration.Milliseconds(),
			a.Outcome, a.StatusCode, a.Error, a.Response); err != nil {
			return err
		}
		end := a.StartedAt.Add(a.Duration)
		if _, err := upd.exec(ctx, string(c.State), a.Number, ms(c.NextAttemptAt), c.LastError,
			ms(end), a.DeliveryID, c.LeaseOwner); err != nil {
			return err
		}
	}
	return nil
}
