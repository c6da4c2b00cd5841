package silences_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/rules"
	"github.com/cortexbridge/cortex-bridge/silences"
)

// ev parses an event of type typ with data, its fingerprint set as ingest sets it (per the
// default findings policy).
func ev(t *testing.T, typ string, data map[string]any) *event.Event {
	t.Helper()
	body, err := json.Marshal(map[string]any{"event": typ, "id": "e-" + typ, "timestamp": "2026-03-04T05:06:07Z", "data": data})
	require.NoError(t, err)
	e, err := event.Parse(body)
	require.NoError(t, err)
	e.Fingerprint = core.FindingsPolicy{}.FingerprintOf(e)
	return e
}

// TestMuteRuleFollowsTheFinding: when the bridge tracks the muted event's finding, the mute rule
// keys on its fingerprint in its repository (and branch, when the event names one), so it
// covers the finding's issue.critical and its finding.new and finding.regressed events, never its
// finding.fixed nor another finding or repository; a muted finding.fixed mutes those only.
// Without a fingerprint it is the repository + title + file rule of the event's type.
func TestMuteRuleFollowsTheFinding(t *testing.T) {
	t.Parallel()
	const repo, other = "https://github.com/acme/api", "https://github.com/acme/web"
	fp := "cortex-fp-\"1\"" // Cortex's own, with a quote to escape
	issue := func(repo, fp string) *event.Event {
		return ev(t, event.IssueCritical, map[string]any{"scan_id": "s1", "issue_id": "1", "severity": "critical",
			"title": "SQLi", "file": "a.go", "repo_url": repo, "fingerprint": fp})
	}
	derived := func(typ, repo, branch, fp string) *event.Event {
		return ev(t, typ, map[string]any{"repo_url": repo, "branch": branch, "scan_id": "s2", "previous_scan_id": "s1",
			"fingerprint": fp, "title": "SQLi", "file": "a.go", "line": 3, "severity": "critical",
			"first_seen": "2026-03-04T05:06:07Z", "last_seen": "2026-03-04T05:06:07Z"})
	}
	candidates := map[string]*event.Event{
		"issue":            issue(repo, fp),
		"issue other repo": issue(other, fp),
		"issue other fp":   issue(repo, "cortex-fp-2"),
		"new main":         derived(core.EventFindingNew, repo, "main", fp),
		"regressed main":   derived(core.EventFindingRegressed, repo, "main", fp),
		"regressed dev":    derived(core.EventFindingRegressed, repo, "dev", fp),
		"regressed other":  derived(core.EventFindingRegressed, repo, "main", "cortex-fp-2"),
		"new other repo":   derived(core.EventFindingNew, other, "main", fp),
		"fixed main":       derived(core.EventFindingFixed, repo, "main", fp),
		"scan failed":      ev(t, event.ScanFailed, map[string]any{"scan_id": "s1", "repo_url": repo, "error": "boom"}),
	}
	noRepo := ev(t, event.IssueCritical, map[string]any{"scan_id": "s1", "issue_id": "1", "severity": "critical",
		"title": "SQLi", "file": "a.go", "fingerprint": fp})
	candidates["issue without repo"] = noRepo
	tests := map[string]struct {
		muted *event.Event
		scan  event.Scan // recorded for the muted event's scan
		rule  string
		match []string // the candidates it silences
	}{
		"an issue.critical": {
			muted: issue(repo, fp),
			rule:  `fingerprint == "cortex-fp-\"1\"" && (repo_url == nil || repo_url == "https://github.com/acme/api") && event != "finding.fixed"`,
			match: []string{"issue", "issue without repo", "new main", "regressed main", "regressed dev"},
		},
		"an issue.critical without repo_url: its scan's repository and branch": {
			muted: noRepo,
			scan:  event.Scan{ID: "s1", RepoURL: repo, Branch: "main"},
			rule:  `fingerprint == "cortex-fp-\"1\"" && (repo_url == nil || repo_url == "https://github.com/acme/api") && (branch == nil || branch == "main") && event != "finding.fixed"`,
			match: []string{"issue", "issue without repo", "new main", "regressed main"},
		},
		"a finding.regressed: its branch too": {
			muted: derived(core.EventFindingRegressed, repo, "main", fp),
			rule:  `fingerprint == "cortex-fp-\"1\"" && (repo_url == nil || repo_url == "https://github.com/acme/api") && (branch == nil || branch == "main") && event != "finding.fixed"`,
			match: []string{"issue", "issue without repo", "new main", "regressed main"},
		},
		"a finding.fixed: those only": {
			muted: derived(core.EventFindingFixed, repo, "main", fp),
			rule:  `fingerprint == "cortex-fp-\"1\"" && (repo_url == nil || repo_url == "https://github.com/acme/api") && (branch == nil || branch == "main") && event == "finding.fixed"`,
			match: []string{"fixed main"},
		},
		"no tracked finding: type, repository, title, file": {
			muted: candidates["scan failed"],
			rule:  `event == "scan.failed" && repo_url == "https://github.com/acme/api"`,
			match: []string{"scan failed"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rule := silences.MuteRule(tt.muted, core.FindingsPolicy{}.FingerprintOf(tt.muted), tt.scan)
			require.Equal(t, tt.rule, rule)
			r, err := rules.Compile(rule)
			require.NoError(t, err)
			var got []string
			for cname, c := range candidates {
				ok, err := r.Match(c)
				require.NoError(t, err, cname)
				if ok {
					got = append(got, cname)
				}
			}
			require.ElementsMatch(t, tt.match, got)
		})
	}
}

