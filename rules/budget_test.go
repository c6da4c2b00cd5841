package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
)

// bigEvent is a valid issue.critical event whose data.a holds n distinct strings and data.s a
// string of n characters: the shape of the hostile events that made rules run for seconds.
func bigEvent(t testing.TB, n int) *event.Event {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"event":"issue.critical","id":"evt_big","timestamp":"2026-01-02T03:04:05Z","data":{"scan_id":"s","repo_url":"https://github.com/o/r","severity":"high","title":"t","file":"f","line":1,"rule_id":"r","issue_id":"i","a":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"v%d"`, i)
	}
	fmt.Fprintf(&b, `],"s":%q}}`, strings.Repeat("x", n))
	return parse(t, b.String())
}

// TestRuleBudgets runs rules whose cost grows faster than the event over a 9 900-element array
// (near the most values an event may hold, event.MaxValues): each must fail with a budget error (a rule error: not matched) instead of running for seconds,
// while linear rules over the same array still evaluate.
func TestRuleBudgets(t *testing.T) {
	t.Parallel()
	ev := bigEvent(t, 9_900)
	tests := map[string]struct {
		rule string
		want error  // errors.Is target, or nil
		msg  string // error text, when want is nil; both nil and "": either budget
	}{
		// Every element is looked for and not found: 9 900 full scans of 9 900 strings, several
		// times EvalTimeout on this machine (all(data.a, # in data.a) stops at each match, half a
		// scan on average, and finished just under the timeout on a quiet machine).
		"in inside a predicate": {rule: `none(data.a, # + "x" in data.a)`, want: ErrTimeout},
		"nested predicates":     {rule: `none(data.a, any(data.a, # == "none"))`, want: ErrTimeout},
		"huge range":            {rule: `len(1..1000000000) > 0`, msg: "memory budget exceeded"},
		"map of a range":        {rule: `len(map(1..2000000, # * 2)) > 0`, msg: "memory budget exceeded"},
		// Each step sorts 9 900 elements: the memory budget trips after about 100 steps, which
		// take about EvalTimeout under the race detector, so which budget stops it first
		// depends on the machine's speed. Either is right.
		"sort in a predicate": {rule: `any(data.a, len(sort(data.a)) == 0)`},
		"group key style":     {rule: `count(data.a, indexOf(join(data.a, ","), #) < 0) > 0`, want: ErrTimeout},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := mustCompile(t, tc.rule)
			start := time.Now()
			matched, err := r.Match(ev)
			require.Less(t, time.Since(start), 10*time.Second, "the budget did not stop the rule")
			require.False(t, matched)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "rules: "), err.Error())
			switch {
			case tc.want != nil:
				require.ErrorIs(t, err, tc.want)
			case tc.msg != "":
				require.ErrorContains(t, err, tc.msg)
			default:
				require.True(t, errors.Is(err, ErrTimeout) || strings.Contains(err.Error(), "memory budget exceeded"),
					"want a budget error, got %v", err)
			}
		})
	}
}

// TestRuleBudgetsAllowLinearRules: one pass of a predicate over a large array stays within the
// budgets. 2 000 elements, not 10 000: under the race detector on a busy 2-core machine a pass
// over 10 000 came near EvalTimeout.
func TestRuleBudgetsAllowLinearRules(t *testing.T) {
	t.Parallel()
	ev := bigEvent(t, 2_000)
	for _, rule := range []string{
		`any(data.a, # == "v1999")`,
		`count(data.a, # startsWith "v") == 2000`,
		`len(filter(data.a, # endsWith "9")) == 200`,
		`"v1000" in data.a && len(data.s) == 2000`,
	} {
		t.Run(rule, func(t *testing.T) {
			t.Parallel()
			requireMatch(t, rule, ev, true)
		})
	}
}

// TestMaxNodes: a rule larger than MaxNodes is refused when it compiles, with an error naming the
// limit; one just below it compiles.
func TestMaxNodes(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		terms int
		ok    bool
	}{
		"small":     {terms: 10, ok: true},
		"below":     {terms: 200, ok: true},
		"above":     {terms: 300, ok: false},
		"far above": {terms: 5000, ok: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			terms := make([]string, tc.terms)
			for i := range terms {
				terms[i] = fmt.Sprintf("score > %d", i) // about 4 nodes with the || that joins it
			}
			_, err := Compile(strings.Join(terms, " || "))
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, fmt.Sprintf("more than %d nodes", MaxNodes))
			require.False(t, errors.Is(err, ErrTimeout))
		})
	}
}
