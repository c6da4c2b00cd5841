package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dashboard"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/store"
)

func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)

	a := br.get("/")
	require.Equal(t, http.StatusSeeOther, a.status, "signed out: the overview sends to sign in")
	require.Equal(t, "/ui/signin", a.location)
	a = br.get("/ui/deliveries?status=dead")
	require.Equal(t, "/ui/signin?next=%2Fui%2Fdeliveries%3Fstatus%3Ddead", a.location, "and comes back afterwards")

	a = br.get(a.location)
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `<label for="key">API key</label>`)
	require.Contains(t, a.body, `name="next" value="/ui/deliveries?status=dead"`)

	a = br.post("/ui/signin", url.Values{"key": {"wrong-key-0123456789"}, "next": {"/ui/deliveries?status=dead"}})
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Contains(t, a.body, "That API key is not valid")
	require.Contains(t, a.body, `aria-invalid="true"`)
	require.Nil(t, br.cookie("cortex_bridge_session"))

	a = br.post("/ui/signin", url.Values{"key": {acmeKey}, "next": {"/ui/deliveries?status=dead"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, "/ui/deliveries?status=dead", a.location)
	var set string
	for _, c := range a.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "cortex_bridge_session=") {
			set = c
		}
	}
	require.Contains(t, set, "HttpOnly")
	require.Contains(t, set, "SameSite=Lax", "sent when an alert's link is clicked on another site (Slack, webmail)")
	require.NotContains(t, set, "Secure", "plain HTTP without a public https URL")
	session := br.cookie("cortex_bridge_session")
	require.NotNil(t, session)
	require.NotContains(t, session.Value, acmeKey)

	a = br.get("/")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "acme")
	require.Contains(t, a.body, "Sign out")
	require.Equal(t, "no-store", a.header.Get("Cache-Control"))
	require.Contains(t, a.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")

	stolen := *session
	a = br.post("/ui/signout", nil)
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, "/ui/signin?signedout=1", a.location)
	require.Nil(t, br.cookie("cortex_bridge_session"), "the cookie is cleared")
	require.Contains(t, br.get(a.location).body, "You are signed out.")

	// A copy of the cookie taken before signing out no longer works here.
	other := b.browser(t)
	u, _ := url.Parse(b.srv.URL)
	other.client.Jar.SetCookies(u, []*http.Cookie{&stolen})
	require.Equal(t, http.StatusSeeOther, other.get("/").status)
	require.NotContains(t, b.logs.String(), acmeKey, "keys are never logged")
}

func TestSignInRequiresItsFormToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	a := br.post("/ui/signin", url.Values{"key": {acmeKey}, "csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, a.status, "no sign-in form was loaded: no double-submit cookie")
	br.get("/ui/signin")
	a = br.post("/ui/signin", url.Values{"key": {acmeKey}, "csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, a.status)
	require.Nil(t, br.cookie("cortex_bridge_session"))
	a = br.post("/ui/signin", url.Values{"key": {acmeKey}}, "Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, a.status, "a cross-site post is refused")
	a = br.post("/ui/signin", url.Values{"key": {acmeKey}}, "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, a.status)
}

func TestSignInIsRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	br.get("/ui/signin")
	var a answer
	for range 11 {
		a = br.post("/ui/signin", url.Values{"key": {"guess"}})
	}
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.NotEmpty(t, a.header.Get("Retry-After"))
	a = br.post("/ui/signin", url.Values{"key": {acmeKey + "x"}})
	require.Equal(t, http.StatusTooManyRequests, a.status, "wrong keys wait")
	a = br.post("/ui/signin", url.Values{"key": {acmeKey}})
	require.Equal(t, http.StatusSeeOther, a.status, "the right key is never locked out by others' guesses")
	require.NotNil(t, br.cookie("cortex_bridge_session"))
}

func TestSessionExpiresSlidesAndFollowsTheKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, acmeKey)
	first := br.cookie("cortex_bridge_session").Value

	b.clock.Add(11 * time.Hour)
	require.Equal(t, http.StatusOK, br.get("/").status)
	renewed := br.cookie("cortex_bridge_session").Value
	require.NotEqual(t, first, renewed, "a request renews the session")
	b.clock.Add(11 * time.Hour)
	require.Equal(t, http.StatusOK, br.get("/").status, "22 h after signing in, 11 h after the last request")

	b.clock.Add(13 * time.Hour)
	require.Equal(t, http.StatusSeeOther, br.get("/").status, "12 h without a request: expired")

	br = signedIn(t, b, acmeKey)
	b.keys.Set(map[string]string{"acme": "acme-rotated-key-0123456789", "beta": betaKey})
	require.Equal(t, http.StatusSeeOther, br.get("/").status, "a rotated key ends the account's sessions")

	br = signedIn(t, b, betaKey)
	c := br.cookie("cortex_bridge_session")
	payload, sig, _ := strings.Cut(c.Value, ".")
	tampered := *c
	tampered.Value = payload + "x." + sig
	u, _ := url.Parse(b.srv.URL)
	br.client.Jar.SetCookies(u, []*http.Cookie{&tampered})
	require.Equal(t, http.StatusSeeOther, br.get("/").status, "a changed cookie is refused")
}

func TestSecureCookiesOverTLS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tlsSrv := httptestTLS(t, b)
	br := b.browser(t)
	br.base = tlsSrv.URL
	br.client.Transport = tlsSrv.Client().Transport
	br.get("/ui/signin")
	a := br.post("/ui/signin", url.Values{"key": {acmeKey}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Contains(t, a.header.Get("Set-Cookie"), "Secure")
}

func TestEveryFormNeedsTheSessionsToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acme := signedIn(t, b, acmeKey)
	id := addWebhook(t, acme, "https://example.com/hook", "scan.completed")
	beta := signedIn(t, b, betaKey)

	for _, path := range []string{"/ui/webhooks", "/ui/webhooks/" + id, "/ui/webhooks/" + id + "/delete",
		"/ui/webhooks/" + id + "/test", "/ui/deliveries/x/retry", "/ui/deliveries/retry", "/ui/events/x/retry", "/ui/events/x/resend",
		"/ui/routes/try", "/ui/signout"} {
		a := acme.post(path, url.Values{"csrf": {""}})
		require.Equal(t, http.StatusForbidden, a.status, path)
		require.Contains(t, a.body, "This form has expired", path)
		a = acme.post(path, url.Values{"csrf": {beta.csrf}})
		require.Equal(t, http.StatusForbidden, a.status, "another session's token: %s", path)
	}
	anon := b.browser(t)
	require.Equal(t, http.StatusForbidden, anon.post("/ui/webhooks/"+id+"/delete", nil).status, "signed out")
	require.Equal(t, http.StatusOK, acme.get("/ui/webhooks/"+id).status, "nothing was deleted")
	for _, h := range [][2]string{
		{"Origin", "https://evil.example"},
		{"Origin", "null"}, // a sandboxed frame's post
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
	} {
		a := acme.post("/ui/webhooks/"+id+"/delete", nil, h[0], h[1])
		require.Equal(t, http.StatusForbidden, a.status, "a cross-site post is refused even with the token: %s: %s", h[0], h[1])
	}
	require.Equal(t, http.StatusOK, acme.get("/ui/webhooks/"+id).status, "nothing was deleted")
}

func TestWebhookFormValidatesBesideEachField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, acmeKey)
	a := br.get("/ui/webhooks/new")
	require.Equal(t, http.StatusOK, a.status)
	for _, e := range event.Types {
		require.Contains(t, a.body, `value="`+e+`"`, "a checkbox per event type")
	}
	require.Contains(t, a.body, `<label for="url">URL</label>`)
	require.Contains(t, a.body, `<legend>Events</legend>`)

	a = br.post("/ui/webhooks", url.Values{"url": {"ftp://example.com/x"}, "secret_mode": {"set"},
		"secret": {"short"}, "description": {strings.Repeat("d", 501)}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	for _, field := range []string{"url", "events", "secret", "description"} {
		require.Contains(t, a.body, `id="`+field+`-error"`, field)
	}
	require.Contains(t, a.body, `id="url-error">must use http or https`, "the management API's message for the URL")
	require.Contains(t, a.body, `Choose at least one event type`)
	require.Contains(t, a.body, `must be at least 16 bytes`)
	require.Contains(t, a.body, `value="ftp://example.com/x"`, "what the user typed is kept")
	require.NotContains(t, a.body, `value="short"`, "but never a secret")
	require.Contains(t, a.body, `aria-invalid="true"`)

	a = br.post("/ui/webhooks", url.Values{"url": {"https://example.com/x"}, "events": {"scan.failed"}, "secret_mode": {"set"}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "Enter a secret")

	a = br.post("/ui/webhooks", url.Values{"url": {"https://example.com/x"}, "events": {"scan.nope"}, "secret_mode": {"generate"}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, `unknown event type &#34;scan.nope&#34;`)
}

func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, acmeKey)
	require.Contains(t, br.get("/ui/webhooks").body, "No webhooks yet")

	br.get("/ui/webhooks/new")
	a := br.post("/ui/webhooks", url.Values{"url": {"https://example.com/hooks/cortex"}, "events": {"scan.completed", "issue.critical"},
		"secret_mode": {"generate"}, "active": {"on"}, "description": {"SIEM"}})
	require.Equal(t, http.StatusCreated, a.status, a.body)
	secret := regexp1(t, `id="secret-value" class="mono" type="text" value="(whsec_[0-9a-f]{48})"`, a.body)
	require.Contains(t, a.body, "This is the only time it is shown")

	hooks, err := b.db.Webhooks(t.Context(), "acme")
	require.NoError(t, err)
	require.Len(t, hooks, 1)
	h := hooks[0]
	require.Equal(t, secret, h.Secret.Reveal())
	require.Equal(t, []string{"issue.critical", "scan.completed"}, h.Events)
	require.True(t, h.Active)
	require.Equal(t, "SIEM", h.Description)

	list := br.get("/ui/webhooks")
	require.Contains(t, list.body, "https://example.com/hooks/cortex")
	require.Contains(t, list.body, "issue.critical, scan.completed")
	edit := br.get("/ui/webhooks/" + h.ID)
	require.Equal(t, http.StatusOK, edit.status)
	require.NotContains(t, edit.body, secret, "the secret is never shown again")
	require.NotContains(t, list.body, secret)
	require.Contains(t, edit.body, `value="scan.completed" checked`)
	require.NotContains(t, edit.body, `value="scan.failed" checked`)

	// Edit: all events, inactive, a new generated secret (shown once).
	a = br.post("/ui/webhooks/"+h.ID, url.Values{"url": {"https://example.com/v2"}, "events": {"*", "scan.failed"},
		"secret_mode": {"generate"}, "version": {"1"}})
	require.Equal(t, http.StatusOK, a.status, a.body)
	newSecret := regexp1(t, `value="(whsec_[0-9a-f]{48})"`, a.body)
	require.NotEqual(t, secret, newSecret)
	h2, err := b.db.Webhook(t.Context(), "acme", h.ID)
	require.NoError(t, err)
	require.Equal(t, "https://example.com/v2", h2.URL)
	require.Equal(t, []string{"*"}, h2.Events)
	require.False(t, h2.Active)
	require.Equal(t, newSecret, h2.Secret.Reveal())

	// Keep the secret; a stale version is refused with the current one shown.
	br.get("/ui/webhooks/" + h.ID)
	a = br.post("/ui/webhooks/"+h.ID, url.Values{"url": {"https://example.com/v3"}, "events": {"scan.failed"}, "secret_mode": {"keep"},
		"active": {"on"}, "version": {"1"}})
	require.Equal(t, http.StatusConflict, a.status)
	require.Contains(t, a.body, "Someone changed this webhook")
	a = br.post("/ui/webhooks/"+h.ID, url.Values{"url": {"https://example.com/v3"}, "events": {"scan.failed"}, "secret_mode": {"keep"},
		"active": {"on"}, "version": {"2"}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	require.Equal(t, "/ui/webhooks/"+h.ID+"?done=saved", a.location)
	require.Contains(t, br.get(a.location).body, "Changes saved.")
	h3, err := b.db.Webhook(t.Context(), "acme", h.ID)
	require.NoError(t, err)
	require.Equal(t, newSecret, h3.Secret.Reveal(), "kept")
	require.True(t, h3.Active)

	// Delete, after a confirmation page.
	a = br.get("/ui/webhooks/" + h.ID + "/delete")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "Delete this webhook?")
	a = br.post("/ui/webhooks/"+h.ID+"/delete", nil)
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Contains(t, br.get(a.location).body, "Webhook deleted.")
	_, err = b.db.Webhook(t.Context(), "acme", h.ID)
	require.ErrorIs(t, err, core.ErrNotFound)
	require.NotContains(t, b.logs.String(), secret, "secrets are never logged")
	require.NotContains(t, b.logs.String(), newSecret)
}

func TestWebhookLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, acmeKey)
	for i := range 3 {
		addWebhook(t, br, "https://example.com/"+string(rune('a'+i)), "scan.completed")
	}
	require.Contains(t, br.get("/ui/webhooks").body, "the most it may have")
	br.get("/ui/webhooks/new")
	a := br.post("/ui/webhooks", url.Values{"url": {"https://example.com/d"}, "events": {"scan.completed"}, "secret_mode": {"generate"}})
	require.Equal(t, http.StatusConflict, a.status)
	require.Contains(t, a.body, "already has 3 webhooks")
}

func TestSendTestShowsTheAttemptInline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, acmeKey)
	ok := addWebhook(t, br, "https://example.com/ok", "scan.completed")
	broken := addWebhook(t, br, "https://example.com/broken", "scan.completed")

	page := br.get("/ui/webhooks/" + ok)
	require.Contains(t, page.body, `<label for="test-event">Event type</label>`)
	a := br.post("/ui/webhooks/"+ok+"/test", url.Values{"event": {"issue.critical"}})
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `id="test-result"`)
	require.Contains(t, a.body, "Delivered")
	require.Contains(t, a.body, "HTTP 204")
	require.Contains(t, a.body, `<option value="issue.critical" selected>`, "the choice is kept")

	a = br.post("/ui/webhooks/"+broken+"/test", url.Values{"event": {"scan.failed"}})
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "Failed: server_error")
	require.Contains(t, a.body, "receiver &lt;b&gt;is&lt;/b&gt; down", "the response, escaped")

	a = br.post("/ui/webhooks/"+ok+"/test", url.Values{"event": {"nope"}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Equal(t, []string{"issue.critical", "scan.failed"}, b.tests.events)

	for range 5 {
		a = br.post("/ui/webhooks/"+ok+"/test", url.Values{"event": {"scan.started"}})
	}
	require.Equal(t, http.StatusTooManyRequests, a.status, "the management API's test rate")
	require.Contains(t, a.body, "Too many test sends")
}

func TestAccountsSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acme := signedIn(t, b, acmeKey)
	id := addWebhook(t, acme, "https://acme.example.com/hook", "scan.completed")
	dl := seedDelivery(t, b, id, "scan.completed", "server_error")

	beta := signedIn(t, b, betaKey)
	require.NotContains(t, beta.get("/ui/webhooks").body, "acme.example.com")
	require.NotContains(t, beta.get("/ui/deliveries").body, dl.ID)
	for _, path := range []string{"/ui/webhooks/" + id, "/ui/webhooks/" + id + "/delete", "/ui/deliveries/" + dl.ID} {
		require.Equal(t, http.StatusNotFound, beta.get(path).status, path)
	}
	beta.get("/")
	require.Equal(t, http.StatusNotFound, beta.post("/ui/webhooks/"+id+"/delete", nil).status)
	require.Equal(t, http.StatusNotFound, beta.post("/ui/deliveries/"+dl.ID+"/retry", nil).status)
	require.Equal(t, http.StatusNotFound, beta.post("/ui/webhooks/"+id+"/test", url.Values{"event": {"scan.completed"}}).status)
	a := beta.get("/ui/deliveries?webhook=" + id)
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Contains(t, a.body, "Choose one of your webhooks.")
	require.Equal(t, http.StatusOK, acme.get("/ui/webhooks/"+id).status, "still there")
	overview := beta.get("/")
	require.Contains(t, overview.body, "no webhooks yet")
	require.NotContains(t, overview.body, id)
}

func TestDeliveriesFilterDetailAndRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, acmeKey)
	id := addWebhook(t, br, "https://example.com/hook", "*")
	ok := seedDelivery(t, b, id, "scan.completed", "success")
	dead := seedDelivery(t, b, id, "issue.critical", "server_error", "server_error")
	failed := seedDelivery(t, b, id, "scan.failed", "~server_error")

	a := br.get("/ui/deliveries")
	require.Equal(t, http.StatusOK, a.status)
	for _, d := range []*core.Delivery{ok, dead, failed} {
		require.Contains(t, a.body, "/ui/deliveries/"+d.ID)
	}
	a = br.get("/ui/deliveries?status=dead")
	require.Contains(t, a.body, dead.ID)
	require.NotContains(t, a.body, ok.ID)
	a = br.get("/ui/deliveries?status=failed")
	require.Contains(t, a.body, failed.ID)
	require.NotContains(t, a.body, dead.ID)
	a = br.get("/ui/deliveries?event=scan.completed&webhook=" + id)
	require.Contains(t, a.body, ok.ID)
	require.NotContains(t, a.body, dead.ID)
	from := b.clock.Now().Add(time.Hour).Format("2006-01-02T15:04")
	a = br.get("/ui/deliveries?from=" + from)
	require.NotContains(t, a.body, ok.ID, "created before from")
	a = br.get("/ui/deliveries?status=nope&from=yesterday")
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Contains(t, a.body, `id="status-error"`)
	require.Contains(t, a.body, `id="from-error"`)

	a = br.get("/ui/deliveries/" + dead.ID)
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "Attempt 1")
	require.Contains(t, a.body, "Attempt 2")
	require.Contains(t, a.body, "HTTP 503")
	require.Contains(t, a.body, "upstream &lt;i&gt;busy&lt;/i&gt;", "the response snippet, escaped")
	require.Contains(t, a.body, "Retry now")
	a = br.post("/ui/deliveries/"+dead.ID+"/retry", nil)
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Contains(t, br.get(a.location).body, "Delivery queued for a new attempt.")
	got, err := b.db.Delivery(t.Context(), dead.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatePending, got.State)
	require.Equal(t, 2, got.RetryBase, "a fresh budget of attempts")

	a = br.get("/ui/deliveries/" + ok.ID)
	require.NotContains(t, a.body, "Retry now", "only dead or failed deliveries")
	a = br.post("/ui/deliveries/"+ok.ID+"/retry", nil)
	require.Equal(t, http.StatusConflict, a.status)
	require.Contains(t, a.body, "Only dead or failed deliveries can be retried")
	require.Equal(t, http.StatusNotFound, br.get("/ui/deliveries/nope").status)
}

func TestDeliveriesPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, acmeKey)
	id := addWebhook(t, br, "https://example.com/hook", "*")
	for range 27 {
		seedDelivery(t, b, id, "scan.started")
		b.clock.Add(time.Second)
	}
	a := br.get("/ui/deliveries")
	require.Equal(t, 25, strings.Count(a.body, `<a href="/ui/deliveries/`))
	next := regexp1(t, `<a href="(/ui/deliveries\?cursor=[^"]+)">Older`, a.body)
	a = br.get(strings.ReplaceAll(next, "&amp;", "&"))
	require.Equal(t, 2, strings.Count(a.body, `<a href="/ui/deliveries/`))
	require.Contains(t, a.body, "« Newest")
	require.NotContains(t, a.body, "Older »")
	require.Equal(t, http.StatusBadRequest, br.get("/ui/deliveries?cursor=bogus").status)
}

func TestOverview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, acmeKey)
	a := br.get("/")
	require.Contains(t, a.body, "Add a webhook", "a new account is shown where to start")
	id := addWebhook(t, br, "https://example.com/hook", "*")
	seedDelivery(t, b, id, "scan.completed", "success")
	b.clock.Add(time.Minute)
	seedDelivery(t, b, id, "issue.critical", "server_error", "server_error")
	seedDelivery(t, b, "siem", "issue.critical", "network")
	b.clock.Add(time.Second)

	a = br.get("/")
	require.Equal(t, http.StatusOK, a.status)
	require.NotContains(t, a.body, "Get started")
	require.Contains(t, a.body, `<svg class="chart"`)
	require.Contains(t, a.body, "3 events received and 2 failed attempts in the last 24 hours", "siem's failure is not the account's")
	require.Regexp(t, `Events received</h3>\s*<p class="big">3 `, a.body)
	require.Regexp(t, `Deliveries to your webhooks</h3>\s*<p class="big">2 `, a.body, "the siem delivery is not the account's")
	require.Regexp(t, `Dead deliveries</h3>\s*<p class="big">1</p>`, a.body)
	require.Contains(t, a.body, `href="/ui/deliveries?status=dead"`)
	// Health: the webhook failed after its success. The config's targets are an admin's
	// (TestOverviewConfigTargetsAdminsOnly).
	require.Regexp(t, `(?s)`+id+`.*?failing.*?2 failed`, a.body)
	require.NotContains(t, a.body, ">siem</span>")
	require.NotContains(t, a.body, "hidden-token-xyz", "configured targets' URLs are never shown")
}

func TestRoutesPageAndTryAnEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tenant := signedIn(t, b, acmeKey)
	a := tenant.get("/ui/routes")
	require.Equal(t, http.StatusForbidden, a.status, "the config's routes and targets are for admins")
	require.NotContains(t, a.body, "siem")
	require.NotContains(t, a.body, `href="/ui/routes"`, "nor in the menu")
	require.Equal(t, http.StatusForbidden, tenant.post("/ui/routes/try", url.Values{"event": {"{}"}}).status)

	br := signedIn(t, b, opsKey)
	a = br.get("/ui/routes")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `event == &#34;issue.critical&#34; &amp;&amp; severity_at_least(severity, &#34;high&#34;)`)
	require.Contains(t, a.body, "throttled: at most one message per repo per target every 1h")
	require.Contains(t, a.body, "weekly")
	require.Contains(t, a.body, "0 8 * * MON UTC")
	require.Contains(t, a.body, "not scheduled yet", "the scheduler has not recorded it in this test")
	require.Contains(t, a.body, "evt_1234567891", "issue.critical's sample is loaded")
	require.NotContains(t, a.body, "hidden-token-xyz")
	require.NotContains(t, a.body, "siem-secret")

	a = br.get("/ui/routes?sample=scan.failed")
	require.Contains(t, a.body, `<option value="scan.failed" selected>`)
	require.Contains(t, a.body, "scan.failed")

	sample := regexp1(t, `(?s)<textarea id="event" name="event"[^>]*>(.*?)</textarea>`, br.get("/ui/routes").body)
	a = br.post("/ui/routes/try", url.Values{"event": {htmlUnescape(sample)}})
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, "2 of 3 routes match.")
	require.Contains(t, a.body, `class="slack"`)
	require.Contains(t, a.body, `class="discord"`)
	require.Contains(t, a.body, `<iframe class="email-html" sandbox="allow-same-origin" srcdoc="&lt;!doctype html&gt;`)
	require.NotContains(t, a.body, "allow-scripts", "no script runs in the email's frame")
	require.Contains(t, a.body, "SQL Injection Vulnerability")
	require.Contains(t, a.body, "Already sent by an earlier route", "siem is in two matching routes")
	require.Contains(t, a.body, "disabled: ", "the chat targets have no credentials")
	require.Contains(t, a.body, "An audit record of the original event")
	require.Contains(t, a.body, `class="step true"`)
	require.Contains(t, a.body, "weekly</span>: <span class=\"badge good\">collects this event")

	a = br.post("/ui/routes/try", url.Values{"event": {`{"event":"scan.failed"`}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, `id="event-error"`)
	require.Contains(t, a.body, "not a valid Cortex event")
	a = br.post("/ui/routes/try", url.Values{"event": {"  "}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
}

func TestAssetsAndNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	for _, f := range []string{"app.css", "app.js", "logo.svg"} {
		a := br.get("/ui/assets/" + f)
		require.Equal(t, http.StatusOK, a.status, f)
		require.NotEmpty(t, a.body)
	}
	br.signIn(acmeKey)
	a := br.get("/ui/nothing-here")
	require.Equal(t, http.StatusNotFound, a.status)
	require.Contains(t, a.body, "There is no page at this address.")
	require.Equal(t, http.StatusNotFound, br.get("/ui/webhooks/wh_nope").status)
	// The management API keeps its own routes beside the dashboard.
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/webhooks", nil)
	req.Header.Set("Authorization", "Bearer "+acmeKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestSignInPageSaysHowToAddAKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	require.NotContains(t, br.get("/ui/signin").body, "no API keys yet")
	b.keys.Set(nil)
	a := br.get("/ui/signin")
	require.Contains(t, a.body, "This bridge has no API keys yet.")
	require.Contains(t, a.body, "account: my-team")
}

// TestSignInNextStaysOnSite: whatever "next" a link carries, the redirect after signing in
// (and the one a signed-in browser gets from the sign-in page) lands on this site.
func TestSignInNextStaysOnSite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	site, err := url.Parse(b.srv.URL)
	require.NoError(t, err)
	resolve := func(t *testing.T, loc string) *url.URL {
		loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(strings.TrimSpace(loc))
		ref, err := url.Parse(loc)
		require.NoError(t, err, loc)
		return site.ResolveReference(ref)
	}
	br := signedIn(t, b, acmeKey)
	for next := range dashboard.NextCases {
		a := br.get("/ui/signin?next=" + url.QueryEscape(next))
		require.Equal(t, http.StatusSeeOther, a.status, next)
		require.Equal(t, site.Host, resolve(t, a.location).Host, "next %q answered Location %q", next, a.location)

		fresh := b.browser(t)
		fresh.get("/ui/signin")
		a = fresh.post("/ui/signin", url.Values{"key": {acmeKey}, "next": {next}})
		require.Equal(t, http.StatusSeeOther, a.status, next)
		require.Equal(t, site.Host, resolve(t, a.location).Host, "next %q answered Location %q", next, a.location)
	}
}

// replica starts another dashboard on the bundle's database through its own store handle: a
// second replica, or this one after a restart (nothing of the first process's memory).
func (b *bundle) replica(t *testing.T) *browser {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(b.dir, "bridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	d, err := dashboard.New(dashboard.Config{Store: db, Webhooks: b.hooks, Keys: b.keys,
		Runtime: func() *config.Runtime { return b.rt }, NowFunc: b.clock.Now, Version: "test"})
	require.NoError(t, err)
	srv := httptest.NewServer(api.Routes{IngestPath: "/webhooks/cortex", Ingest: http.NotFoundHandler(), Keys: b.keys,
		Dashboard: d}.Handler())
	t.Cleanup(srv.Close)
	br := b.browser(t)
	br.base = srv.URL
	return br
}

