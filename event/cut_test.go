package event_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
)

func TestCut(t *testing.T) {
	t.Parallel()
	parse := func(t *testing.T, data string) *event.Event {
		ev, err := event.Parse(fmt.Appendf(nil, `{"event":"issue.critical","id":"e1","timestamp":"2026-01-02T03:04:05Z","data":{"scan_id":"s","issue_id":"i","severity":"high","title":"t",%s}}`, data))
		require.NoError(t, err)
		return ev
	}
	long := strings.Repeat("é", 3000) // 6 000 bytes
	tests := map[string]struct {
		data      string
		check     func(t *testing.T, c *event.Event)
		unchanged bool
	}{
		"small event kept as it is": {data: `"file":"a.py"`, unchanged: true},
		"long string cut at a rune boundary": {data: fmt.Sprintf(`"file":%q`, long), check: func(t *testing.T, c *event.Event) {
			f := c.String("file")
			require.LessOrEqual(t, len(f), 1000)
			require.True(t, utf8.ValidString(f))
			require.True(t, strings.HasSuffix(f, event.CutMark))
			require.True(t, strings.HasPrefix(long, strings.TrimSuffix(f, event.CutMark)))
		}},
		"nested strings cut too": {data: fmt.Sprintf(`"labels":{"a":[%q]}`, long), check: func(t *testing.T, c *event.Event) {
			s := c.Data["labels"].(map[string]any)["a"].([]any)[0].(string)
			require.LessOrEqual(t, len(s), 1000)
		}},
		"known fields first, the rest until the budget is spent": {data: fmt.Sprintf(`"aaa":%q,"bbb":%q,"ccc":%q,"file":"a.py"`, long, long, long), check: func(t *testing.T, c *event.Event) {
			require.Equal(t, "a.py", c.String("file"), "a known field survives whatever comes before it in key order")
			require.Equal(t, "high", c.String("severity"))
			require.Len(t, c.String("aaa"), 999, "cut to maxString (a rune boundary)")
			require.Less(t, len(c.String("ccc")), 500, "cut to what is left of the budget")
		}},
		"many small values bounded": {data: `"list":[` + strings.TrimSuffix(strings.Repeat(`"xxxxxxxx",`, 5000), ",") + `]`, check: func(t *testing.T, c *event.Event) {
			require.Less(t, len(c.Data["list"].([]any)), 2500/8, "8 bytes a value, within the budget")
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev := parse(t, tt.data)
			raw := string(ev.Raw)
			c := ev.Cut(1000, 2500)
			require.Equal(t, raw, string(ev.Raw), "ev is not changed")
			if tt.unchanged {
				require.Same(t, ev, c)
				return
			}
			require.Equal(t, ev.ID, c.ID)
			require.Equal(t, ev.Type, c.Type)
			require.True(t, ev.Timestamp.Equal(c.Timestamp))
			require.Less(t, len(c.Raw), 4000, "Raw is the cut event's JSON")
			back, err := event.Parse(c.Raw)
			require.NoError(t, err, "and parses as an event")
			require.Equal(t, c.Data["title"], back.Data["title"])
			require.True(t, json.Valid(c.Raw))
			tt.check(t, c)
		})
	}
}
