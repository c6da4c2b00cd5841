package config

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// TestPreviewNotifiersAreClosed: a preview build (route) keeps the notifiers it made only to
// preview (an email target starts a sender loop), and Runtime.Close stops them: a closed
// email notifier refuses to send.
func TestPreviewNotifiersAreClosed(t *testing.T) {
	t.Parallel()
	src := "ingest:\n  secrets: [s]\nroutes:\n  - name: all\n    when: 'true'\n    targets: [mail]\n" +
		"targets:\n  - name: mail\n    type: email\n    from: alerts@example.com\n    to: [ops@example.com]\n    smtp:\n      host: smtp.example.com\n"
	cfg, err := Parse([]byte(src), Options{Dir: t.TempDir()})
	require.NoError(t, err)
	rt, err := Build(cfg, BuildOptions{DryRun: true, Preview: true})
	require.NoError(t, err)
	require.Len(t, rt.previews, 1, "the email target's preview notifier is kept for Close")
	require.NotNil(t, rt.Targets[0].Preview)

	body, _ := samples.Get(event.IssueCritical)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	_, err = rt.Targets[0].Preview(context.Background(), &notify.Message{Event: ev, Subject: "s", Body: []byte("t")})
	require.NoError(t, err, "previews work until Close")

	rt.Close()
	err = rt.previews[0].Notify(context.Background(), &notify.Message{Event: ev, Subject: "s", Body: []byte("t")})
	require.ErrorContains(t, err, "shutting down", "the closed notifier refuses at once (an open one would try the SMTP host)")
}
