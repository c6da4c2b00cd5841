package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
)

const smtpPassword = "FAKE-SMTP-PASS"

// TestEndToEndEmail: the seed's issue.critical reaches an SMTP server as one multipart email
// built from the built-in templates; a second email target whose server refuses connections
// fails without its SMTP password ever reaching the logs (C07).
func TestEndToEndEmail(t *testing.T) {
	t.Parallel()
	box := bridgetest.NewMailbox(t)
	port := box.Port
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refusedPort := closed.Addr().(*net.TCPAddr).Port
	require.NoError(t, closed.Close())

	dir := t.TempDir()
	cfg := fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 5s, max_attempts: 2, backoff: {initial: 50ms, max: 200ms}}
targets:
  - name: mail
    type: email
    smtp: {host: 127.0.0.1, port: %d, tls: none, dial_timeout: 2s}
    from: "Cortex Bridge <alerts@example.com>"
    to: [security@example.com]
    cc: ["Dev Team <dev@example.com>"]
    bcc: [audit@example.com]
  - name: mail-down
    type: email
    smtp: {host: 127.0.0.1, port: %d, tls: starttls, username: bridge, password: %q, dial_timeout: 1s}
    from: alerts@example.com
    to: [security@example.com]
routes:
  - {name: critical, when: 'event == "issue.critical"', targets: [mail, mail-down]}
`, ingestSecret, port, refusedPort, smtpPassword)
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	var logs bridgetest.Logs
	b := startBridge(t, path, &logs)

	_, res := sendSample(t, b, "issue.critical", time.Now())
	require.Equal(t, "accepted", res.Status, res.Message)
	require.Equal(t, 2, res.Deliveries)

	require.Eventually(t, func() bool { return len(box.Mails()) >= 1 }, 10*time.Second, 10*time.Millisecond)
	// mail-down fails twice (max_attempts: 2), then the delivery is dead.
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "connection refused") >= 2 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	b.stop()

	mails := box.Mails()
	require.Len(t, mails, 1, "delivered once")
	got := mails[0]
	require.Equal(t, "alerts@example.com", got.From)
	require.ElementsMatch(t, []string{"security@example.com", "dev@example.com", "audit@example.com"}, got.To)

	msg, err := mail.ReadMessage(bytes.NewReader(got.Data))
	require.NoError(t, err)
	subject, err := (&mime.WordDecoder{}).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "[Cortex] CRITICAL: SQL Injection Vulnerability", subject)
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	require.NoError(t, err)
	require.Equal(t, "Cortex Bridge", from.Name)
	to, err := msg.Header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, "security@example.com", to[0].Address)
	cc, err := msg.Header.AddressList("Cc")
	require.NoError(t, err)
	require.Equal(t, "Dev Team", cc[0].Name)
	require.Empty(t, msg.Header.Get("Bcc"))
	_, err = msg.Header.Date()
	require.NoError(t, err)
	require.Regexp(t, `^<[^<>@\s]+@example\.com>$`, msg.Header.Get("Message-Id"))
	require.Equal(t, "1.0", msg.Header.Get("Mime-Version"))
	require.Equal(t, "issue.critical", msg.Header.Get("X-Cortex-Event"))
	require.NotEmpty(t, msg.Header.Get("X-Cortex-Delivery"))
	require.Equal(t, "cortex-bridge/"+version, msg.Header.Get("User-Agent"))

	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mt)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	bodies := map[string]string{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, "UTF-8", pp["charset"])
		body, err := io.ReadAll(part)
		require.NoError(t, err)
		types = append(types, pt)
		bodies[pt] = string(body)
	}
	require.Equal(t, []string{"text/plain", "text/html"}, types)
	for _, want := range []string{"CRITICAL: SQL Injection Vulnerability", "scan_abc123", "issue_xyz789", "api/user.js:42", "route critical"} {
		require.Contains(t, bodies["text/plain"], want)
		require.Contains(t, bodies["text/html"], want)
	}
	require.Contains(t, bodies["text/html"], "<html")

	out := logs.String()
	require.Contains(t, out, "mail-down")
	require.NotContains(t, out, smtpPassword)
}
