package email

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// A small SMTP server on loopback, built on emersion/go-smtp, that records what clients do.

// Server TLS modes.
const (
	servePlain    = "plain"    // no TLS offered
	serveStartTLS = "starttls" // STARTTLS offered
	serveImplicit = "implicit" // TLS from the first byte
)

// serverOpts configures a test server. Hooks run in the server's session goroutine; a non-nil
// error is the server's reply (use *smtp.SMTPError for a specific code).
type serverOpts struct {
	TLS   string   // servePlain (default), serveStartTLS, serveImplicit
	Mechs []string // AUTH mechanisms advertised; PLAIN and LOGIN are implemented
	// AllowInsecureAuth advertises and accepts AUTH without TLS.
	AllowInsecureAuth bool
	User, Pass        string          // accepted credentials
	AuthErr           *smtp.SMTPError // reply to wrong credentials (default 535 5.7.8)
	// SMTPUTF8 advertises SMTPUTF8 (RFC 6531). Like real relays, the server refuses a non-ASCII
	// address in MAIL or RCPT (553 5.6.7) unless MAIL asked for SMTPUTF8.
	SMTPUTF8 bool
	Mail     func(from string) error
	Rcpt     func(to string) error
	Data     func(msg []byte) error
}

// smtpEvent is one thing a client did on a connection, with whether TLS was up at that moment.
type smtpEvent struct {
	What string // "EHLO", "AUTH PLAIN", "AUTH LOGIN", "AUTH XOAUTH2", "MAIL", "RCPT", "DATA"
	TLS  bool
}

// connRecord is one accepted connection.
type connRecord struct {
	remote    string
	firstByte byte // the first byte the client sent (0x16: a TLS handshake)
	events    []smtpEvent
}

// received is one accepted message.
type received struct {
	From string
	To   []string
	Data []byte
	Conn string // remote address of its connection
	UTF8 bool   // MAIL carried the SMTPUTF8 parameter
}

type testServer struct {
	t    *testing.T
	opts serverOpts
	host string
	port int
	// ClientTLS trusts the server's certificate (and requires TLS 1.2+, like production).
	ClientTLS *tls.Config

	mu       sync.Mutex
	conns    []*connRecord
	byRemote map[string]*connRecord
	messages []received
}

var (
	certOnce sync.Once
	testCert tls.Certificate
	testPool *x509.CertPool
)

// selfSigned returns a certificate for 127.0.0.1 and localhost and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "cortex-bridge test SMTP"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:              []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
		testPool = x509.NewCertPool()
		testPool.AddCert(cert)
	})
	return testCert, testPool
}

// startServer starts a test server on 127.0.0.1:0; it stops when the test ends.
func startServer(t *testing.T, opts serverOpts) *testServer {
	t.Helper()
	cert, pool := selfSigned(t)
	s := &testServer{t: t, opts: opts, host: "127.0.0.1", byRemote: map[string]*connRecord{},
		ClientTLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	srv := smtp.NewServer(s)
	srv.Domain = "smtp.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = opts.AllowInsecureAuth
	srv.EnableSMTPUTF8 = opts.SMTPUTF8
	srv.ErrorLog = log.New(io.Discard, "", 0)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var l net.Listener = &recordingListener{Listener: ln, s: s}
	switch opts.TLS {
	case serveStartTLS:
		srv.TLSConfig = serverTLS
	case serveImplicit:
		l = tls.NewListener(l, serverTLS)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// config returns a target config for this server: tls as given, a 2s dial timeout.
func (s *testServer) config(tlsMode string) *Config {
	return &Config{
		SMTP: SMTP{Host: s.host, Port: s.port, TLS: tlsMode, Username: s.opts.User, Password: notify.Secret(s.opts.Pass), DialTimeout: 2 * time.Second},
		From: "Cortex Bridge <alerts@example.com>",
		To:   []string{"ops@example.com"},
	}
}

func (s *testServer) connections() []connRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]connRecord, len(s.conns))
	for i, c := range s.conns {
		out[i] = *c
		out[i].events = append([]smtpEvent(nil), c.events...)
	}
	return out
}

func (s *testServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.messages...)
}

// allEvents lists every event on every connection.
func (s *testServer) allEvents() []smtpEvent {
	var out []smtpEvent
	for _, c := range s.connections() {
		out = append(out, c.events...)
	}
	return out
}

