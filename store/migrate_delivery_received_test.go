package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

// TestDeliveryReceivedMigration: upgrading a database that holds deliveries (migration 00013)
// gives each its event's received time, so the events list's walks in list order (a delivery
// state, a tenant's webhooks) find the deliveries stored before it, newest event first.
func TestDeliveryReceivedMigration(t *testing.T) {
	t.Parallel()
	for _, drv := range migrationCases {
		t.Run(drv.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, p, dsn := drv.migratedTo(t, 12)
			ph := (&DB{dialect: drv.dia}).rebind
			// Received times out of id order: the list's order is the events', not the ids'.
			received := map[string]int64{"a": 3000, "b": 1000, "c": 2000}
			for id, at := range received {
				_, err := db.ExecContext(ctx, ph(`INSERT INTO events (id, type, occurred_at_ms, received_at_ms, sender_delivery, body) VALUES (?, 'x', 1, ?, '', ?)`),
					id, at, []byte(`{}`))
				require.NoError(t, err)
				for _, target := range []string{"siem", "wh_1"} {
					_, err := db.ExecContext(ctx, ph(`INSERT INTO deliveries (id, event_id, target, route, state, attempts, next_attempt_at_ms, last_error, created_at_ms, updated_at_ms)
						VALUES (?, ?, ?, 'r', 'dead', 1, 0, '', 5000, 5000)`), fmt.Sprintf("d-%s-%s", id, target), id, target)
					require.NoError(t, err)
				}
			}
			_, err := p.Up(ctx)
			require.NoError(t, err)
			rows, err := db.QueryContext(ctx, `SELECT event_id, event_received_at_ms FROM deliveries`)
			require.NoError(t, err)
			n := 0
			for rows.Next() {
				var id string
				var at int64
				require.NoError(t, rows.Scan(&id, &at))
				require.Equal(t, received[id], at, "delivery of %s", id)
				n++
			}
			require.NoError(t, rows.Err())
			require.Equal(t, 6, n)
			require.NoError(t, db.Close())

			st, err := Open(ctx, drv.store, dsn)
			require.NoError(t, err)
			defer st.Close()
			for _, f := range []core.EventFilter{{Delivery: core.EventsDead}, {Targets: []string{"wh_1"}}, {Targets: []string{"siem", "wh_1"}}} {
				page, err := st.Events(ctx, f)
				require.NoError(t, err)
				var ids []string
				for _, e := range page.Events {
					ids = append(ids, e.ID)
				}
				require.Equal(t, []string{"a", "c", "b"}, ids, "%+v", f)
			}
		})
	}
}
