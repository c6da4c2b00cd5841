package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
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
