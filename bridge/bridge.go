// Package bridge is the running bridge: the ingest endpoint, the delivery workers, digests,
// alerts, the registered webhooks, the management API, the dashboard, health checks and
// metrics, wired from one config. `cortex-bridge serve` and the tests start it the same way:
// New, then Run; Reload re-reads the config while it runs (README.md, "Reloading the config").
package bridge

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dashboard"
	"github.com/cortexbridge/cortex-bridge/metrics"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/silences"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

// Store is the storage a bridge runs on: what its parts use (the queue, the dispatcher, the
// scheduler, the registered webhooks, the management API, the dashboard) and the migrations
// check of /readyz. *store.DB has it all; tests may wrap one to inject faults.
type Store interface {
	core.BusStore
	core.DispatcherStore
	core.SchedulerStore
	core.FindingStore
	api.FindingStore
	webhooks.RegistryStore
	silences.Store
	dashboard.Store // with the webhook service's and the management API's storage
	api.EventStore  // the events API: list, event pages, bulk retry
	// MigrationsCurrent returns an error unless the schema is at this build's latest migration.
	MigrationsCurrent(ctx context.Context) error
	Close() error
}

// Options are a Bridge's dependencies besides its config; zero fields take the defaults given.
type Options struct {
	// ConfigPath is the file the config came from: Reload re-reads it and errors name it. "":
	// Reload is refused.
	ConfigPath string
	Version    string       // reported in logs, metrics and User-Agent headers (default "dev")
	Log        *slog.Logger // default: discarded
	// Listener serves the HTTP endpoints (default: a TCP listener on server.listen). Run closes it.
	Listener net.Listener
	// Store is the storage (default: opened from storage.driver and storage.dsn and closed by
	// Run; a given one is left open).
	Store Store
	// Owner is this process's lease owner id, unique per process (default: hostname/random).
	Owner string
	// NowFunc is the clock of ingest (timestamp tolerance), the queue, the dispatcher (its
	// pruner included) and the digest scheduler (default time.Now).
	NowFunc func() time.Time
	// WatchInterval is how often the registered webhooks are checked for changes made by
	// another replica (default 5s).
	WatchInterval time.Duration
	// PollInterval is how often the dispatcher claims due deliveries: retries and other
	// replicas' work (default 250ms, core.DispatcherConfig).
	PollInterval time.Duration
	// FindingsRetry is when a failed findings comparison is tried again (zero:
	// core.FindingsRetry, from 5 s).
	FindingsRetry core.RetryPolicy
}

// Bridge is a bridge built from a config; Run serves it until its context ends. Build it with New.
type Bridge struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics.Metrics
	db      Store
	ownDB   bool // opened by New: Run closes it
	disp    *core.Dispatcher
	sched   *core.Scheduler
	finds   *core.FindingsRunner
	bus     *core.Bus
	alerter *core.Alerter
	ingest  *api.Ingest
	keys    *api.Keys
	cert    *certificate // nil without TLS
	hooks   *webhooks.Registry
	service *webhooks.Service
	silence *silences.Service
	slack   *slack.Interactions
	srv     *http.Server
	ln      net.Listener

	reloading sync.Mutex     // serialises reloads
	mu        sync.Mutex     // guards cfg and runtime
	cfg       *config.Config // the config in force (reloads replace it)
	started   *config.Config // the config the bridge started with: restart-only keys come from it
	runtime   *config.Runtime
	running   atomic.Bool // the dispatcher's workers run
}

