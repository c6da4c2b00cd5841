package store

import (
	"context"
	"errors"
	"slices"

	"github.com/cortexbridge/cortex-bridge/event"
)

// eventsByID loads the events with the given ids (as stored: the form the deliveries and
// group and digest items refer to), keyed by id, reading only those no other load holds or is
// reading (see eventCache). An id with no event, or whose body no longer parses, is absent; the
// parse errors go in broken when it is not nil.
func (d *DB) eventsByID(ctx context.Context, ids []string, broken map[string]error) (map[string]*event.Event, error) {
	return d.events.load(ctx, ids, func(ids []string) (map[string]*event.Event, error) {
		out := make(map[string]*event.Event, len(ids))
		for chunk := range slices.Chunk(ids, maxListArgs) {
			// On Postgres one statement for any number of ids (dialect.inList).
			cond, args := d.inList("id", chunk)
			evs, err := d.queryEvents(ctx, broken, `SELECT `+eventColumns+` FROM events WHERE `+cond, args...)
			if err != nil {
				return nil, err
			}
			for _, ev := range evs {
				out[ev.ID] = ev
			}
		}
		return out, nil
	})
}

// loadStepBytes bounds the stored bytes of the events one step of queryEventsInOrder reads at
// once when it is given a hold function (a step reads at least one event, of up to
// ingest.max_body_bytes): a group of ten 1 MiB events is read one or two at a time and each held
// in its cut form (core's group items), instead of all ten bodies, their copies and parsed
// values at once (BENCHMARKS.md, hostile input).
const loadStepBytes = 1 << 20

// queryEventsInOrder runs q, which selects event ids and the length of their bodies in bytes
// (`SELECT e.id, length(e.body) …`) in the order wanted, then loads those events and returns
// them in that order, leaving out the ones gone or no longer parsing meanwhile. Ordering the ids
// first keeps the bodies out of the sort: SQLite's sorter copied every body (up to
// ingest.max_body_bytes, 1 MiB by default) through temporary files, a third of the bridge's CPU
// for a group of ten 1 MiB events (BENCHMARKS.md, hostile input).
//
// When hold is not nil, it is given each event as it is loaded, with the number of ids q
// selected, and what it returns is kept instead (core.DispatcherStore.GroupEvents); the events
// are then read in steps of at most loadStepBytes, so that no more full bodies are held at once.
func (d *DB) queryEventsInOrder(ctx context.Context, hold func(ev *event.Event, n int) *event.Event, q string, args ...any) ([]*event.Event, error) {
	rows, err := d.query(ctx, d.r, q, args...)
	if err != nil {
		return nil, unavailable("load events", err)
	}
	var ids []string
	var sizes []int64
	for rows.Next() {
		var id string
		var size int64
		if err := rows.Scan(&id, &size); err != nil {
			rows.Close()
			return nil, unavailable("load events", err)
		}
		ids, sizes = append(ids, id), append(sizes, size)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, unavailable("load events", err)
	}
	out := make([]*event.Event, 0, len(ids))
	for start := 0; start < len(ids); {
		end := len(ids)
		if hold != nil {
			end = start + 1
			for size := sizes[start]; end < len(ids) && size+sizes[end] <= loadStepBytes; end++ {
				size += sizes[end]
			}
		}
		step := ids[start:end]
		byID, err := d.eventsByID(ctx, step, nil)
		if err != nil {
			return nil, err
		}
		for _, id := range step {
			ev := byID[id]
			if ev == nil {
				continue
			}
			if hold != nil {
				ev = hold(ev, len(ids))
			}
			out = append(out, ev)
		}
		start = end
	}
	return out, nil
}
