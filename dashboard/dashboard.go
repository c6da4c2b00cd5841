// Package dashboard is the bridge's web dashboard, served by the bridge itself at / (pages under
// /ui/, and the event pages at /events and /events/{id}, the address every built-in template
// links to): sign in with an account's API key; see an overview of events, deliveries and target
// health; list and search events and open one (its fields, where it went and why, every
// delivery with each attempt; retry a delivery or send the event again to one target); manage
// the account's webhooks (add, edit, delete, send a test); browse, inspect and retry
// deliveries, one at a time or all dead ones of a target and time range; read the routes and
// digests of the config and try an event against them.
//
// Pages are rendered on the server with html/template from files embedded in the binary (no
// build step, no CDN) and work without JavaScript; a small script only adds conveniences. The
// webhooks, tests and retries go through webhooks.Service, as the management API's do, so the
// dashboard validates and behaves exactly like it (README.md, "Management API").
//
// Roles (api.keys[].role): an admin sees and acts on every event and every delivery, to the
// config's targets and to every registered webhook, and sees why each route matched. Any other
// account (a tenant) sees only its own webhooks, their deliveries and the events delivered to
// them: never a configured target's deliveries, errors or routing, the config's routes and
// digests (the Routes page) or the configured targets' health (the overview). Target URLs and
// secrets of the config are never shown to anyone.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/silences"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

//go:embed templates static
var files embed.FS

// Store is what the dashboard reads and writes: what the management API uses, the queue's
// and digests' state, its own charts' queries and signed-out sessions. targets is a set of
// target names: nil means every target, empty means none (an account without webhooks).
type Store interface {
	webhooks.Store
	api.ManagementStore
	api.FindingStore
	// FindingScopes counts the findings of each repository and branch by state, most open
	// first, at most limit of them (the findings overview).
	FindingScopes(ctx context.Context, limit int) ([]core.FindingScope, error)
	// QueueStats counts unfinished and dead deliveries per target.
	QueueStats(ctx context.Context) ([]core.QueueStats, error)
	// DigestState returns a digest's schedule row; ok is false when it is not recorded yet.
	DigestState(ctx context.Context, name string) (s core.DigestSchedule, ok bool, err error)
	// DeliveryCounts counts the deliveries to targets created at or after since, by status: the
	// State, except "failed" for pending ones whose last attempt failed (as listings show them).
	DeliveryCounts(ctx context.Context, targets []string, since time.Time) (map[string]int, error)
	// Activity splits [from, to) into buckets of step (the last one may be shorter) and counts
	// in each the events received (every one, not only the targets'; not the bridge's own:
	// digest runs, groups, alerts, finding.* events) and the attempts to targets that started in
	// it, failed ones apart.
	Activity(ctx context.Context, targets []string, from, to time.Time, step time.Duration) ([]core.ActivityBucket, error)
	// TargetHealth reports, for each of targets with an attempt that ended at or after since,
	// its last success and its failure streak (the attempts that failed after that success),
	// computed from the attempt log. Targets without such attempts are left out.
	TargetHealth(ctx context.Context, targets []string, since time.Time) ([]core.TargetHealth, error)
	// Events lists one page of the events f selects, newest received first.
	Events(ctx context.Context, f core.EventFilter) (core.EventPage, error)
	// Event returns one stored event by id; core.ErrNotFound when there is none.
	Event(ctx context.Context, id string) (*event.Event, error)
	// EventDeliveries lists the deliveries of one event to targets (nil: every target),
	// oldest first.
	EventDeliveries(ctx context.Context, eventID string, targets []string) ([]*core.Delivery, error)
	// DeliveriesOf is EventDeliveries of each of eventIDs (a page of events) in one query, by
	// event id.
	DeliveriesOf(ctx context.Context, eventIDs []string, targets []string) (map[string][]*core.Delivery, error)
	// EventHolds lists the holds of one event recorded at ingest, limited to targets (nil: all).
	EventHolds(ctx context.Context, eventID string, targets []string) ([]core.Hold, error)
	// RetryDeliveries gives the dead deliveries f selects a fresh budget of attempts, due at
	// now; it returns how many, and more is true when MaxBulkRetry stopped it.
	RetryDeliveries(ctx context.Context, f core.RetryFilter, now time.Time) (n int, more bool, err error)
	// Resend queues the event for target again: its delivery to target back to pending with a
	// fresh budget of attempts, or a new delivery via route when it has none; core.ErrNotFound
	// when the event is gone, core.ErrConflict while an attempt of that delivery runs.
	Resend(ctx context.Context, eventID, target, route string, now time.Time) (*core.Delivery, error)
	// RevokeSession records that the session id was signed out: SessionRevoked reports it
	// until expires (when no copy of the session's cookie can still be valid), for every
	// replica and across restarts; records that expired before now are deleted.
	RevokeSession(ctx context.Context, id string, expires, now time.Time) error
	// SessionRevoked reports whether the session id was signed out and its record has not
	// expired at now.
	SessionRevoked(ctx context.Context, id string, now time.Time) (bool, error)
	// Scans returns the scan contexts recorded at ingest for the given scan ids (see
	// core.DispatcherStore.Scans), so the try form renders as a delivery would.
	Scans(ctx context.Context, ids []string) (map[string]event.Scan, error)
}