// New builds a bridge from cfg (loaded with config.Load): it builds the targets, routes and
// templates (an invalid config is an error listing every problem), opens the store, loads the
// registered webhooks, the TLS certificate and the listener. Nothing runs until Run, which
// closes the listener and the store it opened when it returns.
func New(ctx context.Context, cfg *config.Config, opts Options) (b *Bridge, err error) {
	opts.Version = cmp.Or(opts.Version, "dev")
	opts.WatchInterval = cmp.Or(opts.WatchInterval, 5*time.Second)
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	log := opts.Log
	rt, err := config.Build(cfg, config.BuildOptions{Version: opts.Version, Log: log})
	if err != nil {
		if opts.ConfigPath != "" {
			return nil, fmt.Errorf("%s: invalid config:\n%w", opts.ConfigPath, err)
		}
		return nil, fmt.Errorf("invalid config:\n%w", err)
	}
	for _, w := range rt.Warnings {
		log.Warn(w)
	}
	b = &Bridge{opts: opts, log: log, db: opts.Store, cfg: cfg, started: cfg, runtime: rt, keys: api.NewKeys(nil)}
	built := b // the returns below set b to nil
	defer func() {
		if err != nil {
			rt.Close()
			if built.ownDB {
				built.db.Close()
			}
		}
	}()
	if b.db == nil {
		db, err := store.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN)
		if err != nil {
			return nil, err
		}
		b.db, b.ownDB = db, true
		if cfg.Storage.Driver != "postgres" && !db.Journaled() {
			log.Warn("storage: no SQLite ingest journal (another process holds it, or this platform has none): each event is answered after its own database commit, with about twice the ack time and more CPU; stop the other process and restart to use the journal (docs/operations.md, SQLite)",
				"journal", cfg.Storage.DSN+"-ingest")
		}
	}
	b.keys.Set(cfg.APIKeys(), cfg.APIAdmins()...)
	b.metrics = metrics.New(opts.Version, b.db.QueueStats)
	b.metrics.SetTargets(rt.TargetNames())
	rt.Router.OnRuleError = b.metrics.RuleError
	b.wire(cfg, rt)
	if err := b.hooks.Replan(ctx); err != nil {
		return nil, fmt.Errorf("loading registered webhooks: %w", err)
	}
	handler, err := b.routes(cfg)
	if err != nil {
		return nil, err
	}
	b.srv = api.NewServer(cfg.Server.Listen, handler)
	if cfg.Server.TLS.CertFile != "" {
		if b.cert, err = loadCertificate(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile); err != nil {
			return nil, fmt.Errorf("server.tls: %w", err)
		}
		b.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: b.cert.get}
	}
	if b.ln = opts.Listener; b.ln == nil {
		if b.ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
			return nil, fmt.Errorf("server.listen: %w", err)
		}
	}
	return b, nil
}

// wire builds the engine: the dispatcher and its alerts, the queue, the digest scheduler,
// ingest and the registered webhooks.
func (b *Bridge) wire(cfg *config.Config, rt *config.Runtime) {
	owner := b.opts.Owner
	if owner == "" {
		host, _ := os.Hostname()
		owner = host + "/" + uuid.NewString()[:8]
	}
	b.alerter = core.NewAlerter(core.AlerterConfig{Log: b.log, OnAlert: b.metrics.Alert}) // bridge.* alerts
	b.disp = core.NewDispatcher(core.DispatcherConfig{
		Owner:        owner,
		Timeout:      cfg.Delivery.Timeout,
		DrainTimeout: cfg.Delivery.DrainTimeout,
		Retention:    cfg.Storage.Retention,
		ReplayWindow: func() time.Duration { return b.ingest.ReplayWindow() },
		NowFunc:      b.opts.NowFunc,
		PollInterval: b.opts.PollInterval,
		AttemptLog:   b.alerter.AttemptLog(attemptLogger(b.log)),
		Observer:     b.alerter.Observer(b.metrics),
	}, b.db, rt.Plan(), b.log)
	b.bus = core.NewBus(b.db, b.disp, b.opts.NowFunc, b.log)
	b.bus.SetMaxPending(cfg.Ingest.MaxPending)
	b.silence = &silences.Service{Store: b.db, NowFunc: b.opts.NowFunc, Log: b.log,
		Findings: func() core.FindingsPolicy { return b.disp.Plan().Findings }}
	b.bus.SetSilencer(b.silence)
	b.slack = &slack.Interactions{Secrets: b.slackSecrets, APIURLs: b.slackAPIURLs, Actions: slackActions{b.silence}, Log: b.log}
	b.sched = &core.Scheduler{Store: b.db, Owner: b.disp.Owner(), Log: b.log, Observer: b.metrics, NowFunc: b.opts.NowFunc,
		Digests: func() []*core.DigestSpec { return b.disp.Plan().Router.Digests },
		Plan:    b.disp.Plan}
	b.finds = &core.FindingsRunner{Store: b.db, Disp: b.disp, Silencer: b.silence, NowFunc: b.opts.NowFunc, Log: b.log,
		Retry: b.opts.FindingsRetry}
	b.ingest = api.NewIngest(b.ingestConfig(cfg), b.bus, b.log)
	guard, https := apiGuard(cfg)
	b.hooks = webhooks.NewRegistry(webhooks.RegistryConfig{
		Store: b.db,
		Base: func() *core.Plan {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.runtime.Plan()
		},
		Apply:   b.disp.Apply,
		Targets: b.metrics.SetTargets,
		Timeout: func() time.Duration {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.cfg.Delivery.Timeout
		},
		Version: b.opts.Version,
		Log:     b.log,
	}, guard, https)
	b.service = &webhooks.Service{
		Store: b.db, MaxPerAccount: cfg.API.MaxWebhooksPerAccount, CheckURL: b.hooks.CheckURL, Test: b.hooks.Test, Log: b.log,
		Changed: func() {
			if err := b.hooks.Replan(context.Background()); err != nil {
				b.log.Warn("registered webhooks not reloaded; the watcher retries", "err", err)
			}
		},
	}
}

