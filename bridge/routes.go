package bridge

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/dashboard"
)

// routes builds the HTTP endpoints: ingest, health checks, metrics, reload, the management API
// and the dashboard at /.
func (b *Bridge) routes(cfg *config.Config) (http.Handler, error) {
	d, err := dashboard.New(dashboard.Config{
		Store: b.db, Webhooks: b.service, Keys: b.keys, Silences: b.silence,
		Runtime:       b.Runtime,
		Circuits:      b.disp.OpenCircuits,
		SecureCookies: strings.HasPrefix(cfg.Server.PublicURL, "https://"),
		Version:       b.opts.Version,
		Log:           b.log,
	})
	if err != nil {
		return nil, err
	}
	return api.Routes{
		IngestPath: cfg.Ingest.Path,
		Ingest:     b.ingest,
		Metrics:    b.metrics.Handler(),
		Reload:     b.Reload,
		Keys:       b.keys,
		Management: &api.Management{Webhooks: b.service, Store: b.db, Keys: b.keys, Log: b.log, Events: b.db, Decide: b.decide, Silences: b.silence},
		Slack:      b.slack,
		Findings:   &api.Findings{Store: b.db, Keys: b.keys, Log: b.log},
		Dashboard:  d,
		Ready: map[string]api.Check{
			// The store answering is not enough: a full disk still answers SELECT 1. Ready
			// follows what ingest saw (its last commit) until storage takes writes again.
			"storage":    b.bus.StorageReady,
			"migrations": b.db.MigrationsCurrent,
			"queue": func(context.Context) error {
				if b.bus.QueueFull() {
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
	}.Handler(), nil
}
