package email

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/log"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// maxBatch is the most messages sent over one connection. Exchange's receive connectors accept
// 20 messages per connection by default (Set-ReceiveConnector -MaxMessagesPerConnection).
const maxBatch = 20

// noDeadlineWait bounds the sending of one message whose context has no deadline (the dispatcher
// always sets one: delivery.timeout). RFC 5321 §4.5.3.2 suggests 5 minutes for MAIL and RCPT.
const noDeadlineWait = 5 * time.Minute

// Request states: a request goes queued → sending → finished, or ends abandoned (its caller left
// before it was sent) or aborted (its caller left while it was being sent, closing the connection).
const (
	stateQueued int32 = iota
	stateSending
	stateFinished
	stateAbandoned
	stateAborted
)

// request is one Notify call waiting for the sender loop.
type request struct {
	ctx      context.Context
	msg      *gomail.Msg
	done     chan error // 1-buffered; receives exactly one result unless abandoned
	state    atomic.Int32
	dataSent atomic.Bool // DATA was (or was about to be) written for this message
	conn     *conn       // the connection it is sent on, set before state becomes sending
}

// finish hands the caller its result, unless it has left already.
func (r *request) finish(err error) {
	if r.state.CompareAndSwap(stateQueued, stateFinished) || r.state.CompareAndSwap(stateSending, stateFinished) {
		r.done <- err
	}
}

// cancel is the caller's side when its ctx ends first. A message not yet started is never sent;
// one being sent has its connection closed, so it cannot complete later; either way the caller
// gets a timeout, "possibly delivered" only when DATA had gone out.
func (r *request) cancel(cause error) error {
	if r.state.CompareAndSwap(stateQueued, stateAbandoned) {
		return timeoutError(cause, false)
	}
	if r.state.CompareAndSwap(stateSending, stateAborted) {
		r.conn.close()
		// Read after the close: if DATA was not marked by now, it can no longer be written.
		return timeoutError(cause, r.dataSent.Load())
	}
	return <-r.done // finished: the loop is handing over the result right now
}

func timeoutError(cause error, dataSent bool) *notify.DeliveryError {
	if dataSent {
		return &notify.DeliveryError{Err: fmt.Errorf("timed out after the message was sent, possibly delivered: %w", cause),
			Reason: notify.ReasonTimeout, Retryable: true}
	}
	return &notify.DeliveryError{Err: fmt.Errorf("timed out before the message was sent, not delivered: %w", cause),
		Reason: notify.ReasonTimeout, Retryable: true}
}

// loop is the notifier's only sender: each time work is pending it takes everything waiting (no
// artificial delay, at most maxBatch) and sends it over one connection.
func (n *Notifier) loop() {
	defer close(n.done)
	for {
		select {
		case <-n.wake:
		case <-n.ctx.Done():
			n.mu.Lock()
			left := n.pending
			n.pending = nil
			n.mu.Unlock()
			for _, r := range left {
				r.finish(&notify.DeliveryError{Err: errClosed, Reason: notify.ReasonNetwork, Retryable: true})
			}
			return
		}
		if n.beforeBatch != nil {
			n.beforeBatch()
		}
		n.mu.Lock()
		k := min(len(n.pending), maxBatch)
		batch := n.pending[:k:k]
		n.pending = n.pending[k:]
		if len(n.pending) > 0 {
			select {
			case n.wake <- struct{}{}:
			default:
			}
		}
		n.mu.Unlock()
		for len(batch) > 0 {
			batch = n.sendOnConn(batch)
		}
	}
}