func (s *testServer) record(c *smtp.Conn, what string) {
	_, isTLS := c.TLSConnectionState()
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.byRemote[c.Conn().RemoteAddr().String()]; rec != nil {
		rec.events = append(rec.events, smtpEvent{What: what, TLS: isTLS})
	}
}

// NewSession is called on each EHLO/HELO that starts a session (again after STARTTLS).
func (s *testServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.record(c, "EHLO")
	return &session{s: s, c: c}, nil
}

type session struct {
	s    *testServer
	c    *smtp.Conn
	from string
	utf8 bool
	to   []string
}

// errNeedsSMTPUTF8 is a relay's refusal of a non-ASCII address sent without SMTPUTF8.
var errNeedsSMTPUTF8 = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7}, Message: "non-ASCII address requires SMTPUTF8"}

var _ smtp.AuthSession = (*session)(nil)

func (x *session) AuthMechanisms() []string { return x.s.opts.Mechs }

func (x *session) Auth(mech string) (sasl.Server, error) {
	x.s.record(x.c, "AUTH "+mech)
	check := func(user, pass string) error {
		if user == x.s.opts.User && pass == x.s.opts.Pass {
			return nil
		}
		if x.s.opts.AuthErr != nil {
			return x.s.opts.AuthErr
		}
		return smtp.ErrAuthFailed
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (x *session) Mail(from string, opts *smtp.MailOptions) error {
	x.s.record(x.c, "MAIL")
	x.utf8 = opts != nil && opts.UTF8
	if !x.utf8 && !isASCII(from) {
		return errNeedsSMTPUTF8
	}
	x.from = from
	if x.s.opts.Mail != nil {
		return x.s.opts.Mail(from)
	}
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.record(x.c, "RCPT")
	if !x.utf8 && !isASCII(to) {
		return errNeedsSMTPUTF8
	}
	if x.s.opts.Rcpt != nil {
		if err := x.s.opts.Rcpt(to); err != nil {
			return err
		}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	x.s.record(x.c, "DATA")
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if x.s.opts.Data != nil {
		if err := x.s.opts.Data(b); err != nil {
			return err
		}
	}
	x.s.mu.Lock()
	x.s.messages = append(x.s.messages, received{From: x.from, To: append([]string(nil), x.to...), Data: b, Conn: x.c.Conn().RemoteAddr().String(), UTF8: x.utf8})
	x.s.mu.Unlock()
	return nil
}

func (x *session) Reset()        { x.from, x.to, x.utf8 = "", nil, false }
func (x *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login), which go-sasl no
// longer ships: "Username:", then "Password:".
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if len(resp) == 0 {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.step = 2
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// recordingListener notes each connection and the first byte its client sends.
type recordingListener struct {
	net.Listener
	s *testServer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rec := &connRecord{remote: c.RemoteAddr().String()}
	l.s.mu.Lock()
	l.s.conns = append(l.s.conns, rec)
	l.s.byRemote[rec.remote] = rec
	l.s.mu.Unlock()
	return &firstByteConn{Conn: c, s: l.s, rec: rec}, nil
}

type firstByteConn struct {
	net.Conn
	s    *testServer
	rec  *connRecord
	once sync.Once
}

func (c *firstByteConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(func() {
			c.s.mu.Lock()
			c.rec.firstByte = p[0]
			c.s.mu.Unlock()
		})
	}
	return n, err
}

// rawServer accepts connections on 127.0.0.1:0 and runs handle on each (for servers go-smtp
// cannot be: a 421 greeting, silence). Connections are closed when the test ends.
func rawServer(t *testing.T, handle func(net.Conn)) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go handle(c)
		}
	}()
	return "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
}

// replyErr is an SMTP reply for server hooks, e.g. replyErr(550, "5.1.1 No such user").
func replyErr(code int, text string) *smtp.SMTPError {
	ec := smtp.EnhancedCode{code / 100, 0, 0}
	if f := strings.Fields(text); len(f) > 0 {
		var a, b, c int
		if n, err := fmt.Sscanf(f[0], "%d.%d.%d", &a, &b, &c); err == nil && n == 3 {
			ec = smtp.EnhancedCode{a, b, c}
			text = strings.TrimSpace(strings.TrimPrefix(text, f[0]))
		}
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: text}
}

// isTLSRecord reports whether b starts a TLS handshake record.
func isTLSRecord(b byte) bool { return b == 0x16 }
