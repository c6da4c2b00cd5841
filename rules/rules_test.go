package rules

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// lowScore names the scan.completed event with score 55 that the sample table adds to the six
// samples, so `score < 70` has something to match.
const lowScore = "scan.completed (score 55)"

// setup returns the six sample events keyed by event type, plus lowScore.
func setup(t testing.TB) map[string]*event.Event {
	t.Helper()
	types := samples.Types()
	require.Len(t, types, 6)
	events := make(map[string]*event.Event, len(types)+1)
	for _, typ := range types {
		body, err := samples.Get(typ)
		require.NoError(t, err)
		ev := parse(t, string(body))
		require.Equal(t, typ, ev.Type)
		events[ev.Type] = ev
	}
	body, err := samples.Get("scan.completed")
	require.NoError(t, err)
	low := strings.Replace(string(body), `"score": 85`, `"score": 55`, 1)
	require.NotEqual(t, string(body), low)
	events[lowScore] = parse(t, low)
	return events
}

func parse(t testing.TB, body string) *event.Event {
	t.Helper()
	ev, err := event.Parse([]byte(body))
	require.NoError(t, err)
	return ev
}

func mustCompile(t testing.TB, src string) *Rule {
	t.Helper()
	r, err := Compile(src)
	require.NoError(t, err, "compile %q", src)
	return r
}

// requireMatch asserts that rule src gives want on ev, without error.
func requireMatch(t *testing.T, src string, ev *event.Event, want bool) {
	t.Helper()
	got, err := mustCompile(t, src).Match(ev)
	require.NoError(t, err, "rule %q on %s", src, ev.Type)
	require.Equal(t, want, got, "rule %q on %s", src, ev.Type)
}

func TestCase_C11_NilInStringOperators(t *testing.T) {
	t.Parallel()
	events := setup(t)
	withLabels := parse(t, `{"event":"scan.completed","id":"e1","timestamp":"2024-01-01T12:00:00Z",
		"data":{"scan_id":"s1","labels":{"k8s.ns":"prod-eu","team":"sec"}}}`)
	otherLabels := parse(t, `{"event":"scan.completed","id":"e2","timestamp":"2024-01-01T12:00:00Z",
		"data":{"scan_id":"s1","labels":{"team":"sec"}}}`)

	tests := []struct {
		name string
		rule string
		ev   *event.Event
		want bool
	}{
		{"labels missing", `data.labels["k8s.ns"] contains "prod"`, events["issue.critical"], false},
		{"labels missing, negated", `not (data.labels["k8s.ns"] contains "prod")`, events["issue.critical"], true},
		{"key missing", `data.labels["k8s.ns"] contains "prod"`, otherLabels, false},
		{"key present", `data.labels["k8s.ns"] contains "prod"`, withLabels, true},
		{"dot access, labels missing", `data.labels.team contains "sec"`, events["scan.started"], false},
		{"dot access, present", `data.labels.team contains "sec"`, withLabels, true},
		{"contains on missing field", `title contains "SQL"`, events["scan.completed"], false},
		{"startsWith on missing field", `file startsWith "api/"`, events["scan.completed"], false},
		{"endsWith on missing field", `file endsWith ".js"`, events["scan.failed"], false},
		{"matches on missing field", `branch matches "^rel"`, events["issue.critical"], false},
		{"matches with missing pattern", `title matches data.pattern`, events["issue.critical"], false},
		{"in, missing needle", `severity in ["high", "critical"]`, events["scan.completed"], false},
		{"not in, missing needle", `severity not in ["high", "critical"]`, events["scan.completed"], true},
		{"in, missing needle and empty string", `severity in ["", "critical"]`, events["scan.completed"], false},
		{"in, missing collection", `"x" in data.tags`, events["scan.completed"], false},
		{"in, literal collection with missing element", `"critical" in [severity]`, events["scan.completed"], false},
		{"string builtin on missing field", `lower(severity) == "critical"`, events["scan.completed"], false},
		{"string builtin on missing field, !=", `upper(severity) != "CRITICAL"`, events["scan.completed"], true},
		{"string builtin on present field", `upper(severity) startsWith "CRIT"`, events["issue.critical"], true},
		{"contains on present field", `title contains "Injection"`, events["issue.critical"], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireMatch(t, tt.rule, tt.ev, tt.want)
		})
	}
}

