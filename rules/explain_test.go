package rules

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
)

func TestExplainText(t *testing.T) {
	t.Parallel()
	evs := setup(t)
	tests := []struct {
		name, rule, event, want string
		matched                 bool
	}{
		{
			name: "second operand of && decides", rule: `event == "scan.completed" && score < 70`, event: "scan.completed",
			want: `event == "scan.completed" && score < 70
├─ event == "scan.completed" → true
└─ score < 70 → false   ← decided
`,
		},
		{
			name: "first operand of && short-circuits", rule: `event == "scan.completed" && score < 70`, event: "issue.critical",
			want: `event == "scan.completed" && score < 70
├─ event == "scan.completed" → false   ← decided
└─ score < 70 → not evaluated
`,
		},
		{
			name: "|| chain is flattened, the first true operand decides", rule: `score < 50 or severity == "high" or event == "issue.critical" or true`,
			event: "issue.critical", matched: true,
			want: `score < 50 or severity == "high" or event == "issue.critical" or true
├─ score < 50 → false
├─ severity == "high" → false
├─ event == "issue.critical" → true   ← decided
└─ true → not evaluated
`,
		},
		{
			name: "nested combinations and not", rule: `event == "issue.critical" && severity_at_least(severity, "high") || not (score >= 70) && event == "scan.completed"`,
			event: lowScore, matched: true,
			want: `event == "issue.critical" && severity_at_least(severity, "high") || not (score >= 70) && event == "scan.completed"
├─ event == "issue.critical" && severity_at_least(severity, "high") → false
│  ├─ event == "issue.critical" → false   ← decided
│  └─ severity_at_least(severity, "high") → not evaluated
└─ not (score >= 70) && event == "scan.completed" → true   ← decided
   ├─ not (score >= 70) → true
   │  └─ score >= 70 → false
   └─ event == "scan.completed" → true   ← decided
`,
		},
		{
			name: "not of a missing field is true, as in Match", rule: `!(score < 70) && event != "x"`, event: "issue.critical", matched: true,
			want: `!(score < 70) && event != "x"
├─ !(score < 70) → true
│  └─ score < 70 → false
└─ event != "x" → true   ← decided
`,
		},
		{
			name: "a negated operator is a leaf, printed as written", rule: `event not in ["scan.progress"] && title not matches "^XSS"`,
			event: "issue.critical", matched: true,
			want: `event not in ["scan.progress"] && title not matches "^XSS"
├─ event not in ["scan.progress"] → true
└─ title not matches "^XSS" → true   ← decided
`,
		},
		{
			name: "a rule without combinations is one line", rule: `event in ["scan.failed", "scan.timeout"]`, event: "scan.timeout", matched: true,
			want: `event in ["scan.failed", "scan.timeout"] → true
`,
		},
		{
			name: "a let variable cannot be explained operand by operand", rule: `let s = score ?? 100; s < 70 && event == "scan.completed"`,
			event: lowScore, matched: true,
			want: `let s = score ?? 100; s < 70 && event == "scan.completed" → true
`,
		},
		{
			name: "closures are leaves", rule: `any(data.tags ?? [], # == "a" && # != "b") || repo == "user/repo"`,
			event: "scan.completed", matched: true,
			want: `any(data.tags ?? [], # == "a" && # != "b") || repo == "user/repo"
├─ any(data.tags ?? [], # == "a" && # != "b") → false
└─ repo == "user/repo" → true   ← decided
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustCompile(t, tt.rule)
			e := r.Explain(evs[tt.event])
			require.NoError(t, e.Err)
			require.Equal(t, tt.matched, e.Matched)
			require.Equal(t, tt.want, e.Root.textForTest())
			require.Equal(t, tt.rule, e.Rule)
			// Indentation prefixes every line.
			for _, l := range strings.Split(strings.TrimSuffix(e.Text("    "), "\n"), "\n") {
				require.True(t, strings.HasPrefix(l, "    "), l)
			}
		})
	}
}

// textForTest renders the tree without indentation.
func (s *Step) textForTest() string {
	return (&Explanation{Root: s}).Text("")
}

// TestExplainAgreesWithMatch: on every sample and every rule of the fuzz corpora, Explain gives
// Match's result, its tree computes the same value, exactly one operand decides each evaluated
// combination, and the operands after it are not evaluated.
func TestExplainAgreesWithMatch(t *testing.T) {
	t.Parallel()
	evs := setup(t)
	evs["custom"] = parse(t, `{"event":"custom.thing","id":"e1","timestamp":"2024-01-01T12:00:00Z",
		"data":{"s":"text","n":5,"tags":[],"labels":{"k8s.ns":"prod"},"flag":true,"sev":"high","path":"a/b"}}`)
	srcs := append(append([]string{}, fuzzSafe...), fuzzAny...)
	srcs = append(srcs,
		`event == "issue.critical" && severity_at_least(severity, "high")`,
		`not (event == "scan.completed" || event == "scan.failed") and (score ?? 0) < 70`,
		`(data.flag ?? false) && !(data.n > 3) || data.s == "text" && not data.flag`,
		`true && (false || (true && !false))`,
	)
	for _, src := range srcs {
		r := mustCompile(t, src)
		for name, ev := range evs {
			matched, err := r.Match(ev)
			e := r.Explain(ev)
			require.Equal(t, matched, e.Matched, "%s on %s", src, name)
			require.Equal(t, err, e.Err, "%s on %s", src, name)
			if err == nil {
				require.NoError(t, e.Root.Err, "%s on %s", src, name)
				require.Equal(t, matched, e.Root.Value, "%s on %s", src, name)
			} else {
				require.Error(t, e.Root.Err, "%s on %s", src, name)
			}
			checkStep(t, e.Root, src+" on "+name)
		}
	}
}

func checkStep(t *testing.T, s *Step, where string) {
	t.Helper()
	if !s.Evaluated || s.Op == "" {
		return
	}
	require.NotEmpty(t, s.Operands, where)
	decided := -1
	for i, o := range s.Operands {
		if decided >= 0 || (i > 0 && s.Operands[i-1].Err != nil) {
			require.False(t, o.Evaluated, "%s: %s is after the deciding operand", where, o.Expr)
			continue
		}
		require.True(t, o.Evaluated, "%s: %s", where, o.Expr)
		checkStep(t, o, where)
		if o.Decided {
			decided = i
			want := o.Value
			if s.Op == "!" {
				want = !want
			}
			require.Equal(t, want, s.Value, "%s: %s", where, s.Expr)
		}
	}
	if s.Err == nil {
		require.GreaterOrEqual(t, decided, 0, "%s: nothing decided %s", where, s.Expr)
	}
}

func TestExplainRunTimeError(t *testing.T) {
	t.Parallel()
	ev := parse(t, `{"event":"custom.thing","id":"e1","timestamp":"2024-01-01T12:00:00Z","data":{"tags":[]}}`)
	e := mustCompile(t, `event == "custom.thing" && data.tags[0] == "x" || id == "e1"`).Explain(ev)
	require.False(t, e.Matched)
	require.ErrorContains(t, e.Err, "index out of range")
	// Evaluation stops at the error, as in Match; the error's position is in the operand.
	require.Equal(t, `event == "custom.thing" && data.tags[0] == "x" || id == "e1"
├─ event == "custom.thing" && data.tags[0] == "x" → error: rules: index out of range: 0 (array length is 0) (1:10)
│  ├─ event == "custom.thing" → true
│  └─ data.tags[0] == "x" → error: rules: index out of range: 0 (array length is 0) (1:10)
└─ id == "e1" → not evaluated
`, e.Text(""))

	// expr folds `… || true` to true, so Match never evaluates the failing operand; the tree
	// would disagree, and Explain falls back to the whole rule as one leaf.
	e = mustCompile(t, `event == "custom.thing" && data.tags[0] == "x" || true`).Explain(ev)
	require.True(t, e.Matched)
	require.NoError(t, e.Err)
	require.Equal(t, "event == \"custom.thing\" && data.tags[0] == \"x\" || true → true\n", e.Text(""))
}

func TestExplainNilEvent(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, `score < 70 && true`).Explain(nil)
	require.False(t, e.Matched)
	require.Error(t, e.Err)
	require.Equal(t, "score < 70 && true → error: rules: nil event\n", e.Text(""))
}

func TestExplainConcurrent(t *testing.T) {
	t.Parallel()
	evs := setup(t)
	r := mustCompile(t, `event == "scan.completed" && score < 70 || severity_at_least(severity, "high")`)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ev := range []*event.Event{evs["scan.completed"], evs[lowScore], evs["issue.critical"]} {
				e := r.Explain(ev)
				require.Len(t, e.Root.Operands, 2)
			}
		}()
	}
	wg.Wait()
}
