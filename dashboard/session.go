package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/api"
)

// Sessions are signed cookies, not server state, so they work on every replica and survive
// restarts: the cookie carries the account, the session id and its times, HMAC-SHA256'd with a
// secret derived from the account's API key (api.Keys.MAC). The key itself is never in the
// cookie; rotating or removing it ends the account's sessions. Expiry slides: each request
// more than renewAfter after the last renewal gets a cookie valid for SessionTTL more, up to
// maxSessionAge after signing in. Signing out clears the cookie and records the session id in
// the store (RevokeSession) until no copy of the cookie can still be valid, so every replica
// refuses a copy of it, after a restart too.
//
// CSRF: every form carries a token, HMAC(session secret, "csrf" + session id), checked in
// constant time on every POST, and cross-site posts are refused by Sec-Fetch-Site/Origin as
// well. The session cookie is SameSite=Lax, not Strict: alerts link to the event pages from other
// sites (Slack's and Discord's web apps, webmail), and a Strict cookie is not sent on such a
// click, so a signed-in user would meet the sign-in form. Lax sends it on top-level GET
// navigations only, and no GET changes anything; every POST still needs the token. The sign-in form, before any session, uses a double-submit
// token (a random cookie repeated in the form).
const (
	sessionCookie = "cortex_bridge_session"
	signinCookie  = "cortex_bridge_signin"
	sessionMAC    = "cortex-bridge dashboard session v1"
	renewAfter    = 5 * time.Minute
	maxSessionAge = 7 * 24 * time.Hour
)

// session is a verified session cookie.
type session struct {
	Account  string    `json:"a"`
	ID       string    `json:"i"`
	SignedIn time.Time `json:"s"`
	Renewed  time.Time `json:"r"`
	Expires  time.Time `json:"e"`

	csrf string
	key  []byte
}

type sessionKey struct{}

// sessionOf returns the request's session, nil when it has none.
func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

// accountOf returns the signed-in account.
func accountOf(r *http.Request) string {
	if s := sessionOf(r); s != nil {
		return s.Account
	}
	return ""
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// sessionSecret is the account's cookie-signing secret; ok is false when it has no key.
func (d *Dashboard) sessionSecret(account string) ([]byte, bool) {
	return d.cfg.Keys.MAC(account, sessionMAC)
}

// encode signs s into a cookie value: base64url(JSON) "." base64url(HMAC).
func (s *session) encode() string {
	payload, _ := json.Marshal(s)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(s.key, "session", p))
}

// decodeSession verifies a cookie value and returns its session, or nil. It does not look at
// revocations (session).
func (d *Dashboard) decodeSession(value string, now time.Time) *session {
	p, sig, ok := strings.Cut(value, ".")
	if !ok || len(value) > 4096 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil
	}
	var s session
	if json.Unmarshal(payload, &s) != nil || s.Account == "" || s.ID == "" {
		return nil
	}
	key, ok := d.sessionSecret(s.Account)
	if !ok {
		return nil
	}
	given, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(given, mac(key, "session", p)) {
		return nil
	}
	if !now.Before(s.Expires) || now.Sub(s.SignedIn) > maxSessionAge {
		return nil
	}
	s.key = key
	s.csrf = base64.RawURLEncoding.EncodeToString(mac(key, "csrf", s.ID))
	return &s
}

// session returns the request's verified session that was not signed out, or nil; err is a
// storage failure (the caller answers 503: whether the session was signed out is unknown).
func (d *Dashboard) session(r *http.Request, now time.Time) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	s := d.decodeSession(c.Value, now)
	if s == nil {
		return nil, nil
	}
	revoked, err := d.cfg.Store.SessionRevoked(r.Context(), s.ID, now)
	if err != nil || revoked {
		return nil, err
	}
	return s, nil
}

// secure says whether r's cookies should be Secure.
func (d *Dashboard) secure(r *http.Request) bool { return r.TLS != nil || d.cfg.SecureCookies }

func (d *Dashboard) setSession(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.encode(), Path: "/", Expires: s.Expires,
		MaxAge: int(s.Expires.Sub(s.Renewed).Seconds()), HttpOnly: true, Secure: d.secure(r), SameSite: http.SameSiteLaxMode})
}

func (d *Dashboard) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: d.secure(r),
		SameSite: http.SameSiteStrictMode})
}

// newSession starts a session for account; false when the account has no key.
func (d *Dashboard) newSession(account string) (*session, bool) {
	key, ok := d.sessionSecret(account)
	if !ok {
		return nil, false
	}
	now := d.cfg.NowFunc().UTC().Truncate(time.Second)
	s := &session{Account: account, ID: randomID(), SignedIn: now, Renewed: now, Expires: now.Add(d.cfg.SessionTTL), key: key}
	s.csrf = base64.RawURLEncoding.EncodeToString(mac(key, "csrf", s.ID))
	return s, true
}

