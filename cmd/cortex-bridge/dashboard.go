package main

import (
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/dashboard"
)

// newDashboard builds the web dashboard served at / (see package dashboard): it shares the
// management API's Management (validation, limits, test rate, re-planning) and API keys, and
// reads the config in force on each request.
func newDashboard(b *process, m *api.Management, cfg *config.Config, log *slog.Logger) (*dashboard.Dashboard, error) {
	return dashboard.New(dashboard.Config{
		Store: b.db, Management: m, Keys: b.keys,
		Runtime: func() *config.Runtime {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.runtime
		},
		Circuits:      openCircuits(b.metrics.Registry()),
		SecureCookies: strings.HasPrefix(cfg.Server.PublicURL, "https://"),
		Version:       version,
		Log:           log,
	})
}

// openCircuits reads the targets whose circuit is open or probing from the
// cortex_bridge_target_circuit_open gauge, which the dispatcher's breakers set through the
// metrics observer.
func openCircuits(g prometheus.Gatherer) func() map[string]bool {
	return func() map[string]bool {
		out := map[string]bool{}
		families, err := g.Gather()
		if err != nil {
			return out
		}
		for _, f := range families {
			if f.GetName() != "cortex_bridge_target_circuit_open" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "target" && m.GetGauge().GetValue() > 0 {
						out[l.GetValue()] = true
					}
				}
			}
		}
		return out
	}
}
