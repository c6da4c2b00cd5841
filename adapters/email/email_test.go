package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// bundle is what most tests need: a server and a notifier pointed at it.
type bundle struct {
	srv *testServer
	n   *Notifier
	cfg *Config
}

func setup(t *testing.T, so serverOpts, tlsMode string, edit ...func(*Config)) *bundle {
	t.Helper()
	srv := startServer(t, so)
	cfg := srv.config(tlsMode)
	for _, e := range edit {
		e(cfg)
	}
	return &bundle{srv: srv, n: newNotifier(t, cfg, srv), cfg: cfg}
}

func newNotifier(t *testing.T, cfg *Config, srv *testServer, opts ...Option) *Notifier {
	t.Helper()
	if srv != nil {
		opts = append([]Option{WithTLSConfig(srv.ClientTLS)}, opts...)
	}
	n, err := New(cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// render builds the message the worker would hand over for ev to an email target, with the
// built-in templates.
func render(t *testing.T, events ...*event.Event) *notify.Message {
	t.Helper()
	e, err := templates.New("")
	require.NoError(t, err)
	r := &core.Renderer{Engine: e}
	tgt := &core.Target{Name: "mail", Type: "email", Format: notify.FormatEmail, Escape: Type.Escape}
	msg := core.SampleMessage(events[0], tgt, nil)
	msg.DeliveryID = "0190d2a8-0000-7000-8000-000000000001"
	msg.Events = events
	require.NoError(t, r.Render(msg, tgt, nil))
	return msg
}

func sample(t *testing.T, typ string) *event.Event {
	t.Helper()
	b, err := samples.Get(typ)
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return ev
}

// issue is an issue.critical event with the given title (and description).
func issue(t *testing.T, title string) *event.Event {
	t.Helper()
	b, err := json.Marshal(map[string]any{"event": "issue.critical", "id": "evt_c13", "timestamp": "2026-01-01T00:00:00Z",
		"data": map[string]any{"scan_id": "scan_1", "issue_id": "i1", "severity": "critical", "title": title,
			"description": title, "file": "a<b>.go", "line": 7, "repo_url": "https://github.com/o/r"}})
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return ev
}

// plainMessage is a hand-made message (no templates).
func plainMessage(t *testing.T, subject, text, html string) *notify.Message {
	ev := sample(t, "issue.critical")
	return &notify.Message{DeliveryID: "d-1", Attempt: 1, Target: "mail", Event: ev, Events: []*event.Event{ev},
		Subject: subject, Body: []byte(text), HTML: html}
}

// parsedMail is a received message read with net/mail and mime/multipart.
type parsedMail struct {
	Header  mail.Header
	Subject string // decoded
	Type    string // top-level media type
	Parts   []mailPart
}

type mailPart struct {
	Type     string // media type
	Charset  string
	Body     string // transfer-decoded
	Filename string // of an attachment
}

var wordDecoder = &mime.WordDecoder{}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err, "%s", data)
	subject, err := wordDecoder.DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	p := parsedMail{Header: m.Header, Subject: subject, Type: mt}
	if !strings.HasPrefix(mt, "multipart/") {
		var body io.Reader = m.Body
		if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(body)
		require.NoError(t, err)
		p.Parts = []mailPart{{Type: mt, Charset: params["charset"], Body: textOf(b)}}
		return p
	}
	p.Parts = parseParts(t, m.Body, params["boundary"])
	return p
}

// parseParts reads the leaf parts of a multipart body, depth first; a nested multipart part
// shows up as a part of its own type (with no body) followed by its leaves.
func parseParts(t *testing.T, body io.Reader, boundary string) []mailPart {
	t.Helper()
	var out []mailPart
	mr := multipart.NewReader(body, boundary)
	for {
		part, err := mr.NextPart() // decodes quoted-printable transparently
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		require.NoError(t, err)
		if strings.HasPrefix(pt, "multipart/") {
			out = append(out, mailPart{Type: pt})
			out = append(out, parseParts(t, part, pp["boundary"])...)
			continue
		}
		var r io.Reader = part
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, part)
		}
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		mp := mailPart{Type: pt, Charset: pp["charset"], Body: textOf(b)}
		if fn := part.FileName(); fn != "" {
			mp.Filename, mp.Body = fn, string(b)
		}
		out = append(out, mp)
	}
}

// textOf is a decoded text part as the template wrote it: MIME text has CRLF line ends (RFC 2046
// §4.1.1) and the message data ends with one.
func textOf(b []byte) string {
	return strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
}

func deliveryError(t *testing.T, err error) *notify.DeliveryError {
	t.Helper()
	var de *notify.DeliveryError
	require.ErrorAs(t, err, &de, "failures are *notify.DeliveryError")
	return de
}

func hasEvent(evs []smtpEvent, what string) bool {
	for _, e := range evs {
		if e.What == what {
			return true
		}
	}
	return false
}

func whats(evs []smtpEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.What
		if e.TLS {
			out[i] += "+tls"
		}
	}
	return out
}

