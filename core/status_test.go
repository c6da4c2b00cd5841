package core_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

func TestDeliveryStatus(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		d    core.Delivery
		want string
	}{
		"pending, never tried":         {core.Delivery{State: core.StatePending}, "pending"},
		"pending after a failure":      {core.Delivery{State: core.StatePending, Attempts: 1}, core.StatusFailed},
		"pending after a manual retry": {core.Delivery{State: core.StatePending, Attempts: 4, RetryBase: 4}, "pending"},
		"failed again after the retry": {core.Delivery{State: core.StatePending, Attempts: 5, RetryBase: 4}, core.StatusFailed},
		"dead":                         {core.Delivery{State: core.StateDead, Attempts: 4}, "dead"},
		"succeeded after a failed try": {core.Delivery{State: core.StateSucceeded, Attempts: 2}, "succeeded"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.d.Status())
		})
	}
}

func TestDeliveryFilterSetStatus(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		status string
		ok     bool
		want   core.DeliveryFilter
	}{
		"any":       {"", true, core.DeliveryFilter{}},
		"failed":    {"failed", true, core.DeliveryFilter{Failed: true}},
		"dead":      {"dead", true, core.DeliveryFilter{State: core.StateDead}},
		"cancelled": {"cancelled", true, core.DeliveryFilter{State: core.StateCancelled}},
		"unknown":   {"lost", false, core.DeliveryFilter{}},
		"case":      {"Dead", false, core.DeliveryFilter{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var f core.DeliveryFilter
			require.Equal(t, tc.ok, f.SetStatus(tc.status))
			require.Equal(t, tc.want, f)
		})
	}
	for _, s := range core.Statuses {
		var f core.DeliveryFilter
		require.True(t, f.SetStatus(s), s)
	}
}
