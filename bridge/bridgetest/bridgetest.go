// Package bridgetest starts a whole bridge in-process for tests: the config is a YAML template
// whose receivers are loopback servers (Slack, Discord and webhook over HTTP, email over SMTP);
// Start returns a Bundle with the bridge's URL, a signed sender, the store, the logs and wait
// helpers. It builds the bridge with bridge.New and runs it with Run, as `cortex-bridge serve`
// does.
package bridgetest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/sender"
	"github.com/cortexbridge/cortex-bridge/store"
)

// Secret is the ingest secret a config template gets as {{.Secret}}, and Bundle.Client signs with.
const Secret = "bridgetest-ingest-secret-0123456789"

// Vars are what a config template may use: {{.Webhook}}, {{.Slack}} and {{.Discord}} (the
// loopback receivers' URLs), {{.SMTPHost}} and {{.SMTPPort}} (the mailbox), {{.Dir}} (the
// test's folder) and {{.Secret}} (the ingest secret).
type Vars struct {
	Webhook, Slack, Discord string
	SMTPHost                string
	SMTPPort                int
	Dir                     string
	Secret                  string
}

// Bundle is a bridge started by Start, with its receivers.
type Bundle struct {
	Bridge     *bridge.Bridge
	URL        string // http://127.0.0.1:port
	IngestURL  string // URL and ingest.path
	Dir        string // holds config.yaml and bridge.db
	ConfigPath string
	Store      *store.DB
	Logs       *Logs // the bridge's log, as JSON lines

	Webhook, Slack, Discord *Receiver
	Mail                    *Mailbox

	t    testing.TB
	stop func() error
	once sync.Once
	err  error
}

type options struct {
	share        *Bundle
	wrap         func(*store.DB) bridge.Store
	owner        string
	now          func() time.Time
	pollInterval time.Duration
}

// Option changes how Start starts a bridge.
type Option func(*options)

// Sharing starts the bridge on b's database, folder and receivers: a restart of b (stop it
// first) or another replica beside it.
func Sharing(b *Bundle) Option { return func(o *options) { o.share = b } }

// WithStore makes the bridge run on wrap's store, built over the bundle's database (to
// inject faults); Bundle.Store stays the database itself.
func WithStore(wrap func(*store.DB) bridge.Store) Option { return func(o *options) { o.wrap = wrap } }

// WithOwner sets the bridge's lease owner id (default: the test's name).
func WithOwner(owner string) Option { return func(o *options) { o.owner = owner } }

// WithNow sets the clock of the bridge's ingest, queue, dispatcher and digest scheduler.
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithPollInterval sets how often the dispatcher claims due deliveries (default 20ms, so that
// retries follow their backoff closely).
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.pollInterval = d } }

// findingsRetry is the bridges' retry of failed findings comparisons: like the deliveries'
// (WithPollInterval), fast enough that a test sees the retry, with the same backoff shape.
var findingsRetry = core.RetryPolicy{Initial: 50 * time.Millisecond, Max: time.Second}

