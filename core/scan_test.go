package core_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// TestDeliveryUsesTheScanContext: the Cortex docs' sample issue event has no repo_url or commit;
// the message about it shows those of an earlier event of the same scan, and an event's own
// values win over the scan's.
func TestDeliveryUsesTheScanContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "webhook"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webhook", "ctx.tmpl"),
		[]byte(`{"repo":{{toJson .repo}},"url":{{toJson .repo_url}},"commit":{{toJson .commit}},"branch":{{toJson .branch}},"first":{{if .Scan}}{{toJson .Scan.FirstSeen.Unix}}{{else}}null{{end}}}`), 0o644))
	rc, url := newReceiver(t, nil)
	b := setup(t, setupOpts{url: url, templateDir: dir, routes: []*core.Route{
		{Name: "issues", When: typeIs(event.IssueCritical), Targets: []string{"hook"}, Template: "ctx"}}})
	send := func(body string) {
		ev, err := event.Parse([]byte(body))
		require.NoError(t, err)
		_, err = b.bus.Accept(context.Background(), ev)
		require.NoError(t, err)
	}
	send(`{"event":"scan.started","id":"s1","timestamp":"2024-01-01T11:59:15Z","data":{"scan_id":"scan_abc123","repo_url":"https://github.com/user/repo","branch":"main","commit":"9f2c1e7"}}`)
	tests := []struct {
		name, body, want string
	}{
		{"sample issue event", `{"event":"issue.critical","id":"i1","timestamp":"2024-01-01T12:05:00Z","data":{"scan_id":"scan_abc123","issue_id":"x","severity":"critical","title":"SQLi","file":"api/user.js","line":42}}`,
			`"repo":"user/repo","url":"https://github.com/user/repo","commit":"9f2c1e7","branch":"main"`},
		{"own values win", `{"event":"issue.critical","id":"i2","timestamp":"2024-01-01T12:05:00Z","data":{"scan_id":"scan_abc123","issue_id":"x","severity":"critical","title":"SQLi","repo_url":"https://gitlab.example/o/r","commit":"abc"}}`,
			`"repo":"o/r","url":"https://gitlab.example/o/r","commit":"abc","branch":"main"`},
		{"a scan that named nothing", `{"event":"issue.critical","id":"i3","timestamp":"2024-01-01T12:05:00Z","data":{"scan_id":"other","issue_id":"x","severity":"critical","title":"SQLi"}}`,
			`"repo":null,"url":null,"commit":null,"branch":null,"first":`},
	}
	for i, tc := range tests {
		send(tc.body)
		require.Eventually(t, func() bool { return rc.count() > i }, 5*time.Second, 10*time.Millisecond)
		rc.mu.Lock()
		got := string(rc.bodies[i])
		rc.mu.Unlock()
		require.Contains(t, got, tc.want, tc.name)
	}
}

// TestRenderDataFillsFromScans: Renderer.Data takes what an event lacks from msg.Scans, escaped
// like the event's own text, for the top level and each of .Events.
func TestRenderDataFillsFromScans(t *testing.T) {
	t.Parallel()
	e, err := templates.New("")
	require.NoError(t, err)
	r := &core.Renderer{Engine: e}
	ev, err := event.Parse([]byte(`{"event":"issue.critical","id":"e","timestamp":"2026-01-01T00:00:00Z",
		"data":{"scan_id":"s","issue_id":"i","severity":"high","title":"t","commit":""}}`))
	require.NoError(t, err)
	sc := event.Scan{ID: "s", RepoURL: "https://github.com/a/b<c>", Commit: "c0ffee", Branch: "main"}
	msg := &notify.Message{Event: ev, Events: []*event.Event{ev}, Scans: map[string]event.Scan{"s": sc}}
	d := r.Data(msg, func(s string) string { return "[" + s + "]" })
	require.Equal(t, "[https://github.com/a/b<c>]", d["repo_url"])
	require.Equal(t, "[a/b<c>]", d["repo"])
	require.Equal(t, "[c0ffee]", d["commit"], "an empty string is filled too")
	require.Equal(t, "[main]", d["branch"])
	require.Equal(t, &sc, d["Scan"])
	require.Equal(t, "[c0ffee]", d["Events"].([]map[string]any)[0]["commit"])
	require.Nil(t, r.Data(&notify.Message{Event: ev, Events: []*event.Event{ev}}, nil)["Scan"])
}

// typeIs matches events of one type.
type typeIs string

func (tp typeIs) Match(ev *event.Event) (bool, error) { return ev.Type == string(tp), nil }

