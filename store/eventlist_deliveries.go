package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// maxOrderedTargets is the most webhooks a tenant's list walks one by one in list order (each
// walk reads up to a step of deliveries, then they are merged); a tenant with more is planned
// like any other filter.
const maxOrderedTargets = 20

// orderedSlack is how many more deliveries than events still wanted one step of
// walkDeliveries reads: an event with several matching deliveries (a dead one to each of two
// targets) is listed once.
const orderedSlack = 10

// orderedBudget is how many delivery index entries walkDeliveries may read for one page (each
// step counts its LIMIT once per merged walk). With no filter on event columns every delivery
// read gives an event and a page costs about a page of entries; with one (a type, a
// repository) each step also reads that column's index over the step's received span, and a
// filter that few of the deliveries' events meet is better served by walking the events and
// checking their deliveries (sparseLimit's plans): past the budget, or as soon as the rate of
// matches seen says the page would not fill within it, the walk stops and Events goes on from
// where it stopped with those plans (BENCHMARKS.md, "Event list at 1 000 000 events:
// tenant+type and PostgreSQL's rare text").
const orderedBudget = 2000

// orderedProbe bounds walkDeliveries' probe of a column filter's index: over the received span
// of a step's deliveries it reads at most orderedProbe index entries per event of the step
// (an entry read in index order costs a small part of looking one event up by id), else the
// step's events are all looked up.
const orderedProbe = 32

// columnProbe is a filter on one event column (SQL on events e, " AND e.col = ?...", with its
// argument) whose index (col, received_at_ms, id; migration 00010) lists the events it selects
// in a received span without reading them.
type columnProbe struct {
	cond, index string
	arg         any
}

// deliveryWalk is what walkDeliveries found: the events (newest received first), whether the
// walk answered the page (done: the page is full or the deliveries ran out), and when not, the
// position it reached (received ms, event id) below which nothing was looked at.
type deliveryWalk struct {
	events []core.EventSummary
	done   bool
	next   []any
}

// walkDeliveries finds up to want events, newest received first after cursor (received ms,
// id; nil: from the newest), that have a delivery matching one of n.ordered and meet cond (SQL
// on events e, with args), by walking the deliveries in the list's order: the index of migration
// 00013 holds each delivery's event received time and event id, so each step reads a window of
// the next deliveries of every walk (from and to, zero: unbounded, bound the received time),
// merged, keeps the events col selects (probeColumn; col.cond "": no filter on event columns)
// and looks those up with cond. The first step asks for plan.slack more deliveries than events
// wanted, the next as many as the rate of matches so far says the page needs; the walk stops
// when the page is full, the deliveries run out, or the next step would pass plan.budget index
// entries of deliveries read (orderedBudget).
func (d *DB) walkDeliveries(ctx context.Context, n narrowing, cond string, args []any, col columnProbe, from, to time.Time,
	cursor []any, want int, plan listPlan) (deliveryWalk, error) {
	bound, boundArgs := ``, []any{}
	if !from.IsZero() {
		bound += ` AND d.event_received_at_ms >= ?`
		boundArgs = append(boundArgs, ms(from))
	}
	if !to.IsZero() {
		bound += ` AND d.event_received_at_ms <= ?`
		boundArgs = append(boundArgs, ms(to))
	}
	var w deliveryWalk
	read, seen := 0, 0 // index entries of deliveries read (each walk's LIMIT), their events
	for {
		left := want - len(w.events)
		ask := left + plan.slack
		if seen > 0 { // at the rate of matches so far (at least one), a quarter more: one step, not two
			ask = left*seen*5/(4*max(len(w.events), 1)) + plan.slack
		}
		if read > 0 && read+ask*len(n.ordered) > plan.budget {
			w.next = cursor
			return w, nil
		}
		read += ask * len(n.ordered)
		var evs []walked // the step's events, one per event however many of its deliveries match
		q, qArgs := d.deliveryWindow(n, bound, boundArgs, cursor, ask)
		got, err := d.deliveryEvents(ctx, q, qArgs, func(id string, received int64) {
			if len(evs) == 0 || id != evs[len(evs)-1].id { // one event's deliveries are adjacent in this order
				evs = append(evs, walked{id, received})
			}
		})
		if err != nil {
			return deliveryWalk{}, err
		}
		if len(evs) == 0 {
			w.done = true
			return w, nil
		}
		ranOut := got < ask
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.id
		}
		if col.cond == "" && len(ids) > left { // every event matches (but one pruned since): no more are looked up
			evs, ids, ranOut = evs[:left], ids[:left], false
		}
		seen += len(evs)
		last := evs[len(evs)-1]
		cursor = []any{last.received, last.id}
		if col.cond != "" {
			if ids, err = d.probeColumn(ctx, col, ids, last.received, evs[0].received, plan.probe); err != nil {
				return deliveryWalk{}, err
			}
		}
		if len(ids) > 0 {
			// By id: SQLite would otherwise take an index of cond's columns and walk it (listed:
			// the index's condition, migration 00015).
			in, inArgs := d.inList(`e.id`, ids)
			found, err := d.summaries(ctx, `SELECT `+summaryColumns+` FROM events e`+d.dialect.indexedBy("events_id_received")+` WHERE `+in+d.dialect.listed+cond+`
				ORDER BY e.received_at_ms DESC, e.id DESC`, append(inArgs, args...))
			if err != nil {
				return deliveryWalk{}, err
			}
			w.events = append(w.events, found[:min(len(found), left)]...)
		}
		if len(w.events) == want || ranOut {
			w.done = true
			return w, nil
		}
	}
}

