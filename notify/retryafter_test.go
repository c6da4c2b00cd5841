package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/notify"
)

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
		"1000000000":                       notify.MaxRetryAfter,
		"99999999999999999999":             notify.MaxRetryAfter,
		"1e400":                            notify.MaxRetryAfter,
		"Inf":                              notify.MaxRetryAfter,
		"-Inf":                             0,
		"NaN":                              0,
		"1e-400":                           0,
		"Fri, 31 Dec 9999 23:59:59 GMT":    notify.MaxRetryAfter,
	}
	for in, want := range tests {
		require.Equal(t, want, notify.ParseRetryAfter(in, now), "%q", in)
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
		require.Equal(t, want, notify.RedactURL(in))
	}
}