// Config is what the dashboard needs from the running bridge.
type Config struct {
	Store Store
	// Webhooks registers, changes, tests and deletes webhooks and retries deliveries, with
	// the management API's validation, limits and logging.
	Webhooks *webhooks.Service
	// Keys are the API keys: signing in takes one, and session cookies are signed with a
	// secret derived from it.
	Keys *api.Keys
	// Runtime returns the config in force (routes, digests, targets, renderer); it is called
	// for each request, so a reload shows at once.
	Runtime func() *config.Runtime
	// Silences lists, creates and ends silences (page /ui/silences, admins only); nil: the
	// page is not served.
	Silences *silences.Service
	// Circuits returns the targets whose circuit breaker is open or probing; nil: the circuit
	// column is not shown.
	Circuits func() map[string]bool
	// SecureCookies marks cookies Secure on plain-HTTP requests too (TLS ended by a proxy in
	// front); requests that arrive over TLS always get Secure cookies.
	SecureCookies bool
	// SessionTTL is how long a session lasts without a request (sliding); default 12h.
	SessionTTL time.Duration
	Version    string
	NowFunc    func() time.Time
	Log        *slog.Logger
}

// Dashboard serves the pages; build it with New.
type Dashboard struct {
	cfg    Config
	mux    *http.ServeMux
	pages  map[string]*template.Template
	static fs.FS
}

var _ http.Handler = (*Dashboard)(nil)

// New parses the embedded templates and builds the routes.
func New(cfg Config) (*Dashboard, error) {
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	d := &Dashboard{cfg: cfg, mux: http.NewServeMux()}
	var err error
	if d.pages, err = d.parsePages(); err != nil {
		return nil, err
	}
	if d.static, err = fs.Sub(files, "static"); err != nil {
		return nil, err
	}
	d.routes()
	return d, nil
}

func (d *Dashboard) routes() {
	m := d.mux
	m.Handle("GET /ui/assets/", http.StripPrefix("/ui/assets/", d.assets()))
	m.HandleFunc("GET /ui/signin", d.signinPage)
	m.HandleFunc("POST /ui/signin", d.signinPost)
	m.HandleFunc("POST /ui/signout", d.signedIn(d.signout))

	m.HandleFunc("GET /{$}", d.signedIn(d.overview))
	m.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusSeeOther) })
	m.HandleFunc("GET /ui/webhooks", d.signedIn(d.webhookList))
	m.HandleFunc("GET /ui/webhooks/new", d.signedIn(d.webhookNew))
	m.HandleFunc("POST /ui/webhooks", d.signedIn(d.webhookCreate))
	m.HandleFunc("GET /ui/webhooks/{id}", d.signedIn(d.webhookEdit))
	m.HandleFunc("POST /ui/webhooks/{id}", d.signedIn(d.webhookUpdate))
	m.HandleFunc("GET /ui/webhooks/{id}/delete", d.signedIn(d.webhookDeleteConfirm))
	m.HandleFunc("POST /ui/webhooks/{id}/delete", d.signedIn(d.webhookDelete))
	m.HandleFunc("POST /ui/webhooks/{id}/test", d.signedIn(d.webhookTest))
	m.HandleFunc("GET /ui/deliveries", d.signedIn(d.deliveryList))
	m.HandleFunc("POST /ui/deliveries/retry", d.signedIn(d.deliveryRetryMany))
	m.HandleFunc("GET /ui/deliveries/{id}", d.signedIn(d.deliveryDetail))
	m.HandleFunc("POST /ui/deliveries/{id}/retry", d.signedIn(d.deliveryRetry))
	m.HandleFunc("GET /ui/routes", d.signedIn(d.adminOnly(d.routesPage)))
	m.HandleFunc("POST /ui/routes/try", d.signedIn(d.adminOnly(d.routesTry)))
	// The event pages are at the paths the built-in templates link to (api.Routes sends a
	// request for them here unless it asks for JSON).
	m.HandleFunc("GET /events", d.signedIn(d.eventList))
	m.HandleFunc("GET /events/{id}", d.signedIn(d.eventPage))
	m.HandleFunc("POST /ui/events/{id}/retry", d.signedIn(d.eventRetry))
	m.HandleFunc("POST /ui/events/{id}/resend", d.signedIn(d.eventResend))
	m.HandleFunc("GET /ui/silences", d.signedIn(d.silencesPage))
	m.HandleFunc("POST /ui/silences", d.signedIn(d.silenceCreate))
	m.HandleFunc("POST /ui/silences/{id}/end", d.signedIn(d.silenceEnd))
	m.HandleFunc("GET /ui/findings", d.signedIn(d.findingsPage))
	m.HandleFunc("/", d.notFound)
}