// signedIn runs h for a signed-in request: it verifies the session cookie (else sends the
// browser to sign in), renews it when due, and checks the CSRF token of a POST.
func (d *Dashboard) signedIn(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := d.cfg.NowFunc().UTC()
		s, err := d.session(r, now)
		if err != nil {
			d.unavailable(w, r, err)
			return
		}
		if s == nil {
			if r.Method != http.MethodGet {
				d.fail(w, r, http.StatusForbidden, "Your session has ended. Sign in again, then repeat what you did.")
				return
			}
			target := "/ui/signin"
			if r.URL.Path != "/" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if now.Sub(s.Renewed) > renewAfter {
			s.Renewed = now.Truncate(time.Second)
			s.Expires = s.Renewed.Add(d.cfg.SessionTTL)
			d.setSession(w, r, s)
		}
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, d.maxFormBytes())
			var tooBig *http.MaxBytesError
			if err := readForm(r, d.maxFormBytes()); errors.As(err, &tooBig) {
				d.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("This form is larger than %d bytes; an event may be at most %d bytes (ingest.max_body_bytes).", tooBig.Limit, d.maxEventBytes()))
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				d.fail(w, r, http.StatusForbidden, "This form has expired or did not come from this dashboard. Go back, reload the page and try again.")
				return
			}
		}
		h(w, r)
	}
}

// nextBase is an origin to resolve next against: only the result's origin is compared.
var nextBase = &url.URL{Scheme: "https", Host: "bridge.invalid", Path: "/"}

// safeNext returns next when it is a page of this site, else "/". next is parsed as a URL
// reference, not filtered: one with a scheme, a host, user info or an opaque part, or whose
// path is not absolute, is refused. The answer is next re-serialised (the path escaped, so a
// backslash or a control character cannot reach the browser raw; browsers drop tabs and line
// breaks and read "\" as "/"), and it is kept only if it still starts with a single "/" and
// resolves to this site's origin.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	out := (&url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.Query().Encode(), Fragment: u.Fragment}).String()
	if !strings.HasPrefix(out, "/") || len(out) > 1 && (out[1] == '/' || out[1] == '\\') {
		return "/"
	}
	ref, err := url.Parse(out)
	if err != nil || ref.Host != "" {
		return "/"
	}
	if r := nextBase.ResolveReference(ref); r.Scheme != nextBase.Scheme || r.Host != nextBase.Host || r.User != nil {
		return "/"
	}
	return out
}

type signinData struct {
	Token  string
	Next   string
	NoKeys bool // the config has no api.keys: say how to add one
}

func (d *Dashboard) signinPage(w http.ResponseWriter, r *http.Request) {
	if s, _ := d.session(r, d.cfg.NowFunc().UTC()); s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	d.showSignin(w, r, http.StatusOK, "")
}

func (d *Dashboard) showSignin(w http.ResponseWriter, r *http.Request, status int, problem string) {
	token := randomID()
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: token, Path: "/ui/signin", MaxAge: 3600, HttpOnly: true,
		Secure: d.secure(r), SameSite: http.SameSiteStrictMode})
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostFormValue("next")
	}
	p := page{Title: "Sign in", Error: problem, Data: signinData{Token: token, Next: safeNext(next), NoKeys: d.cfg.Keys.Empty()}}
	if r.URL.Query().Get("signedout") == "1" && problem == "" {
		p.Flash = "You are signed out."
	}
	d.render(w, r, status, "signin", p)
}

func (d *Dashboard) signinPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(signinCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		d.showSignin(w, r, http.StatusForbidden, "The sign-in form expired. Enter your API key again.")
		return
	}
	ip := api.ClientAddr(r)
	// The key is checked first: a valid key always signs in, however many wrong keys others
	// behind the same address sent; only wrong keys are slowed.
	key := strings.TrimSpace(r.PostFormValue("key"))
	account, ok := d.cfg.Keys.Lookup(key)
	var s *session
	if ok {
		s, ok = d.newSession(account)
	}
	if !ok {
		if d.cfg.Keys.Blocked(r) {
			w.Header().Set("Retry-After", api.RetryAfterBlocked)
			d.showSignin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins from your address. Wait a few seconds and try again.")
			return
		}
		d.cfg.Keys.Failed(r)
		d.cfg.Log.Warn("dashboard sign-in refused: unknown API key", "remote", ip)
		d.showSignin(w, r, http.StatusUnauthorized, "That API key is not valid. Use a key from api.keys of the bridge's config.")
		return
	}
	d.clearCookie(w, r, signinCookie)
	d.setSession(w, r, s)
	d.cfg.Log.Info("dashboard sign-in", "account", account, "remote", ip)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (d *Dashboard) signout(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	now := d.cfg.NowFunc().UTC()
	// No copy of this session's cookie can be valid past now + TTL (renewals stop here) nor
	// past the session's maximum age.
	until := now.Add(d.cfg.SessionTTL)
	if last := s.SignedIn.Add(maxSessionAge); last.Before(until) {
		until = last
	}
	until = until.Add(time.Second) // cookie times are whole seconds
	if err := d.cfg.Store.RevokeSession(r.Context(), s.ID, until, now); err != nil {
		d.unavailable(w, r, err) // the cookie stays: signing out was not recorded
		return
	}
	d.clearCookie(w, r, sessionCookie)
	d.cfg.Log.Info("dashboard sign-out", "account", s.Account)
	http.Redirect(w, r, "/ui/signin?signedout=1", http.StatusSeeOther)
}
