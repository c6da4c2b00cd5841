package api

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Key guessing is slowed per client address: each address may present a wrong or missing key
// authFailBurst times in a burst, then once per authFailEvery. The API's Bearer check and the
// dashboard's sign-in share one budget, so guessing on one does not refill the other.
const (
	authFailBurst = 10
	authFailEvery = 3 * time.Second
	// authFailAddrs bounds the table; it is cleared when full (an attacker with that many
	// addresses gains little: keys are long random strings).
	authFailAddrs = 10000
)

// authFailures holds one token bucket per client address (x/time/rate); only failures spend.
type authFailures struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (l *authFailures) get(addr string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[addr]
	if lim == nil {
		if l.m == nil || len(l.m) >= authFailAddrs {
			l.m = map[string]*rate.Limiter{}
		}
		lim = rate.NewLimiter(rate.Every(authFailEvery), authFailBurst)
		l.m[addr] = lim
	}
	return lim
}

// ClientAddr is the request's client address without the port: the key of the failed-key
// budget (Keys.Blocked). Proxy headers are not trusted.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Blocked reports whether r's client address has used up its budget of wrong keys; callers
// answer 429 with Retry-After (RetryAfterBlocked seconds) without checking the key.
func (k *Keys) Blocked(r *http.Request) bool {
	return k.failures.get(ClientAddr(r)).Tokens() < 1
}

// Failed spends one of r's client address's wrong-key tokens.
func (k *Keys) Failed(r *http.Request) {
	k.failures.get(ClientAddr(r)).Allow()
}

// RetryAfterBlocked is the Retry-After (seconds) of an answer refused by Blocked: the time one
// token takes to come back.
const RetryAfterBlocked = "3"
