package core_test

import (
	"bytes"
	"net/mail"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/sender"
)

// TestDigestToInternationalAddress: a digest mailed to a Unicode domain reaches the relay with
// the domain as A-labels in MAIL FROM, RCPT TO and the headers (the relay offers no SMTPUTF8).
func TestDigestToInternationalAddress(t *testing.T) {
	t.Parallel()
	cfg := strings.NewReplacer(`"Cortex Bridge <bridge@example.com>"`, `"Cortex Bridge <bridge@bücher.example>"`,
		`["siem@example.com"]`, `["siem@bücher.example"]`).Replace(digestToMail)
	var clock atomic.Int64
	clock.Store(time.Now().UTC().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	b := bridgetest.Start(t, cfg, bridgetest.WithNow(now))
	body, err := sender.Restamp(streamLines(t)[0], now())
	require.NoError(t, err)
	require.Equal(t, "accepted", b.Send(body).Status)
	b.WaitIdle(5 * time.Second) // the scheduler has synced: the period ends an hour from now
	clock.Add(int64(time.Hour + time.Second))
	got := b.Mail.Wait(t, 1, 10*time.Second)[0]
	require.Equal(t, "bridge@xn--bcher-kva.example", got.From)
	require.Equal(t, []string{"siem@xn--bcher-kva.example"}, got.To)
	m, err := mail.ReadMessage(bytes.NewReader(got.Data))
	require.NoError(t, err)
	require.Equal(t, "<siem@xn--bcher-kva.example>", m.Header.Get("To"))
	require.Equal(t, `"Cortex Bridge" <bridge@xn--bcher-kva.example>`, m.Header.Get("From"))
}
