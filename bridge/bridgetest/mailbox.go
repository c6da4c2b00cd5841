package bridgetest

import (
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// Mail is one message a Mailbox accepted.
type Mail struct {
	From string
	To   []string
	Data []byte // headers and body as sent
}

// Mailbox is an SMTP server on loopback (emersion/go-smtp, plaintext, no auth) that keeps
// every message: an email target's relay.
type Mailbox struct {
	Host string // 127.0.0.1
	Port int

	mu    sync.Mutex
	mails []Mail
}

// NewMailbox starts a Mailbox closed when the test ends.
func NewMailbox(t testing.TB) *Mailbox {
	t.Helper()
	box := &Mailbox{Host: "127.0.0.1"}
	srv := smtp.NewServer(box)
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	box.Port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return box
}

// Mails returns the messages accepted so far, in order.
func (m *Mailbox) Mails() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Mail(nil), m.mails...)
}

// Wait waits up to within for at least n messages and returns them; the test fails otherwise.
func (m *Mailbox) Wait(t testing.TB, n int, within time.Duration) []Mail {
	t.Helper()
	require.Eventually(t, func() bool { return len(m.Mails()) >= n }, within, 5*time.Millisecond)
	return m.Mails()
}

// NewSession is go-smtp's hook for a connection.
func (m *Mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{box: m}, nil }

type session struct {
	box  *Mailbox
	from string
	to   []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *session) Reset()                                      { s.from, s.to = "", nil }
func (s *session) Logout() error                               { return nil }

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	s.box.mails = append(s.box.mails, Mail{From: s.from, To: append([]string(nil), s.to...), Data: b})
	s.box.mu.Unlock()
	return nil
}
