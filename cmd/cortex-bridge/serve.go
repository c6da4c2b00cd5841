package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store"
)

func newServe() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the bridge: ingest endpoint, delivery workers and health checks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), configPath(cmd), log, nil)
		},
	}
}

// shutdownGrace bounds how long running requests and attempts get after SIGTERM.
const shutdownGrace = 30 * time.Second

// serve runs the bridge until ctx is done, then drains: the listener closes, requests in flight
// are answered, the ingest writer commits what it holds, running attempts finish (each bounded
// by delivery.timeout) and queued deliveries are handed back. ready, when set, gets the address.
func serve(ctx context.Context, cfgPath string, log *slog.Logger, ready func(addr string)) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("%s: invalid config:\n%w", cfgPath, err)
	}
	rt, err := config.Build(cfg, config.BuildOptions{Version: version, Log: log})
	if err != nil {
		return fmt.Errorf("%s: invalid config:\n%w", cfgPath, err)
	}
	defer rt.Close()
	for _, w := range rt.Warnings {
		log.Warn(w)
	}
	db, err := store.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN)
	if err != nil {
		return err
	}
	defer db.Close()

	host, _ := os.Hostname()
	disp := core.NewDispatcher(core.DispatcherConfig{
		Owner:      host + "/" + uuid.NewString()[:8],
		Timeout:    cfg.Delivery.Timeout,
		Retry:      rt.Retry,
		Retention:  cfg.Storage.Retention,
		AttemptLog: attemptLogger(log),
	}, db, rt.Targets, rt.Router, rt.Renderer, log)
	bus := core.NewBus(db, rt.Router, disp, nil, log)
	sched := &core.Scheduler{Store: db, Owner: disp.Owner(), Digests: rt.Router.Digests, Log: log}
	ingest := api.NewIngest(api.IngestConfig{
		Secrets: cfg.Ingest.Secrets, Tolerance: cfg.Ingest.Tolerance, MaxBodyBytes: cfg.Ingest.MaxBodyBytes,
		RatePerSec: cfg.Ingest.RateLimit.PerSecond, RateBurst: cfg.Ingest.RateLimit.Burst, StrictEvents: cfg.Ingest.StrictEvents,
	}, bus, log)
	srv := api.NewServer(cfg.Server.Listen, api.Handler(cfg.Ingest.Path, ingest, db))

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	dispCtx, stopDisp := context.WithCancel(context.Background())
	dispDone, schedDone := make(chan struct{}), make(chan struct{})
	go func() { disp.Run(dispCtx); close(dispDone) }()
	go func() { sched.Run(dispCtx); close(schedDone) }()

	tls := cfg.Server.TLS.CertFile != ""
	scheme := "http"
	if tls {
		scheme = "https"
	}
	log.Info("cortex-bridge listening", "version", version, "url", scheme+"://"+ln.Addr().String()+cfg.Ingest.Path,
		"storage", cfg.Storage.Driver, "targets", len(rt.Targets), "routes", len(rt.Router.Routes))
	if ready != nil {
		ready(ln.Addr().String())
	}
	srvErr := make(chan error, 1)
	go func() {
		if tls {
			srvErr <- srv.ServeTLS(ln, cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile)
		} else {
			srvErr <- srv.Serve(ln)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: no new requests; finishing running deliveries")
	case runErr = <-srvErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("some requests were cut off at shutdown", "err", err)
	}
	bus.Close()
	stopDisp()
	<-dispDone
	<-schedDone
	log.Info("stopped")
	if errors.Is(runErr, http.ErrServerClosed) {
		return nil
	}
	return runErr
}

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
		log.Info("delivered", attrs...)
	}
}
