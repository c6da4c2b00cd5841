package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/metrics"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/store"
)

func newServe() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the bridge: ingest endpoint, delivery workers, digests, health checks and metrics",
		Long: `Run the bridge. SIGHUP (or POST /-/reload with an API key) re-reads the config and the TLS
certificate; an invalid config is refused and the running one stays. SIGTERM or SIGINT drains:
ingest answers 503, running deliveries finish (up to delivery.drain_timeout) and queued ones
are handed back for the next start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), configPath(cmd), log, nil)
		},
	}
}

// process is the running bridge: what a reload replaces and a shutdown stops.
type process struct {
	cfgPath string
	log     *slog.Logger
	metrics *metrics.Metrics
	db      *store.DB
	disp    *core.Dispatcher
	sched   *core.Scheduler
	bus     *core.Bus
	ingest  *api.Ingest
	keys    *api.Keys
	cert    *certificate // nil without TLS
	hooks   *registry

	reloading sync.Mutex     // serialises reloads
	mu        sync.Mutex     // guards cfg and runtime
	cfg       *config.Config // the config in force (reloads replace it)
	started   *config.Config // the config the process started with: restart-only keys come from it
	runtime   *config.Runtime
	running   atomic.Bool // the dispatcher's workers run
}

// serve runs the bridge until ctx is done, then drains. ready, when set, gets the address.
func serve(ctx context.Context, cfgPath string, log *slog.Logger, ready func(addr string)) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("%s: invalid config:\n%w", cfgPath, err)
	}
	rt, err := config.Build(cfg, config.BuildOptions{Version: version, Log: log})
	if err != nil {
		return fmt.Errorf("%s: invalid config:\n%w", cfgPath, err)
	}
	for _, w := range rt.Warnings {
		log.Warn(w)
	}
	db, err := store.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN)
	if err != nil {
		rt.Close()
		return err
	}
	defer db.Close()

	b := &process{cfgPath: cfgPath, log: log, db: db, cfg: cfg, started: cfg, runtime: rt, keys: api.NewKeys(nil)}
	b.keys.Set(cfg.APIKeys(), cfg.APIAdmins()...)
	b.metrics = metrics.New(version, db.QueueStats)
	b.metrics.SetTargets(rt.TargetNames())
	rt.Router.OnRuleError = b.metrics.RuleError
	host, _ := os.Hostname()
	alerter := core.NewAlerter(core.AlerterConfig{Log: log, OnAlert: b.metrics.Alert}) // bridge.* alerts
	b.disp = core.NewDispatcher(core.DispatcherConfig{
		Owner:        host + "/" + uuid.NewString()[:8],
		Timeout:      cfg.Delivery.Timeout,
		DrainTimeout: cfg.Delivery.DrainTimeout,
		Retention:    cfg.Storage.Retention,
		ReplayWindow: func() time.Duration { return b.ingest.ReplayWindow() },
		AttemptLog:   alerter.AttemptLog(attemptLogger(log)),
		Observer:     alerter.Observer(b.metrics),
	}, db, rt.Plan(), log)
	bus := core.NewBus(db, b.disp, nil, log)
	b.bus = bus
	bus.SetMaxPending(cfg.Ingest.MaxPending)
	b.sched = &core.Scheduler{Store: db, Owner: b.disp.Owner(), Log: log, Observer: b.metrics,
		Digests: func() []*core.DigestSpec { return b.disp.Plan().Router.Digests },
		Plan:    b.disp.Plan}
	b.ingest = api.NewIngest(b.ingestConfig(cfg), bus, log)
	b.hooks = newRegistry(b, cfg)
	if err := b.hooks.replan(ctx); err != nil {
		rt.Close()
		return fmt.Errorf("loading registered webhooks: %w", err)
	}
	routes := api.Routes{
		IngestPath: cfg.Ingest.Path,
		Ingest:     b.ingest,
		Metrics:    b.metrics.Handler(),
		Reload:     b.reload,
		Keys:       b.keys,
		Management: &api.Management{
			Store: db, Keys: b.keys, MaxPerAccount: cfg.API.MaxWebhooksPerAccount,
			CheckURL: b.hooks.checkURL, Test: b.hooks.test, Log: log,
			Changed: func() {
				if err := b.hooks.replan(context.Background()); err != nil {
					log.Warn("registered webhooks not reloaded; the watcher retries", "err", err)
				}
			},
		},
		Ready: map[string]api.Check{
			// The store answering is not enough: a full disk still answers SELECT 1. Ready
			// follows what ingest saw (its last commit) until storage takes writes again.
			"storage": bus.StorageReady,
			"migrations": func(ctx context.Context) error {
				return db.MigrationsCurrent(ctx)
			},
			"queue": func(context.Context) error {
				if bus.QueueFull() {
					return errors.New("more deliveries wait than ingest.max_pending; ingest answers 503 queue_full")
				}
				return nil
			},
			"workers": func(context.Context) error {
				switch {
				case b.ingest.Draining():
					return errors.New("shutting down")
				case !b.running.Load():
					return errors.New("not running")
				}
				return nil
			},
		},
	}
	if routes.Dashboard, err = newDashboard(b, routes.Management, cfg, log); err != nil { // the web dashboard at /
		rt.Close()
		return err
	}
	srv := api.NewServer(cfg.Server.Listen, routes.Handler())
	if cfg.Server.TLS.CertFile != "" {
		if b.cert, err = loadCertificate(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile); err != nil {
			rt.Close()
			return fmt.Errorf("server.tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: b.cert.get}
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		rt.Close()
		return fmt.Errorf("server.listen: %w", err)
	}
	dispCtx, stopDisp := context.WithCancel(context.Background())
	dispDone, schedDone := make(chan struct{}), make(chan struct{})
	b.running.Store(true)
	go func() { b.disp.Run(dispCtx); b.running.Store(false); close(dispDone) }()
	go func() { b.sched.Run(dispCtx); close(schedDone) }()
	alertsDone := make(chan struct{}) // alerts raised once the bus is closed are dropped with a log line
	go func() { alerter.Run(dispCtx, bus); close(alertsDone) }()
	go b.hooks.watch(dispCtx, 5*time.Second)

	scheme := "http"
	if b.cert != nil {
		scheme = "https"
	}
	log.Info("cortex-bridge listening", "version", version, "url", scheme+"://"+ln.Addr().String()+cfg.Ingest.Path,
		"storage", cfg.Storage.Driver, "targets", len(rt.Targets), "routes", len(rt.Router.Routes), "digests", len(rt.Router.Digests))
	if ready != nil {
		ready(ln.Addr().String())
	}
	srvErr := make(chan error, 1)
	go func() {
		if b.cert != nil {
			srvErr <- srv.ServeTLS(ln, "", "")
		} else {
			srvErr <- srv.Serve(ln)
		}
	}()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down: ingest answers 503; running deliveries finish, queued ones are handed back",
				"drain_timeout", cfg.Delivery.DrainTimeout)
			break loop
		case runErr = <-srvErr:
			break loop
		case <-hup:
			_ = b.reload(context.Background())
		}
	}
	// The listener stays open while deliveries drain: ingest answers 503 shutting_down and
	// /readyz fails, so senders and load balancers move to another replica instead of meeting
	// refused connections. Then the HTTP server stops.
	b.ingest.Drain()
	bus.Close()
	stopDisp()
	<-dispDone
	<-schedDone
	<-alertsDone
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("some requests were cut off at shutdown", "err", err)
	}
	log.Info("stopped")
	if errors.Is(runErr, http.ErrServerClosed) {
		return nil
	}
	return runErr
}

func (b *process) ingestConfig(cfg *config.Config) api.IngestConfig {
	return api.IngestConfig{
		Secrets: notify.RevealAll(cfg.Ingest.Secrets), Tolerance: cfg.Ingest.Tolerance, MaxBodyBytes: cfg.Ingest.MaxBodyBytes,
		RatePerSec: cfg.Ingest.RateLimit.PerSecond, RateBurst: cfg.Ingest.RateLimit.Burst, StrictEvents: cfg.Ingest.StrictEvents,
		Observe: b.metrics.EventReceived, MaxUnverifiedBytes: cfg.Ingest.MaxUnverifiedBytes,
	}
}

// reload re-reads the config and the TLS certificate. An invalid config is refused (its errors
// logged and returned) and the running one stays; a valid one replaces targets, routes,
// digests, templates, ingest policy and API keys, while running deliveries finish with the
// config they started with.
func (b *process) reload(ctx context.Context) error {
	b.reloading.Lock()
	defer b.reloading.Unlock()
	if b.cert != nil {
		if err := b.cert.reload(); err != nil {
			b.log.Error("TLS certificate not reloaded; the current one stays", "err", err)
		} else {
			b.log.Info("TLS certificate reloaded")
		}
	}
	cfg, err := config.Load(b.cfgPath)
	var rt *config.Runtime
	if err == nil {
		rt, err = config.Build(cfg, config.BuildOptions{Version: version, Log: b.log})
	}
	if err != nil {
		b.metrics.Reload(false)
		b.log.Error("config reload refused; the running config stays", "config", b.cfgPath, "err", err)
		return err
	}
	for _, w := range rt.Warnings {
		b.log.Warn(w)
	}
	rt.Router.OnRuleError = b.metrics.RuleError
	b.mu.Lock()
	for _, key := range b.started.RestartKeys(cfg) {
		b.log.Warn("config change needs a restart to take effect", "key", key)
	}
	b.cfg, b.runtime = cfg, rt
	b.mu.Unlock()
	b.hooks.configure(cfg)
	if err := b.hooks.replan(ctx); err != nil { // the new config's plan plus the registered webhooks
		b.log.Warn("registered webhooks not reloaded; the watcher retries", "err", err)
	}
	b.ingest.Update(b.ingestConfig(cfg))
	b.bus.SetMaxPending(cfg.Ingest.MaxPending)
	b.keys.Set(cfg.APIKeys(), cfg.APIAdmins()...)
	if err := b.sched.Sync(ctx); err != nil {
		b.log.Warn("digest schedules not updated yet; retried at the next reload or restart", "err", err)
	}
	b.metrics.Reload(true)
	b.log.Info("config reloaded", "config", b.cfgPath, "targets", len(rt.Targets), "routes", len(rt.Router.Routes), "digests", len(rt.Router.Digests))
	return nil
}

// certificate is a TLS key pair that a reload can replace while connections use the old one.
type certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	return c, c.reload()
}

func (c *certificate) reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return err
	}
	c.cur.Store(&pair)
	return nil
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }

// attemptLogger logs one line per delivery attempt.
func attemptLogger(log *slog.Logger) func(*core.Delivery, core.Attempt, core.State) {
	return func(d *core.Delivery, a core.Attempt, state core.State) {
		attrs := []any{"delivery_id", d.ID, "event_id", d.EventID, "target", d.Target, "route", d.Route,
			"attempt", a.Number, "outcome", a.Outcome, "state", state, "duration", a.Duration}
		if a.StatusCode != 0 {
			attrs = append(attrs, "status", a.StatusCode)
		}
		if a.Error != "" {
			attrs = append(attrs, "err", a.Error)
			log.Warn("delivery attempt failed", attrs...)
			return
		}
		log.Debug("delivered", attrs...) // one per delivery: debug, as at 1 000 events/s it is a tenth of the CPU
	}
}
