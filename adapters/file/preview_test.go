package file_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// TestPreviewIsTheLineAppended: the dry run's preview is the line Notify appends, and
// previewing writes nothing.
func TestPreviewIsTheLineAppended(t *testing.T) {
	t.Parallel()
	n, path := newAudit(t)
	body, err := samples.Get(event.IssueCritical)
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	msg := &notify.Message{DeliveryID: "d1", Attempt: 1, Target: "audit", Route: "r", Event: ev, Events: []*event.Event{ev}}
	p, err := n.Preview(context.Background(), msg)
	require.NoError(t, err)
	_, err = os.Stat(path)
	if err == nil {
		got, _ := os.ReadFile(path)
		require.Empty(t, got, "a preview writes nothing")
	}
	require.NoError(t, n.Notify(context.Background(), msg))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(got), string(p.Body))
	require.Equal(t, "application/x-ndjson", p.ContentType)
}
