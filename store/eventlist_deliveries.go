package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// orderedSlack is how many more deliveries than events still wanted one step of
// walkDeliveries reads: an event with several matching deliveries (a dead one to each of two
// targets) is listed once.
const orderedSlack = 10

// walkDeliveries finds up to want events, newest received first after cursor (received ms,
// id; nil: from the newest), that have a delivery matching n.ordered and meet cond (SQL on
// events e, with args), by walking the deliveries in the list's order: the index of migration
// 00013 holds each delivery's event received time and event id, so the walk stops once the
// page is full. from and to (zero: unbounded) bound the received time; each step reads slack
// more deliveries than events are still wanted.
func (d *DB) walkDeliveries(ctx context.Context, n narrowing, cond string, args []any, from, to time.Time, cursor []any, want, slack int) ([]core.EventSummary, error) {
	q := `SELECT d.event_id, d.event_received_at_ms FROM deliveries d` + d.dialect.indexedBy(n.orderedBy) +
		` JOIN events e ON e.id = d.event_id WHERE 1 = 1` + n.ordered + cond
	a := append(slices.Clone(n.orderedArgs), args...)
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
		step, stepArgs := q, slices.Clone(a)
		if cursor != nil {
			step += ` AND (d.event_received_at_ms, d.event_id) < (?, ?)`
			stepArgs = append(stepArgs, cursor...)
		}
		ask := want - len(ids) + slack
		step += ` ORDER BY d.event_received_at_ms DESC, d.event_id DESC LIMIT ?`
		got, err := d.deliveryEvents(ctx, step, append(stepArgs, ask), func(id string, received int64) bool {
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
