package rules

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// hostileRules are seeds for FuzzCompileMatch that once cost seconds or could: quadratic
// predicates, huge ranges, deep nesting.
var hostileRules = []string{
	`all(data.a, # in data.a)`,
	`none(data.a, any(data.a, # == "none"))`,
	`len(1..1000000000) > 0`,
	`len(map(1..2000000, # * 2)) > 0`,
	`count(data.a, indexOf(join(data.a, ","), #) < 0) > 0`,
	`any(data.a, len(sort(data.a)) == 0)`,
	`reduce(data.a, #acc + len(string(data.a)), 0) > 0`,
	strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200),
	strings.Repeat("score > 1 || ", 300) + "true",
}

// FuzzCompileMatch compiles any rule source and, when it compiles, evaluates it on any event:
// neither may panic, an evaluation error must start with "rules: ", and no rule may run past
// its budgets (the fuzzer's own per-input timeout would report it as a hang).
func FuzzCompileMatch(f *testing.F) {
	bodies := make([][]byte, 0, 8)
	for _, typ := range samples.Types() {
		body, err := samples.Get(typ)
		require.NoError(f, err)
		bodies = append(bodies, body)
	}
	bodies = append(bodies, []byte(`{"event":"scan.failed","id":"e","timestamp":"2026-01-02T03:04:05Z","data":{"scan_id":"s","repo_url":"https://github.com/o/r","error":"x","a":["v1","v2","v3","v1"],"s":"xxxx"}}`))
	for _, src := range append(append(append([]string{}, fuzzSafe...), fuzzAny...), hostileRules...) {
		for _, body := range bodies {
			f.Add(src, body)
		}
	}
	f.Fuzz(func(t *testing.T, src string, body []byte) {
		r, err := Compile(src)
		if err != nil {
			require.Nil(t, r)
			require.True(t, strings.HasPrefix(err.Error(), "rules: "), "error %q", err)
			return
		}
		k, kerr := CompileKey(src)
		ev, err := event.Parse(body)
		if err != nil {
			return
		}
		matched, err := r.Match(ev)
		if err != nil {
			require.False(t, matched)
			require.True(t, strings.HasPrefix(err.Error(), "rules: "), "error %q", err)
			require.NotContains(t, err.Error(), "panicked", "rule %q", src)
		}
		if kerr == nil {
			_, err := k.Value(ev)
			if err != nil && !errors.Is(err, ErrTimeout) {
				require.NotContains(t, err.Error(), "panicked", "key %q", src)
			}
		}
	})
}
