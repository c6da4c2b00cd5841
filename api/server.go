package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// POST /-/reload re-reads files and rebuilds every target, so it is throttled for the whole
// process (whoever calls): reloadBurst in a row, then one per reloadEvery. SIGHUP is not
// throttled (only the operator can send it).
const (
	reloadBurst = 3
	reloadEvery = 10 * time.Second
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
	// Management is the webhook registration API (docs/api.md); nil: not served.
	Management *Management
	// Findings is GET /findings (docs/api.md); nil: not served.
	Findings *Findings
	// Dashboard is the web dashboard, served at GET / and under /ui/; nil: not served.
	Dashboard http.Handler
	// Slack answers POST /slack/interactions, the Slack app's Request URL (it verifies Slack's
	// signature itself; no Bearer key); nil: not served.
	Slack http.Handler
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
	if rt.Findings != nil {
		rt.Findings.Register(mux)
	}
	if rt.Slack != nil {
		mux.Handle("POST /slack/interactions", rt.Slack)
	}
	if rt.Dashboard != nil {
		mux.Handle("GET /{$}", rt.Dashboard)
		mux.Handle("/ui/", rt.Dashboard)
	}
	// The alert templates link to <public_url>/events/<id>: the same paths serve the events API
	// and the dashboard's pages (sharePath).
	var list, get http.Handler
	if m := rt.Management; m != nil && m.Events != nil {
		list, get = rt.Keys.Require(http.HandlerFunc(m.listEvents)), rt.Keys.Require(http.HandlerFunc(m.getEvent))
	}
	if h := sharePath(list, rt.Dashboard); h != nil {
		mux.Handle("GET /events", h)
	}
	if h := sharePath(get, rt.Dashboard); h != nil {
		mux.Handle("GET /events/{id}", h)
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
			if !rt.Keys.Admin(AccountOf(r)) {
				writeError(w, http.StatusForbidden, CodeForbidden, "only an account with api.keys[].role: admin may reload the config")
				return
			}
			if !rt.Keys.reloads.Allow() {
				w.Header().Set("Retry-After", strconv.Itoa(int(reloadEvery/time.Second)))
				writeError(w, http.StatusTooManyRequests, CodeRateLimited,
					fmt.Sprintf("at most %d reloads in a row, then one per %s; retry after the Retry-After seconds", reloadBurst, reloadEvery))
				return
			}
			if err := rt.Reload(r.Context()); err != nil {
				writeError(w, http.StatusUnprocessableEntity, "invalid_config", err.Error())
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
		})))
	}
	return mux
}

// sharePath sends a request to apiH when it carries an Authorization header or its Accept
// header prefers application/json to text/html (WantsJSON), and to page otherwise (a browser
// following a link); either may be nil (then the other serves every request). The answer
// varies with both headers.
func sharePath(apiH, page http.Handler) http.Handler {
	switch {
	case apiH == nil:
		return page
	case page == nil:
		return apiH
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept, Authorization")
		if r.Header.Get("Authorization") != "" || WantsJSON(r.Header.Get("Accept")) {
			apiH.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
}

// WantsJSON reports whether an Accept header value (RFC 9110, section 12.5.1) gives
// application/json a higher quality than text/html; each type's quality is that of its most
// specific matching range (type/subtype, then type/*, then */*), 0 when none matches. An empty
// header prefers neither.
func WantsJSON(accept string) bool {
	return acceptQuality(accept, "application", "json") > acceptQuality(accept, "text", "html")
}

func acceptQuality(accept, typ, sub string) float64 {
	best, q := -1, 0.0 // best: specificity of the range that set q (2 exact, 1 type/*, 0 */*)
	for rng := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(rng, ";")
		t, s, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
		spec := -1
		switch {
		case t == typ && s == sub:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		}
		if spec <= best {
			continue
		}
		rq := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
					rq = f
				}
			}
		}
		best, q = spec, rq
	}
	return q
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
	keys     []apiKey
	failures authFailures // wrong keys per client address (Blocked, Failed)
	reloads  *rate.Limiter
}

// apiKey is one account's key. Keys are compared by their SHA-256 digests, which all have
// the same length, so the time a comparison takes says nothing about a key's length.
type apiKey struct {
	account string
	key     string
	digest  [sha256.Size]byte
	admin   bool
}

// equalFunc compares two key digests (a test checks it only ever sees fixed-size digests).
var equalFunc = subtle.ConstantTimeCompare

// Roles of api.keys[].role.
const (
	RoleTenant = "tenant" // the default: the account's own webhooks and deliveries
	RoleAdmin  = "admin"  // also POST /-/reload
)

// NewKeys builds the key set from account → key; every account has RoleTenant (SetAdmins).
func NewKeys(byAccount map[string]string) *Keys {
	k := &Keys{reloads: rate.NewLimiter(rate.Every(reloadEvery), reloadBurst)}
	k.Set(byAccount)
	return k
}

// Set replaces the keys (config reload); admins are the accounts with RoleAdmin.
func (k *Keys) Set(byAccount map[string]string, admins ...string) {
	keys := make([]apiKey, 0, len(byAccount))
	for account, key := range byAccount {
		keys = append(keys, apiKey{account: account, key: key, digest: sha256.Sum256([]byte(key)), admin: slices.Contains(admins, account)})
	}
	k.mu.Lock()
	k.keys = keys
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

// Lookup returns the account whose key is given (the dashboard's sign-in). The given key's
// SHA-256 digest is compared in constant time with every key's digest, whichever matches.
func (k *Keys) Lookup(given string) (string, bool) {
	a, ok := k.lookup(given)
	return a.account, ok
}

func (k *Keys) lookup(given string) (apiKey, bool) {
	if given == "" || k == nil {
		return apiKey{}, false
	}
	sum := sha256.Sum256([]byte(given))
	k.mu.RLock()
	defer k.mu.RUnlock()
	var found apiKey
	ok := 0
	for _, key := range k.keys {
		if equalFunc(sum[:], key.digest[:]) == 1 {
			found, ok = key, 1
		}
	}
	return found, ok == 1
}

// Admin reports whether account has RoleAdmin.
func (k *Keys) Admin(account string) bool {
	if k == nil {
		return false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if key.account == account {
			return key.admin
		}
	}
	return false
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
	for _, key := range k.keys {
		if key.account == account {
			m := hmac.New(sha256.New, []byte(key.key))
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

// Require answers 401 with WWW-Authenticate: Bearer unless the request carries a valid key. A
// valid key is always let through; a wrong or missing one spends one of the client address's
// tokens (Failed), and once they are used up wrong keys get 429 with Retry-After instead of 401
// (Blocked), so guessing is slowed without locking out the others behind the same address.
func (k *Keys) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		account, ok := k.Account(r)
		if !ok {
			if k.Blocked(r) {
				w.Header().Set("Retry-After", RetryAfterBlocked)
				writeError(w, http.StatusTooManyRequests, CodeRateLimited,
					"too many requests with a missing or wrong API key from this address; retry after "+RetryAfterBlocked+" s")
				return
			}
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