func TestCase_C12_NilInComparisons(t *testing.T) {
	t.Parallel()
	events := setup(t)

	t.Run("missing field compares false", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			rule    string
			ev      string
			want    bool
			comment string
		}{
			{`score >= 70`, "issue.critical", false, "C12"},
			{`score < 70`, "issue.critical", false, ""},
			{`score > 0`, "issue.critical", false, ""},
			{`score <= 100`, "issue.critical", false, ""},
			{`70 <= score`, "issue.critical", false, "nil on the right"},
			{`line > 10`, "scan.completed", false, ""},
			{`progress >= 50`, "scan.completed", false, ""},
			{`duration_seconds >= timeout_seconds`, "scan.completed", false, "nil on one side only"},
			{`duration_seconds >= timeout_seconds`, "issue.critical", false, "nil on both sides"},
			{`score * 2 > 100`, "issue.critical", false, "nil inside arithmetic"},
			{`-score < 0`, "issue.critical", false, "nil under unary minus"},
			{`len(title) > 3`, "scan.completed", false, "nil inside a builtin"},
			{`data.score > 80`, "issue.critical", false, "missing data key"},
			{`data.nested.deep.value > 1`, "issue.critical", false, "missing chain"},
			{`not (score < 70)`, "issue.critical", true, "negation of a false comparison"},
			{`score == nil`, "issue.critical", true, "== nil keeps expr semantics"},
			{`score != 85`, "issue.critical", true, "!= with nil keeps expr semantics"},
			{`severity == "critical"`, "scan.completed", false, ""},
			{`severity != "critical"`, "scan.completed", true, ""},
			{`score + 1 != 86`, "issue.critical", true, "nil inside arithmetic under !="},
			{`(score ?? 0) < 70`, "issue.critical", true, "a default still sees nil"},
			{`(severity ?? "none") == "none"`, "scan.completed", true, ""},
			{`data.flag`, "issue.critical", false, "a missing bool is false"},
			{`not data.flag`, "issue.critical", true, ""},
			{`data.flag || event == "issue.critical"`, "issue.critical", true, ""},
			{`data.flag ? true : score < 70`, "scan.completed", false, ""},
			{`all(data.findings, .ok)`, "issue.critical", true, "a missing list is empty"},
			{`any(data.findings, .severity == "high")`, "issue.critical", false, ""},
			{`count(data.findings, .ok) == 0`, "issue.critical", true, ""},
			{`score >= 70`, "scan.completed", true, "present field still compares"},
			{`score < 70`, lowScore, true, ""},
			{`line >= 42 && line < 43`, "issue.critical", true, ""},
			{`issues_count > 10`, "scan.completed", true, "int64 field against an int literal"},
		}
		for _, tt := range tests {
			t.Run(tt.rule+" on "+tt.ev, func(t *testing.T) {
				t.Parallel()
				requireMatch(t, tt.rule, events[tt.ev], tt.want)
			})
		}
	})

	t.Run("type mismatch rejected at compile", func(t *testing.T) {
		t.Parallel()
		_, err := Compile(`score >= "7"`)
		require.Error(t, err)
		require.Contains(t, err.Error(), "mismatched types float64 and string")
		require.Contains(t, err.Error(), "(1:7)", "expr's position")
		var fe *file.Error
		require.ErrorAs(t, err, &fe)
		require.Equal(t, 1, fe.Line)
		require.Equal(t, 6, fe.Column)
	})
}

