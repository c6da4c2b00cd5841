package core

import (
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