// TestNotifyMultipart: one message over STARTTLS with AUTH PLAIN, checked header by header and
// part by part; Bcc is in the envelope only.
func TestNotifyMultipart(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{TLS: serveStartTLS, Mechs: []string{"PLAIN", "LOGIN"}, User: "bridge", Pass: "s3cret-pass"}, TLSStartTLS, func(c *Config) {
		c.From = "Cortex Brücke <alerts@example.com>"
		c.To = []string{"ops@example.com", "Jane Doe <jane@example.com>"}
		c.CC = []string{"sec@example.com"}
		c.BCC = []string{"audit@example.com"}
		c.ReplyTo = "noreply@example.com"
		c.SubjectPrefix = "[prod] "
	})
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	b.n.nowFunc = func() time.Time { return now }
	text := "Line one\nA long line " + strings.Repeat("é", 120) + "\nlast = line"
	html := "<p>Hello &amp; <b>welcome</b></p>"
	msg := plainMessage(t, "Überprüfung: ok", text, html)
	require.NoError(t, b.n.Notify(context.Background(), msg))

	got := b.srv.received()
	require.Len(t, got, 1)
	require.Equal(t, "alerts@example.com", got[0].From)
	require.ElementsMatch(t, []string{"ops@example.com", "jane@example.com", "sec@example.com", "audit@example.com"}, got[0].To)

	p := parseMail(t, got[0].Data)
	from, err := mail.ParseAddress(p.Header.Get("From"))
	require.NoError(t, err)
	require.Equal(t, "Cortex Brücke", from.Name, "non-ASCII name decodes back exactly")
	require.Equal(t, "alerts@example.com", from.Address)
	to, err := p.Header.AddressList("To")
	require.NoError(t, err)
	require.Len(t, to, 2)
	require.Equal(t, "Jane Doe", to[1].Name)
	cc, err := p.Header.AddressList("Cc")
	require.NoError(t, err)
	require.Equal(t, "sec@example.com", cc[0].Address)
	require.Empty(t, p.Header.Get("Bcc"), "Bcc never appears in the headers")
	require.NotContains(t, string(got[0].Data), "audit@example.com")
	replyTo, err := p.Header.AddressList("Reply-To")
	require.NoError(t, err)
	require.Equal(t, "noreply@example.com", replyTo[0].Address)
	require.Equal(t, "[prod] Überprüfung: ok", p.Subject)
	require.NotEqual(t, p.Subject, p.Header.Get("Subject"), "the raw header is encoded (RFC 2047)")
	date, err := p.Header.Date()
	require.NoError(t, err)
	require.True(t, date.Equal(now), "Date %v", date)
	require.Regexp(t, `^<cortex\.[0-9a-f]{32}@example\.com>$`, p.Header.Get("Message-Id"))
	require.Equal(t, "1.0", p.Header.Get("Mime-Version"))
	require.Equal(t, "d-1", p.Header.Get("X-Cortex-Delivery"))
	require.Equal(t, "issue.critical", p.Header.Get("X-Cortex-Event"))
	require.Equal(t, "auto-generated", p.Header.Get("Auto-Submitted"))
	require.Equal(t, "cortex-bridge", p.Header.Get("User-Agent"))
	require.Equal(t, "cortex-bridge", p.Header.Get("X-Mailer"))

	require.Equal(t, "multipart/alternative", p.Type)
	require.Len(t, p.Parts, 2)
	require.Equal(t, mailPart{Type: "text/plain", Charset: "UTF-8", Body: text}, p.Parts[0], "text first, exact after decoding")
	require.Equal(t, mailPart{Type: "text/html", Charset: "UTF-8", Body: html}, p.Parts[1], "HTML last: the preferred alternative")
	for _, line := range strings.Split(string(got[0].Data), "\r\n") {
		require.LessOrEqual(t, len(line), 998, "RFC 5322 §2.1.1 line limit")
	}

	evs := b.srv.connections()[0].events
	require.Equal(t, []string{"EHLO", "EHLO+tls", "AUTH PLAIN+tls", "MAIL+tls", "RCPT+tls", "RCPT+tls", "RCPT+tls", "RCPT+tls", "DATA+tls"}, whats(evs))
}

// TestNotifyTextOnly: without HTML the message is a single text/plain part; a message without a
// subject gets one from the event type.
func TestNotifyTextOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{}, TLSNone)
	msg := plainMessage(t, "", "just text", "")
	require.NoError(t, b.n.Notify(context.Background(), msg))
	p := parseMail(t, b.srv.received()[0].Data)
	require.Equal(t, "text/plain", p.Type)
	require.Equal(t, "just text", p.Parts[0].Body)
	require.Equal(t, "Cortex issue.critical", p.Subject)
}

// TestNotifyReply: an accepted message returns the server's reply to its data, code first; a
// refused one returns no reply and the refusal, with its reply, as the error.
func TestNotifyReply(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{}, TLSNone)
	reply, err := b.n.NotifyReply(context.Background(), plainMessage(t, "s", "b", ""))
	require.NoError(t, err)
	require.Equal(t, "250 2.0.0 OK: queued", reply)
	require.Len(t, b.srv.received(), 1)

	refused := setup(t, serverOpts{Data: func([]byte) error { return replyErr(554, "5.7.1 rejected as spam") }}, TLSNone)
	reply, err = refused.n.NotifyReply(context.Background(), plainMessage(t, "s", "b", ""))
	require.Empty(t, reply)
	de := deliveryError(t, err)
	require.Equal(t, 554, de.StatusCode)
	require.Contains(t, de.Response, "rejected as spam")
}

// TestSubjectEncoding: subjects decode back exactly, whatever they hold.
func TestSubjectEncoding(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{}, TLSNone)
	subjects := map[string]string{
		"ascii":        "[Cortex] CRITICAL: SQL Injection Vulnerability in user/repo",
		"quotes":       `O'Brien said "hi" <x> & y`,
		"non-ascii":    "Sécurité — 危険 — 🚨 alert",
		"long":         strings.Repeat("word ", 60) + "end",
		"long unicode": strings.Repeat("ünïcödé ", 30),
		"encoded-word": "=?UTF-8?B?aGVsbG8=?= is literal text",
		"spaces":       "a  b   c",
	}
	for name, s := range subjects {
		require.NoError(t, b.n.Notify(context.Background(), plainMessage(t, s, name, "")), name)
	}
	got := b.srv.received()
	require.Len(t, got, len(subjects))
	for _, m := range got {
		p := parseMail(t, m.Data)
		name := p.Parts[0].Body
		require.Equal(t, subjects[name], p.Subject, name)
		for _, line := range strings.Split(string(m.Data), "\r\n") {
			require.LessOrEqual(t, len(line), 998, name)
		}
	}
}