func TestSamples(t *testing.T) {
	t.Parallel()
	events := setup(t)
	all := []string{"issue.critical", "scan.completed", "scan.failed", "scan.progress", "scan.started", "scan.timeout", lowScore}
	except := func(skip ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return slices.Contains(skip, s) })
	}

	tests := []struct {
		rule string
		want []string // the events the rule matches; it must not match the others
	}{
		{`event == "issue.critical"`, []string{"issue.critical"}},
		{`severity == "critical"`, []string{"issue.critical"}},
		{`score < 70`, []string{lowScore}},
		{`(score ?? 0) < 70`, except("scan.completed")},
		{`repo == "user/repo"`, []string{"scan.completed", "scan.progress", "scan.started", lowScore}},
		{`glob(repo, "user/*")`, except("issue.critical")},
		{`glob(repo, "*")`, nil},
		{`severity_at_least(severity, "high")`, []string{"issue.critical"}},
		{`severity_at_least(severity, "critical")`, []string{"issue.critical"}},
		{`data.labels["x"] contains "y"`, nil},
		{`"critical" in [severity]`, []string{"issue.critical"}},
		{`title matches "SQL"`, []string{"issue.critical"}},
		{`file startsWith "api/"`, []string{"issue.critical"}},
		{`timestamp < now()`, all},
		{`data.score > 80`, []string{"scan.completed"}},
		{`line >= 40`, []string{"issue.critical"}},
		{`true`, all},
		{`event == "scan.completed" && score < 70`, []string{lowScore}},
		{`event in ["scan.completed", "scan.failed", "scan.timeout", "issue.critical"]`, except("scan.progress", "scan.started")},
		{`score >= 70`, []string{"scan.completed"}},
		{`severity != "critical"`, except("issue.critical")},
		{`progress > 50`, []string{"scan.progress"}},
		{`duration_seconds >= timeout_seconds`, []string{"scan.timeout"}},
		{`issues_count > 10`, []string{"scan.completed", lowScore}},
		{`repo_url endsWith "/monorepo"`, []string{"scan.timeout"}},
		{`error contains "denied"`, []string{"scan.failed"}},
		{`branch == "main" && commit startsWith "9f2"`, []string{"scan.started"}},
		{`scan_id == "scan_abc123" && id startsWith "evt_1"`, []string{"issue.critical", "scan.completed", lowScore}},
		{`delivery == ""`, all},
		{`timestamp.Hour() == 12`, []string{"issue.critical", "scan.completed", lowScore}},
		{`timestamp >= date("2024-01-01T13:00:00Z")`, []string{"scan.failed", "scan.timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			r := mustCompile(t, tt.rule)
			for _, name := range all {
				got, err := r.Match(events[name])
				require.NoError(t, err, "on %s", name)
				require.Equal(t, slices.Contains(tt.want, name), got, "on %s", name)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule string
		want []string // substrings of the error
	}{
		{"empty", ` `, []string{"empty rule"}},
		{"syntax error", `event == "a" &&`, []string{"unexpected token EOF", "(1:15)"}},
		{"unclosed string", `event == "a`, []string{"literal not terminated", "(1:12)"}},
		{"unknown identifier", `scroe < 70`, []string{"unknown name scroe", "(1:1)"}},
		{"unknown function", `sevirity_at_least(severity, "high")`, []string{"unknown name sevirity_at_least"}},
		{"number against string", `score >= "7"`, []string{"mismatched types float64 and string", "(1:7)"}},
		{"int field against string", `line < "10"`, []string{"mismatched types int64 and string"}},
		{"string against number", `severity > 3`, []string{"mismatched types string and int"}},
		{"non-bool", `score`, []string{"expected bool, but got float64", `"score"`}},
		{"non-bool string", `severity ?? "x"`, []string{"expected bool"}},
		{"wrong arity", `severity_at_least("x")`, []string{"not enough arguments to call severity_at_least", "(1:1)"}},
		{"too many arguments", `glob(repo, "a", "b")`, []string{"too many arguments to call glob"}},
		{"helper argument type", `severity_at_least(score, "high")`, []string{"cannot use float64 as argument (type string) to call severity_at_least", "(1:19)"}},
		{"unknown literal severity", `severity_at_least(severity, "hgih")`, []string{`unknown severity "hgih"`, "info, low, medium, high, critical", "(1:29)"}},
		{"malformed literal glob", `glob(repo, "user/[")`, []string{`malformed pattern "user/["`, "(1:12)"}},
		{"bad regexp literal", `title matches "("`, []string{"missing closing )"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Compile(tt.rule)
			require.Error(t, err)
			require.Nil(t, r)
			require.True(t, strings.HasPrefix(err.Error(), "rules: "), err.Error())
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestStrictCheckNotWeakened guards against the nil-safe rewriting hiding type errors: every rule
// here is ill-typed only in an operand the rewriting touches (a guarded comparison, an operand of
// &&, a builtin inside a comparison, a chained data access), so it compiles only if the rewritten
// program were what got type-checked.
func TestStrictCheckNotWeakened(t *testing.T) {
	t.Parallel()
	for _, rule := range []string{
		`score >= "7"`,
		`"7" < score`,
		`score * "2" > 100`,
		`lower(score) == "x"`,
		`len(line) > 1`,
		`title contains 5`,
		`file startsWith line`,
		`score in "abc"`,
		`score && true`,
		`not severity`,
		`severity ? true : false`,
		`timestamp > 5`,
		`data.labels["x"] contains 5`,
		`glob(line, "x")`,
		`severity_at_least(severity, 3)`,
		`all(score, # > 1)`,
	} {
		t.Run(rule, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(rule)
			require.Error(t, err)
		})
	}
}

// TestUnpatchedExprFails shows that the rewriting is what makes missing fields safe: plain expr,
// with the same environment, errors on them at run time. If a future expr makes this test fail,
// the corresponding rewrite can go.
func TestUnpatchedExprFails(t *testing.T) {
	t.Parallel()
	env := map[string]any{"event": "issue.critical", "data": map[string]any{}}
	for _, rule := range []string{
		`score < 70`,
		`data.labels["k8s.ns"] contains "prod"`,
		`lower(severity) == "high"`,
		`not data.flag`,
		`any(data.findings, .ok)`,
	} {
		t.Run(rule, func(t *testing.T) {
			t.Parallel()
			p, err := expr.Compile(rule, append([]expr.Option{expr.Env(runEnv)}, helpers...)...)
			require.NoError(t, err)
			_, err = expr.Run(p, env)
			require.Error(t, err)

			got, err := mustCompile(t, rule).Match(&event.Event{Type: "issue.critical", Data: map[string]any{}})
			require.NoError(t, err)
			require.Equal(t, rule == `not data.flag`, got)
		})
	}
}

func TestRunTimeErrors(t *testing.T) {
	t.Parallel()
	// Only data's contents are untyped, so only they can fail at run time.
	ev := parse(t, `{"event":"custom.thing","id":"e1","timestamp":"2024-01-01T12:00:00Z",
		"data":{"s":"text","n":5,"tags":[],"labels":"not-a-map","sev":3}}`)
	tests := []struct {
		rule string
		want string
	}{
		{`data.s > 1`, "invalid operation: string > int"},
		{`data.tags[0] == "x"`, "index out of range"},
		{`data.n contains "x"`, "interface conversion"},
		{`severity_at_least(data.sev, "high")`, "severity_at_least: argument 1 is int64, want a string"},
		{`data.s ?? false`, `returned string, want bool`},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			got, err := mustCompile(t, tt.rule).Match(ev)
			require.Error(t, err)
			require.False(t, got)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	handBuilt := &event.Event{Type: "scan.completed", ID: "e1", Timestamp: ts, Delivery: "d-1",
		Data: map[string]any{"score": 60, "issues_count": 3.0, "line": 2.5, "repo_url": "git@github.com:acme/api.git"}}
	// An event type core does not validate may carry known names with other types: they are
	// absent at top level (the checked types hold) and kept in data.
	custom := parse(t, `{"event":"custom.thing","id":"e2","timestamp":"2024-01-01T12:00:00Z",
		"data":{"score":"85","severity":5,"line":7,"progress":50}}`)
	empty := &event.Event{}
	// fingerprint: what ingest set (ev.Fingerprint), else a derived finding event's own; nil for
	// another event's data.fingerprint (Cortex's, before the findings policy ran on it).
	atIngest := parse(t, `{"event":"issue.critical","id":"e3","timestamp":"2024-01-01T12:00:00Z",
		"data":{"scan_id":"s","issue_id":"1","severity":"critical","title":"SQLi","fingerprint":"raw"}}`)
	atIngest.Fingerprint = "fp-1"
	loaded := parse(t, `{"event":"issue.critical","id":"e4","timestamp":"2024-01-01T12:00:00Z",
		"data":{"scan_id":"s","issue_id":"1","severity":"critical","title":"SQLi","fingerprint":"raw"}}`)
	derived := parse(t, `{"event":"finding.regressed","id":"e5","timestamp":"2024-01-01T12:00:00Z","data":{"fingerprint":"fp-2"}}`)
	derivedOdd := parse(t, `{"event":"finding.new","id":"e6","timestamp":"2024-01-01T12:00:00Z","data":{"fingerprint":7}}`)

	tests := []struct {
		rule string
		ev   *event.Event
		want bool
	}{
		{`score == 60.0 && score < 61`, handBuilt, true},
		{`issues_count == 3`, handBuilt, true},
		{`line == nil && data.line == 2.5`, handBuilt, true},
		{`repo == "acme/api"`, handBuilt, true},
		{`delivery == "d-1" && id == "e1"`, handBuilt, true},
		{`timestamp == date("2024-01-01T12:00:00Z")`, handBuilt, true},
		{`score == nil && data.score == "85"`, custom, true},
		{`severity == nil && data.severity == 5`, custom, true},
		{`line == 7 && progress == 50.0`, custom, true},
		{`repo == nil && repo_url == nil`, custom, true},
		{`event == "" && data.x == nil && score < 1`, empty, false},
		{`event == "" && len(data) == 0`, empty, true},
		{`$env.score < 70 && $env.event == "scan.completed"`, handBuilt, true},
		{`"score" in $env`, custom, false},
		{`fingerprint == "fp-1"`, atIngest, true},
		{`fingerprint == nil && data.fingerprint == "raw"`, loaded, true},
		{`fingerprint == "fp-2"`, derived, true},
		{`fingerprint == nil`, derivedOdd, true},
		{`fingerprint == nil`, handBuilt, true},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			requireMatch(t, tt.rule, tt.ev, tt.want)
		})
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	t.Run("severity_at_least", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			severity any
			at       string
			want     bool
		}{
			{"critical", "high", true},
			{"high", "high", true},
			{"medium", "high", false},
			{"info", "info", true},
			{"low", "medium", false},
			{"HIGH", "high", true},
			{"Critical", "CRITICAL", true},
			{"severe", "info", true}, // unknown counts as critical: a typo never hides a finding
			{"", "info", false},
			{nil, "info", false},
		}
		for _, tt := range tests {
			got, err := severityAtLeast(tt.severity, tt.at)
			require.NoError(t, err)
			require.Equal(t, tt.want, got, "severity_at_least(%v, %q)", tt.severity, tt.at)
		}
		// A threshold only known at run time may be unknown: false, not an error.
		got, err := severityAtLeast("critical", "severe")
		require.NoError(t, err)
		require.Equal(t, false, got)
	})
	t.Run("glob", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			s, pattern any
			want       bool
		}{
			{"user/repo", "user/*", true},
			{"user/repo", "*", false},
			{"group/sub/repo", "group/*/repo", true},
			{"group/sub/repo", "group/*", false},
			{"user/repo", "user/re?o", true},
			{"user/repo", "user/[a-r]epo", true},
			{"user/repo", "user/[", false},
			{nil, "*", false},
			{"x", nil, false},
		}
		for _, tt := range tests {
			got, err := glob(tt.s, tt.pattern)
			require.NoError(t, err)
			require.Equal(t, tt.want, got, "glob(%v, %v)", tt.s, tt.pattern)
		}
		_, err := glob(1, "*")
		require.ErrorContains(t, err, "glob: argument 1 is int, want a string")
	})
	t.Run("pattern from data", func(t *testing.T) {
		t.Parallel()
		ev := &event.Event{Type: "x", Data: map[string]any{"repo_url": "https://github.com/a/b", "p": "a/[", "sev": "HIGH"}}
		requireMatch(t, `glob(repo, data.p)`, ev, false)
		requireMatch(t, `severity_at_least(data.sev, "medium")`, ev, true)
		requireMatch(t, `severity_at_least("high", data.missing)`, ev, false)
	})
}

func TestMatchNilEvent(t *testing.T) {
	t.Parallel()
	got, err := mustCompile(t, `true`).Match(nil)
	require.EqualError(t, err, "rules: nil event")
	require.False(t, got)
}

func TestString(t *testing.T) {
	t.Parallel()
	src := `event == "issue.critical"  &&  severity_at_least(severity, "high")`
	require.Equal(t, src, mustCompile(t, src).String())
}

// TestUsedVars checks that Match builds only the variables a rule names (the cheap path), and all
// of them for $env.
func TestUsedVars(t *testing.T) {
	t.Parallel()
	names := func(r *Rule) []string {
		var out []string
		for _, v := range r.vars {
			out = append(out, v.name)
		}
		return out
	}
	require.Equal(t, []string{"event", "severity"},
		names(mustCompile(t, `event == "issue.critical" && severity_at_least(severity, "high")`)))
	require.Equal(t, []string{"data", "repo"}, names(mustCompile(t, `glob(repo, "a/*") || data.x == 1`)))
	require.Empty(t, names(mustCompile(t, `true`)))
	require.Len(t, mustCompile(t, `$env.score == 1`).vars, len(envVars))
}

func TestMatchConcurrent(t *testing.T) {
	t.Parallel()
	events := setup(t)
	r := mustCompile(t, `(event == "issue.critical" && severity_at_least(severity, "high")) || score < 70`)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				for name, ev := range events {
					got, err := r.Match(ev)
					if err != nil || got != (name == "issue.critical" || name == lowScore) {
						errs <- errors.Join(err, errors.New("wrong result on "+name))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	require.NoError(t, <-errs)
}

// TestUnknownSeverityErrsTowardsNotifying: a misspelt severity must not hide a finding.
func TestUnknownSeverityErrsTowardsNotifying(t *testing.T) {
	t.Parallel()
	r, err := Compile(`severity_at_least(severity, "high")`)
	require.NoError(t, err)
	for sev, want := range map[string]bool{"critical": true, "Critical": true, " critical ": true, "HIGH ": true,
		"crit": true, "urgent": true, "medium": false, "low": false, "info": false} {
		ev := parse(t, `{"event":"issue.critical","id":"e","timestamp":"2024-01-01T12:00:00Z",
			"data":{"scan_id":"s","issue_id":"i","severity":"`+sev+`","title":"t"}}`)
		got, err := r.Match(ev)
		require.NoError(t, err)
		require.Equal(t, want, got, "severity %q", sev)
	}
}

func TestKeyValue(t *testing.T) {
	t.Parallel()
	ev := parse(t, `{"event":"scan.completed","id":"e1","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s-9","repo_url":"https://github.com/acme/api","line":42,"score":71.5,"labels":{"team":"core"}}}`)
	for _, tc := range []struct{ src, want string }{
		{`scan_id`, "s-9"},
		{`repo`, "acme/api"},
		{`line`, "42"},
		{`score`, "71.5"},
		{`data.labels.team`, "core"},
		{`severity`, ""}, // missing: one key for every event without it
		{`repo + "/" + event`, "acme/api/scan.completed"},
	} {
		k, err := CompileKey(tc.src)
		require.NoError(t, err, tc.src)
		got, err := k.Value(ev)
		require.NoError(t, err, tc.src)
		require.Equal(t, tc.want, got, tc.src)
	}
	for _, bad := range []string{``, `scan_idd`, `score +`} {
		_, err := CompileKey(bad)
		require.Error(t, err, bad)
	}
}
