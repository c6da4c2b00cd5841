package store

// Sending an event again to one target (the dashboard's event page).

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/core"
)

// resendSQL queues the event for target: a new pending delivery, or the existing one (an event
// has one delivery per target) back to pending with a fresh budget of attempts, as a manual
// retry does, unless an attempt of it is running.
const resendSQL = `INSERT INTO deliveries
	(id, event_id, target, route, state, attempts, next_attempt_at_ms, last_error, created_at_ms, updated_at_ms, event_received_at_ms)
	VALUES (?, ?, ?, ?, 'pending', 0, ?, '', ?, ?, (SELECT received_at_ms FROM events WHERE id = ?))
	ON CONFLICT (event_id, target) DO UPDATE SET state = 'pending', next_attempt_at_ms = excluded.next_attempt_at_ms,
		retry_base = deliveries.attempts, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = excluded.updated_at_ms
	WHERE deliveries.state <> 'running'`

// Resend sends the stored event eventID again to target (a config target's name or a webhook
// id; the caller checks that it exists): the event's delivery to target goes back to pending
// with a fresh budget of attempts, whatever its state, or a delivery is created with route
// (the route whose template it uses; "" for the target's default) when the event has none to
// it. It returns the queued delivery; core.ErrNotFound when the event is gone, core.ErrConflict
// when an attempt of that delivery is running.
func (d *DB) Resend(ctx context.Context, eventID, target, route string, now time.Time) (*core.Delivery, error) {
	eventID, target = d.dialect.text(eventID), d.dialect.text(target)
	res, err := d.exec(ctx, d.w, resendSQL, uuid.Must(uuid.NewV7()).String(), eventID, target, d.dialect.text(route), ms(now), ms(now), ms(now), eventID)
	if err != nil {
		if _, gone := d.Event(ctx, eventID); errors.Is(gone, core.ErrNotFound) {
			return nil, core.ErrNotFound
		}
		return nil, unavailable("resend event", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, unavailable("resend event", err)
	}
	if n == 0 {
		return nil, core.ErrConflict
	}
	_ = d.notify(ctx, d.w)
	row := d.queryRow(ctx, d.r, `SELECT `+deliveryColumns+` FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.event_id = ? AND d.target = ?`, eventID, target)
	dl, err := scanDelivery(row)
	if err != nil {
		return nil, unavailable("resend event", err)
	}
	return dl, nil
}
