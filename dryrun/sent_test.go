package dryrun_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// bodies is a loopback HTTP receiver that keeps each request's body by path and answers what
// every platform's client reads as success.
type bodies struct {
	mu sync.Mutex
	by map[string][]byte
}

func (b *bodies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.by[r.URL.Path] = body
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true,"id":"1","channel_id":"2"}`))
}

func (b *bodies) get(path string) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.by[path]
}

// smtpSink is a loopback SMTP server keeping the last message's data.
type smtpSink struct {
	mu   sync.Mutex
	data []byte
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s}, nil }

type sinkSession struct{ s *smtpSink }

func (x *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.data = b
	x.s.mu.Unlock()
	return err
}
func (x *sinkSession) Reset()        {}
func (x *sinkSession) Logout() error { return nil }

// TestRouteShowsTheBytesSent: for every target type and every webhook preset, the dry run's
// Sent is exactly what the live target then sends for the same message (an HTTP body, the
// email as the SMTP server gets it but for Date, Message-ID and MIME boundaries, the audit
// line), credentials redacted; and the dry run sends, writes and opens nothing.
func TestRouteShowsTheBytesSent(t *testing.T) {
	t.Parallel()
	recv := &bodies{by: map[string][]byte{}}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	sink := &smtpSink{}
	ss := smtp.NewServer(sink)
	ss.Domain, ss.AllowInsecureAuth = "smtp.test", true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = ss.Serve(ln) }()
	t.Cleanup(func() { _ = ss.Close() })
	dir := t.TempDir()
	audit := filepath.Join(dir, "logs", "audit.jsonl")

	const secret = "s3cr3t-value-0123456789"
	targets := map[string]string{
		"slack":           "type: slack\n    webhook_url: {URL}/services/T0/B0/" + secret,
		"discord":         "type: discord\n    webhook_url: {URL}/api/webhooks/123/" + secret,
		"email":           "type: email\n    smtp: {host: 127.0.0.1, port: {PORT}, tls: none}\n    from: a@example.com\n    to: [b@example.com]",
		"plain-webhook":   "type: webhook\n    url: {URL}/plain\n    secret: " + secret,
		"generic-json":    "type: webhook\n    preset: generic-json\n    url: {URL}/generic\n    secret: " + secret,
		"cloudevents":     "type: webhook\n    preset: cloudevents\n    url: {URL}/ce\n    secret: " + secret,
		"pagerduty":       "type: webhook\n    preset: pagerduty\n    url: {URL}/pd\n    routing_key: " + secret,
		"opsgenie":        "type: webhook\n    preset: opsgenie\n    url: {URL}/og\n    api_key: " + secret,
		"msteams":         "type: webhook\n    preset: msteams\n    url: {URL}/teams/" + secret,
		"mattermost":      "type: webhook\n    preset: mattermost\n    url: {URL}/mm/" + secret,
		"rocketchat":      "type: webhook\n    preset: rocketchat\n    url: {URL}/rc/" + secret,
		"github-dispatch": "type: webhook\n    preset: github-dispatch\n    url: {URL}/gh\n    token: " + secret,
		"gitlab-pipeline": "type: webhook\n    preset: gitlab-pipeline\n    url: {URL}/gl\n    token: " + secret + "\n    ref: main",
		"audit":           "type: file\n    path: " + audit,
	}
	var yaml strings.Builder
	yaml.WriteString("server: {public_url: \"https://bridge.example.com\"}\ningest: {secrets: [\"ingest-secret-0123456789\"]}\ntargets:\n")
	var names []string
	for name, body := range targets {
		names = append(names, name)
		body = strings.NewReplacer("{URL}", srv.URL, "{PORT}", fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)).Replace(body)
		fmt.Fprintf(&yaml, "  - name: %s\n    %s\n", name, body)
	}
	fmt.Fprintf(&yaml, "routes:\n  - name: all\n    when: \"true\"\n    targets: [%s]\n", strings.Join(names, ", "))
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml.String()), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)

	preview, err := config.Build(cfg, config.BuildOptions{DryRun: true, Preview: true})
	require.NoError(t, err)
	ev := sample(t, event.IssueCritical)
	res := dryrun.Run(preview, ev, dryrun.Options{})
	_, err = os.Stat(audit)
	require.ErrorIs(t, err, os.ErrNotExist, "the dry run opens no file")
	recv.mu.Lock()
	require.Empty(t, recv.by, "the dry run sends nothing")
	recv.mu.Unlock()

	live, err := config.Build(cfg, config.BuildOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, tg := range live.Targets {
			_ = notify.Close(tg.Notifier)
		}
	})
	paths := map[string]string{"slack": "/services/T0/B0/" + secret, "discord": "/api/webhooks/123/" + secret, "plain-webhook": "/plain",
		"generic-json": "/generic", "cloudevents": "/ce", "pagerduty": "/pd", "opsgenie": "/og", "msteams": "/teams/" + secret,
		"mattermost": "/mm/" + secret, "rocketchat": "/rc/" + secret, "github-dispatch": "/gh", "gitlab-pipeline": "/gl"}
	varying := regexp.MustCompile(`(?m)^(Date|Message-ID): .*\r?\n`)
	boundary := regexp.MustCompile(`boundary=([0-9a-f]+)`)
	normMail := func(b []byte) string {
		s := varying.ReplaceAllString(string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))), "")
		for _, m := range boundary.FindAllStringSubmatch(s, -1) {
			s = strings.ReplaceAll(s, m[1], "BOUNDARY")
		}
		return s
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			dt := res.Delivery(name)
			require.NotNil(t, dt)
			require.NoError(t, dt.Err)
			require.NoError(t, dt.SendErr)
			require.NotNil(t, dt.Sent, "every enabled target shows its bytes")
			require.NotContains(t, string(dt.Sent.Body), secret, "credentials are redacted")

			var lt = live.Targets[0]
			for _, x := range live.Targets {
				if x.Name == name {
					lt = x
				}
			}
			msg := *dt.Message
			msg.Notes = nil
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, lt.Notifier.Notify(ctx, &msg))
			switch name {
			case "email":
				sink.mu.Lock()
				got := sink.data
				sink.mu.Unlock()
				require.Equal(t, normMail(got), normMail(dt.Sent.Body))
			case "audit":
				got, err := os.ReadFile(audit)
				require.NoError(t, err)
				require.Equal(t, string(got), string(dt.Sent.Body))
			default:
				got := recv.get(paths[name])
				require.NotNil(t, got, "received at %s", paths[name])
				require.Equal(t, strings.ReplaceAll(string(got), secret, "<redacted>"), string(dt.Sent.Body))
			}
		})
	}
}
