package dashboard_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/silences"
)

// heldEvent stores a scan.failed that route failures' throttle held back from siem (a group
// item instead of a delivery).
func heldEvent(t *testing.T, b *bundle) *event.Event {
	t.Helper()
	ev := sampleEvent(t, b, event.ScanFailed, nil)
	_, err := b.db.Ingest(t.Context(), []core.IngestItem{{Event: ev,
		Groups: []core.GroupItem{{Target: "siem", Route: "failures", Key: "github.com/user/other-repo", Member: true}}}})
	require.NoError(t, err)
	return ev
}

// drivers are the databases the event pages are tested on.
var drivers = []string{"sqlite", "postgres"}

// onDrivers runs test in parallel on a bundle of each of drivers.
func onDrivers(t *testing.T, test func(*testing.T, *bundle)) {
	t.Helper()
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			test(t, setupOn(t, driver))
		})
	}
}

// criticalEvent stores an issue.critical whose title holds markup, delivered to the config's
// siem (dead after two attempts) and to the webhook hook (succeeded).
func criticalEvent(t *testing.T, b *bundle, hook string) (*event.Event, *core.Delivery, *core.Delivery) {
	t.Helper()
	ev, ds := seedEvent(t, b, event.IssueCritical, map[string]any{"title": `<script>alert(1)</script> SQL injection`}, "siem", hook)
	attemptsOf(t, b, ds[0], "server_error", "server_error")
	attemptsOf(t, b, ds[1], "success")
	return ev, ds[0], ds[1]
}

func TestEventPageForAnAdmin(t *testing.T) {
	t.Parallel()
	onDrivers(t, testEventPageForAnAdmin)
}

