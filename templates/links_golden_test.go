package templates_test

import (
	"bytes"
	"encoding/json"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/discord"
	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// linkTargets are every built-in template set that makes links: the three chat and mail types
// and the webhook presets.
var linkTargets = func() []*core.Target {
	ts := []*core.Target{
		{Name: "slack", Type: "slack", Format: notify.FormatJSON, Escape: slack.Type.Escape},
		{Name: "discord", Type: "discord", Format: notify.FormatJSON, Escape: discord.Type.Escape},
		{Name: "email", Type: "email", Format: notify.FormatEmail},
	}
	for _, p := range []string{"msteams", "mattermost", "rocketchat", "pagerduty", "opsgenie", "cloudevents", "github-dispatch", "gitlab-pipeline"} {
		ts = append(ts, &core.Target{Name: p, Type: "webhook", Format: notify.FormatJSON, Template: p})
	}
	return ts
}()

func parseEvent(t *testing.T, data map[string]any, typ, id string) *event.Event {
	t.Helper()
	b, err := json.Marshal(map[string]any{"event": typ, "id": id, "timestamp": "2026-01-01T00:00:00Z", "data": data})
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return ev
}

// hostileMessages are the messages of the golden files: the hostile repository of the report
// (its label reads like GitHub, its link goes to evil.example), a javascript: URL, userinfo and
// a lookalike host, a file path that tries to leave the repository, and the Cortex docs' sample
// issue event, which names no repository: its scan context does (at commit 9f2c1e7).
func hostileMessages(t *testing.T) map[string]*notify.Message {
	evil := parseEvent(t, map[string]any{"scan_id": "scan_evil", "issue_id": "i1", "severity": "critical",
		"title": "SQL injection [docs](https://evil.example/x) <https://evil.example|github.com>",
		"file":  "api/user.js)](https://evil.example) |x>", "line": 42,
		"repo_url": "https://evil.example/p|github.com/acme/payments", "commit": "9f2c1e7)/../x"}, "issue.critical", "evt_evil")
	js := parseEvent(t, map[string]any{"scan_id": "scan_js", "repo_url": "JAVASCRIPT:alert(document.cookie)//https://github.com/a/b",
		"status": "completed", "score": 91.5}, "scan.completed", "evt_js")
	user := parseEvent(t, map[string]any{"scan_id": "scan_user", "error": "boom",
		"repo_url": "https://github.com@evil.example/acme/payments"}, "scan.failed", "evt_user")
	idn := parseEvent(t, map[string]any{"scan_id": "scan_idn", "issue_id": "i2", "severity": "high", "title": "Lookalike",
		"file": "../../../evil/repo/blob/main/x.go", "line": 1, "repo_url": "https://gıthub.com/acme/payments"}, "issue.critical", "evt_idn")
	sample := parseEvent(t, map[string]any{"scan_id": "scan_abc123", "issue_id": "issue_xyz789", "severity": "critical",
		"title": "SQL Injection Vulnerability", "file": "api/user.js", "line": 42}, "issue.critical", "evt_1234567891")
	scans := map[string]event.Scan{"scan_abc123": {ID: "scan_abc123", RepoURL: "https://github.com/user/repo", Branch: "main", Commit: "9f2c1e7"}}
	msg := func(events ...*event.Event) *notify.Message {
		m := &notify.Message{DeliveryID: "d", Attempt: 1, Route: "r", Event: events[0], Events: events, Scans: scans}
		if len(events) > 1 {
			m.Group = &notify.GroupRun{Route: "r", Count: len(events)}
		}
		return m
	}
	return map[string]*notify.Message{
		"evil":   msg(evil),
		"js":     msg(js),
		"user":   msg(user),
		"idn":    msg(idn),
		"sample": msg(sample),
		"group":  msg(evil, js, user, idn, sample),
	}
}

var (
	slackLinkForm = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9+.-]*:[^<>|\s]*)\|([^<>]*)>`)
	mdLinkForm    = regexp.MustCompile(`(?:^|[^\\])\[((?:[^\[\]\\]|\\.)*)\]\(([^()\s]*)\)`)
	htmlLinkForm  = regexp.MustCompile(`<a href="([^"]*)"[^>]*>([^<]*)</a>`)
	jsonLinkForm  = regexp.MustCompile(`"(url|href|title_link|client_url)":\s*"([^"]*)"`)
	// fixedLabels are the labels templates write themselves, not derived from event text.
	fixedLabels = []string{"Open file", "View", "View in Cortex Bridge", "Repository", "Open repository", "File", "Event in Cortex Bridge", "View event"}
)