// TestCase_C13_Escaping: the built-in email templates with hostile titles: the HTML part
// escapes markup, the subject shows the text unchanged on one line, and a newline never creates
// a header (nor a recipient).
func TestCase_C13_Escaping(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{}, TLSNone)
	titles := []string{"disk \"full\"\nnext", "a<b & c>", "<script>alert(1)</script>", "O'Brien",
		"x\r\nBcc: evil@example.com\r\nX-Injected: yes", "y\n\nbody-injection"}
	for _, title := range titles {
		require.NoError(t, b.n.Notify(context.Background(), render(t, issue(t, title))))
	}
	got := b.srv.received()
	require.Len(t, got, len(titles))
	for i, m := range got {
		title := titles[i]
		require.Equal(t, []string{"ops@example.com"}, m.To, "no recipient injected")
		p := parseMail(t, m.Data)
		oneLine := strings.Join(strings.Fields(title), " ")
		require.Contains(t, p.Subject, oneLine, "the subject shows the title unchanged, on one line")
		require.NotContains(t, p.Subject, "\n")
		require.Empty(t, p.Header.Get("Bcc"))
		require.Empty(t, p.Header.Get("X-Injected"))
		for k := range p.Header {
			require.Contains(t, []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version",
				"Subject", "To", "User-Agent", "X-Cortex-Delivery", "X-Cortex-Event", "X-Mailer"}, k, "unexpected header %s for %q", k, title)
		}
		require.Equal(t, "multipart/alternative", p.Type)
		text, html := p.Parts[0].Body, p.Parts[1].Body
		require.Contains(t, text, strings.ReplaceAll(title, "\r\n", "\n"), "the text part has the title as written")
		require.NotContains(t, html, "<script>")
		require.NotContains(t, html, "a<b")
		switch title {
		case "<script>alert(1)</script>":
			require.Contains(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;")
		case "a<b & c>":
			require.Contains(t, html, "a&lt;b &amp; c&gt;")
		case "O'Brien":
			require.Contains(t, p.Subject, "O'Brien")
			require.Contains(t, html, "O&#39;Brien")
		}
	}
}

// TestHeaderInjection: no message field can add a header or a recipient: CR/LF in the subject,
// the event type or the delivery id stay inside their own header.
func TestHeaderInjection(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{}, TLSNone)
	msg := plainMessage(t, "hello\r\nBcc: evil@example.com\r\n\r\nbody", "text", "<p>html</p>")
	ev := *msg.Event
	ev.Type = "issue.critical\r\nX-Injected: type"
	msg.Event = &ev
	msg.DeliveryID = "d\nX-Injected: delivery"
	require.NoError(t, b.n.Notify(context.Background(), msg))
	got := b.srv.received()[0]
	require.Equal(t, []string{"ops@example.com"}, got.To)
	p := parseMail(t, got.Data)
	require.Empty(t, p.Header.Get("Bcc"))
	require.Empty(t, p.Header.Get("X-Injected"))
	require.Equal(t, "hello  Bcc: evil@example.com    body", p.Subject)
	require.Equal(t, "issue.critical  X-Injected: type", p.Header.Get("X-Cortex-Event"))
	require.Equal(t, "d X-Injected: delivery", p.Header.Get("X-Cortex-Delivery"))
	require.Equal(t, "text", p.Parts[0].Body)
}

// TestSeedIssueCritical: the seed's issue.critical, rendered by the built-in templates, arrives
// as a correct multipart email.
func TestSeedIssueCritical(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{TLS: serveStartTLS, Mechs: []string{"PLAIN"}, User: "u", Pass: "p4ssword"}, TLSStartTLS)
	require.NoError(t, b.n.Notify(context.Background(), render(t, sample(t, "issue.critical"))))
	got := b.srv.received()
	require.Len(t, got, 1)
	p := parseMail(t, got[0].Data)
	require.Equal(t, "[Cortex] CRITICAL: SQL Injection Vulnerability", p.Subject)
	require.Equal(t, "multipart/alternative", p.Type)
	require.Len(t, p.Parts, 2)
	require.Equal(t, "text/plain", p.Parts[0].Type)
	require.Equal(t, "text/html", p.Parts[1].Type)
	for _, want := range []string{"SQL Injection Vulnerability", "critical", "api/user.js:42", "scan_abc123", "issue_xyz789", "evt_1234567891"} {
		require.Contains(t, p.Parts[0].Body, want)
		require.Contains(t, p.Parts[1].Body, want)
	}
	require.Contains(t, p.Parts[1].Body, "<html")
	require.Equal(t, "0190d2a8-0000-7000-8000-000000000001", p.Header.Get("X-Cortex-Delivery"))
}

