package core_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
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