// Start writes the config template yaml (see Vars) to a folder of the test, builds the bridge
// with it on a SQLite database there, listening on 127.0.0.1, and runs it until Stop or the
// end of the test. The config's server.listen and storage are not used.
func Start(t testing.TB, yaml string, opts ...Option) *Bundle {
	t.Helper()
	o := options{owner: "bridgetest-" + t.Name(), pollInterval: 20 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	b := &Bundle{t: t, Logs: &Logs{}}
	if s := o.share; s != nil {
		b.Dir, b.Webhook, b.Slack, b.Discord, b.Mail = s.Dir, s.Webhook, s.Slack, s.Discord, s.Mail
	} else {
		b.Dir = t.TempDir()
		b.Webhook, b.Slack, b.Discord, b.Mail = NewReceiver(t), NewReceiver(t), NewReceiver(t), NewMailbox(t)
	}
	b.ConfigPath = filepath.Join(b.Dir, "config.yaml")
	b.WriteConfig(yaml)
	cfg, err := config.Load(b.ConfigPath)
	require.NoError(t, err, "the config template is invalid")

	ctx := context.Background()
	b.Store, err = store.Open(ctx, "sqlite", filepath.Join(b.Dir, "bridge.db"))
	require.NoError(t, err)
	var st bridge.Store = b.Store
	if o.wrap != nil {
		st = o.wrap(b.Store)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b.Bridge, err = bridge.New(ctx, cfg, bridge.Options{ConfigPath: b.ConfigPath, Version: "test", Listener: ln, Store: st,
		Owner: o.owner, NowFunc: o.now, PollInterval: o.pollInterval, FindingsRetry: findingsRetry, Log: slog.New(slog.NewJSONHandler(b.Logs, nil))})
	if err != nil {
		_ = ln.Close()
		_ = b.Store.Close()
		require.NoError(t, err)
	}
	b.URL = b.Bridge.URL()
	b.IngestURL = b.URL + cfg.Ingest.Path
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Bridge.Run(runCtx) }()
	b.stop = func() error {
		cancel()
		err := <-done
		return errors.Join(err, b.Store.Close())
	}
	t.Cleanup(func() { require.NoError(t, b.Stop()) })
	return b
}

// Stop drains the bridge (as SIGTERM does) and closes its database; later calls return the
// first one's error.
func (b *Bundle) Stop() error {
	b.once.Do(func() { b.err = b.stop() })
	return b.err
}

// WriteConfig writes the config template yaml (see Vars) to ConfigPath; Reload then applies it.
func (b *Bundle) WriteConfig(yaml string) {
	b.t.Helper()
	tmpl, err := template.New("config").Option("missingkey=error").Parse(yaml)
	require.NoError(b.t, err)
	var out bytes.Buffer
	require.NoError(b.t, tmpl.Execute(&out, Vars{Webhook: b.Webhook.URL, Slack: b.Slack.URL, Discord: b.Discord.URL,
		SMTPHost: b.Mail.Host, SMTPPort: b.Mail.Port, Dir: b.Dir, Secret: Secret}))
	require.NoError(b.t, os.WriteFile(b.ConfigPath, out.Bytes(), 0o600))
}

// Client is a sender signing with Secret for the bridge's ingest endpoint.
func (b *Bundle) Client() *sender.Client {
	return &sender.Client{URL: b.IngestURL, Secret: Secret, MaxElapsed: 10 * time.Second}
}

// Send posts body signed to the ingest endpoint and returns the bridge's answer.
func (b *Bundle) Send(body []byte) sender.Result {
	b.t.Helper()
	res, err := b.Client().Send(context.Background(), body)
	require.NoError(b.t, err)
	return res
}

// SendSample posts the sample event of type typ, stamped now, and returns it and the answer.
func (b *Bundle) SendSample(typ string) ([]byte, sender.Result) {
	b.t.Helper()
	raw, err := samples.Get(typ)
	require.NoError(b.t, err)
	body, err := sender.Restamp(raw, time.Now())
	require.NoError(b.t, err)
	return body, b.Send(body)
}

// WaitIdle waits up to within until no delivery is queued or running in the bridge.
func (b *Bundle) WaitIdle(within time.Duration) {
	b.t.Helper()
	require.Eventually(b.t, b.Bridge.Idle, within, 5*time.Millisecond, "the bridge's deliveries did not finish")
}

// WaitFinal waits up to within until n deliveries matching f are succeeded, dead or cancelled,
// and returns every delivery matching f.
func (b *Bundle) WaitFinal(f core.DeliveryFilter, n int, within time.Duration) []*core.Delivery {
	b.t.Helper()
	f.Limit = max(f.Limit, 1000)
	var got []*core.Delivery
	require.Eventually(b.t, func() bool {
		ds, err := b.Store.Deliveries(context.Background(), f)
		require.NoError(b.t, err)
		final := 0
		for _, d := range ds {
			if d.State == core.StateSucceeded || d.State == core.StateDead || d.State == core.StateCancelled {
				final++
			}
		}
		got = ds
		return final >= n
	}, within, 10*time.Millisecond, "fewer than %d deliveries finished", n)
	return got
}

// Logs is a log output safe for concurrent writes.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Contains reports whether the log holds s.
func (l *Logs) Contains(s string) bool { return strings.Contains(l.String(), s) }
