package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
)

// slackToken and teamToken are the secret parts of the Slack and Discord webhook URLs;
// siemKey the webhook target's header credential. Receivers echo both, and test --target must not print them.
const (
	slackToken = "T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
	teamToken  = "discord-webhook-token-0123456789abcdef"
	siemKey    = "test-api-key-0123456789"
)

// TestTestCommandPrintsTheAnswer: test --target prints the receiver's status and answer on
// success too, as real receivers give them over loopback (Slack, Discord and webhook HTTP, SMTP):
// bounded to 1 KiB, credentials removed, "(empty)" for an empty body.
func TestTestCommandPrintsTheAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch {
		case strings.HasPrefix(r.URL.Path, "/services/"):
			_, _ = fmt.Fprintf(w, "ok (posted to %s)", r.URL.Path) // a receiver that echoes the token
		case strings.HasPrefix(r.URL.Path, "/api/webhooks/"): // Discord, with wait=true
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"1300000000000000001","channel_id":"1200000000000000002","content":""}`))
		case r.URL.Path == "/siem":
			w.WriteHeader(http.StatusAccepted)
			_, _ = fmt.Fprintf(w, `{"queued":true,"key":%q}`, r.Header.Get("X-Api-Key"))
		case r.URL.Path == "/big":
			_, _ = w.Write([]byte(strings.Repeat("é", 3000))) // 6 000 bytes
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(srv.Close)
	smtpPort := bridgetest.NewMailbox(t).Port
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`
ingest: {secrets: [s3cret-value]}
targets:
  - {name: chat, type: slack, webhook_url: %q}
  - {name: team, type: discord, webhook_url: %q}
  - {name: siem, type: webhook, url: %q, secret: webhook-signing-secret, headers: {X-Api-Key: %q}}
  - {name: big, type: webhook, url: %q, secret: webhook-signing-secret}
  - {name: empty, type: webhook, url: %q, secret: webhook-signing-secret}
  - name: mail
    type: email
    smtp: {host: 127.0.0.1, port: %d, tls: none, dial_timeout: 2s}
    from: alerts@example.com
    to: [security@example.com]
routes:
  - {name: all, when: 'true', targets: [chat, team, siem, big, empty, mail]}
`, srv.URL+"/services/"+slackToken, srv.URL+"/api/webhooks/1100000000000000003/"+teamToken, srv.URL+"/siem", siemKey, srv.URL+"/big", srv.URL+"/empty", smtpPort)), 0o600))

	tests := map[string]struct {
		target, outcome, answer string
	}{
		"slack echoes its token": {"chat", "delivered (status 200)", "answer: ok (posted to <redacted>)\n"},
		"discord message":        {"team", "delivered (status 200)", `answer: {"id":"1300000000000000001","channel_id":"1200000000000000002","content":""}` + "\n"},
		"webhook 202":            {"siem", "delivered (status 202)", `answer: {"queued":true,"key":"<redacted>"}` + "\n"},
		"answer over 1 KiB":      {"big", "delivered (status 200)", "answer: " + strings.Repeat("é", 512) + "\n"},
		"empty answer":           {"empty", "delivered (status 204)", "answer: (empty)\n"},
		"smtp reply":             {"mail", "delivered (status 250)", "answer: 250 2.0.0 OK: queued\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, _, err := run(t, "test", "--config", path, "--target", tc.target)
			require.NoError(t, err, out)
			lines := strings.SplitAfter(out, "\n")
			require.Len(t, lines, 3, out) // outcome, answer, ""
			require.Contains(t, lines[0], "sent issue.critical to "+tc.target)
			require.True(t, strings.HasSuffix(lines[0], ": "+tc.outcome+"\n"), lines[0])
			require.Equal(t, tc.answer, lines[1])
			require.NotContains(t, out, slackToken)
			require.NotContains(t, out, siemKey)
			require.NotContains(t, out, teamToken)
		})
	}
}
