package rules

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// fuzzSafe rules read only top-level fields, whose types event.Parse and the environment
// guarantee, so they must never fail on a valid event, whatever fields it lacks.
var fuzzSafe = []string{
	`event == "issue.critical" && severity_at_least(severity, "high")`,
	`score < 70`,
	`score >= 70 || line > 10 || progress <= 5`,
	`(score ?? 0) < 70`,
	`duration_seconds >= timeout_seconds`,
	`score * 2 + issues_count > 100`,
	`repo == "user/repo" || glob(repo, "user/*")`,
	`"critical" in [severity] || severity in ["high", "low"]`,
	`title matches "SQL" || file startsWith "api/" || error contains "denied"`,
	`lower(severity) == "high" || len(title) > 3`,
	`timestamp < now() && id != "" && delivery == ""`,
	`not (score < 70) && severity != "low"`,
}

// fuzzAny rules reach into data, whose contents may have any type: they may return an error, but
// must not panic.
var fuzzAny = []string{
	`data.labels["k8s.ns"] contains "prod"`,
	`data.labels["k8s.ns"] == nil`,
	`data.score > 80`,
	`any(data.findings, .severity == "high")`,
	`data.flag || data.tags[0] == "x"`,
	`severity_at_least(data.sev, "high") && glob(data.path, "a/*")`,
	`data.a.b.c.d ?? false`,
}

func FuzzMatch(f *testing.F) {
	for _, typ := range samples.Types() {
		body, err := samples.Get(typ)
		require.NoError(f, err)
		f.Add(body)
	}
	safe := compileAll(f, fuzzSafe)
	other := compileAll(f, fuzzAny)

	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := event.Parse(body)
		if err != nil {
			return
		}
		for _, r := range safe {
			got, err := r.Match(ev)
			require.NoError(t, err, "rule %q", r)
			again, _ := r.Match(ev)
			require.Equal(t, got, again, "rule %q is not deterministic", r)
		}
		for _, r := range other {
			got, err := r.Match(ev)
			if err != nil {
				require.False(t, got)
				require.NotContains(t, err.Error(), "panicked", "rule %q", r)
			}
		}
	})
}

func compileAll(t testing.TB, srcs []string) []*Rule {
	t.Helper()
	out := make([]*Rule, len(srcs))
	for i, src := range srcs {
		out[i] = mustCompile(t, src)
	}
	return out
}