// TestCase_C08_TLSModes: 465 and tls: implicit speak TLS before any SMTP byte; 587 goes
// EHLO → STARTTLS → EHLO → AUTH; 587 against a server without STARTTLS fails clearly without
// AUTH or mail in plaintext; every failure comes within the dial timeout.
func TestCase_C08_TLSModes(t *testing.T) {
	t.Parallel()
	auth := serverOpts{Mechs: []string{"PLAIN", "LOGIN"}, User: "bridge", Pass: "FAKE-SMTP-PASS"}

	t.Run("port 465 defaults to implicit TLS", func(t *testing.T) {
		t.Parallel()
		cfg := Config{SMTP: SMTP{Port: 465}}
		cfg.WithDefaults()
		require.Equal(t, TLSImplicit, cfg.SMTP.TLS)
		so := auth
		so.TLS = serveImplicit
		srv := startServer(t, so)
		c := srv.config(cfg.SMTP.TLS) // the mode port 465 chose, on the test server's port
		n := newNotifier(t, c, srv)
		require.NoError(t, n.Notify(context.Background(), plainMessage(t, "s", "b", "")))
		conns := srv.connections()
		require.Len(t, conns, 1)
		require.True(t, isTLSRecord(conns[0].firstByte), "first byte %#x is a TLS handshake", conns[0].firstByte)
		require.Equal(t, []string{"EHLO+tls", "AUTH PLAIN+tls", "MAIL+tls", "RCPT+tls", "DATA+tls"}, whats(conns[0].events))
		require.Len(t, srv.received(), 1)
	})
	t.Run("port 2465 with tls: implicit", func(t *testing.T) {
		t.Parallel()
		so := auth
		so.TLS = serveImplicit
		so.Mechs = []string{"LOGIN"}
		srv := startServer(t, so)
		n := newNotifier(t, srv.config(TLSImplicit), srv)
		require.NoError(t, n.Notify(context.Background(), plainMessage(t, "s", "b", "")))
		conns := srv.connections()
		require.True(t, isTLSRecord(conns[0].firstByte))
		require.Equal(t, []string{"EHLO+tls", "AUTH LOGIN+tls", "MAIL+tls", "RCPT+tls", "DATA+tls"}, whats(conns[0].events))
	})
	t.Run("port 587 defaults to STARTTLS", func(t *testing.T) {
		t.Parallel()
		cfg := Config{SMTP: SMTP{Port: 587}}
		cfg.WithDefaults()
		require.Equal(t, TLSStartTLS, cfg.SMTP.TLS)
		cfg = Config{}
		cfg.WithDefaults()
		require.Equal(t, 587, cfg.SMTP.Port)
		require.Equal(t, TLSStartTLS, cfg.SMTP.TLS, "plaintext is never a default")
		so := auth
		so.TLS = serveStartTLS
		srv := startServer(t, so)
		n := newNotifier(t, srv.config(cfg.SMTP.TLS), srv)
		require.NoError(t, n.Notify(context.Background(), plainMessage(t, "s", "b", "")))
		conns := srv.connections()
		require.Equal(t, byte('E'), conns[0].firstByte, "plaintext EHLO first")
		require.Equal(t, []string{"EHLO", "EHLO+tls", "AUTH PLAIN+tls", "MAIL+tls", "RCPT+tls", "DATA+tls"}, whats(conns[0].events),
			"EHLO → STARTTLS → EHLO → AUTH")
	})
	t.Run("587 without STARTTLS: clear error, no plaintext AUTH", func(t *testing.T) {
		t.Parallel()
		so := auth
		so.AllowInsecureAuth = true // the server would take the password in plaintext
		srv := startServer(t, so)
		n := newNotifier(t, srv.config(TLSStartTLS), srv)
		start := time.Now()
		err := n.Notify(context.Background(), plainMessage(t, "s", "b", ""))
		require.Less(t, time.Since(start), 2*time.Second)
		de := deliveryError(t, err)
		require.False(t, de.Retryable)
		require.Equal(t, notify.ReasonConfig, de.Reason)
		require.ErrorContains(t, err, "does not offer STARTTLS")
		require.ErrorContains(t, err, "nothing was sent")
		evs := srv.allEvents()
		require.Equal(t, []string{"EHLO"}, whats(evs), "no AUTH, no MAIL")
		require.Empty(t, srv.received())
	})
	t.Run("tls: none is plaintext and never sends PLAIN or LOGIN", func(t *testing.T) {
		t.Parallel()
		so := auth
		so.AllowInsecureAuth = true
		srv := startServer(t, so)
		n := newNotifier(t, srv.config(TLSNone), srv)
		err := n.Notify(context.Background(), plainMessage(t, "s", "b", ""))
		de := deliveryError(t, err)
		require.Equal(t, notify.ReasonConfig, de.Reason)
		require.False(t, de.Retryable)
		require.ErrorContains(t, err, "server offers: PLAIN LOGIN")
		require.Equal(t, []string{"EHLO"}, whats(srv.allEvents()))

		srv2 := startServer(t, serverOpts{}) // no auth configured: plain relay
		n2 := newNotifier(t, srv2.config(TLSNone), srv2)
		require.NoError(t, n2.Notify(context.Background(), plainMessage(t, "s", "b", "")))
		require.Equal(t, byte('E'), srv2.connections()[0].firstByte)
	})

	// Failures, each within the dial timeout (plus scheduling slack). The cases about a server
	// that never answers get a short one, which they must run into; the others must fail for
	// their own reason, so theirs is long enough that a TLS handshake under -race on a busy
	// machine never reaches it (400 ms did: "untrusted certificate" became a network timeout).
	const dialTimeout = 400 * time.Millisecond
	const ampleTimeout = 10 * time.Second
	const slack = 1500 * time.Millisecond
	failures := map[string]struct {
		server    func(t *testing.T) (host string, port int)
		tls       string
		noCA      bool
		reason    notify.Reason
		retryable bool
		contains  string
	}{
		"server never greets": {
			server: func(t *testing.T) (string, int) { return rawServer(t, func(net.Conn) {}) },
			tls:    TLSStartTLS, reason: notify.ReasonNetwork, retryable: true, contains: "dial_timeout",
		},
		"implicit TLS to a server that never answers the handshake": {
			server: func(t *testing.T) (string, int) { return rawServer(t, func(net.Conn) {}) },
			tls:    TLSImplicit, reason: notify.ReasonNetwork, retryable: true, contains: "dial_timeout",
		},
		"implicit TLS to a plaintext SMTP server": {
			server: func(t *testing.T) (string, int) { s := startServer(t, serverOpts{}); return s.host, s.port },
			tls:    TLSImplicit, reason: notify.ReasonConfig, contains: "check smtp.tls",
		},
		"STARTTLS with an untrusted certificate": {
			server: func(t *testing.T) (string, int) {
				s := startServer(t, serverOpts{TLS: serveStartTLS})
				return s.host, s.port
			},
			tls: TLSStartTLS, noCA: true, reason: notify.ReasonConfig, contains: "certificate",
		},
		"implicit TLS with an untrusted certificate": {
			server: func(t *testing.T) (string, int) {
				s := startServer(t, serverOpts{TLS: serveImplicit})
				return s.host, s.port
			},
			tls: TLSImplicit, noCA: true, reason: notify.ReasonConfig, contains: "certificate",
		},
		"connection refused": {
			server: func(t *testing.T) (string, int) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				port := ln.Addr().(*net.TCPAddr).Port
				require.NoError(t, ln.Close())
				return "127.0.0.1", port
			},
			tls: TLSStartTLS, reason: notify.ReasonNetwork, retryable: true, contains: "refused",
		},
	}
	for name, tc := range failures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			host, port := tc.server(t)
			timeout := ampleTimeout
			if tc.contains == "dial_timeout" {
				timeout = dialTimeout
			}
			cfg := &Config{SMTP: SMTP{Host: host, Port: port, TLS: tc.tls, DialTimeout: timeout, Username: "bridge", Password: "FAKE-SMTP-PASS"},
				From: "alerts@example.com", To: []string{"ops@example.com"}}
			var opts []Option
			if !tc.noCA {
				_, pool := selfSigned(t)
				opts = append(opts, WithTLSConfig(&tls.Config{RootCAs: pool}))
			}
			n, err := New(cfg, opts...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = n.Close() })
			start := time.Now()
			err = n.Notify(context.Background(), plainMessage(t, "s", "b", ""))
			elapsed := time.Since(start)
			require.Less(t, elapsed, timeout+slack, "failed after %s", elapsed)
			de := deliveryError(t, err)
			require.Equal(t, tc.reason, de.Reason, "%v", err)
			require.Equal(t, tc.retryable, de.Retryable, "%v", err)
			require.ErrorContains(t, err, tc.contains)
			require.NotContains(t, err.Error(), "FAKE-SMTP-PASS")
		})
	}
}

