package core

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Defaults of RetryPolicy, which a Plan without them gets; also delivery.max_attempts' and
// delivery.backoff's (docs/configuration.md).
const (
	DefaultMaxAttempts    = 4
	DefaultBackoffInitial = 5 * time.Second
	DefaultBackoffMax     = 10 * time.Minute
)

// RetryPolicy decides when a failed delivery is tried again (delivery.max_attempts and delivery.backoff in docs/configuration.md).
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, first try included; then the delivery is dead
	Initial     time.Duration // first backoff delay
	Max         time.Duration // cap for backoff and for a receiver's Retry-After; 0: no cap
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
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	return d
}

// MaxRetryAfter bounds what ParseRetryAfter returns: 10⁹ seconds (about 31 years). A larger
// or infinite delay-seconds would overflow time.Duration (int64 nanoseconds, about 292 years)
// and wrap to a negative wait; RetryPolicy.Delay then caps it at delivery.backoff.max anyway.
const MaxRetryAfter = 1e9 * time.Second

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an HTTP-date (RFC 9110
// §10.2.3). It returns 0 when v is empty, unparseable, NaN, zero, negative or in the past, and
// MaxRetryAfter for any longer wait, "Inf" and 1e400 included. Fractions of a second are kept.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if !(secs > 0) { // NaN too
			return 0
		}
		return time.Duration(min(secs, MaxRetryAfter.Seconds()) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}