func testEventPageForAnAdmin(t *testing.T, b *bundle) {
	acme := signedIn(t, b, acmeKey)
	hook := addWebhook(t, acme, "https://acme.example.com/hook", "*")
	ev, siem, own := criticalEvent(t, b, hook)

	ops := signedIn(t, b, opsKey)
	a := ops.get("/events/" + ev.ID)
	require.Equal(t, http.StatusOK, a.status, a.body)
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt; SQL injection",           // the title, escaped
		`id="delivery-` + siem.ID + `"`, `id="delivery-` + own.ID + `"`, // every target's delivery
		"Attempt 2", "status 503", "upstream &lt;i&gt;busy&lt;/i&gt;", // each attempt, the answer escaped
		"Raw JSON, as received", "scan_abc123",
		"Retry now",
	} {
		require.Contains(t, a.body, want)
	}
	require.NotContains(t, a.body, "<script>alert(1)</script>")
	// Why each route matched or not, and where it sends.
	require.Regexp(t, `(?s)>critical</span>\s*<span class="badge good">matched`, a.body)
	require.Regexp(t, `(?s)>failures</span>\s*<span class="badge muted">not matched`, a.body)
	require.Regexp(t, `(?s)Sends to <span class="mono">chat</span>, <span class="mono">dev</span>`, a.body)
	require.Contains(t, a.body, "weekly")
	require.NotContains(t, a.body, "hidden-token-xyz", "configured targets' URLs are never shown")

	// Retry the dead delivery to the config's siem: not without the session's form token.
	a = ops.post("/ui/events/"+ev.ID+"/retry", url.Values{"delivery": {siem.ID}, "csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, a.status)
	got, err := b.db.Delivery(t.Context(), siem.ID)
	require.NoError(t, err)
	require.Equal(t, core.StateDead, got.State)
	a = ops.post("/ui/events/"+ev.ID+"/retry", url.Values{"delivery": {siem.ID}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	require.Equal(t, "/events/"+ev.ID+"?done=retried#delivery-"+siem.ID, a.location)
	got, err = b.db.Delivery(t.Context(), siem.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatePending, got.State)
	require.Equal(t, 2, got.RetryBase)
	require.Contains(t, ops.get(a.location).body, "Delivery queued for a new attempt.")

	a = ops.post("/ui/events/"+ev.ID+"/retry", url.Values{"delivery": {own.ID}})
	require.Equal(t, http.StatusConflict, a.status, "a succeeded delivery is sent again, not retried")
	a = ops.post("/ui/events/"+ev.ID+"/retry", url.Values{"delivery": {"nope"}})
	require.Equal(t, http.StatusNotFound, a.status)

	// Send it again to the audit file, which it had no delivery to.
	a = ops.post("/ui/events/"+ev.ID+"/resend", url.Values{"target": {"audit"}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	ds, err := b.db.EventDeliveries(t.Context(), ev.ID, []string{"audit"})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, core.StatePending, ds[0].State)
	require.Equal(t, "everything", ds[0].Route, "the route that sends it there")
	require.Contains(t, ops.get("/events/"+ev.ID).body, `id="delivery-`+ds[0].ID+`"`)

	for _, target := range []string{"chat", "nope", ""} { // chat is disabled
		a = ops.post("/ui/events/"+ev.ID+"/resend", url.Values{"target": {target}})
		require.Equal(t, http.StatusUnprocessableEntity, a.status, target)
		require.Contains(t, a.body, "Choose a target from the list")
	}

	// A scan.failed the throttle of route failures held back from siem: recorded at ingest.
	failed := heldEvent(t, b)
	a = ops.get("/events/" + failed.ID)
	require.Equal(t, http.StatusOK, a.status)
	require.Regexp(t, `(?s)Held back.*?<span class="mono">siem</span> by route <span class="mono">failures</span>, key <span class="mono">github.com/user/other-repo</span>:\s*<span class="badge info">held: the group has not fired yet`, a.body)
	require.Contains(t, a.body, "throttled: at most one message per repo per target every 1h")
	require.Contains(t, a.body, "No deliveries: no route sent this event to a target, or it is held back (below).")
	require.Equal(t, http.StatusNotFound, ops.get("/events/evt_none").status)
}

func TestEventPageForATenant(t *testing.T) {
	t.Parallel()
	onDrivers(t, testEventPageForATenant)
}

func testEventPageForATenant(t *testing.T, b *bundle) {
	acme := signedIn(t, b, acmeKey)
	hook := addWebhook(t, acme, "https://acme.example.com/hook", "*")
	ev, siem, own := criticalEvent(t, b, hook)
	other, _ := seedEvent(t, b, event.ScanFailed, nil, "siem")

	a := acme.get("/events/" + ev.ID)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, `id="delivery-`+own.ID+`"`)
	require.Contains(t, a.body, "https://acme.example.com/hook")
	// Nothing of the config's targets: not their deliveries, errors, routes or names.
	for _, leak := range []string{siem.ID, "siem", "upstream", "server_error", "Routing", "matched", "audit", "weekly", "hidden-token-xyz"} {
		require.NotContains(t, a.body, leak)
	}
	require.Equal(t, http.StatusNotFound, acme.get("/events/"+other.ID).status, "no delivery to the account's webhooks")

	a = acme.post("/ui/events/"+ev.ID+"/retry", url.Values{"delivery": {siem.ID}})
	require.Equal(t, http.StatusNotFound, a.status)
	require.NotContains(t, a.body, "upstream")
	for _, target := range []string{"siem", "audit"} {
		a = acme.post("/ui/events/"+ev.ID+"/resend", url.Values{"target": {target}})
		require.Equal(t, http.StatusUnprocessableEntity, a.status, target)
	}
	a = acme.post("/ui/events/"+ev.ID+"/resend", url.Values{"target": {hook}})
	require.Equal(t, http.StatusSeeOther, a.status, "its own webhook")
	got, err := b.db.Delivery(t.Context(), own.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatePending, got.State, "the succeeded delivery is queued again")

	beta := signedIn(t, b, betaKey)
	require.Equal(t, http.StatusNotFound, beta.get("/events/"+ev.ID).status)
	require.Equal(t, http.StatusNotFound, beta.post("/ui/events/"+ev.ID+"/resend", url.Values{"target": {hook}}).status)
}

func TestEventPageSignsInAndComesBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ev, _ := seedEvent(t, b, event.IssueCritical, nil, "siem")
	br := b.browser(t)
	a := br.get("/events/" + ev.ID)
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, "/ui/signin?next=%2Fevents%2F"+ev.ID, a.location)
	require.Contains(t, br.get(a.location).body, `name="next" value="/events/`+ev.ID+`"`)
	a = br.post("/ui/signin", url.Values{"key": {opsKey}, "next": {"/events/" + ev.ID}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, "/events/"+ev.ID, a.location)
	require.Equal(t, http.StatusOK, br.get(a.location).status)

	// Only a path of this site: never another host.
	for _, next := range []string{"//evil.example", "https://evil.example", `/\evil.example`, "/\t/evil.example", "javascript:alert(1)"} {
		fresh := b.browser(t)
		fresh.get("/ui/signin")
		a = fresh.post("/ui/signin", url.Values{"key": {opsKey}, "next": {next}})
		require.Equal(t, http.StatusSeeOther, a.status, next)
		require.True(t, strings.HasPrefix(a.location, "/") && !strings.HasPrefix(a.location, "//") && !strings.ContainsAny(a.location, "\\\t:"),
			"next %q answered %q", next, a.location)
	}
}

func TestEventsList(t *testing.T) {
	t.Parallel()
	onDrivers(t, testEventsList)
}

func testEventsList(t *testing.T, b *bundle) {
	acme := signedIn(t, b, acmeKey)
	hook := addWebhook(t, acme, "https://acme.example.com/hook", "*")
	crit, _, _ := criticalEvent(t, b, hook)
	b.clock.Add(time.Second)
	failed, ds := seedEvent(t, b, event.ScanFailed, nil, "siem")
	attemptsOf(t, b, ds[0], "network")
	b.clock.Add(time.Second)
	var older []string
	for range 26 {
		ev, _ := seedEvent(t, b, event.ScanStarted, nil, "audit")
		older = append(older, ev.ID)
		b.clock.Add(time.Second)
	}

	ops := signedIn(t, b, opsKey)
	tests := []struct {
		query     string
		want, not []string
	}{
		{"type=issue.critical", []string{crit.ID}, []string{failed.ID}},
		{"q=injection", []string{crit.ID}, []string{failed.ID}},
		{"delivery=dead", []string{crit.ID, failed.ID}, []string{older[0]}},
		{"scan_id=scan_def456", []string{failed.ID}, []string{crit.ID}},
		{"severity=critical", []string{crit.ID}, []string{failed.ID}},
	}
	for _, tt := range tests {
		a := ops.get("/events?" + tt.query)
		require.Equal(t, http.StatusOK, a.status, tt.query)
		for _, id := range tt.want {
			require.Contains(t, a.body, `href="/events/`+id+`"`, tt.query)
		}
		for _, id := range tt.not {
			require.NotContains(t, a.body, `href="/events/`+id+`"`, tt.query)
		}
	}
	a := ops.get("/events")
	require.Equal(t, 25, strings.Count(a.body, `<a href="/events/`), "a page")
	next := regexp1(t, `<a href="(/events\?cursor=[^"]+)">Older`, a.body)
	a = ops.get(htmlUnescape(next))
	require.Equal(t, 3, strings.Count(a.body, `<a href="/events/`))
	require.Contains(t, a.body, `href="/events/`+crit.ID+`"`, "the oldest, on the last page")
	require.Regexp(t, `(?s)`+failed.ID+`.*?<td data-label="Deliveries"><span class="badge bad">dead</span> 1 </td>`, a.body, "where each went")
	require.Regexp(t, `(?s)`+crit.ID+`.*?<td data-label="Deliveries"><span class="badge good">succeeded</span> 1 <span class="badge bad">dead</span> 1 </td>`, a.body)
	require.Equal(t, http.StatusBadRequest, ops.get("/events?cursor=bogus").status)

	a = ops.get("/events?type=nope&delivery=maybe&from=yesterday&q=" + strings.Repeat("x", core.MaxTextBytes+1))
	require.Equal(t, http.StatusBadRequest, a.status)
	for _, id := range []string{"type-error", "delivery-error", "from-error", "q-error"} {
		require.Contains(t, a.body, `id="`+id+`"`)
	}

	// A tenant lists only the events delivered to its webhooks.
	a = acme.get("/events")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `href="/events/`+crit.ID+`"`)
	require.Regexp(t, `(?s)`+crit.ID+`.*?<td data-label="Deliveries"><span class="badge good">succeeded</span> 1 </td>`, a.body,
		"only its own delivery, not the dead one to siem")
	require.NotContains(t, a.body, failed.ID)
	require.NotContains(t, a.body, older[0])
	require.Contains(t, signedIn(t, b, betaKey).get("/events").body, "No events match.")
}

func TestDeliveriesOfEveryTargetAndBulkRetry(t *testing.T) {
	t.Parallel()
	onDrivers(t, testDeliveriesOfEveryTargetAndBulkRetry)
}

func testDeliveriesOfEveryTargetAndBulkRetry(t *testing.T, b *bundle) {
	acme := signedIn(t, b, acmeKey)
	hook := addWebhook(t, acme, "https://acme.example.com/hook", "*")
	own := seedDelivery(t, b, hook, event.ScanCompleted, "server_error")
	siem := seedDelivery(t, b, "siem", event.ScanFailed, "server_error")
	b.clock.Add(2 * time.Hour)
	later := seedDelivery(t, b, "siem", event.ScanFailed, "server_error")

	ops := signedIn(t, b, opsKey)
	a := ops.get("/ui/deliveries?status=dead")
	for _, d := range []*core.Delivery{own, siem, later} {
		require.Contains(t, a.body, d.ID)
	}
	require.Contains(t, ops.get("/ui/deliveries/"+siem.ID).body, "route r", "a config target's delivery page")
	a = ops.get("/ui/deliveries?webhook=siem")
	require.Contains(t, a.body, siem.ID)
	require.NotContains(t, a.body, own.ID)

	require.NotContains(t, acme.get("/ui/deliveries").body, siem.ID, "tenants never see config targets' deliveries")
	require.Equal(t, http.StatusNotFound, acme.get("/ui/deliveries/"+siem.ID).status)

	// Bulk retry: siem's dead deliveries created up to an hour after the first.
	to := b.clock.Now().Add(-time.Hour).Format("2006-01-02T15:04")
	ops.get("/ui/deliveries?status=dead&webhook=siem")
	a = ops.post("/ui/deliveries/retry", url.Values{"webhook": {"siem"}, "to": {to}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	require.Contains(t, ops.get(a.location).body, "queued for a new attempt")
	state := func(d *core.Delivery) core.State {
		got, err := b.db.Delivery(t.Context(), d.ID)
		require.NoError(t, err)
		return got.State
	}
	require.Equal(t, core.StatePending, state(siem))
	require.Equal(t, core.StateDead, state(later), "created after to")
	require.Equal(t, core.StateDead, state(own), "another target")

	// A tenant's bulk retry reaches only its webhooks.
	acme.get("/ui/deliveries")
	require.Equal(t, http.StatusNotFound, acme.post("/ui/deliveries/retry", url.Values{"webhook": {"siem"}}).status)
	require.Equal(t, http.StatusSeeOther, acme.post("/ui/deliveries/retry", nil).status)
	require.Equal(t, core.StatePending, state(own))
	require.Equal(t, core.StateDead, state(later))
}

func TestEventPageBoundsWhatItShows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The mute rule of a tracked finding names its fingerprint (a hash) and repository: a long
	// repository is named by its prefix, so the rule still fits a silence.
	data := map[string]any{"title": strings.Repeat("<b>", 100_000), "repo_url": "https://github.com/acme/" + strings.Repeat("r", silences.MaxRuleBytes)}
	for i := range 300 {
		data[fmt.Sprintf("extra_%03d", i)] = strings.Repeat("x", 1000)
	}
	ev, _ := seedEvent(t, b, event.IssueCritical, data, "siem")
	a := signedIn(t, b, opsKey).get("/events/" + ev.ID)
	require.Equal(t, http.StatusOK, a.status)
	require.Less(t, len(a.body), 1<<20, "about 700 KB of event, shown in less than 1 MiB")
	for _, want := range []string{"more bytes not shown", "207 more fields: see the raw JSON.", // 300 + the sample's 6 + repo_url
		"repo_url startsWith"} { // the "Silence similar" rule of a 4 KB repository
		require.True(t, strings.Contains(a.body, want), want)
	}
	require.False(t, strings.Contains(a.body, "<b><b>"), "escaped")
}

func TestEventPageOfAnOddID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ev := sampleEvent(t, b, event.IssueCritical, nil)
	raw := strings.Replace(string(ev.Raw), ev.ID, `evt/a b?c#\"<x>`, 1) // JSON: evt/a b?c#"<x>
	odd, err := event.Parse([]byte(raw))
	require.NoError(t, err)
	odd.ReceivedAt = ev.ReceivedAt
	_, err = b.db.Ingest(t.Context(), []core.IngestItem{{Event: odd, Deliveries: []*core.Delivery{{ID: "d-odd", Target: "siem", Route: "critical",
		State: core.StatePending, NextAttemptAt: odd.ReceivedAt, CreatedAt: odd.ReceivedAt}}}})
	require.NoError(t, err)
	attemptsOf(t, b, &core.Delivery{ID: "d-odd", Target: "siem"}, "server_error")

	ops := signedIn(t, b, opsKey)
	path := "/events/" + url.PathEscape(odd.ID)
	a := ops.get(path)
	require.Equal(t, http.StatusOK, a.status, path)
	require.Contains(t, a.body, `action="/ui/events/evt%2Fa%20b%3Fc%23%22%3Cx%3E/retry"`)
	require.Contains(t, ops.get("/events?type=issue.critical").body, `href="`+path+`"`)
	a = ops.post("/ui/events/"+url.PathEscape(odd.ID)+"/retry", url.Values{"delivery": {"d-odd"}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	require.Equal(t, path+"?done=retried#delivery-d-odd", a.location)
}
