package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/notify"
)

func TestRetryPolicyDelay(t *testing.T) {
	t.Parallel()
	p := core.RetryPolicy{MaxAttempts: 10, Initial: time.Second, Max: 10 * time.Second}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second} {
		for range 50 {
			d := p.Delay(attempt, 0)
			require.GreaterOrEqual(t, d, want/2, "attempt %d", attempt)
			require.LessOrEqual(t, d, want*3/2, "attempt %d", attempt)
		}
	}
	for range 50 {
		require.LessOrEqual(t, p.Delay(9, 0), 10*time.Second, "capped at Max")
	}
	require.Equal(t, 7*time.Second, p.Delay(1, 7*time.Second), "a longer Retry-After wins")
	require.Equal(t, 10*time.Second, p.Delay(1, time.Hour), "Retry-After is capped at Max")
	require.LessOrEqual(t, p.Delay(3, time.Millisecond), 6*time.Second, "a shorter Retry-After does not shorten the backoff")
	require.Equal(t, 10*time.Second, p.Delay(1, notify.MaxRetryAfter), "the longest Retry-After is capped at Max too")
	require.Equal(t, time.Hour, core.RetryPolicy{Initial: time.Second}.Delay(1, time.Hour), "Max 0: no cap")
	for _, attempt := range []int{0, -1} {
		d := p.Delay(attempt, 0)
		require.GreaterOrEqual(t, d, time.Second/2, "attempt %d counts as the first", attempt)
		require.LessOrEqual(t, d, 3*time.Second/2, "attempt %d counts as the first", attempt)
	}
}