// walked is an event a delivery walk read: its id and received ms.
type walked struct {
	id       string
	received int64
}

// probeColumn returns the ids (events received from oldest to newest ms) that col selects, by
// reading col's index over that span, or all of ids when the span holds more than probe
// entries per id there (counted first, on the index alone): looking those up costs less than
// reading the span.
func (d *DB) probeColumn(ctx context.Context, col columnProbe, ids []string, oldest, newest int64, probe int) ([]string, error) {
	span := ` FROM events e` + d.dialect.indexedBy(col.index) + ` WHERE e.received_at_ms >= ? AND e.received_at_ms <= ?` + col.cond
	limit := probe * len(ids)
	var n int
	if err := d.queryRow(ctx, d.r, `SELECT COUNT(*) FROM (SELECT 1`+span+` LIMIT ?) x`, oldest, newest, col.arg, limit+1).Scan(&n); err != nil {
		return nil, unavailable("list events", err)
	}
	if n > limit {
		return ids, nil
	}
	in, inArgs := d.inList(`e.id`, ids)
	rows, err := d.query(ctx, d.r, `SELECT e.id`+span+` AND `+in, append([]any{oldest, newest, col.arg}, inArgs...)...)
	if err != nil {
		return nil, unavailable("list events", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, unavailable("list events", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list events", err)
	}
	return out, nil
}

// deliveryWindow is one step of walkDeliveries: the next ask deliveries after cursor in the
// list's order over the walks of n (one per condition of n.ordered on its index, merged), as
// a query selecting event id and received ms, with its arguments.
func (d *DB) deliveryWindow(n narrowing, bound string, boundArgs, cursor []any, ask int) (string, []any) {
	var walks []string
	var args []any
	for i, c := range n.ordered {
		w := `SELECT d.event_id AS event_id, d.event_received_at_ms AS received FROM deliveries d` + d.dialect.indexedBy(n.orderedBy) +
			` WHERE 1 = 1` + c + bound
		args = append(append(args, n.orderedArgs[i]...), boundArgs...)
		if cursor != nil {
			w += ` AND (d.event_received_at_ms, d.event_id) < (?, ?)`
			args = append(args, cursor...)
		}
		walks = append(walks, w+` ORDER BY d.event_received_at_ms DESC, d.event_id DESC LIMIT ?`)
		args = append(args, ask)
	}
	if len(walks) == 1 {
		return walks[0], args
	}
	// The first ask of the merged walks are among the first ask of each.
	for i, w := range walks {
		walks[i] = `SELECT * FROM (` + w + `) w` + strconv.Itoa(i)
	}
	return `SELECT event_id, received FROM (` + strings.Join(walks, ` UNION ALL `) + `) x ORDER BY received DESC, event_id DESC LIMIT ?`,
		append(args, ask)
}

// deliveryEvents runs q (with args), which selects an event id and received time, calling
// each per row; it returns how many rows it read.
func (d *DB) deliveryEvents(ctx context.Context, q string, args []any, each func(id string, received int64)) (int, error) {
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
		each(id, received)
	}
	if err := rows.Err(); err != nil {
		return 0, unavailable("list events", err)
	}
	return n, nil
}