// TestSignOutHoldsOnEveryReplicaAndAfterRestarts: a copy of a signed-out session's cookie is
// refused by another replica sharing the database and by a dashboard started afterwards, until
// the cookie would have expired anyway.
func TestSignOutHoldsOnEveryReplicaAndAfterRestarts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, acmeKey)
	stolen := *br.cookie("cortex_bridge_session")
	other := b.replica(t)
	withCookie := func(other *browser) *browser {
		u, err := url.Parse(other.base)
		require.NoError(t, err)
		other.client.Jar.SetCookies(u, []*http.Cookie{{Name: stolen.Name, Value: stolen.Value, Path: "/"}})
		return other
	}
	require.Equal(t, http.StatusOK, withCookie(other).get("/").status, "the session works on another replica")

	require.Equal(t, http.StatusSeeOther, br.post("/ui/signout", nil).status)
	tests := map[string]*browser{
		"this replica":          withCookie(b.browser(t)),
		"another replica":       withCookie(other),
		"a restarted dashboard": withCookie(b.replica(t)),
	}
	for name, br := range tests {
		a := br.get("/ui/webhooks")
		require.Equal(t, http.StatusSeeOther, a.status, name)
		require.True(t, strings.HasPrefix(a.location, "/ui/signin"), name)
	}
	fresh := signedIn(t, b, acmeKey)
	require.Equal(t, http.StatusOK, fresh.get("/").status, "a new session of the account works")
}
