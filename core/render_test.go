package core_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

func TestRenderAcceptsNoValueFromTheEvent(t *testing.T) {
	t.Parallel()
	e, err := templates.New("")
	require.NoError(t, err)
	r := &core.Renderer{Engine: e}
	tgt := &core.Target{Name: "mail", Type: "email", Format: notify.FormatEmail}
	ev, err := event.Parse([]byte(`{"event":"issue.critical","id":"e","timestamp":"2026-01-01T00:00:00Z",
		"data":{"scan_id":"s","issue_id":"i","severity":"high","title":"field shows <no value>"}}`))
	require.NoError(t, err)
	msg := core.SampleMessage(ev, tgt, nil)
	require.NoError(t, r.Render(msg, tgt, nil))
	require.Contains(t, msg.Subject, "field shows <no value>")
}
