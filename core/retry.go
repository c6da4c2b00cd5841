package core

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// RetryPolicy decides when a failed delivery is tried again (SPEC §4 delivery).
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, first try included; then the delivery is dead
	Initial     time.Duration // first backoff delay
	Max         time.Duration // cap for backoff and for a receiver's Retry-After
}

// Delay returns how long to wait after the attempt-th failed attempt (1-based): exponential
// backoff (×2, ±50% jitter, from cenkalti/backoff) from Initial, capped at Max. A longer
// retryAfter asked by the receiver wins, still capped at Max.
func (p RetryPolicy) Delay(attempt int, retryAfter time.Duration) time.Duration {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.Initial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         p.Max,
	}
	var d time.Duration
	for range max(attempt, 1) {
		d = b.NextBackOff()
	}
	d = max(d, retryAfter)
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	return d
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an HTTP-date (RFC 9110
// §10.2.3). It returns 0 when v is empty, unparseable or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 1e9 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
