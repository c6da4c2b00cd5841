package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// TestFillDigest: the one digest message assembly (scheduled runs and `digest run`): the digest
// with the run's template, the events, and a CSV attachment named by the run's end as a UTC date
// only when there are events.
func TestFillDigest(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	late := time.FixedZone("UTC-5", -5*3600)
	tests := map[string]struct {
		to         time.Time
		events     []*event.Event
		attachment string
	}{
		"no events":              {to: from.Add(24 * time.Hour)},
		"events":                 {to: from.Add(24 * time.Hour), events: streamEvents(t)[:3], attachment: "cortex-digest-weekly-2026-03-02.csv"},
		"an end given in a zone": {to: time.Date(2026, 3, 2, 22, 0, 0, 0, late), events: streamEvents(t)[:1], attachment: "cortex-digest-weekly-2026-03-03.csv"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msg := &notify.Message{}
			core.FillDigest(msg, core.DigestRun{Digest: "weekly", Template: "compliance-digest", From: from, To: tc.to}, tc.events, 80)
			require.NotNil(t, msg.Digest)
			require.Equal(t, "compliance-digest", msg.Digest.Template)
			require.Equal(t, tc.events, msg.Events)
			if tc.attachment == "" {
				require.Empty(t, msg.Attachments)
				return
			}
			require.Len(t, msg.Attachments, 1)
			a := msg.Attachments[0]
			require.Equal(t, tc.attachment, a.Name)
			require.Equal(t, "text/csv", a.ContentType)
			require.Equal(t, msg.Digest.CSV(), a.Data)
		})
	}
}
