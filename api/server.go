package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Check is one readiness check: nil when healthy.
type Check func(ctx context.Context) error

// Routes are the bridge's HTTP endpoints besides ingest.
type Routes struct {
	IngestPath string
	Ingest     http.Handler
	// Ready are the readiness checks by name (storage, workers, …); /readyz answers 503 when
	// one fails. Each runs with a 2 s timeout.
	Ready   map[string]Check
	Metrics http.Handler // GET /metrics; nil: not served
	// Reload re-reads the config (POST /-/reload); nil: not served. It needs a Bearer key of
	// Keys.
	Reload func(ctx context.Context) error
	Keys   *Keys
	// Management is the webhook registration API (SPEC §8); nil: not served.
	Management *Management
	// Dashboard is the web dashboard, served at GET / and under /ui/; nil: not served.
	Dashboard http.Handler
}

// Handler routes POST IngestPath, GET /healthz, GET /readyz, GET /metrics, POST /-/reload, the
// management API and the dashboard (GET / and /ui/).
func (rt Routes) Handler() http.Handler {
	mux := http.NewServeMux()
	// Each method on its own pattern, so the ingest path (/webhooks/cortex by default) and the
	// management API's /webhooks/{id} never conflict; Ingest answers other methods with 405.
	for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		mux.Handle(m+" "+rt.IngestPath, rt.Ingest)
	}
	if rt.Management != nil {
		rt.Management.Register(mux)
	}
	if rt.Dashboard != nil {
		mux.Handle("GET /{$}", rt.Dashboard)
		mux.Handle("/ui/", rt.Dashboard)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", rt.readyz)
	if rt.Metrics != nil {
		mux.Handle("GET /metrics", rt.Metrics)
	}
	if rt.Reload != nil {
		mux.Handle("POST /-/reload", rt.Keys.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := rt.Reload(r.Context()); err != nil {
				writeError(w, http.StatusUnprocessableEntity, "invalid_config", err.Error())
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
		})))
	}
	return mux
}

// readyz runs every check concurrently and reports each.
func (rt Routes) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	checks := map[string]string{}
	ok := true
	for name, check := range rt.Ready {
		wg.Go(func() {
			res := "ok"
			if err := check(ctx); err != nil {
				res = err.Error()
			}
			mu.Lock()
			checks[name] = res
			ok = ok && res == "ok"
			mu.Unlock()
		})
	}
	wg.Wait()
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": checks})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": checks})
}

// Keys are the management API's Bearer keys, one account each (api.keys).
type Keys struct {
	mu       sync.RWMutex
	keys     map[string]string // key → account
	failures authFailures      // wrong keys per client address (Blocked, Failed)
}

// NewKeys builds the key set from account → key.
func NewKeys(byAccount map[string]string) *Keys {
	k := &Keys{}
	k.Set(byAccount)
	return k
}

// Set replaces the keys (config reload).
func (k *Keys) Set(byAccount map[string]string) {
	m := make(map[string]string, len(byAccount))
	for account, key := range byAccount {
		m[key] = account
	}
	k.mu.Lock()
	k.keys = m
	k.mu.Unlock()
}

// Account returns the account whose key the request's "Authorization: Bearer <key>" carries.
// Every key is compared in constant time, whichever matches.
func (k *Keys) Account(r *http.Request) (string, bool) {
	given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", false
	}
	return k.Lookup(given)
}

// Lookup returns the account whose key is given (the dashboard's sign-in). Every key is
// compared in constant time, whichever matches.
func (k *Keys) Lookup(given string) (string, bool) {
	if given == "" || k == nil {
		return "", false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	account, found := "", false
	for key, acc := range k.keys {
		if subtle.ConstantTimeCompare([]byte(given), []byte(key)) == 1 {
			account, found = acc, true
		}
	}
	return account, found
}

// Empty reports whether there are no keys (nobody can use the API or sign in to the dashboard).
func (k *Keys) Empty() bool {
	if k == nil {
		return true
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys) == 0
}

// MAC returns HMAC-SHA256(account's key, purpose): a secret derived from the key that does not
// reveal it (the dashboard signs its session cookies with it, so they work on every replica,
// survive restarts and stop working when the key is rotated or removed). ok is false when the
// account has no key.
func (k *Keys) MAC(account, purpose string) ([]byte, bool) {
	if k == nil {
		return nil, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	for key, acc := range k.keys {
		if acc == account {
			m := hmac.New(sha256.New, []byte(key))
			m.Write([]byte(purpose))
			return m.Sum(nil), true
		}
	}
	return nil, false
}

type accountKey struct{}

// AccountOf returns the account Require authenticated for r.
func AccountOf(r *http.Request) string {
	a, _ := r.Context().Value(accountKey{}).(string)
	return a
}

// Require answers 401 with WWW-Authenticate: Bearer unless the request carries a valid key,
// and 429 with Retry-After while the client's address has sent too many wrong keys (Blocked).
func (k *Keys) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k.Blocked(r) {
			w.Header().Set("Retry-After", RetryAfterBlocked)
			writeError(w, http.StatusTooManyRequests, CodeRateLimited,
				"too many requests with a missing or wrong API key from this address; retry after "+RetryAfterBlocked+" s")
			return
		}
		account, ok := k.Account(r)
		if !ok {
			k.Failed(r)
			w.Header().Set("WWW-Authenticate", `Bearer realm="cortex-bridge"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "header Authorization: Bearer <api key> is missing or wrong")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accountKey{}, account)))
	})
}

// NewServer wraps h with timeouts suited to webhook traffic (bounded header and body reads, so
// slow clients cannot hold connections).
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