// TestMessageShowsWhatTheScanRecordHolds: each message's .Scan is the stored record at the time
// it went out, though the dispatcher caches scan contexts (SQLite): an issue.critical before the
// scan named its repository shows none, a later event of the scan moves .Scan.LastSeen, and the
// scan.started that names the repository fills it in for the next issue.critical.
func TestMessageShowsWhatTheScanRecordHolds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "webhook"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webhook", "scan.tmpl"), []byte(`{{toJson .Scan}}`), 0o644))
	rc, url := newReceiver(t, nil)
	b := setup(t, setupOpts{url: url, templateDir: dir, routes: []*core.Route{
		{Name: "all", When: matchAll{}, Targets: []string{"hook"}, Template: "scan"}}})
	issue := func(id string) string {
		return `{"event":"issue.critical","id":"` + id + `","timestamp":"2024-01-01T12:05:00Z","data":{"scan_id":"s","issue_id":"x","severity":"critical","title":"SQLi"}}`
	}
	steps := []struct {
		name, body, repo string
	}{
		{"first issue: nothing known", issue("i1"), ""},
		{"second issue: later last_seen", issue("i2"), ""},
		{"scan.started names the repository", `{"event":"scan.started","id":"st","timestamp":"2024-01-01T11:59:15Z","data":{"scan_id":"s","repo_url":"https://github.com/user/repo","branch":"main","commit":"9f2c1e7"}}`, "https://github.com/user/repo"},
		{"next issue shows it", issue("i3"), "https://github.com/user/repo"},
		{"a second repository is not taken", `{"event":"scan.completed","id":"c","timestamp":"2024-01-01T12:15:00Z","data":{"scan_id":"s","repo_url":"https://github.com/other/repo"}}`, "https://github.com/user/repo"},
	}
	var last event.Scan
	for i, st := range steps {
		time.Sleep(2 * time.Millisecond) // received times the store tells apart
		ev, err := event.Parse([]byte(st.body))
		require.NoError(t, err)
		_, err = b.bus.Accept(context.Background(), ev)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return rc.count() > i }, 5*time.Second, 10*time.Millisecond, st.name)
		stored, err := b.store.Scans(context.Background(), []string{"s"})
		require.NoError(t, err)
		want, err := json.Marshal(stored["s"])
		require.NoError(t, err)
		rc.mu.Lock()
		got := string(rc.bodies[i])
		rc.mu.Unlock()
		require.JSONEq(t, string(want), got, st.name)
		require.Equal(t, st.repo, stored["s"].RepoURL, st.name)
		require.True(t, stored["s"].LastSeen.After(last.LastSeen), st.name)
		last = stored["s"]
	}
}

// scanCountingStore is a SQLite store that counts its reads of scan contexts.
type scanCountingStore struct {
	*store.DB
	reads atomic.Int64
}

func (s *scanCountingStore) Scans(ctx context.Context, ids []string) (map[string]event.Scan, error) {
	s.reads.Add(1)
	return s.DB.Scans(ctx, ids)
}

// TestScanContextReads: a message with a template reads a scan's context from the store once,
// then from the dispatcher's cache; a message without one (a webhook sending the event as
// received) never reads it.
func TestScanContextReads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "webhook"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webhook", "repo.tmpl"), []byte(`{"url":{{toJson .repo_url}}}`), 0o644))
	tests := []struct {
		name, template string
		reads          int64
		body           string
	}{
		{"templated", "repo", 1, `{"url":"https://github.com/user/repo"}`},
		{"the event as received", "", 0, `"event":"issue.critical"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc, url := newReceiver(t, nil)
			n, err := webhook.New(&webhook.Config{URL: url, Secret: "test-secret-value"}, nil, "test")
			require.NoError(t, err)
			engine, err := templates.New(dir)
			require.NoError(t, err)
			db, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
			require.NoError(t, err)
			st := &scanCountingStore{DB: db}
			plan := &core.Plan{Targets: []*core.Target{{Name: "hook", Type: "webhook", Format: notify.FormatJSON, Notifier: n, Concurrency: 1}},
				Router:   &core.Router{Routes: []*core.Route{{Name: "all", When: matchAll{}, Targets: []string{"hook"}, Template: tc.template}}},
				Renderer: &core.Renderer{Engine: engine}}
			log := slog.New(slog.DiscardHandler)
			disp := core.NewDispatcher(core.DispatcherConfig{Owner: "test", PollInterval: 20 * time.Millisecond}, st, plan, log)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { disp.Run(ctx); close(done) }()
			bus := core.NewBus(st, disp, nil, log)
			t.Cleanup(func() { bus.Close(); cancel(); <-done; _ = db.Close() })
			for i, id := range []string{"i1", "i2", "i3"} {
				body := `{"event":"issue.critical","id":"` + id + `","timestamp":"2024-01-01T12:05:00Z","data":{"scan_id":"s","repo_url":"https://github.com/user/repo","issue_id":"x","severity":"critical","title":"SQLi"}}`
				ev, err := event.Parse([]byte(body))
				require.NoError(t, err)
				_, err = bus.Accept(context.Background(), ev)
				require.NoError(t, err)
				require.Eventually(t, func() bool { return rc.count() > i }, 5*time.Second, 10*time.Millisecond)
				rc.mu.Lock()
				got := string(rc.bodies[i])
				rc.mu.Unlock()
				require.Contains(t, got, tc.body)
			}
			require.Equal(t, tc.reads, st.reads.Load())
		})
	}
}
