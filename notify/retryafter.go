package notify

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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
