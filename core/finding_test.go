package core_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/rules"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// TestRouterUsesFindingStatus: ingest reads a finding's status only when a route's or a
// digest's rule reads finding_status.
func TestRouterUsesFindingStatus(t *testing.T) {
	t.Parallel()
	rule := func(src string) core.Matcher {
		r, err := rules.Compile(src)
		require.NoError(t, err)
		return r
	}
	tests := map[string]struct {
		routes, digests []string
		want            bool
	}{
		"no rule reads it":    {routes: []string{`event == "issue.critical"`, `severity == "high"`}, digests: []string{"true"}},
		"a route reads it":    {routes: []string{`true`, `event == "issue.critical" && finding_status != "recurring"`}, want: true},
		"a digest reads it":   {routes: []string{`true`}, digests: []string{`finding_status == "new"`}, want: true},
		"$env may read it":    {routes: []string{`$env["finding_status"] == "new"`}, want: true},
		"a name alike is not": {routes: []string{`data.finding_status == "x"`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := &core.Router{}
			for _, src := range tt.routes {
				r.Routes = append(r.Routes, &core.Route{Name: src, When: rule(src)})
			}
			for _, src := range tt.digests {
				r.Digests = append(r.Digests, &core.DigestSpec{Name: src, When: rule(src)})
			}
			require.Equal(t, tt.want, r.UsesFindingStatus())
		})
	}
}

// TestFingerprint: the default ignores the line (a line shift is the same finding) and uses the
// rule when there is one; configured fields; Cortex's own fingerprint wins; a derived event
// carries its finding's.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	issue := func(data string) *event.Event {
		ev, err := event.Parse([]byte(`{"event":"issue.critical","id":"i","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s","issue_id":"1","severity":"critical",` + data + `}}`))
		require.NoError(t, err)
		return ev
	}
	def := core.FindingsPolicy{}
	base := def.FingerprintOf(issue(`"title":"SQLi","file":"a.js","line":1`))
	require.Len(t, base, 32)
	tests := map[string]struct {
		p    core.FindingsPolicy
		data string
		same bool
	}{
		"another line":                    {p: def, data: `"title":"SQLi","file":"a.js","line":9`, same: true},
		"another file":                    {p: def, data: `"title":"SQLi","file":"b.js","line":1`},
		"another title":                   {p: def, data: `"title":"XSS","file":"a.js","line":1`},
		"a rule id replaces the title":    {p: def, data: `"title":"SQLi","file":"a.js","line":1,"rule_id":"sqli"`},
		"configured fields with the line": {p: core.FindingsPolicy{Fingerprint: []string{"title", "file", "line"}}, data: `"title":"SQLi","file":"a.js","line":1`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.same, tt.p.FingerprintOf(issue(tt.data)) == base)
		})
	}
	withRule := func(title string) string {
		return def.FingerprintOf(issue(`"title":"` + title + `","file":"a.js","rule_id":"sqli"`))
	}
	require.Equal(t, withRule("SQL injection"), withRule("SQL Injection (reworded)"), "the rule identifies it, not the wording")
	lines := core.FindingsPolicy{Fingerprint: []string{"title", "file", "line"}}
	require.NotEqual(t, lines.FingerprintOf(issue(`"title":"SQLi","file":"a.js","line":1`)), lines.FingerprintOf(issue(`"title":"SQLi","file":"a.js","line":2`)))
	require.Equal(t, "cortex-fp-1", def.FingerprintOf(issue(`"title":"SQLi","file":"a.js","fingerprint":"cortex-fp-1"`)), "Cortex's fingerprint wins")
	long := strings.Repeat("x", core.MaxFingerprintBytes+1)
	require.Len(t, def.FingerprintOf(issue(`"title":"SQLi","fingerprint":"`+long+`"`)), 32, "a long one is hashed")
	// Fields are length-prefixed: ("ab", "c") and ("a", "bc") differ.
	require.NotEqual(t, def.FingerprintOf(issue(`"title":"ab","file":"c"`)), def.FingerprintOf(issue(`"title":"a","file":"bc"`)))

	body, err := samples.Get(core.EventFindingFixed)
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	require.Equal(t, "9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", def.FingerprintOf(ev))
	other, err := event.Parse([]byte(`{"event":"scan.completed","id":"c","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s"}}`))
	require.NoError(t, err)
	require.Empty(t, def.FingerprintOf(other))
	require.Nil(t, def.FindingOf(other))
}
