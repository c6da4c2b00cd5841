package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

func resendTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"ResendToOneTarget": testResend,
	}
}

// testResend: sending an event again to a target it has a delivery to puts that delivery back
// to pending with a fresh budget (whatever its state, unless running); to a target it has none
// to, it creates one; a gone event is core.ErrNotFound.
func testResend(t *testing.T, s Store) {
	ctx := context.Background()
	done := delivery("chat", core.StatePending, "")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{done}})
	got := claim(t, s, "w", "chat", t0, 1)
	require.Len(t, got, 1)
	require.NoError(t, s.Complete(ctx, []core.Completion{{LeaseOwner: "w", Attempt: attempt(done, 1, "success"), State: core.StateSucceeded}}))

	now := t0.Add(time.Hour)
	dl, err := s.Resend(ctx, "e1", "chat", "ignored", now)
	require.NoError(t, err)
	require.Equal(t, done.ID, dl.ID, "the same delivery: one per event and target")
	require.Equal(t, core.StatePending, dl.State)
	require.Equal(t, 1, dl.RetryBase, "a fresh budget of attempts")
	require.Equal(t, "r", dl.Route, "its route stays")
	require.Equal(t, now, dl.NextAttemptAt)
	require.Equal(t, []string{done.ID}, ids(claim(t, s, "w", "chat", now, 5)))

	_, err = s.Resend(ctx, "e1", "chat", "", now)
	require.ErrorIs(t, err, core.ErrConflict, "an attempt is running")

	fresh, err := s.Resend(ctx, "e1", "wh_9", "critical", now)
	require.NoError(t, err)
	require.NotEqual(t, done.ID, fresh.ID)
	require.Equal(t, "wh_9", fresh.Target)
	require.Equal(t, "critical", fresh.Route)
	require.Equal(t, core.StatePending, fresh.State)
	require.Equal(t, 0, fresh.Attempts)
	ds, err := s.EventDeliveries(ctx, "e1", nil)
	require.NoError(t, err)
	require.Equal(t, []string{done.ID, fresh.ID}, ids(ds))

	_, err = s.Resend(ctx, "gone", "chat", "", now)
	require.ErrorIs(t, err, core.ErrNotFound)
}
