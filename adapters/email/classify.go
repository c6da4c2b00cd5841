package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Classification (docs/architecture.md, the life of a delivery), in one place:
//
//	what                                           reason        retryable  StatusCode
//	reply 4xx (greeting, EHLO, MAIL, RCPT, DATA)   server_error  yes        the code
//	reply 5xx                                      client_error  no         the code
//	AUTH rejected with 5xx (535, 534, 530, …)      config        no         the code
//	AUTH answered 4xx (454 temporary failure)      server_error  yes        the code
//	no usable AUTH mechanism offered               config        no         0
//	starttls target without STARTTLS               config        no         0
//	non-ASCII local part, server without SMTPUTF8  config        no         0   nothing sent
//	TLS handshake or certificate failure           config        no         0
//	connect refused/reset, DNS, dial timeout       network       yes        0
//	connection lost after the message's final "."  timeout       yes        0   "possibly delivered"
//	caller's deadline before DATA / after DATA     timeout       yes        0   "not delivered" / "possibly delivered"
//
// Response is the server's reply (at most notify.MaxResponseBytes); no text carries the password.

// classifyDial classifies a failure to connect, say hello, start TLS or authenticate.
func (n *Notifier) classifyDial(err error, c *conn) *notify.DeliveryError {
	addr := n.addr()
	var tp *textproto.Error
	hasReply := errors.As(err, &tp)
	switch {
	case strings.HasPrefix(err.Error(), "SMTP AUTH failed"):
		if hasReply && tp.Code >= 400 && tp.Code < 500 {
			return n.replyError(fmt.Errorf("%s: authentication temporarily refused", addr), tp, notify.ReasonServerError, true)
		}
		if hasReply {
			return n.replyError(fmt.Errorf("%s: authentication failed: check smtp.username and smtp.password", addr), tp, notify.ReasonConfig, false)
		}
		if isNetwork(err) {
			return n.networkError(fmt.Errorf("%s: connection lost during authentication: %w", addr, err))
		}
		return &notify.DeliveryError{Err: n.redact(fmt.Errorf("%s: authentication failed: %w", addr, err)), Reason: notify.ReasonConfig}
	case errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) || strings.Contains(err.Error(), "does not support SMTP AUTH"):
		offered := c.authMechanisms()
		if offered == "" {
			offered = "none"
		}
		return &notify.DeliveryError{Reason: notify.ReasonConfig, Err: fmt.Errorf(
			"%s: no usable AUTH mechanism (server offers: %s; PLAIN and LOGIN are used over TLS only): check smtp.tls and smtp.username", addr, offered)}
	case strings.Contains(err.Error(), "does not support STARTTLS"):
		return &notify.DeliveryError{Reason: notify.ReasonConfig, Err: fmt.Errorf(
			"%s does not offer STARTTLS, so nothing was sent (no AUTH, no mail in plaintext): use tls: implicit for an SMTPS port such as 465, or tls: none explicitly for a trusted relay", addr)}
	case isTLSFailure(err):
		return &notify.DeliveryError{Reason: notify.ReasonConfig, Err: n.redact(fmt.Errorf(
			"%s: TLS with smtp.tls %q failed (check smtp.tls, smtp.port and the server's certificate): %w", addr, n.cfg.SMTP.TLS, err))}
	case hasReply:
		reason, retry := replyClass(tp.Code)
		return n.replyError(fmt.Errorf("%s refused the session", addr), tp, reason, retry)
	}
	if isTimeout(err) {
		return n.networkError(fmt.Errorf("%s: could not connect within smtp.dial_timeout (%s): %w", addr, n.cfg.SMTP.DialTimeout, err))
	}
	return n.networkError(fmt.Errorf("%s: %w", addr, err))
}

// noSMTPUTF8Error is the refusal to send when an address needs SMTPUTF8 (RFC 6531) and the
// server does not offer it: the address would be refused or mangled on the way.
func (n *Notifier) noSMTPUTF8Error() *notify.DeliveryError {
	return &notify.DeliveryError{Reason: notify.ReasonConfig, Err: fmt.Errorf(
		"%s does not offer SMTPUTF8, which %s needs (a non-ASCII local part), so nothing was sent: use a relay that offers SMTPUTF8 or an ASCII address",
		n.addr(), strings.Join(n.utf8Addrs, ", "))}
}

