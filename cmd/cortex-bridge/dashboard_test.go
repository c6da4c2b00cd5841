package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/metrics"
)

// TestOpenCircuitsReadsTheGauge: the dashboard's circuit column comes from the gauge the
// dispatcher's breakers set through the metrics observer.
func TestOpenCircuitsReadsTheGauge(t *testing.T) {
	t.Parallel()
	m := metrics.New("test", nil)
	open := openCircuits(m.Registry())
	require.Empty(t, open())
	m.CircuitOpen("siem", true)
	m.CircuitOpen("slack", true)
	m.CircuitOpen("slack", false)
	require.Equal(t, map[string]bool{"siem": true}, open())
}