// TestCase_C10_AuthLoginAutoDiscovered: a server offering only "AUTH LOGIN XOAUTH2" gets LOGIN.
func TestCase_C10_AuthLoginAutoDiscovered(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{serveStartTLS, serveImplicit} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverOpts{TLS: mode, Mechs: []string{"LOGIN", "XOAUTH2"}, User: "bridge@example.com", Pass: "FAKE-SMTP-PASS"}, mode)
			require.NoError(t, b.n.Notify(context.Background(), plainMessage(t, "s", "b", "")))
			evs := b.srv.allEvents()
			require.True(t, hasEvent(evs, "AUTH LOGIN"), "%v", whats(evs))
			require.False(t, hasEvent(evs, "AUTH XOAUTH2"))
			for _, e := range evs {
				if strings.HasPrefix(e.What, "AUTH") {
					require.True(t, e.TLS, "AUTH only over TLS")
				}
			}
			require.Len(t, b.srv.received(), 1)
		})
	}
	t.Run("wrong password with LOGIN", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, serverOpts{TLS: serveStartTLS, Mechs: []string{"LOGIN", "XOAUTH2"}, User: "bridge", Pass: "right"})
		cfg := srv.config(TLSStartTLS)
		cfg.SMTP.Username, cfg.SMTP.Password = "bridge", "FAKE-SMTP-PASS"
		n := newNotifier(t, cfg, srv)
		err := n.Notify(context.Background(), plainMessage(t, "s", "b", ""))
		de := deliveryError(t, err)
		require.Equal(t, 535, de.StatusCode)
		require.False(t, de.Retryable)
		require.ErrorContains(t, err, "authentication failed: check smtp.username and smtp.password")
	})
}

// TestCase_C07_PasswordNeverLeaks: the SMTP password appears in no error or recorded response,
// even when a hostile server echoes it back.
func TestCase_C07_PasswordNeverLeaks(t *testing.T) {
	t.Parallel()
	const secret = "FAKE-SMTP-PASS"
	cases := map[string]serverOpts{
		"wrong password":   {TLS: serveStartTLS, Mechs: []string{"PLAIN"}, User: "bridge", Pass: "other"},
		"server echoes it": {TLS: serveStartTLS, Mechs: []string{"PLAIN"}, User: "bridge", Pass: "other", AuthErr: replyErr(535, "5.7.8 bad password "+secret+" (RkFLRS1TTVRQLVBBU1M=)")},
		"server echoes the AUTH PLAIN blob": {TLS: serveStartTLS, Mechs: []string{"PLAIN"}, User: "bridge", Pass: "other",
			AuthErr: replyErr(535, "5.7.8 bad credentials "+base64.StdEncoding.EncodeToString([]byte("\x00bridge\x00"+secret)))},
		"echo in RCPT":      {TLS: serveStartTLS, Mechs: []string{"LOGIN"}, User: "bridge", Pass: secret, Rcpt: func(string) error { return replyErr(550, "5.1.1 you said "+secret) }},
		"no STARTTLS":       {Mechs: []string{"PLAIN"}, AllowInsecureAuth: true, User: "bridge", Pass: secret},
		"no usable AUTH":    {TLS: serveStartTLS, Mechs: []string{"XOAUTH2"}, User: "bridge", Pass: secret},
		"temporary failure": {TLS: serveImplicit, Mechs: []string{"PLAIN"}, User: "bridge", Pass: secret, Data: func([]byte) error { return replyErr(451, "4.3.0 try "+secret+" later") }},
	}
	for name, so := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, so)
			mode := TLSStartTLS
			if so.TLS == serveImplicit {
				mode = TLSImplicit
			}
			cfg := srv.config(mode)
			cfg.SMTP.Username, cfg.SMTP.Password = "bridge", secret
			n := newNotifier(t, cfg, srv)
			err := n.Notify(context.Background(), plainMessage(t, "s", "b", ""))
			de := deliveryError(t, err)
			require.NotContains(t, err.Error(), secret)
			require.NotContains(t, de.Response, secret)
			require.NotContains(t, err.Error(), "RkFLRS1TTVRQLVBBU1M=", "nor its base64 form")
			require.NotContains(t, de.Response, "RkFLRS1TTVRQLVBBU1M=")
			plain := base64.StdEncoding.EncodeToString([]byte("\x00bridge\x00" + secret))
			require.NotContains(t, err.Error(), plain, "nor the AUTH PLAIN blob")
			require.NotContains(t, de.Response, plain)
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		cfg := &Config{SMTP: SMTP{Host: "127.0.0.1", Port: 1, Username: "bridge", Password: secret, DialTimeout: time.Second},
			From: "alerts@example.com", To: []string{"ops@example.com"}}
		n := newNotifier(t, cfg, nil)
		err := n.Notify(context.Background(), plainMessage(t, "s", "b", ""))
		require.Error(t, err)
		require.NotContains(t, err.Error(), secret)
	})
}

