package bridge

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// Run starts the delivery workers, the digest scheduler, the scans' comparisons (findings), the alerts and the HTTP server, and
// serves until ctx is done or the server fails; then it drains: ingest answers 503, running
// deliveries finish (up to delivery.drain_timeout), queued ones are handed back for the next
// start, and the server stops. It returns the server's error, nil after a drain. Call it once.
func (b *Bridge) Run(ctx context.Context) error {
	if b.ownDB {
		defer b.db.Close()
	}
	dispCtx, stopDisp := context.WithCancel(context.Background())
	dispDone, schedDone, findsDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	b.running.Store(true)
	go func() { b.disp.Run(dispCtx); b.running.Store(false); close(dispDone) }()
	go func() { b.sched.Run(dispCtx); close(schedDone) }()
	go func() { b.finds.Run(dispCtx); close(findsDone) }()
	alertsDone := make(chan struct{}) // alerts raised once the bus is closed are dropped with a log line
	go func() { b.alerter.Run(dispCtx, b.bus); close(alertsDone) }()
	go b.hooks.Watch(dispCtx, b.opts.WatchInterval)
	silencesDone := make(chan struct{})
	go func() { b.silence.Run(dispCtx); close(silencesDone) }()

	b.mu.Lock()
	cfg, rt := b.cfg, b.runtime
	b.mu.Unlock()
	b.log.Info("cortex-bridge listening", "version", b.opts.Version, "url", b.URL()+cfg.Ingest.Path,
		"storage", cfg.Storage.Driver, "targets", len(rt.Targets), "routes", len(rt.Router.Routes), "digests", len(rt.Router.Digests))
	b.logDashboard(cfg.Server.PublicURL)
	srvErr := make(chan error, 1)
	go func() {
		if b.cert != nil {
			srvErr <- b.srv.ServeTLS(b.ln, "", "")
		} else {
			srvErr <- b.srv.Serve(b.ln)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
		b.log.Info("shutting down: ingest answers 503; running deliveries finish, queued ones are handed back",
			"drain_timeout", cfg.Delivery.DrainTimeout)
	case runErr = <-srvErr:
	}
	// The listener stays open while deliveries drain: ingest answers 503 shutting_down and
	// /readyz fails, so senders and load balancers move to another replica instead of meeting
	// refused connections. Then the HTTP server stops.
	b.ingest.Drain()
	b.bus.Close()
	stopDisp()
	<-dispDone
	<-schedDone
	<-findsDone
	<-alertsDone
	<-silencesDone
	b.slack.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.srv.Shutdown(sctx); err != nil {
		b.log.Warn("some requests were cut off at shutdown", "err", err)
	}
	b.log.Info("stopped")
	if errors.Is(runErr, http.ErrServerClosed) {
		return nil
	}
	return runErr
}

// logDashboard says where the dashboard is (server.public_url when set, else the listener) and,
// when no API key is set, that nobody can sign in to it.
func (b *Bridge) logDashboard(publicURL string) {
	u := strings.TrimSuffix(cmp.Or(publicURL, b.URL()), "/") + "/"
	if b.keys.Empty() {
		b.log.Warn("dashboard: no API key is set, so nobody can sign in (api.keys; the shipped config.yaml reads CORTEX_BRIDGE_ADMIN_KEY)", "url", u)
		return
	}
	b.log.Info("dashboard", "url", u)
}

// attemptLogger logs one line per delivery attempt: a failure at warn, a success at debug. A
// success is not even described while debug is off: the attributes were a dozen allocations per
// delivery for a line nobody saw (BENCHMARKS.md, "The dispatch side at 1 000 events/s").
func attemptLogger(log *slog.Logger) func(*core.Delivery, core.Attempt, core.State) {
	return func(d *core.Delivery, a core.Attempt, state core.State) {
		if a.Error == "" && !log.Enabled(context.Background(), slog.LevelDebug) {
			return
		}
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
