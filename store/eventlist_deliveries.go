package store

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// maxOrderedTargets is the most webhooks a tenant's list walks one by one in list order (each
// walk reads up to a page of deliveries, then they are merged); a tenant with more is planned
// like any other filter.
const maxOrderedTargets = 20

// orderedSlack is how many more deliveries than events still wanted one step of
// walkDeliveries reads: an event with several matching deliveries (a dead one to each of two
// targets) is listed once.
const orderedSlack = 10

// walkDeliveries finds up to want events, newest received first after cursor (received ms,
// id; nil: from the newest), that have a delivery matching one of n.ordered and meet cond (SQL
// on events e, with args), by walking the deliveries in the list's order: the index of migration
// 00013 holds each delivery's event received time and event id, so each walk stops once the
// page is full, and the walks are merged. from and to (zero: unbounded) bound the received time; each step reads slack
// more deliveries than events are still wanted.
func (d *DB) walkDeliveries(ctx context.Context, n narrowing, cond string, args []any, from, to time.Time, cursor []any, want, slack int) ([]core.EventSummary, error) {
	q := ``
	a := slices.Clone(args)
	if !from.IsZero() {
		q += ` AND d.event_received_at_ms >= ?`
		a = append(a, ms(from))
	}
	if !to.IsZero() {
		q += ` AND d.event_received_at_ms <= ?`
		a = append(a, ms(to))
	}
	var ids []any
	last := ""
	for len(ids) < want {
		ask := want - len(ids) + slack
		var walks []string
		var stepArgs []any
		for i, c := range n.ordered {
			w := `SELECT d.event_id AS event_id, d.event_received_at_ms AS received FROM deliveries d` + d.dialect.indexedBy(n.orderedBy) +
				` JOIN events e ON e.id = d.event_id WHERE 1 = 1` + c + cond + q
			stepArgs = append(append(stepArgs, n.orderedArgs[i]...), a...)
			if cursor != nil {
				w += ` AND (d.event_received_at_ms, d.event_id) < (?, ?)`
				stepArgs = append(stepArgs, cursor...)
			}
			walks = append(walks, w+` ORDER BY d.event_received_at_ms DESC, d.event_id DESC LIMIT ?`)
			stepArgs = append(stepArgs, ask)
		}
		step := walks[0]
		if len(walks) > 1 { // the first ask of the merged walks are among the first ask of each
			for i, w := range walks {
				walks[i] = `SELECT * FROM (` + w + `) w` + strconv.Itoa(i)
			}
			step = `SELECT event_id, received FROM (` + strings.Join(walks, ` UNION ALL `) + `) x ORDER BY received DESC, event_id DESC LIMIT ?`
			stepArgs = append(stepArgs, ask)
		}
		got, err := d.deliveryEvents(ctx, step, stepArgs, func(id string, received int64) bool {
			if id != last { // one event's deliveries are adjacent in this order
				ids, last = append(ids, id), id
			}
			cursor = []any{received, id}
			return len(ids) < want
		})
		if err != nil {
			return nil, err
		}
		if got < ask {
			break
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return d.summaries(ctx, `SELECT `+summaryColumns+` FROM events e WHERE e.id IN (?`+strings.Repeat(`, ?`, len(ids)-1)+`)
		ORDER BY e.received_at_ms DESC, e.id DESC`, ids)
}

// deliveryEvents runs q, which selects an event id and received time, calling each per row
// until it returns false; it returns how many rows it read.
func (d *DB) deliveryEvents(ctx context.Context, q string, args []any, each func(id string, received int64) bool) (int, error) {
	rows, err := d.query(ctx, d.r, q, args...)
	if err != nil {
		return 0, unavailable("list events", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var received int64
		if err := rows.Scan(&id, &received); err != nil {
			return 0, unavailable("list events", err)
		}
		n++
		if !each(id, received) {
			return n, nil
		}
	}
	if err := rows.Err(); err != nil {
		return 0, unavailable("list events", err)
	}
	return n, nil
}