// TestClassification: every failure the server can answer, by phase, with its reply code.
func TestClassification(t *testing.T) {
	t.Parallel()
	greet421 := func(t *testing.T) (string, int) {
		return rawServer(t, func(c net.Conn) {
			_, _ = c.Write([]byte("421 4.3.2 Service not available, closing channel\r\n"))
			_ = c.Close()
		})
	}
	greet554 := func(t *testing.T) (string, int) {
		return rawServer(t, func(c net.Conn) {
			_, _ = c.Write([]byte("554 5.7.1 No SMTP service here\r\n"))
			_ = c.Close()
		})
	}
	tests := map[string]struct {
		so        serverOpts
		raw       func(t *testing.T) (string, int)
		status    int
		reason    notify.Reason
		retryable bool
		response  string
	}{
		"421 greeting": {raw: greet421, status: 421, reason: notify.ReasonServerError, retryable: true, response: "421 4.3.2 Service not available, closing channel"},
		"554 greeting": {raw: greet554, status: 554, reason: notify.ReasonClientError, response: "554 5.7.1 No SMTP service here"},
		"451 MAIL": {so: serverOpts{Mail: func(string) error { return replyErr(451, "4.7.1 Greylisted, try again") }},
			status: 451, reason: notify.ReasonServerError, retryable: true, response: "451 4.7.1 Greylisted, try again"},
		"550 MAIL": {so: serverOpts{Mail: func(string) error { return replyErr(550, "5.7.1 Sender rejected") }},
			status: 550, reason: notify.ReasonClientError, response: "550 5.7.1 Sender rejected"},
		"450 RCPT": {so: serverOpts{Rcpt: func(string) error { return replyErr(450, "4.2.1 Mailbox busy") }},
			status: 450, reason: notify.ReasonServerError, retryable: true, response: "450 4.2.1 Mailbox busy"},
		"550 RCPT": {so: serverOpts{Rcpt: func(string) error { return replyErr(550, "5.1.1 No such user") }},
			status: 550, reason: notify.ReasonClientError, response: "550 5.1.1 No such user"},
		"452 DATA": {so: serverOpts{Data: func([]byte) error { return replyErr(452, "4.3.1 Insufficient storage") }},
			status: 452, reason: notify.ReasonServerError, retryable: true, response: "452 4.3.1 Insufficient storage"},
		"554 DATA": {so: serverOpts{Data: func([]byte) error { return replyErr(554, "5.6.0 Message rejected as spam") }},
			status: 554, reason: notify.ReasonClientError, response: "554 5.6.0 Message rejected as spam"},
		"530 MAIL (authentication required)": {so: serverOpts{Mail: func(string) error { return replyErr(530, "5.7.0 Authentication required") }},
			status: 530, reason: notify.ReasonConfig, response: "530 5.7.0 Authentication required"},
		"535 AUTH": {so: serverOpts{TLS: serveStartTLS, Mechs: []string{"PLAIN"}, User: "bridge", Pass: "right"},
			status: 535, reason: notify.ReasonConfig, response: "535 5.7.8 Authentication failed"},
		"454 AUTH": {so: serverOpts{TLS: serveStartTLS, Mechs: []string{"PLAIN"}, User: "bridge", Pass: "right", AuthErr: replyErr(454, "4.7.0 Temporary authentication failure")},
			status: 454, reason: notify.ReasonServerError, retryable: true, response: "454 4.7.0 Temporary authentication failure"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var cfg *Config
			var n *Notifier
			if tc.raw != nil {
				host, port := tc.raw(t)
				cfg = &Config{SMTP: SMTP{Host: host, Port: port, TLS: TLSNone, DialTimeout: 2 * time.Second}, From: "a@example.com", To: []string{"b@example.com"}}
				n = newNotifier(t, cfg, nil)
			} else {
				srv := startServer(t, tc.so)
				mode := TLSNone
				if tc.so.TLS == serveStartTLS {
					mode = TLSStartTLS
				}
				cfg = srv.config(mode)
				if tc.so.User != "" {
					cfg.SMTP.Username, cfg.SMTP.Password = "bridge", "wrong"
				}
				n = newNotifier(t, cfg, srv)
			}
			err := n.Notify(context.Background(), plainMessage(t, "s", "b", ""))
			de := deliveryError(t, err)
			require.Equal(t, tc.status, de.StatusCode, "%v", err)
			require.Equal(t, tc.reason, de.Reason, "%v", err)
			require.Equal(t, tc.retryable, de.Retryable, "%v", err)
			require.Equal(t, tc.response, de.Response)
			require.ErrorContains(t, err, tc.response)
			if tc.reason == notify.ReasonConfig {
				require.ErrorContains(t, err, "check smtp.username and smtp.password")
			}
		})
	}
}

// TestBatchOneConnection: N messages due together share one connection (no artificial delay:
// the loop takes what is waiting), and each caller gets its own result.
func TestBatchOneConnection(t *testing.T) {
	t.Parallel()
	const n = 6
	srv := startServer(t, serverOpts{TLS: serveStartTLS, Mechs: []string{"PLAIN"}, User: "u", Pass: "p",
		// The third message is refused: only its caller sees an error.
		Rcpt: func(string) error { return nil },
		Data: func(b []byte) error {
			if bytes.Contains(b, []byte("refuse me")) {
				return replyErr(550, "5.7.1 Content refused")
			}
			return nil
		}})
	var waitAll sync.Once
	var nt *Notifier
	nt = newNotifier(t, srv.config(TLSStartTLS), srv, withBeforeBatch(func() {
		waitAll.Do(func() { // hold the first batch until every caller is waiting
			require.Eventually(t, func() bool {
				nt.mu.Lock()
				defer nt.mu.Unlock()
				return len(nt.pending) == n
			}, 5*time.Second, time.Millisecond)
		})
	}))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := "message " + string(rune('A'+i))
			if i == 2 {
				body = "refuse me"
			}
			errs[i] = nt.Notify(context.Background(), plainMessage(t, "s", body, ""))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 2 {
			de := deliveryError(t, err)
			require.Equal(t, 550, de.StatusCode)
			continue
		}
		require.NoError(t, err, "message %d", i)
	}
	require.Len(t, srv.connections(), 1, "one connection for the batch")
	require.Len(t, srv.received(), n-1)
	auths := 0
	for _, e := range srv.allEvents() {
		if strings.HasPrefix(e.What, "AUTH") {
			auths++
		}
	}
	require.Equal(t, 1, auths, "one AUTH for the batch")
}

// TestBatchConcurrentCallers: many concurrent callers without coordination all get delivered,
// over fewer connections than messages.
func TestBatchConcurrentCallers(t *testing.T) {
	t.Parallel()
	const n = 40
	srv := startServer(t, serverOpts{Data: func([]byte) error { time.Sleep(2 * time.Millisecond); return nil }})
	nt := newNotifier(t, srv.config(TLSNone), srv)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- nt.Notify(context.Background(), plainMessage(t, "s", "b", ""))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, srv.received(), n)
	require.Less(t, len(srv.connections()), n, "messages due together share connections")
}

