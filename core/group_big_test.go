package core_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

// TestGroupEnvelopeOfManyEvents: a group of 1 000 findings reaches a webhook without a template
// as one envelope listing all of them, although the envelope holds more JSON values than an
// event Cortex sends may (event.MaxValues): the bridge builds it from events it already checked.
func TestGroupEnvelopeOfManyEvents(t *testing.T) {
	t.Parallel()
	r := newGroupRig(t, &core.Route{Name: "critical", When: rule(t, `event == "issue.critical"`), Targets: []string{"hook"},
		Group: &core.GroupPolicy{By: []core.Keyer{key(t, "scan_id")}, Wait: 30 * time.Second, MaxWait: 5 * time.Minute}})
	const n = 1000
	for i := range n {
		r.accept(finding(fmt.Sprintf("f%04d", i), "scan-1", "acme/api", i))
	}
	r.advance(31 * time.Second)
	r.tick()
	r.settle(map[string]int{"audit": n, "hook": 1})
	env := r.sinks["hook"].all()[0].Event
	require.Equal(t, core.GroupEventType, env.Type)
	require.Equal(t, int64(n), env.Data["count"])
	require.Equal(t, "scan-1", env.String("scan_id"), "the fields all events share")
	items, ok := env.Data["events"].([]any)
	require.True(t, ok, "data.events as JSON values, like any parsed data")
	require.Len(t, items, n)
	require.Equal(t, "f0000", items[0].(map[string]any)["id"])
	var body struct {
		Data struct {
			Events []struct {
				ID   string
				Data struct {
					ScanID string `json:"scan_id"`
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(env.Raw, &body), "the body the webhook is sent")
	require.Len(t, body.Data.Events, n)
	require.Equal(t, "f0999", body.Data.Events[n-1].ID)
	require.Equal(t, "scan-1", body.Data.Events[n-1].Data.ScanID)
}
