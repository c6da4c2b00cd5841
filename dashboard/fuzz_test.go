package dashboard

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/config"
)

// fuzzConfig routes every event to a file target through a rule and a template, so a try
// runs the parser, the rules and a render; it has no digests, so no store is needed.
const fuzzConfig = `
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: ["s3cret-ingest"], max_body_bytes: 65536}
targets:
  - {name: audit, type: file, path: audit.jsonl}
  - {name: siem, type: webhook, url: "https://siem.example.com/hook", secret: "siem-secret-0123456789"}
routes:
  - {name: critical, when: 'event == "issue.critical" && severity_at_least(severity, "high")', targets: [siem]}
  - {name: everything, when: "true", targets: [audit]}
`

// FuzzTryAnEvent: whatever is pasted into "Try an event", the form answers 200, 413 or 422 (never
// a 500 or a panic) and never echoes the paste unescaped. Seeds are in
// testdata/fuzz/FuzzTryAnEvent: the samples and hostile bodies (deep, wide, names repeated,
// invalid UTF-8).
func FuzzTryAnEvent(f *testing.F) {
	rt := dryRunRuntime(f, fuzzConfig)
	d, err := New(Config{Runtime: func() *config.Runtime { return rt }})
	require.NoError(f, err)
	f.Add(`{"event":"issue.critical","id":"e","timestamp":"2024-01-01T12:00:00Z","data":{"scan_id":"s","issue_id":"i","severity":"high","title":"<script>alert(1)</script>"}}`)
	f.Fuzz(func(t *testing.T, event string) {
		form := url.Values{"event": {event}}.Encode()
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/ui/routes/try", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Body = http.MaxBytesReader(nil, r.Body, d.maxFormBytes())
		w := httptest.NewRecorder()
		d.routesTry(w, r)
		require.Contains(t, []int{http.StatusOK, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity}, w.Code, "%.300s", w.Body)
		if strings.Contains(event, "<script") {
			require.NotContains(t, w.Body.String(), "<script>alert", "the paste is escaped")
		}
	})
}

// dryRunRuntime loads the config text yaml as the dashboard's tests see it (built for dry runs).
func dryRunRuntime(tb testing.TB, yaml string) *config.Runtime {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "config.yaml")
	require.NoError(tb, os.WriteFile(path, []byte(yaml), 0o600))
	cfg, err := config.Load(path)
	require.NoError(tb, err)
	rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
	require.NoError(tb, err)
	return rt
}
