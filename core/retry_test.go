package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
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
	require.Equal(t, 10*time.Second, p.Delay(1, core.MaxRetryAfter), "the longest Retry-After is capped at Max too")
	require.Equal(t, time.Hour, core.RetryPolicy{Initial: time.Second}.Delay(1, time.Hour), "Max 0: no cap")
	for _, attempt := range []int{0, -1} {
		d := p.Delay(attempt, 0)
		require.GreaterOrEqual(t, d, time.Second/2, "attempt %d counts as the first", attempt)
		require.LessOrEqual(t, d, 3*time.Second/2, "attempt %d counts as the first", attempt)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                                 0,
		"3":                                3 * time.Second,
		" 120 ":                            2 * time.Minute,
		"0.5":                              500 * time.Millisecond,
		"0":                                0,
		"-1":                               0,
		"soon":                             0,
		"Thu, 01 Jan 2026 00:01:30 GMT":    90 * time.Second,
		"Wed, 31 Dec 2025 23:00:00 GMT":    0,
		"Thursday, 01-Jan-26 00:00:10 GMT": 10 * time.Second,
		"Thu, 01 Jan 2026 00:00:00 GMT":    0, // now: no wait
		"999999999":                        999999999 * time.Second,
		"1000000000":                       core.MaxRetryAfter,
		"99999999999999999999":             core.MaxRetryAfter, // would overflow time.Duration
		"1e400":                            core.MaxRetryAfter, // out of float64's range
		"Inf":                              core.MaxRetryAfter,
		"-Inf":                             0,
		"NaN":                              0,
		"1e-400":                           0,
		"Fri, 31 Dec 9999 23:59:59 GMT":    core.MaxRetryAfter,
	}
	for in, want := range tests {
		require.Equal(t, want, core.ParseRetryAfter(in, now), "%q", in)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://hooks.slack.com/services/T000/B000/FAKE-SECRET-123": "https://hooks.slack.com/<redacted>",
		"http://127.0.0.1:1/api/webhooks/1/FAKE-DISCORD-TOKEN":       "http://127.0.0.1:1/<redacted>",
		"https://user:pass@example.com":                              "https://example.com/<redacted>",
		"https://example.com?token=x":                                "https://example.com/<redacted>",
		"https://example.com":                                        "https://example.com",
		"not a url FAKE":                                             "<redacted>",
	}
	for in, want := range tests {
		require.Equal(t, want, core.RedactURL(in))
	}
}