// adminOnly runs h for an admin's request (api.keys[].role: admin) and answers 403 to any other
// account: the config's routes, rules and targets are the operator's.
func (d *Dashboard) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.cfg.Keys.Admin(accountOf(r)) {
			d.fail(w, r, http.StatusForbidden, "This page is for admins: accounts whose key has role: admin in api.keys.")
			return
		}
		h(w, r)
	}
}

// ServeHTTP sets the security headers every answer carries and routes the request.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Email previews are shown in a sandboxed iframe and may carry inline styles; no script but
	// ours runs, nothing is loaded from elsewhere, and no site may frame the dashboard.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data:; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		d.fail(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused.")
		return
	}
	d.mux.ServeHTTP(w, r)
}

// crossOrigin refuses cross-site form posts by the browser's own headers (CSRF tokens are
// checked as well): Sec-Fetch-Site when sent (same-origin or none), else an Origin whose host
// is the request's ("Origin: null", sent by sandboxed frames and some redirects, is refused).
// Requests with neither header (non-browser clients) pass; the token still guards them.
var crossOrigin = http.NewCrossOriginProtection()

// sameOrigin reports whether crossOrigin lets the POST r through.
func sameOrigin(r *http.Request) bool { return crossOrigin.Check(r) == nil }

func (d *Dashboard) assets() http.Handler {
	fsrv := http.FileServerFS(d.static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The files change only with the binary; ?v=<version> in the links busts the cache.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// page is what every page template gets: the layout's data and the page's own.
type page struct {
	Title   string
	Nav     string // the nav entry to mark current
	Account string
	Admin   bool // the account has role admin
	CSRF    string
	Version string
	Flash   string
	Error   string
	Data    any
}

// render writes page name with status; errors from executing the template are logged and a
// plain 500 is answered (the buffer is discarded, so no half page goes out).
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if s := sessionOf(r); s != nil {
		p.Account, p.CSRF, p.Admin = s.Account, s.csrf, d.cfg.Keys.Admin(s.Account)
	}
	p.Version = d.cfg.Version
	t := d.pages[name]
	var buf bytes.Buffer
	if t == nil {
		d.cfg.Log.Error("dashboard: no template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		d.cfg.Log.Error("dashboard: rendering a page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // pages show an account's data
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows an error page with status.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d.render(w, r, status, "error", page{Title: http.StatusText(status), Error: msg})
}

// unavailable logs a storage failure and shows a 503 page.
func (d *Dashboard) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	d.cfg.Log.Error("dashboard: storage failed", "err", err)
	w.Header().Set("Retry-After", "5")
	d.fail(w, r, http.StatusServiceUnavailable, "Storage is not answering right now. Reload the page in a few seconds.")
}

func (d *Dashboard) notFound(w http.ResponseWriter, r *http.Request) {
	d.fail(w, r, http.StatusNotFound, "There is no page at this address.")
}

func (d *Dashboard) runtime() *config.Runtime {
	if d.cfg.Runtime == nil {
		return nil
	}
	return d.cfg.Runtime()
}
