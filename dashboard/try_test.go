package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// TestTryAnEventBounds: "Try an event" takes what ingest takes and no more: events up to
// ingest.max_body_bytes of the config in force (413 beyond it, also for a form too large to
// read, which used to answer 403 "form expired"), parsed by the same bounded parser (nesting
// and value limits named in the answer).
func TestTryAnEventBounds(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	env := func(data string) string {
		return `{"event":"scan.completed","id":"e1","timestamp":"2024-01-01T12:00:00Z","data":` + data + `}`
	}
	deep := env(`{"scan_id":"s","x":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200) + `}`)
	many := env(`{"scan_id":"s","l":[` + strings.Repeat(`0,`, event.MaxValues) + `0]}`)
	padded := env(`{"scan_id":"s","pad":"` + strings.Repeat("x", limit) + `"}`)
	tests := map[string]struct {
		form   url.Values
		status int
		want   string
	}{
		"a valid event":              {form: url.Values{"event": {env(`{"scan_id":"s"}`)}}, status: http.StatusOK, want: "e1"},
		"nested too deep":            {form: url.Values{"event": {deep}}, status: http.StatusUnprocessableEntity, want: fmt.Sprintf("nest deeper than %d levels", event.MaxNestingDepth)},
		"too many values":            {form: url.Values{"event": {many}}, status: http.StatusUnprocessableEntity, want: fmt.Sprintf("more than %d values", event.MaxValues)},
		"a name twice":               {form: url.Values{"event": {env(`{"scan_id":"s","scan_id":"t"}`)}}, status: http.StatusUnprocessableEntity, want: "key data.scan_id appears twice"},
		"over max_body_bytes":        {form: url.Values{"event": {padded}}, status: http.StatusRequestEntityTooLarge, want: fmt.Sprintf("larger than %d bytes (ingest.max_body_bytes)", limit)},
		"a form too large":           {form: url.Values{"event": {env(`{"scan_id":"s"}`)}, "other": {strings.Repeat("é", 2*limit)}}, status: http.StatusRequestEntityTooLarge, want: fmt.Sprintf("at most %d bytes", limit)},
		"at max_body_bytes, encoded": {form: url.Values{"event": {env(`{"scan_id":"s","pad":"` + strings.Repeat("é", (limit-120)/2) + `"}`)}}, status: http.StatusOK, want: "e1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.rt.Config.Ingest.MaxBodyBytes = limit
			br := signedIn(t, b, opsKey)
			a := br.post("/ui/routes/try", tc.form)
			require.Equal(t, tc.status, a.status, "%.500s", a.body)
			require.Contains(t, htmlUnescape(a.body), tc.want)
		})
	}
}

// TestTryAnEventBoundsWhatItShows: a tried event over 64 KiB is not written into the page again
// (a note says so) and a payload over 64 KiB is previewed cut, with the bytes left out counted;
// a small event is shown again and previewed whole.
func TestTryAnEventBoundsWhatItShows(t *testing.T) {
	t.Parallel()
	padded := func(pad int) string {
		return `{"event":"scan.completed","id":"e1","timestamp":"2024-01-01T12:00:00Z","data":{"scan_id":"s","pad":"` +
			strings.Repeat("x", pad) + `"}}`
	}
	tests := map[string]struct {
		event     string
		echoed    bool
		cutPrefix string
	}{
		"small":    {event: padded(10), echoed: true},
		"over 64K": {event: padded(100 << 10), cutPrefix: "… ("},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			br := signedIn(t, b, opsKey)
			a := br.post("/ui/routes/try", url.Values{"event": {tc.event}})
			require.Equal(t, http.StatusOK, a.status, "%.500s", a.body)
			require.Contains(t, a.body, "An audit record of the original event", "the audit target's preview is there")
			box := regexp1(t, `(?s)<textarea id="event" name="event"[^>]*>(.*?)</textarea>`, a.body)
			if tc.echoed {
				require.Equal(t, tc.event, htmlUnescape(box))
				require.NotContains(t, a.body, "is not shown again")
				require.NotContains(t, a.body, "more bytes not shown")
				return
			}
			require.Empty(t, box)
			require.Contains(t, a.body, fmt.Sprintf("The event you tried (%d bytes) is not shown again here", len(tc.event)))
			require.Contains(t, a.body, fmt.Sprintf("%s%d more bytes not shown)", tc.cutPrefix, len(tc.event)-64<<10))
			require.Less(t, len(a.body), 3*64<<10+len(tc.event)/2, "the page does not carry the whole event")
		})
	}
}

// TestTryAnEventUsesTheScanContext: the try form renders as a delivery would: Cortex's sample
// issue event, which names no repository, shows its scan's repository and opens the file at
// the scan's commit, once scan.started of that scan was ingested.
func TestTryAnEventUsesTheScanContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := signedIn(t, b, opsKey)
	issue, err := samples.Get(event.IssueCritical)
	require.NoError(t, err)
	const fileURL = "https://github.com/user/repo/blob/9f2c1e7/api/user.js#L42"
	a := br.post("/ui/routes/try", url.Values{"event": {string(issue)}})
	require.Equal(t, http.StatusOK, a.status)
	require.NotContains(t, htmlUnescape(a.body), fileURL, "no scan seen yet")

	started, err := samples.Get(event.ScanStarted)
	require.NoError(t, err)
	ev, err := event.Parse(started)
	require.NoError(t, err)
	ev.ReceivedAt = time.Now()
	_, err = b.db.Ingest(context.Background(), []core.IngestItem{{Event: ev}})
	require.NoError(t, err)
	a = br.post("/ui/routes/try", url.Values{"event": {string(issue)}})
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, htmlUnescape(a.body), fileURL)
}
