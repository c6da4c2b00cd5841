package metrics

import (
	"slices"

	"github.com/cortexbridge/cortex-bridge/core"
)

// Alert counts one of the bridge's own alerts by type and outcome (core.AlerterConfig.OnAlert):
// raised, duplicate, dropped (queue full, stopping, storage failing) or suppressed (about an
// alert's own failed delivery, so never raised).
func (m *Metrics) Alert(eventType, outcome string) {
	if !slices.Contains(core.AlertTypes, eventType) {
		eventType = "other"
	}
	m.alerts.WithLabelValues(eventType, outcome).Inc()
}