// TestCallerDeadline: each caller's ctx is honoured inside a batch. A message still waiting when
// its caller's deadline passes is never sent ("not delivered"); one whose DATA went out is
// "possibly delivered", its connection is closed, and the rest of the batch goes over a new one.
func TestCallerDeadline(t *testing.T) {
	t.Parallel()
	done := testDone(t)
	srv := startServer(t, serverOpts{Data: func(b []byte) error {
		if bytes.Contains(b, []byte("slow")) {
			sleepOrDone(3*time.Second, done) // answers after the caller's deadline
		}
		return nil
	}})
	release := make(chan struct{})
	var once sync.Once
	var nt *Notifier
	nt = newNotifier(t, srv.config(TLSNone), srv, withBeforeBatch(func() {
		once.Do(func() {
			require.Eventually(t, func() bool {
				nt.mu.Lock()
				defer nt.mu.Unlock()
				return len(nt.pending) == 3
			}, 5*time.Second, time.Millisecond)
			close(release)
		})
	}))
	type result struct {
		err     error
		elapsed time.Duration
	}
	results := make([]result, 3)
	var wg sync.WaitGroup
	bodies := []string{"slow", "queued-short-deadline", "queued-long-deadline"}
	// The second caller's deadline passes while the first message is still being sent.
	timeouts := []time.Duration{500 * time.Millisecond, 200 * time.Millisecond, 10 * time.Second}
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Enqueue in order, so the slow one is first in the batch.
			time.Sleep(time.Duration(i) * 20 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), timeouts[i])
			defer cancel()
			start := time.Now()
			err := nt.Notify(ctx, plainMessage(t, "s", bodies[i], ""))
			results[i] = result{err, time.Since(start)}
		}()
	}
	<-release
	wg.Wait()

	de := deliveryError(t, results[0].err)
	require.Equal(t, notify.ReasonTimeout, de.Reason)
	require.True(t, de.Retryable)
	require.ErrorContains(t, results[0].err, "possibly delivered")
	require.Less(t, results[0].elapsed, time.Second, "the caller is not held by the server")

	de = deliveryError(t, results[1].err)
	require.Equal(t, notify.ReasonTimeout, de.Reason)
	require.ErrorContains(t, results[1].err, "not delivered")
	require.Less(t, results[1].elapsed, time.Second)

	require.NoError(t, results[2].err, "the rest of the batch is sent over a new connection")
	require.Eventually(t, func() bool { return len(srv.connections()) == 2 }, 5*time.Second, 10*time.Millisecond)
	for _, m := range srv.received() {
		require.NotContains(t, string(m.Data), "queued-short-deadline", "a message whose caller left is never sent")
	}
}

// TestCancelledBeforeSend: a caller whose ctx is already done gets a timeout; nothing is sent.
func TestCancelledBeforeSend(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{}, TLSNone)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.n.Notify(ctx, plainMessage(t, "s", "b", ""))
	de := deliveryError(t, err)
	require.Equal(t, notify.ReasonTimeout, de.Reason)
	require.ErrorContains(t, err, "not delivered")
	require.ErrorIs(t, err, context.Canceled)
	time.Sleep(50 * time.Millisecond)
	require.Empty(t, b.srv.connections())
}

// TestClose: Close ends a send in progress and refuses later messages, retryably.
func TestClose(t *testing.T) {
	t.Parallel()
	done := testDone(t)
	srv := startServer(t, serverOpts{Data: func([]byte) error { sleepOrDone(5*time.Second, done); return nil }})
	n, err := New(srv.config(TLSNone))
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- n.Notify(context.Background(), plainMessage(t, "s", "b", "")) }()
	require.Eventually(t, func() bool { return hasEvent(srv.allEvents(), "DATA") }, 5*time.Second, 5*time.Millisecond)
	start := time.Now()
	require.NoError(t, n.Close())
	require.Less(t, time.Since(start), time.Second)
	err = <-errc
	require.True(t, deliveryError(t, err).Retryable)
	err = n.Notify(context.Background(), plainMessage(t, "s", "b", ""))
	require.True(t, deliveryError(t, err).Retryable)
	require.ErrorContains(t, err, "shutting down")
	require.NoError(t, n.Close(), "Close twice is fine")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := func() Config {
		c := Config{SMTP: SMTP{Host: "smtp.example.com"}, From: "Cortex <a@example.com>", To: []string{"b@example.com"}}
		c.WithDefaults()
		return c
	}
	tests := map[string]struct {
		edit func(*Config)
		want string // "" = valid
	}{
		"valid":                  {edit: func(*Config) {}},
		"tls none explicit":      {edit: func(c *Config) { c.SMTP.TLS = TLSNone }},
		"ipv6 host":              {edit: func(c *Config) { c.SMTP.Host = "::1" }},
		"bcc only":               {edit: func(c *Config) { c.To = nil; c.BCC = []string{"x@example.com"} }},
		"unknown tls":            {edit: func(c *Config) { c.SMTP.TLS = "ssl" }, want: "smtp.tls: must be starttls, implicit or none"},
		"port":                   {edit: func(c *Config) { c.SMTP.Port = 70000 }, want: "smtp.port: must be 1–65535"},
		"host with port":         {edit: func(c *Config) { c.SMTP.Host = "smtp.example.com:587" }, want: "smtp.host: must be a host name"},
		"bad from":               {edit: func(c *Config) { c.From = "nope" }, want: "from:"},
		"no recipients":          {edit: func(c *Config) { c.To = nil }, want: "to: at least one recipient"},
		"bad cc":                 {edit: func(c *Config) { c.CC = []string{"x"} }, want: "cc[0]:"},
		"bad reply_to":           {edit: func(c *Config) { c.ReplyTo = "x" }, want: "reply_to:"},
		"multi-line prefix":      {edit: func(c *Config) { c.SubjectPrefix = "a\nBcc: x@example.com" }, want: "subject_prefix: must be one line"},
		"negative dial_timeout":  {edit: func(c *Config) { c.SMTP.DialTimeout = -time.Second }, want: "smtp.dial_timeout"},
		"header injection in to": {edit: func(c *Config) { c.To = []string{"a@example.com\r\nBcc: x@example.com"} }, want: "to[0]:"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				_, err := New(&c)
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			_, err = New(&c)
			require.Error(t, err)
		})
	}
	c := Config{SMTP: SMTP{Port: 2525, TLS: TLSImplicit}}
	c.WithDefaults()
	require.Equal(t, 2525, c.SMTP.Port)
	require.Equal(t, 10*time.Second, c.SMTP.DialTimeout)
	c = Config{SMTP: SMTP{TLS: TLSImplicit}}
	c.WithDefaults()
	require.Equal(t, 465, c.SMTP.Port)
}

