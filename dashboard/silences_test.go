package dashboard_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/silences"
)

// TestSilencesPage: an admin sees the Silences page, creates a silence (a bad rule is shown on
// its field), sees it active, and ends it; a tenant has no such page; forms without the CSRF
// token change nothing.
func TestSilencesPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	tenant := signedIn(t, b, acmeKey)
	require.NotContains(t, tenant.get("/").body, `href="/ui/silences"`, "no nav entry for a tenant")
	require.Equal(t, http.StatusForbidden, tenant.get("/ui/silences").status)
	require.Equal(t, http.StatusForbidden, tenant.post("/ui/silences", url.Values{"when": {"true"}, "duration": {"1h"}}).status)

	ops := signedIn(t, b, opsKey)
	require.Contains(t, ops.get("/").body, `href="/ui/silences"`)
	page := ops.get("/ui/silences")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, "No silence is active")

	bad := ops.post("/ui/silences", url.Values{"when": {"scroe < 70"}, "duration": {"1h"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, bad.body, `id="when-error"`)
	bad = ops.post("/ui/silences", url.Values{"when": {"true"}, "expires_at": {"tomorrow"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, bad.body, `id="expires_at-error"`)

	forged := ops.post("/ui/silences", url.Values{"when": {"true"}, "duration": {"1h"}, "csrf": {"forged"}})
	require.NotEqual(t, http.StatusSeeOther, forged.status)
	list, err := b.db.Silences(ctx, core.SilenceFilter{})
	require.NoError(t, err)
	require.Empty(t, list, "refused forms created nothing")

	ok := ops.post("/ui/silences", url.Values{"when": {`repo == "acme/api"`}, "duration": {"24h"}, "comment": {"deploy <b>window</b>"}})
	require.Equal(t, http.StatusSeeOther, ok.status, ok.body)
	page = ops.get(ok.location)
	require.Contains(t, page.body, "Silence created.")
	require.Contains(t, page.body, "repo == &#34;acme/api&#34;")
	require.Contains(t, page.body, "deploy &lt;b&gt;window&lt;/b&gt;", "the comment is escaped")
	list, err = b.db.Silences(ctx, core.SilenceFilter{ActiveAt: b.clock.Now()})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "dashboard:ops", list[0].CreatedBy)

	require.NotEqual(t, http.StatusSeeOther, tenant.post("/ui/silences/"+list[0].ID+"/end", nil).status)
	end := ops.post("/ui/silences/"+list[0].ID+"/end", nil)
	require.Equal(t, http.StatusSeeOther, end.status)
	page = ops.get(end.location)
	require.Contains(t, page.body, "Silence ended.")
	require.True(t, strings.Contains(page.body, "Recently ended") && strings.Contains(page.body, "by dashboard:ops"))
	entries, err := b.db.AuditLog(ctx, list[0].ID, 0)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, http.StatusNotFound, ops.post("/ui/silences/nope/end", nil).status)
}

func TestEventPageAcknowledgedAndSilenced(t *testing.T) {
	t.Parallel()
	onDrivers(t, testEventPageAcknowledgedAndSilenced)
}

// testEventPageAcknowledgedAndSilenced: an admin's event page shows who acknowledged the event
// and when, its audit history, the silence of each silenced delivery (linked to the Silences
// page, which links to those deliveries), and a "Silence similar" form prefilled with the mute
// rule that needs the form token; a tenant sees its own deliveries and nothing of the rest.
func testEventPageAcknowledgedAndSilenced(t *testing.T, b *bundle) {
	ctx := t.Context()
	acme := signedIn(t, b, acmeKey)
	hook := addWebhook(t, acme, "https://acme.example.com/hook", "*")
	ev, _, _ := criticalEvent(t, b, hook)
	svc := &silences.Service{Store: b.db, NowFunc: b.clock.Now}
	require.NoError(t, svc.Acknowledge(ctx, ev.ID, "slack", "U1", "al<i>ce"))
	sil, err := svc.Mute(ctx, ev.ID, "slack", "U1", "al<i>ce", time.Hour)
	require.NoError(t, err)
	// The next occurrence, silenced at ingest (core.Bus.acceptSilenced).
	again := sampleEvent(t, b, event.IssueCritical, map[string]any{"title": ev.String("title")})
	// A silence covers the config's targets only: acme's webhook still gets the event.
	muted := &core.Delivery{ID: uuid.Must(uuid.NewV7()).String(), EventID: again.ID, Target: "siem", State: core.StateSilenced,
		NextAttemptAt: again.ReceivedAt, CreatedAt: again.ReceivedAt, LastError: core.SilencedBy(sil.ID)}
	sent := &core.Delivery{ID: uuid.Must(uuid.NewV7()).String(), EventID: again.ID, Target: hook, State: core.StatePending,
		NextAttemptAt: again.ReceivedAt, CreatedAt: again.ReceivedAt}
	_, err = b.db.Ingest(ctx, []core.IngestItem{{Event: again, Deliveries: []*core.Delivery{muted, sent}}})
	require.NoError(t, err)

	ops := signedIn(t, b, opsKey)
	a := ops.get("/events/" + ev.ID)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, "Acknowledged by <strong>al&lt;i&gt;ce</strong>")
	require.Regexp(t, `(?s)<span class="mono">event.mute</span> by slack:U1 \(al&lt;i&gt;ce\): muted until .*?by silence `+sil.ID+`.*<span class="mono">event.acknowledge</span>`, a.body, "newest first")
	rule, err := svc.MuteRuleOf(ctx, ev)
	require.NoError(t, err)
	require.Contains(t, a.body, `value="`+html.EscapeString(rule)+`"`, "the mute rule, prefilled")
	require.NotContains(t, a.body, "<i>ce")

	a = ops.get("/events/" + again.ID)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, 1, strings.Count(a.body, `Not sent: silenced by silence <a href="/ui/silences#silence-`+sil.ID+`"`), a.body)
	require.Contains(t, a.body, "Nobody has acknowledged this event.")

	page := ops.get("/ui/silences")
	require.Contains(t, page.body, `id="silence-`+sil.ID+`"`)
	link := regexp.MustCompile(`href="(/ui/deliveries\?[^"]+)">deliveries silenced`).FindStringSubmatch(page.body)
	require.NotNil(t, link, page.body)
	list := ops.get(html.UnescapeString(link[1]))
	require.Equal(t, http.StatusOK, list.status, list.body)
	require.Contains(t, list.body, muted.ID)
	require.NotContains(t, list.body, sent.ID)

	// Silence similar: not without the session's form token.
	form := func() url.Values {
		return url.Values{"when": {rule}, "duration": {"4h"}, "comment": {"like event " + ev.ID}}
	}
	forged := form()
	forged.Set("csrf", "forged")
	require.NotEqual(t, http.StatusSeeOther, ops.post("/ui/silences", forged).status)
	require.NotEqual(t, http.StatusSeeOther, acme.post("/ui/silences", form()).status, "tenants may not silence")
	all, err := b.db.Silences(ctx, core.SilenceFilter{})
	require.NoError(t, err)
	require.Len(t, all, 1)
	ok := ops.post("/ui/silences", form())
	require.Equal(t, http.StatusSeeOther, ok.status, ok.body)
	all, err = b.db.Silences(ctx, core.SilenceFilter{})
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, rule, all[0].When)

	// A tenant: its own deliveries, nothing of the acknowledgement, history or silences.
	for _, id := range []string{ev.ID, again.ID} {
		a = acme.get("/events/" + id)
		require.Equal(t, http.StatusOK, a.status, a.body)
		for _, leak := range []string{"al&lt;i&gt;ce", "Acknowledg", "Silence similar", sil.ID, "/ui/silences", "siem"} {
			require.NotContains(t, a.body, leak, id)
		}
	}
	require.Contains(t, a.body, `id="delivery-`+sent.ID+`"`)
}

// TestSilencesPageListsEveryActiveSilence: an active silence is listed however many silences
// were made after it (the page once read the newest few hundred of all and picked the active
// ones out, so a long silence could mute events unlisted, with no End button).
func TestSilencesPageListsEveryActiveSilence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	svc := &silences.Service{Store: b.db, NowFunc: b.clock.Now}
	long, err := svc.Create(ctx, silences.Input{When: `event == "scan.failed"`, Duration: "168h"}, "api:ops")
	require.NoError(t, err)
	for i := range silences.MaxActive + 30 {
		s, err := svc.Create(ctx, silences.Input{When: fmt.Sprintf(`repo == "acme/r%d"`, i), Duration: "1h"}, "api:ops")
		require.NoError(t, err)
		require.NoError(t, svc.End(ctx, s.ID, "api:ops"))
	}
	page := signedIn(t, b, opsKey).get("/ui/silences")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `id="silence-`+long.ID+`"`)
	require.NotContains(t, page.body, "No silence is active")
}
