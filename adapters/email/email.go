package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Notifier sends each message as one multipart/alternative email (text, and HTML when the
// template has an .html.tmpl twin) to the configured recipients. Messages that are due together
// share one SMTP connection (see sender.go). Safe for concurrent use; Close stops it.
type Notifier struct {
	cfg       Config
	tlsConfig *tls.Config
	userAgent string
	from      *mail.Address
	to        []*mail.Address
	cc        []*mail.Address
	bcc       []*mail.Address
	replyTo   *mail.Address
	domain    string // of From (A-labels), for Message-IDs
	// utf8Addrs are the addresses with a non-ASCII local part: when there are any, every
	// message needs SMTPUTF8 (address.go).
	utf8Addrs []string
	nowFunc   func() time.Time

	mu      sync.Mutex
	pending []*request    // waiting for the sender loop, in arrival order
	wake    chan struct{} // 1-buffered: there is pending work
	closed  bool
	ctx     context.Context // cancelled by Close; aborts the connection in use
	stop    context.CancelFunc
	done    chan struct{} // closed when the sender loop has returned
	// beforeBatch, when set (tests), runs in the sender loop before it takes a batch.
	beforeBatch func()
}

var _ notify.Notifier = (*Notifier)(nil)

// Option adjusts a Notifier beyond its YAML.
type Option func(*Notifier)

// WithTLSConfig sets the TLS client configuration, e.g. RootCAs with a private CA. It is cloned;
// ServerName defaults to smtp.host and MinVersion is raised to TLS 1.2. Certificates are
// verified unless the given config says otherwise, which only code can do: there is no YAML key
// to turn verification off.
func WithTLSConfig(c *tls.Config) Option {
	return func(n *Notifier) {
		if c != nil {
			n.tlsConfig = c.Clone()
		}
	}
}

// WithVersion puts the bridge version into the User-Agent header ("cortex-bridge/<version>").
func WithVersion(v string) Option {
	return func(n *Notifier) {
		if v != "" {
			n.userAgent = "cortex-bridge/" + v
		}
	}
}

// New builds a Notifier from cfg (its defaults filled in on a copy) and starts its sender loop;
// it opens no connection: the first Notify does. It fails when cfg is invalid. Close stops it.
func New(cfg *Config, opts ...Option) (*Notifier, error) {
	c := *cfg
	c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	n := &Notifier{cfg: c, userAgent: "cortex-bridge", nowFunc: time.Now, wake: make(chan struct{}, 1), done: make(chan struct{})}
	n.ctx, n.stop = context.WithCancel(context.Background())
	for _, o := range opts {
		o(n)
	}
	if n.tlsConfig == nil {
		n.tlsConfig = &tls.Config{}
	}
	if n.tlsConfig.ServerName == "" {
		n.tlsConfig.ServerName = c.SMTP.Host
	}
	if n.tlsConfig.MinVersion < tls.VersionTLS12 {
		n.tlsConfig.MinVersion = tls.VersionTLS12
	}
	// Validate has parsed every address once already; these cannot fail.
	parse := func(v string) *mail.Address {
		a, _ := parseAddress(v)
		if a.utf8Local {
			n.utf8Addrs = append(n.utf8Addrs, a.Address.Address)
		}
		return a.Address
	}
	n.from = parse(c.From)
	n.domain = n.from.Address[strings.LastIndexByte(n.from.Address, '@')+1:]
	for _, l := range []struct {
		in  []string
		out *[]*mail.Address
	}{{c.To, &n.to}, {c.CC, &n.cc}, {c.BCC, &n.bcc}} {
		for _, a := range l.in {
			*l.out = append(*l.out, parse(a))
		}
	}
	if c.ReplyTo != "" {
		n.replyTo = parse(c.ReplyTo)
	}
	go n.loop()
	return n, nil
}

// Close stops the sender loop: a message being sent has its connection closed, messages waiting
// fail with a retryable error, and later Notify calls fail the same way.
func (n *Notifier) Close() error {
	n.mu.Lock()
	already := n.closed
	n.closed = true
	n.mu.Unlock()
	if already {
		return nil
	}
	n.stop()
	<-n.done
	return nil
}

var errClosed = errors.New("email target is shutting down; not sent")

// Notify sends msg as one email: Subject = subject_prefix + msg.Subject (on one line), the text
// part msg.Body and, when msg.HTML is set, an HTML alternative; msg.Attachments are attached
// (base64, multipart/mixed). It waits for the server's answer
// to this message or for ctx, whichever comes first; failures are *notify.DeliveryError.
func (n *Notifier) Notify(ctx context.Context, msg *notify.Message) error {
	_, err := n.NotifyReply(ctx, msg)
	return err
}

// NotifyReply is Notify that also returns, when the message was accepted, the server's reply
// to its data: "250 " and the reply's text ("250 2.0.0 Ok: queued as 4F2A"), without the
// password, as `cortex-bridge test --target` prints it. Failures carry their reply in the
// *notify.DeliveryError instead.
func (n *Notifier) NotifyReply(ctx context.Context, msg *notify.Message) (string, error) {
	m, err := n.build(msg)
	if err != nil {
		return "", &notify.DeliveryError{Err: err, Reason: notify.ReasonConfig}
	}
	if err := ctx.Err(); err != nil {
		return "", timeoutError(err, false)
	}
	r := &request{ctx: ctx, msg: m, done: make(chan error, 1)}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return "", &notify.DeliveryError{Err: errClosed, Reason: notify.ReasonNetwork, Retryable: true}
	}
	n.pending = append(n.pending, r)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default: // already signalled
	}
	select {
	case err = <-r.done:
	case <-ctx.Done():
		err = r.cancel(ctx.Err()) // the result, when it was being handed over
	}
	if err != nil {
		return "", err
	}
	// go-mail accepts only 250 after the data (RFC 5321 §4.3.2) and keeps the text alone; the
	// sender loop set it before handing over the result.
	reply := strings.TrimSpace("250 " + m.ServerResponse())
	return clip(n.redactString(reply), notify.MaxResponseBytes), nil
}