// classifySend classifies the outcome of sending one message over an open connection.
func (n *Notifier) classifySend(r *request, err error, c *conn) error {
	if err == nil || r.msg.IsDelivered() {
		return nil // a failure after the server accepted the message (RSET, QUIT) is not the message's
	}
	if cause := r.ctx.Err(); cause != nil {
		// The connection deadline is the caller's: its expiry is the caller's timeout.
		return timeoutError(cause, r.dataSent.Load())
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return n.networkError(fmt.Errorf("%s: %w", n.addr(), err))
	}
	if code := se.ErrorCode(); code >= 400 && code < 600 {
		reason, retry := replyClass(code)
		tp := &textproto.Error{Code: code, Msg: replyText(se, code)}
		if code == 530 || code == 534 || code == 535 {
			return n.replyError(fmt.Errorf("%s: %s: authentication required or refused: check smtp.username and smtp.password", n.addr(), se.Reason), tp, notify.ReasonConfig, false)
		}
		return n.replyError(fmt.Errorf("%s: %s", n.addr(), se.Reason), tp, reason, retry)
	}
	if se.Reason == gomail.ErrSMTPDataClose {
		// The final "." may have reached the server; its answer did not reach us.
		return &notify.DeliveryError{Reason: notify.ReasonTimeout, Retryable: true,
			Err: n.redact(fmt.Errorf("%s: no answer after the message was sent, possibly delivered: %s", n.addr(), se.Error()))}
	}
	return n.networkError(fmt.Errorf("%s: %s", n.addr(), se.Error()))
}

// replyClass classifies an SMTP reply code: 4xx retryable, 5xx permanent.
func replyClass(code int) (notify.Reason, bool) {
	if code >= 400 && code < 500 {
		return notify.ReasonServerError, true
	}
	return notify.ReasonClientError, false
}

// replyText is the server's reply within a go-mail SendError, which keeps it only in its text:
// "<reason>: <code> <text>[, affected recipient(s): …][, affected message ID: …]", where <text>
// is quoted since Go 1.26 (textproto.Error formats "%03d %q").
func replyText(se *gomail.SendError, code int) string {
	s := se.Error()
	if i := strings.Index(s, fmt.Sprintf("%03d ", code)); i >= 0 {
		s = s[i+4:]
	}
	if q, err := strconv.QuotedPrefix(s); err == nil {
		if u, err := strconv.Unquote(q); err == nil {
			return u
		}
	}
	if i := strings.Index(s, ", affected "); i >= 0 {
		s = s[:i]
	}
	return s
}

func (n *Notifier) replyError(what error, tp *textproto.Error, reason notify.Reason, retry bool) *notify.DeliveryError {
	reply := n.redactString(fmt.Sprintf("%d %s", tp.Code, tp.Msg))
	return &notify.DeliveryError{Reason: reason, Retryable: retry, StatusCode: tp.Code,
		Response: clip(reply, notify.MaxResponseBytes), Err: n.redact(fmt.Errorf("%w: %s", what, clip(reply, 200)))}
}

func (n *Notifier) networkError(err error) *notify.DeliveryError {
	return &notify.DeliveryError{Err: n.redact(err), Reason: notify.ReasonNetwork, Retryable: true}
}

func isNetwork(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// isTLSFailure reports a TLS protocol or certificate error (not a network error during TLS),
// which retrying does not fix.
func isTLSFailure(err error) bool {
	var (
		rh    tls.RecordHeaderError
		alert tls.AlertError
		cv    *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
		ci    x509.CertificateInvalidError
	)
	if errors.As(err, &rh) || errors.As(err, &alert) || errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return true
	}
	var he *handshakeError
	return errors.As(err, &he) && !isNetwork(he.err) && !errors.Is(he.err, context.DeadlineExceeded)
}

// redact removes the password from an error, in every form notify.SecretForms knows (as
// written, base64 as AUTH LOGIN sends it, escaped) and as the AUTH PLAIN blob
// (base64 of "\x00user\x00password") a server may echo, keeping the error chain.
func (n *Notifier) redact(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if r := n.redactString(s); r != s {
		return errors.New(r)
	}
	return err
}

func (n *Notifier) redactString(s string) string {
	p := n.cfg.SMTP.Password.Reveal()
	if p == "" {
		return s
	}
	forms := notify.SecretForms(p, "\x00"+n.cfg.SMTP.Username+"\x00"+p)
	if len(p) < notify.MinSecretLen { // SecretForms drops short values; a password is always hidden
		forms = append(forms, p, base64.StdEncoding.EncodeToString([]byte(p)))
	}
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, "[redacted]")
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