// TestMuteRuleOfUsesThePolicyAndTheScan: the fingerprint follows the findings policy in force
// (findings.fingerprint), as ingest computes it, and the repository and branch come from the
// scan context recorded for the event's scan when the event names neither.
func TestMuteRuleOfUsesThePolicyAndTheScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	started := ev(t, event.ScanStarted, map[string]any{"scan_id": "s1", "repo_url": "https://github.com/acme/api", "branch": "main"})
	started.ReceivedAt = t0
	_, err := db.Ingest(ctx, []core.IngestItem{{Event: started}})
	require.NoError(t, err)
	e := ev(t, event.IssueCritical, map[string]any{"scan_id": "s1", "issue_id": "1", "severity": "critical", "title": "SQLi", "file": "a.go", "line": 7})
	e.Fingerprint = "" // as loaded from storage
	policy := core.FindingsPolicy{Fingerprint: []string{"title", "file", "line"}}
	want := policy.FingerprintOf(e)
	require.NotEqual(t, core.FindingsPolicy{}.FingerprintOf(e), want)
	svc := &silences.Service{Store: db, Findings: func() core.FindingsPolicy { return policy }}
	rule, err := svc.MuteRuleOf(ctx, e)
	require.NoError(t, err)
	require.Equal(t, `fingerprint == "`+want+`" && (repo_url == nil || repo_url == "https://github.com/acme/api") && (branch == nil || branch == "main") && event != "finding.fixed"`, rule)
}

// TestMuteRuleFitsHugeFields: fields far longer than a rule may be (a 100 KB title, file,
// repository and fingerprint, with characters that quoting expands) give a rule within
// MaxRuleBytes that compiles, mutes the event and not one that differs after the cut prefix.
func TestMuteRuleFitsHugeFields(t *testing.T) {
	t.Parallel()
	huge := func(c string) string { return strings.Repeat(c, 100_000) }
	tests := map[string]struct {
		data  map[string]any
		field string // changed at the end for the event that must not match
	}{
		"title, no fingerprint":    {map[string]any{"scan_id": "s1", "error": "boom", "title": huge("é\""), "file": huge("f"), "repo_url": "https://github.com/acme/" + huge("r")}, "title"},
		"file, no fingerprint":     {map[string]any{"scan_id": "s1", "error": "boom", "title": "t", "file": huge("\x00")}, "file"},
		"fingerprint and repo_url": {map[string]any{"scan_id": "s1", "issue_id": "1", "severity": "critical", "title": "t", "fingerprint": huge("p"), "repo_url": huge("u")}, "repo_url"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			typ := event.ScanFailed
			if tt.data["fingerprint"] != nil {
				typ = event.IssueCritical
			}
			muted := ev(t, typ, tt.data)
			rule := silences.MuteRule(muted, muted.Fingerprint, event.Scan{})
			require.LessOrEqual(t, len(rule), silences.MaxRuleBytes)
			require.True(t, utf8.ValidString(rule))
			r, err := rules.Compile(rule)
			require.NoError(t, err)
			ok, err := r.Match(muted)
			require.NoError(t, err)
			require.True(t, ok, "the muted event matches its rule")

			other := map[string]any{}
			for k, v := range tt.data {
				other[k] = v
			}
			other[tt.field] = "different-" + tt.field
			ok, err = r.Match(ev(t, typ, other))
			require.NoError(t, err)
			require.False(t, ok, "an event with another %s is not muted", tt.field)
		})
	}
}