// apiGuard is the SSRF guard and the https rule of a config's api section, for registered
// webhooks.
func apiGuard(cfg *config.Config) (webhook.Guard, bool) {
	var allow []netip.Prefix
	for _, c := range cfg.API.AllowedCIDRs {
		allow = append(allow, netip.MustParsePrefix(c)) // validated by config
	}
	return webhook.Guard{AllowPrivate: cfg.API.AllowPrivateURLs, Allow: allow}, cfg.API.HTTPSOnly()
}

func (b *Bridge) ingestConfig(cfg *config.Config) api.IngestConfig {
	return api.IngestConfig{
		Secrets: notify.RevealAll(cfg.Ingest.Secrets), Tolerance: cfg.Ingest.Tolerance, MaxBodyBytes: cfg.Ingest.MaxBodyBytes,
		RatePerSec: cfg.Ingest.RateLimit.PerSecond, RateBurst: cfg.Ingest.RateLimit.Burst, StrictEvents: cfg.Ingest.StrictEvents,
		Observe: b.metrics.EventReceived, MaxUnverifiedBytes: cfg.Ingest.MaxUnverifiedBytes, NowFunc: b.opts.NowFunc,
	}
}

// Addr is the address the bridge listens on (host:port), known once New returned.
func (b *Bridge) Addr() string { return b.ln.Addr().String() }

// URL is the bridge's base URL: http or https (with server.tls) and Addr.
func (b *Bridge) URL() string {
	if b.cert != nil {
		return "https://" + b.Addr()
	}
	return "http://" + b.Addr()
}

// Store is the bridge's storage.
func (b *Bridge) Store() Store { return b.db }

// Metrics are the bridge's Prometheus metrics (served at /metrics).
func (b *Bridge) Metrics() *metrics.Metrics { return b.metrics }

// Webhooks is the registered-webhook service the management API and the dashboard share.
func (b *Bridge) Webhooks() *webhooks.Service { return b.service }

// Silences is the silence service (API, dashboard, Slack's buttons).
func (b *Bridge) Silences() *silences.Service { return b.silence }

// SlackInteractions is the handler of POST /slack/interactions (Wait lets a test see the
// message updates done).
func (b *Bridge) SlackInteractions() *slack.Interactions { return b.slack }

// Runtime returns the config in force and what was built from it (a reload replaces it).
func (b *Bridge) Runtime() *config.Runtime {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runtime
}

// Prune removes the finished events older than storage.retention now, as the dispatcher does
// hourly, and returns how many it removed; an id younger than the replay window stays
// (core.Dispatcher.Prune).
func (b *Bridge) Prune(ctx context.Context) (int64, error) { return b.disp.Prune(ctx) }

// Idle reports whether no delivery is queued or running in this process
// (core.Dispatcher.Idle): for tests and shutdown.
func (b *Bridge) Idle() bool { return b.disp.Idle() }
