package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/core"
)

// TestIngestRefusesBridgeEvents: the bridge's own event types (its alerts, digest runs and
// groups) cannot be posted from outside, correctly signed or not, strict or not; nothing is
// stored and the answer names the event field.
func TestIngestRefusesBridgeEvents(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		body   func(t *testing.T) []byte
		strict bool
	}{
		"bridge.delivery_dead sample": {body: func(t *testing.T) []byte { return eventBody(t, core.EventDeliveryDead, time.Time{}, nil) }},
		"bridge.target_unhealthy, strict events": {strict: true,
			body: func(t *testing.T) []byte { return eventBody(t, core.EventTargetUnhealthy, time.Time{}, nil) }},
		"a bridge.* type the bridge does not raise": {body: func(t *testing.T) []byte {
			return eventBody(t, "scan.completed", time.Time{}, func(env, _ map[string]any) { env["event"] = "bridge.anything" })
		}},
		"a digest run": {body: func(t *testing.T) []byte {
			return eventBody(t, "scan.completed", time.Time{}, func(env, _ map[string]any) { env["event"] = core.DigestEventType })
		}},
		"a derived finding event": {body: func(t *testing.T) []byte {
			return eventBody(t, "scan.completed", time.Time{}, func(env, _ map[string]any) { env["event"] = core.EventFindingFixed })
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupIngest(t, func(c *api.IngestConfig) { c.StrictEvents = tc.strict }, nil)
			body := tc.body(t)
			res := b.post(t, body)
			require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
			requireErrorBody(t, res, api.CodeInvalidEvent, "event:", "reserved", eventOf(body))
			require.Empty(t, b.acc.calls(), "nothing is stored")
		})
	}
	// Other event types starting alike are Cortex's to use.
	b := setupIngest(t, nil, nil)
	for i, typ := range []string{"bridges.built", "findings.exported"} {
		body := eventBody(t, "scan.completed", time.Time{}, func(env, _ map[string]any) { env["event"] = typ })
		res := b.post(t, body)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		require.Len(t, b.acc.calls(), i+1)
	}
}
