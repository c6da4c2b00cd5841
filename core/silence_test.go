package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// silenceAll silences every event it is asked about.
type silenceAll struct{}

func (silenceAll) Silenced(*event.Event, time.Time) (string, bool) { return "s-1", true }

// TestSilencedEventsAreRecordedNotSent: with a silence matching everything, a Cortex event's
// delivery is stored as silenced (naming the silence) and never sent, while one of the
// bridge's own alerts is delivered: a silence never hides the bridge's alerts.
func TestSilencedEventsAreRecordedNotSent(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, nil)
	b := setup(t, setupOpts{url: url})
	b.bus.SetSilencer(silenceAll{})
	ctx := context.Background()
	tests := map[string]struct {
		typ, id  string
		silenced bool
	}{
		"cortex event":       {"scan.failed", "evt-1", true},
		"the bridge's alert": {"bridge.delivery_dead", "evt-2", false},
	}
	for name, tt := range tests {
		ev, err := event.Parse([]byte(`{"event":"` + tt.typ + `","id":"` + tt.id + `","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s"}}`))
		require.NoError(t, err, name)
		res, err := b.bus.Accept(ctx, ev)
		require.NoError(t, err, name)
		require.Equal(t, 1, res.Deliveries, name)
		if tt.silenced {
			require.Equal(t, "s-1", res.Silenced, name)
		} else {
			require.Empty(t, res.Silenced, name)
		}
	}
	waitDelivery(t, b, "evt-2", 10*time.Second)
	ds, err := b.store.Deliveries(ctx, core.DeliveryFilter{State: core.StateSilenced})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, "evt-1", ds[0].EventID)
	require.Equal(t, "silenced by silence s-1", ds[0].LastError)
	require.Equal(t, 1, rc.count(), "only the alert was sent")
	b.bus.SetSilencer(nil)
	accept(t, b, "evt-3")
	require.Equal(t, core.StateSucceeded, waitDelivery(t, b, "evt-3", 10*time.Second).State, "no silencer: delivered")
}

// TestSilencesSpareRegisteredWebhooks: a silence covers the config's targets only. A registered
// webhook belongs to a tenant, who can neither see nor end silences (they are admin-only), so
// its deliveries of a silenced event are sent.
func TestSilencesSpareRegisteredWebhooks(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, nil)
	b := setup(t, setupOpts{url: url, name: core.WebhookPrefix + "0193tenant"})
	b.bus.SetSilencer(silenceAll{})
	res := accept(t, b, "evt-w")
	require.Equal(t, "s-1", res.Silenced, "the silence matched the event")
	require.Equal(t, core.StateSucceeded, waitDelivery(t, b, "evt-w", 10*time.Second).State)
	require.Equal(t, 1, rc.count())
	ds, err := b.store.Deliveries(context.Background(), core.DeliveryFilter{State: core.StateSilenced})
	require.NoError(t, err)
	require.Empty(t, ds)
}
