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

// queryEventsInOrder runs q, which selects event ids in the order wanted, then loads those
// events and returns them in that order, leaving out the ones gone or no longer parsing
// meanwhile. Ordering the ids first keeps the bodies out of the sort: SQLite's sorter copied
// every body (up to ingest.max_body_bytes, 1 MiB by default) through temporary files, a third
// of the bridge's CPU for a group of ten 1 MiB events (BENCHMARKS.md, hostile input).
func (d *DB) queryEventsInOrder(ctx context.Context, q string, args ...any) ([]*event.Event, error) {
	rows, err := d.query(ctx, d.r, q, args...)
	if err != nil {
		return nil, unavailable("load events", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, unavailable("load events", err)
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, unavailable("load events", err)
	}
	byID, err := d.eventsByID(ctx, ids, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*event.Event, 0, len(ids))
	for _, id := range ids {
		if ev := byID[id]; ev != nil {
			out = append(out, ev)
		}
	}
	return out, nil
}
