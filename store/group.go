package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

const insertGroupItemSQL = `INSERT INTO group_items
	(target, route, group_key, event_id, received_at_ms, member, closes) VALUES (?, ?, ?, ?, ?, ?, ?)`

func insertGroupItems(ctx context.Context, stmt *stmt, ev *event.Event, items []core.GroupItem) error {
	for _, g := range items {
		if _, err := stmt.exec(ctx, g.Target, g.Route, g.Key, ev.ID, ms(ev.ReceivedAt), flag(g.Member), flag(g.Closes)); err != nil {
			return err
		}
	}
	return nil
}

func flag(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// OpenGroups implements core.SchedulerStore.
func (d *DB) OpenGroups(ctx context.Context) ([]core.OpenGroup, error) {
	rows, err := d.query(ctx, d.r, `SELECT gi.target, gi.route, gi.group_key, SUM(gi.member), MIN(gi.received_at_ms),
			MAX(gi.received_at_ms), MAX(gi.closes),
			COALESCE((SELECT MAX(gr.fired_at_ms) FROM group_runs gr
				WHERE gr.target = gi.target AND gr.route = gi.route AND gr.group_key = gi.group_key), 0)
		FROM group_items gi WHERE gi.group_id IS NULL
		GROUP BY gi.target, gi.route, gi.group_key`)
	if err != nil {
		return nil, unavailable("open groups", err)
	}
	defer rows.Close()
	var out []core.OpenGroup
	for rows.Next() {
		var g core.OpenGroup
		var members, first, last, closes, fired int64
		if err := rows.Scan(&g.Target, &g.Route, &g.Key, &members, &first, &last, &closes, &fired); err != nil {
			return nil, unavailable("open groups", err)
		}
		g.Members, g.First, g.Last, g.Closing, g.LastFired = int(members), fromMS(first), fromMS(last), closes > 0, fromMS(fired)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("open groups", err)
	}
	return out, nil
}

// errGroupTaken rolls a FireGroup back when another replica fired the key first.
var errGroupTaken = errors.New("group fired by another replica")

// FireGroup implements core.SchedulerStore.
func (d *DB) FireGroup(ctx context.Context, r core.FireGroupRequest) (int, error) {
	var members int64
	ev := r.Event
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		// The update comes first: on Postgres it waits for a replica firing the same items, and
		// the check of group_runs after it then sees that replica's group.
		res, err := d.exec(ctx, tx, `UPDATE group_items SET group_id = ?
			WHERE target = ? AND route = ? AND group_key = ? AND group_id IS NULL AND received_at_ms <= ?`,
			ev.ID, r.Target, r.Route, r.Key, ms(r.Through))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		var fired int64
		if err := d.queryRow(ctx, tx, `SELECT COALESCE(MAX(fired_at_ms), 0) FROM group_runs
			WHERE target = ? AND route = ? AND group_key = ?`, r.Target, r.Route, r.Key).Scan(&fired); err != nil {
			return err
		}
		if fired > ms(r.LastFired) {
			return errGroupTaken
		}
		if err := d.queryRow(ctx, tx, `SELECT COUNT(*) FROM group_items WHERE group_id = ? AND member = 1`, ev.ID).Scan(&members); err != nil {
			return err
		}
		if members == 0 { // only closers: nothing to send
			_, err := d.exec(ctx, tx, `DELETE FROM group_items WHERE group_id = ?`, ev.ID)
			return err
		}
		if err := d.insertOwnEvent(ctx, tx, ev, r.Delivery); err != nil {
			return err
		}
		_, err = d.exec(ctx, tx, `INSERT INTO group_runs (id, target, route, group_key, fired_at_ms, events)
			VALUES (?, ?, ?, ?, ?, ?)`, ev.ID, r.Target, r.Route, r.Key, ms(ev.ReceivedAt), members)
		return err
	})
	switch {
	case errors.Is(err, errGroupTaken):
		return 0, nil
	case err != nil:
		return 0, unavailable("fire group", err)
	}
	return int(members), nil
}

// GroupEvents implements core.DispatcherStore.
func (d *DB) GroupEvents(ctx context.Context, groupID string, hold func(ev *event.Event, members int) *event.Event) ([]*event.Event, error) {
	return d.queryEventsInOrder(ctx, hold, `SELECT e.id, length(e.body) FROM group_items gi JOIN events e ON e.id = gi.event_id
		WHERE gi.group_id = ? AND gi.member = 1 ORDER BY e.occurred_at_ms, e.id`, groupID)
}