// build turns msg into a go-mail message. Header values go through go-mail's RFC 2047 encoder,
// which encodes any control character, so no event text can start a header of its own.
func (n *Notifier) build(msg *notify.Message) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent()) // UTF-8, quoted-printable parts
	m.FromMailAddress(n.from)
	m.ToMailAddress(n.to...)
	m.CcMailAddress(n.cc...)
	m.BccMailAddress(n.bcc...)
	if n.replyTo != nil {
		m.ReplyToMailAddress(n.replyTo)
	}
	subject := oneLine(n.cfg.SubjectPrefix + msg.Subject)
	if strings.TrimSpace(msg.Subject) == "" && msg.Event != nil {
		subject = oneLine(n.cfg.SubjectPrefix + "Cortex " + msg.Event.Type)
	}
	setSubject(m, subject)
	m.SetDateWithValue(n.nowFunc())
	id, err := n.messageID()
	if err != nil {
		return nil, err
	}
	m.SetMessageIDWithValue(id)
	m.SetUserAgent(n.userAgent)
	// RFC 3834 §5: automatic responders (vacation replies) must not answer this message.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	if msg.DeliveryID != "" {
		m.SetGenHeader("X-Cortex-Delivery", oneLine(msg.DeliveryID))
	}
	if msg.Event != nil {
		m.SetGenHeader("X-Cortex-Event", oneLine(msg.Event.Type))
	}
	body := string(msg.Body)
	if msg.Body == nil && msg.Event != nil {
		body = string(msg.Event.Raw) // no template: the event as Cortex sent it
	}
	m.SetBodyString(gomail.TypeTextPlain, body)
	if msg.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	for _, a := range msg.Attachments {
		var opts []gomail.FileOption
		if a.ContentType != "" {
			opts = append(opts, gomail.WithFileContentType(gomail.ContentType(oneLine(a.ContentType))))
		}
		if err := m.AttachReader(oneLine(a.Name), bytes.NewReader(a.Data), opts...); err != nil {
			return nil, fmt.Errorf("attachment %q: %w", a.Name, err)
		}
	}
	return m, nil
}

// messageID is "cortex.<32 hex>@<From's domain>" (RFC 5322 §3.6.4): random, so that a re-sent
// test message is not taken for a duplicate; X-Cortex-Delivery carries the stable delivery id.
func (n *Notifier) messageID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	return "cortex." + hex.EncodeToString(b[:]) + "@" + n.domain, nil
}

// oneLine replaces control characters (CR, LF, tab, …) with spaces, so a value stays one header
// line whatever the event contains.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// setSubject sets the Subject header. go-mail encodes it (RFC 2047 Q) only when it holds
// non-ASCII or control characters; printable ASCII containing "=?" would then be taken for an
// encoded word by readers, so such a subject is encoded here, always, in base64 words.
func setSubject(m *gomail.Msg, s string) {
	if !strings.Contains(s, "=?") {
		m.Subject(s)
		return
	}
	m.SetGenHeaderPreformatted(gomail.HeaderSubject, encodeWords(s))
}

// maxWordBytes keeps each encoded word within 75 characters (RFC 2047 §2): "=?UTF-8?B?" + 60
// base64 characters (45 bytes) + "?=" is 72.
const maxWordBytes = 45

// encodeWords encodes s as base64 encoded words, split on rune boundaries and folded one per
// line, which decoders join back without the folding whitespace (RFC 2047 §6.2).
func encodeWords(s string) string {
	var words []string
	for len(s) > 0 {
		n := min(len(s), maxWordBytes)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		words = append(words, "=?UTF-8?B?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, "\r\n ")
}