// sendOnConn opens one connection and sends the batch over it in order, handing each caller its
// own result. It returns the requests it did not try because a caller closed the connection
// while its message was being sent (they go over a new connection).
func (n *Notifier) sendOnConn(batch []*request) []*request {
	live := batch[:0:0]
	for _, r := range batch {
		if r.state.Load() == stateQueued {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return nil
	}
	if n.ctx.Err() != nil { // closed
		for _, r := range live {
			r.finish(&notify.DeliveryError{Err: errClosed, Reason: notify.ReasonNetwork, Retryable: true})
		}
		return nil
	}
	// The connection lives while some caller still waits (or until Close).
	ctx, cancel := untilAllDone(n.ctx, live)
	defer cancel()
	c := &conn{}
	stopAbort := context.AfterFunc(ctx, c.close)
	defer stopAbort()
	defer c.close()

	client, err := gomail.NewClient(n.cfg.SMTP.Host, n.clientOptions(c)...)
	if err != nil {
		for _, r := range live {
			r.finish(&notify.DeliveryError{Err: n.redact(err), Reason: notify.ReasonConfig})
		}
		return nil
	}
	c.setLimit(time.Now().Add(n.cfg.SMTP.DialTimeout))
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		de := n.classifyDial(err, c)
		for _, r := range live {
			r.finish(de)
		}
		return nil
	}
	defer func() {
		// QUIT politely, within the dial timeout; the callers have their results already.
		deadline := time.Now().Add(n.cfg.SMTP.DialTimeout)
		c.setLimit(deadline)
		_ = c.setDeadline(deadline)
		_ = client.CloseWithSMTPClient(sc)
	}()
	if len(n.utf8Addrs) > 0 {
		if ok, _ := sc.Extension("SMTPUTF8"); !ok {
			de := n.noSMTPUTF8Error()
			for _, r := range live {
				r.finish(de)
			}
			return nil
		}
	}
	for i, r := range live {
		r.conn = c
		if !r.state.CompareAndSwap(stateQueued, stateSending) {
			continue // its caller left while it waited: never sent
		}
		deadline, ok := r.ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(noDeadlineWait)
		}
		c.setLimit(deadline)
		c.current(r)
		sendErr := client.SendWithSMTPClient(sc, r.msg)
		c.current(nil)
		result := n.classifySend(r, sendErr, c)
		if r.state.CompareAndSwap(stateSending, stateFinished) {
			r.done <- result
			if !broken(result) {
				continue
			}
			// The dialogue is out of step (a timeout leaves the server's late answer
			// unread) or the server is leaving (421): the rest go over a new connection.
			c.close()
		}
		// Or aborted by its caller: the connection is closed; the rest go over a new one.
		return live[i+1:]
	}
	return nil
}

// broken reports whether a message's failure leaves its connection unusable: anything but an
// SMTP reply (network error, timeout) and 421, the server closing the channel (RFC 5321 §3.8).
func broken(err error) bool {
	if err == nil {
		return false
	}
	de, ok := err.(*notify.DeliveryError)
	return !ok || de.StatusCode == 0 || de.StatusCode == 421
}

// clientOptions configures go-mail for one connection of this target. smtp.tls maps to go-mail:
//
//	starttls  TLSMandatory: EHLO, STARTTLS (refused when not offered), EHLO again, then AUTH
//	implicit  dialFunc does the TLS handshake first; TLSOpportunistic so go-mail sees TLS is up
//	none      NoTLS: plaintext; AUTH only with CRAM-MD5/SCRAM (go-mail never sends PLAIN or LOGIN
//	          unencrypted)
//
// Certificates are verified (tlsConfig), TLS 1.2 at least.
func (n *Notifier) clientOptions(c *conn) []gomail.Option {
	s := n.cfg.SMTP
	opts := []gomail.Option{
		gomail.WithPort(s.Port),
		// go-mail uses this for its dial context and as the connection deadline, renewed before
		// each message; conn clamps it to the dial timeout, then to each caller's deadline.
		gomail.WithTimeout(max(s.DialTimeout, noDeadlineWait)),
		gomail.WithTLSConfig(n.tlsConfig),
		gomail.WithDialContextFunc(n.dialFunc(c)),
		// The logger is our hook on the SMTP dialogue (go-mail redacts AUTH lines before it):
		// it notes when DATA goes out and keeps the EHLO answer for error messages.
		gomail.WithDebugLog(),
		gomail.WithLogger(c),
		gomail.WithoutNoop(), // no NOOP before every message: a dead connection fails on MAIL anyway
		gomail.WithoutRset(), // no RSET after a delivered message: DATA's end already reset it
	}
	if len(n.utf8Addrs) == 0 {
		// go-mail asks for SMTPUTF8 whenever the server offers it; an all-ASCII message does not
		// need it, and a message sent with it cannot be relayed on to a server without it.
		opts = append(opts, gomail.WithoutSMTPUTF8())
	}
	switch s.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		// go-mail's own implicit TLS (WithSSL) is skipped when a dial function is set, and it
		// then counts the connection as unencrypted (no PLAIN/LOGIN). With TLSOpportunistic it
		// finds the *tls.Conn and knows; servers do not offer STARTTLS inside TLS.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.Username), gomail.WithPassword(s.Password.Reveal()))
	}
	return opts
}