// checkHonestLinks finds every link of the syntaxes tgt's platform renders and checks it: the
// destination is a link as LinkURL makes them (absolute http(s), no user info, encoded), and the
// label is one the template wrote, or starts with the destination's real host, or the
// destination is a file page on a code host (its label is the file's path).
func checkHonestLinks(t *testing.T, tgt *core.Target, out string) {
	t.Helper()
	type link struct{ url, label string }
	var links []link
	forms := map[string]bool{}
	switch {
	case tgt.Type == "slack", tgt.Template == "mattermost", tgt.Template == "rocketchat":
		forms["slack"], forms["md"] = true, tgt.Type != "slack"
	case tgt.Type == "discord", tgt.Template == "msteams":
		forms["md"] = true
	case tgt.Type == "email":
		forms["html"] = true
	}
	if forms["slack"] {
		for _, m := range slackLinkForm.FindAllStringSubmatch(out, -1) {
			links = append(links, link{html.UnescapeString(m[1]), html.UnescapeString(m[2])})
		}
	}
	md := out
	if tgt.Template == "msteams" { // only FactSet values are markdown; TextRuns are plain text
		var values []string
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, `"value":`) {
				values = append(values, line)
			}
		}
		md = strings.Join(values, "\n")
	}
	if forms["md"] {
		for _, m := range mdLinkForm.FindAllStringSubmatch(md, -1) {
			links = append(links, link{m[2], regexp.MustCompile(`\\(.)`).ReplaceAllString(m[1], "$1")})
		}
	}
	if forms["html"] {
		for _, m := range htmlLinkForm.FindAllStringSubmatch(out, -1) {
			links = append(links, link{html.UnescapeString(m[1]), html.UnescapeString(m[2])})
		}
	}
	if tgt.Format == notify.FormatJSON {
		for _, m := range jsonLinkForm.FindAllStringSubmatch(out, -1) {
			links = append(links, link{m[2], "View"})
		}
	}
	for _, l := range links {
		require.Equal(t, l.url, templates.LinkURL(l.url), "%s: a link goes only to an http(s) URL as LinkURL makes it: %q", tgt.Name, l.url)
		u, err := url.Parse(l.url)
		require.NoError(t, err)
		if slices.Contains(fixedLabels, l.label) || strings.HasPrefix(l.label, u.Host) {
			continue
		}
		isFile := (u.Host == "github.com" || u.Host == "gitlab.com" || u.Host == "bitbucket.org") &&
			(strings.Contains(u.Path, "/blob/") || strings.Contains(u.Path, "/src/"))
		require.True(t, isFile, "%s: label %q of a link to %s does not show its host", tgt.Name, l.label, l.url)
	}
}

// TestLinksGolden renders every built-in template that links with hostile events, alone and as
// a group, with server.public_url set; the output is in testdata/links/ (go test ./templates
// -update rewrites it). Whatever the golden files say, every link must be honest
// (checkHonestLinks), and the sample issue event links its file at the scan's commit where the
// template has an "open file" link.
func TestLinksGolden(t *testing.T) {
	t.Parallel()
	e, err := templates.New("")
	require.NoError(t, err)
	r := &core.Renderer{Engine: e, PublicURL: "https://bridge.example.com/"}
	for name, msg := range hostileMessages(t) {
		for _, tgt := range linkTargets {
			t.Run(tgt.Name+"/"+name, func(t *testing.T) {
				t.Parallel()
				m := *msg
				m.Target = tgt.Name
				require.NoError(t, r.Render(&m, tgt, &core.Route{Name: "r"}))
				var got bytes.Buffer
				if tgt.Format == notify.FormatJSON {
					require.NoError(t, json.Indent(&got, m.Body, "", "  "))
				} else {
					got.WriteString("Subject: " + m.Subject + "\n\n" + string(m.Body) + "\n\n--- html ---\n" + m.HTML)
				}
				out := got.String()
				checkHonestLinks(t, tgt, out)
				if name == "sample" && tgt.Template != "opsgenie" && tgt.Template != "cloudevents" &&
					tgt.Template != "github-dispatch" && tgt.Template != "gitlab-pipeline" && tgt.Template != "mattermost" && tgt.Template != "rocketchat" {
					require.Contains(t, out, "https://github.com/user/repo/blob/9f2c1e7/api/user.js#L42", "open file at the scan's commit")
				}
				golden := filepath.Join("testdata", "links", tgt.Name+"-"+name+".golden")
				if *update {
					require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
					require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err, "run go test ./templates -update to create it")
				require.Equal(t, string(want), out)
			})
		}
	}
}