// TestTLSConfigDefaults: production TLS verifies certificates against the system roots with
// TLS ≥ 1.2 and the configured host as the name.
func TestTLSConfigDefaults(t *testing.T) {
	t.Parallel()
	n, err := New(&Config{SMTP: SMTP{Host: "smtp.example.com"}, From: "a@example.com", To: []string{"b@example.com"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	require.False(t, n.tlsConfig.InsecureSkipVerify)
	require.Nil(t, n.tlsConfig.RootCAs, "system roots")
	require.Equal(t, "smtp.example.com", n.tlsConfig.ServerName)
	require.GreaterOrEqual(t, n.tlsConfig.MinVersion, uint16(0x0303))

	given := &tls.Config{MinVersion: tls.VersionTLS10}
	n2, err := New(&Config{SMTP: SMTP{Host: "smtp.example.com"}, From: "a@example.com", To: []string{"b@example.com"}}, WithTLSConfig(given))
	require.NoError(t, err)
	t.Cleanup(func() { _ = n2.Close() })
	require.GreaterOrEqual(t, n2.tlsConfig.MinVersion, uint16(0x0303), "raised to TLS 1.2")
	require.Equal(t, "smtp.example.com", n2.tlsConfig.ServerName)
	require.Equal(t, uint16(tls.VersionTLS10), given.MinVersion, "the caller's config is not modified")
}

func withBeforeBatch(f func()) Option { return func(n *Notifier) { n.beforeBatch = f } }

// testDone is closed when the test ends, for server hooks that wait.
func testDone(t *testing.T) <-chan struct{} {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return done
}

func sleepOrDone(d time.Duration, done <-chan struct{}) {
	select {
	case <-time.After(d):
	case <-done:
	}
}

// TestAttachments: a digest's CSV is attached; the text and HTML stay alternatives.
func TestAttachments(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{}, TLSNone)
	msg := plainMessage(t, "digest", "see attached", "<p>see attached</p>")
	csv := "event,id\nissue.critical,evt_1\n"
	msg.Attachments = []notify.Attachment{{Name: "cortex-digest-weekly-2026-03-02.csv", ContentType: "text/csv", Data: []byte(csv)}}
	require.NoError(t, b.n.Notify(context.Background(), msg))
	p := parseMail(t, b.srv.received()[0].Data)
	require.Equal(t, "multipart/mixed", p.Type)
	require.Len(t, p.Parts, 4)
	require.Equal(t, "multipart/alternative", p.Parts[0].Type)
	require.Equal(t, "see attached", p.Parts[1].Body)
	require.Equal(t, "text/html", p.Parts[2].Type)
	require.Equal(t, mailPart{Type: "text/csv", Body: csv, Filename: "cortex-digest-weekly-2026-03-02.csv"}, p.Parts[3])
}

// TestGroupTemplate: a group of events is one email whose subject counts them; the text and
// HTML parts list every event up to 100, then "…and N more", with event text escaped in HTML.
func TestGroupTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{}, TLSNone)
	var all []*event.Event
	for _, typ := range samples.Types() {
		all = append(all, sample(t, typ))
	}
	require.NoError(t, b.n.Notify(context.Background(), render(t, all...)))

	var findings []*event.Event
	for i := range 105 {
		findings = append(findings, issue(t, fmt.Sprintf("<script>finding %d</script>", i+1)))
	}
	require.NoError(t, b.n.Notify(context.Background(), render(t, findings...)))

	got := b.srv.received()
	require.Len(t, got, 2)
	mixed := parseMail(t, got[0].Data)
	require.Equal(t, "[Cortex] 6 Cortex events (1 critical)", mixed.Subject)
	require.Equal(t, "multipart/alternative", mixed.Type)
	for _, ev := range all {
		require.Contains(t, mixed.Parts[0].Body, ev.ID)
		require.Contains(t, mixed.Parts[1].Body, ev.Timestamp.UTC().Format("2006-01-02 15:04:05"))
	}
	require.Contains(t, mixed.Parts[0].Body, "CRITICAL: SQL Injection Vulnerability — api/user.js:42")
	require.Contains(t, mixed.Parts[0].Body, "Scan FAILED: clone failed: repository not found or access denied [user/other-repo]")

	many := parseMail(t, got[1].Data)
	require.Equal(t, "[Cortex] 105 critical findings in o/r", many.Subject)
	text, html := many.Parts[0].Body, many.Parts[1].Body
	require.Contains(t, text, "100. CRITICAL: <script>finding 100</script>")
	require.NotContains(t, text, "finding 101<")
	require.Contains(t, text, "…and 5 more")
	require.Contains(t, html, "&lt;script&gt;finding 100&lt;/script&gt;")
	require.NotContains(t, html, "<script>")
	require.NotContains(t, html, "finding 101&lt;")
	require.Contains(t, html, "…and 5 more")
	require.NotContains(t, html, "ZgotmplZ", "no value was refused by html/template")
}

// TestReconnectAfter421: a 421 ends the connection for the rest of the batch, which goes over a
// new one; only the message that got the 421 fails (retryably).
func TestReconnectAfter421(t *testing.T) {
	t.Parallel()
	const n = 3
	srv := startServer(t, serverOpts{Data: func(b []byte) error {
		if bytes.Contains(b, []byte("first")) {
			return replyErr(421, "4.4.2 Too busy, closing")
		}
		return nil
	}})
	var once sync.Once
	var nt *Notifier
	nt = newNotifier(t, srv.config(TLSNone), srv, withBeforeBatch(func() {
		once.Do(func() {
			require.Eventually(t, func() bool {
				nt.mu.Lock()
				defer nt.mu.Unlock()
				return len(nt.pending) == n
			}, 5*time.Second, time.Millisecond)
		})
	}))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, body := range []string{"first", "second", "third"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 10 * time.Millisecond) // in order
			errs[i] = nt.Notify(context.Background(), plainMessage(t, "s", body, ""))
		}()
	}
	wg.Wait()
	de := deliveryError(t, errs[0])
	require.Equal(t, 421, de.StatusCode)
	require.True(t, de.Retryable)
	require.NoError(t, errs[1])
	require.NoError(t, errs[2])
	require.Len(t, srv.connections(), 2)
	require.Len(t, srv.received(), 2)
}
