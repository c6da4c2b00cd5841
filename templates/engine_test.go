package templates_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/templates"
)

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
}

func TestOverrideReplacesBuiltin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "slack/default.tmpl", `{"text":{{ .title | toJson }}}`)
	writeFile(t, dir, "digest.tmpl", `any type`)
	e, err := templates.New(dir)
	require.NoError(t, err)
	key, ok := e.Lookup("slack", "default")
	require.True(t, ok)
	require.Equal(t, "slack/default", key)
	require.Equal(t, filepath.Join(dir, "slack/default.tmpl"), e.Origin(key))
	out, err := e.Render(key, map[string]any{"title": "x"})
	require.NoError(t, err)
	require.Equal(t, `{"text":"x"}`, string(out.Body))

	key, ok = e.Lookup("discord", "digest")
	require.True(t, ok, "a type-less template serves every type")
	require.Equal(t, "digest", key)
	_, ok = e.Lookup("webhook", "default")
	require.False(t, ok, "webhooks have no built-in template: they send the event itself")
	require.Contains(t, e.Keys(), "discord/default")
}

func TestMissingOverrideDirMeansBuiltinsOnly(t *testing.T) {
	t.Parallel()
	e, err := templates.New(filepath.Join(t.TempDir(), "nope"))
	require.NoError(t, err)
	require.Equal(t, "builtin:slack/default.tmpl", e.Origin("slack/default"))

	f := filepath.Join(t.TempDir(), "file")
	writeFile(t, filepath.Dir(f), "file", "x")
	_, err = templates.New(f)
	require.ErrorContains(t, err, "templates.dir")
}

func TestParseErrorNamesFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "slack/bad.tmpl", `{{ .title `)
	writeFile(t, dir, "email/bad.html.tmpl", `{{ if }}`)
	_, err := templates.New(dir)
	require.ErrorContains(t, err, filepath.Join(dir, "slack/bad.tmpl"))
	require.ErrorContains(t, err, filepath.Join(dir, "email/bad.html.tmpl"))
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "x/missing.tmpl", `{{ .Data.labels.team }}`)
	writeFile(t, dir, "x/nil.tmpl", `title: {{ .title }}`)
	writeFile(t, dir, "x/compare.tmpl", `{{ if gt .score "7" }}low{{ end }}`)
	writeFile(t, dir, "x/env.tmpl", `{{ env "HOME" }}`)
	_, err := templates.New(dir)
	require.ErrorContains(t, err, `function "env" not defined`, "templates cannot read the environment")
	require.NoError(t, os.Remove(filepath.Join(dir, "x/env.tmpl")))
	e, err := templates.New(dir)
	require.NoError(t, err)
	data := map[string]any{"Data": map[string]any{}, "title": nil, "score": 85.0}
	tests := map[string]string{
		"x/missing": `map has no entry for key "labels"`,
		"x/nil":     `<no value>`,
		"x/compare": `incompatible types for comparison`,
	}
	for key, want := range tests {
		_, err := e.Render(key, data)
		require.ErrorContains(t, err, want, key)
		require.ErrorContains(t, err, filepath.Join(dir, key+".tmpl"), "the error names the file")
	}
}

func TestSubjectAndHTML(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "email/alert.tmpl", "{{ define \"subject\" }}  Alert:\n {{ .title }} {{ end }}Body {{ .title }}")
	writeFile(t, dir, "email/alert.html.tmpl", `<p>{{ .title }}</p>`)
	e, err := templates.New(dir)
	require.NoError(t, err)
	out, err := e.Render("email/alert", map[string]any{"title": `<script>alert(1)</script> O'Brien`})
	require.NoError(t, err)
	require.Equal(t, `Alert: <script>alert(1)</script> O'Brien`, out.Subject, "the subject is one line, unescaped")
	require.Equal(t, `Body <script>alert(1)</script> O'Brien`, string(out.Body))
	require.Equal(t, `<p>&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Brien</p>`, out.HTML)
}

func TestFuncs(t *testing.T) {
	t.Parallel()
	require.Equal(t, "user=@everyone &lt;@&amp;1&gt; &lt;!channel&gt; 'q' \"d\"", templates.SlackEscape(`user=@everyone <@&1> <!channel> 'q' "d"`))
	require.Equal(t, "", templates.SlackEscape(nil))
	require.Equal(t, `\*bold\* \_x\_ \~s\~ \`+"`c\\`"+` \> q`, templates.DiscordEscape("*bold* _x_ ~s~ `c` > q"))

	title := strings.Repeat("é", 300)
	got := templates.Truncate(256, title)
	require.Equal(t, 256, len([]rune(got)))
	require.True(t, strings.HasSuffix(got, "…"))
	require.Equal(t, "short", templates.Truncate(10, "short"))
	require.Equal(t, "", templates.Truncate(0, "x"))

	for in, want := range map[any]string{45: "45s", int64(90): "1m 30s", 120.0: "2m", 3600.0 + 1800: "1h 30m", 2.5: "2.5s",
		int64(2*86400 + 3*3600): "2d 3h", nil: "", "x": ""} {
		require.Equal(t, want, templates.HumanizeDuration(in), "%v", in)
	}
	require.Equal(t, "#d0021b", templates.SeverityColor("CRITICAL"))
	require.Equal(t, "#9b9b9b", templates.SeverityColor(nil))
	require.Equal(t, 0xd0021b, templates.ColorInt("#d0021b"))
	require.Zero(t, templates.ColorInt("red"))

	funcs := templates.Funcs()
	for _, name := range []string{"env", "expandenv", "getHostByName"} {
		require.NotContains(t, funcs, name)
	}
	for _, name := range []string{"toJson", "default", "slack_escape", "discord_escape", "severity_color", "truncate", "humanize_duration"} {
		require.Contains(t, funcs, name)
	}
}

func TestRenderIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	e, err := templates.New("")
	require.NoError(t, err)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				_, err := e.Render("email/default", sampleData())
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

func sampleData() map[string]any {
	ev := struct {
		Type, ID  string
		Timestamp time.Time
		Data      map[string]any
	}{"scan.failed", "e1", time.Now(), map[string]any{"scan_id": "s"}}
	d := map[string]any{"Event": ev, "repo": nil, "repo_url": nil, "scan_id": "s", "title": nil, "severity": nil,
		"file": nil, "line": nil, "score": nil, "issues_count": nil, "duration_seconds": nil, "error": "boom", "description": nil}
	return d
}

// TestNoValueInTheEventItself: an event whose text says "<no value>" renders; a nil printed by
// the template is still an error.
func TestNoValueInTheEventItself(t *testing.T) {
	t.Parallel()
	e, err := templates.New("")
	require.NoError(t, err)
	dir := t.TempDir()
	writeFile(t, dir, "webhook/plain.tmpl", `{{ dict "title" .title | toRawJson }}`)
	e, err = templates.New(dir)
	require.NoError(t, err)
	out, err := e.Render("webhook/plain", map[string]any{"title": "scanner said <no value>"})
	require.ErrorIs(t, err, templates.ErrNoValue, "the engine cannot tell; it returns the output with the error")
	require.Equal(t, `{"title":"scanner said <no value>"}`, string(out.Body))
}
