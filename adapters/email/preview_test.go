package email

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
)

// TestPreviewIsWhatIsSent: the dry run's preview of an email is the message the server gets,
// byte for byte but for Date, Message-ID and MIME boundaries (new at each send) and the line ends and
// dot-stuffing of the SMTP DATA encoding; previewing opens no connection.
func TestPreviewIsWhatIsSent(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{}, "none")
	msg := render(t, sample(t, event.IssueCritical), sample(t, event.ScanFailed))
	p, err := b.n.Preview(context.Background(), msg)
	require.NoError(t, err)
	require.Equal(t, "message/rfc822", p.ContentType)
	require.Empty(t, b.srv.connections(), "a preview sends nothing")
	require.NoError(t, b.n.Notify(context.Background(), msg))
	got := b.srv.received()
	require.Len(t, got, 1)
	varying := regexp.MustCompile(`(?m)^(Date|Message-ID): .*\r?\n`)
	boundary := regexp.MustCompile(`boundary=([0-9a-f]+)`)
	norm := func(b []byte) string {
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
		s := varying.ReplaceAllString(string(b), "")
		for _, m := range boundary.FindAllStringSubmatch(s, -1) {
			s = strings.ReplaceAll(s, m[1], "BOUNDARY")
		}
		return s
	}
	require.Equal(t, norm(got[0].Data), norm(p.Body))
	require.Contains(t, string(p.Body), "Subject: ")
}