// dialFunc connects with the dial timeout and, for tls: implicit, completes the TLS handshake
// before any SMTP byte. The raw connection goes into c, so that a leaving caller or Close can
// close it even while go-mail waits on it.
func (n *Notifier) dialFunc(c *conn) gomail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, n.cfg.SMTP.DialTimeout)
		defer cancel()
		var d net.Dialer
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		dc := c.attach(raw)
		if n.cfg.SMTP.TLS != TLSImplicit {
			return dc, nil
		}
		tc := tls.Client(dc, n.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, &handshakeError{err}
		}
		return tc, nil
	}
}

// handshakeError is a failed implicit-TLS handshake.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// untilAllDone returns a context, child of parent, that ends when every request's context has.
func untilAllDone(parent context.Context, reqs []*request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	var left atomic.Int64
	left.Store(int64(len(reqs)))
	stops := make([]func() bool, 0, len(reqs))
	for _, r := range reqs {
		stops = append(stops, context.AfterFunc(r.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		}))
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// conn is one SMTP connection: the raw net.Conn (closable from any goroutine), a deadline limit
// that go-mail's own deadlines cannot exceed, and the go-mail log hook.
type conn struct {
	mu    sync.Mutex
	raw   net.Conn
	limit time.Time

	// Used by the sender loop only (go-mail logs from the goroutine it runs on).
	cur     *request
	lastCmd string
	ehlo    string // the server's EHLO answer (extensions, one per line)
}

func (c *conn) attach(raw net.Conn) net.Conn {
	c.mu.Lock()
	c.raw = raw
	c.mu.Unlock()
	return &limitedConn{Conn: raw, c: c}
}

func (c *conn) close() {
	c.mu.Lock()
	raw := c.raw
	c.mu.Unlock()
	if raw != nil {
		_ = raw.Close()
	}
}

func (c *conn) setLimit(t time.Time) {
	c.mu.Lock()
	c.limit = t
	c.mu.Unlock()
}

func (c *conn) setDeadline(t time.Time) error {
	c.mu.Lock()
	raw := c.raw
	c.mu.Unlock()
	if raw == nil {
		return nil
	}
	return raw.SetDeadline(t)
}

func (c *conn) clamp(t time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.limit.IsZero() && (t.IsZero() || t.After(c.limit)) {
		return c.limit
	}
	return t
}

func (c *conn) current(r *request) { c.cur = r }

// limitedConn caps every deadline go-mail sets (it renews a fixed timeout before each message)
// at the connection's current limit: the dial timeout while connecting, the caller's deadline
// while its message is sent. tls.Conn passes its deadlines down to it too.
type limitedConn struct {
	net.Conn
	c *conn
}

func (l *limitedConn) SetDeadline(t time.Time) error { return l.Conn.SetDeadline(l.c.clamp(t)) }
func (l *limitedConn) SetReadDeadline(t time.Time) error {
	return l.Conn.SetReadDeadline(l.c.clamp(t))
}
func (l *limitedConn) SetWriteDeadline(t time.Time) error {
	return l.Conn.SetWriteDeadline(l.c.clamp(t))
}

// Debugf receives go-mail's SMTP dialogue. Client lines during AUTH arrive redacted by go-mail;
// nothing here is logged or kept beyond the EHLO answer.
func (c *conn) Debugf(l log.Log) {
	if l.Direction == log.DirClientToServer {
		cmd, _, _ := strings.Cut(l.Format, " ")
		c.lastCmd = strings.ToUpper(cmd)
		if c.lastCmd == "DATA" && c.cur != nil {
			c.cur.dataSent.Store(true)
		}
		return
	}
	if c.lastCmd == "EHLO" && len(l.Messages) == 2 {
		if code, ok := l.Messages[0].(int); ok && code == 250 {
			c.ehlo = fmt.Sprint(l.Messages[1])
		}
	}
}

func (c *conn) Infof(log.Log)  {}
func (c *conn) Warnf(log.Log)  {}
func (c *conn) Errorf(log.Log) {}

// authMechanisms is what the server's EHLO offered for AUTH, e.g. "LOGIN XOAUTH2".
func (c *conn) authMechanisms() string {
	for line := range strings.SplitSeq(c.ehlo, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], "AUTH") {
			return strings.Join(f[1:], " ")
		}
	}
	return ""
}

// addr is host:port for messages.
func (n *Notifier) addr() string {
	return net.JoinHostPort(n.cfg.SMTP.Host, strconv.Itoa(n.cfg.SMTP.Port))
}
