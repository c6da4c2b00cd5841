package webhook

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/templates"
)

func TestTruncateBytes(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		s    string
		n    int
		want string
	}{
		"fits":                 {"abc", 3, "abc"},
		"ascii":                {"abcdef", 5, "ab…"},
		"2-byte never split":   {"éééé", 6, "é…"},
		"3-byte never split":   {"中中中", 8, "中…"},
		"4-byte never split":   {"😀😀", 6, "…"},
		"4-byte fits one":      {"😀😀", 7, "😀…"},
		"no room for ellipsis": {"abcdef", 2, ""},
		"exactly the ellipsis": {"abcdef", 3, "…"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := truncateBytes(tc.s, tc.n)
			require.Equal(t, tc.want, got)
			require.LessOrEqual(t, len(got), tc.n)
			require.True(t, utf8.ValidString(got))
		})
	}
}

// TestShrinkSharesTheBudget: the longest strings are cut to one length, short ones stay whole,
// and what cannot fit is left as it was.
func TestShrinkSharesTheBudget(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		doc   map[string]any
		limit int
		ok    bool
		want  map[string]int // runes of each key after
	}{
		"within":        {map[string]any{"a": "xx", "b": "yyy"}, 5, true, map[string]int{"a": 2, "b": 3}},
		"longest first": {map[string]any{"a": "xx", "b": strings.Repeat("y", 100), "c": strings.Repeat("z", 50)}, 42, true, map[string]int{"a": 2, "b": 20, "c": 20}},
		"nested lists":  {map[string]any{"l": []any{strings.Repeat("é", 30), map[string]any{"m": strings.Repeat("😀", 30)}}}, 20, true, map[string]int{}},
		"cannot fit":    {map[string]any{"a": "xx", "b": "yy", "c": "zz"}, 2, false, map[string]int{"a": 2, "b": 2, "c": 2}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ss := slots(tc.doc, "", everything)
			_, after, ok := shrink(ss, runeMeasure(ss, 0), tc.limit)
			require.Equal(t, tc.ok, ok)
			if ok {
				require.LessOrEqual(t, after, tc.limit)
			}
			for k, n := range tc.want {
				require.Equal(t, n, utf8.RuneCountInString(tc.doc[k].(string)), k)
			}
			b, err := marshal(tc.doc)
			require.NoError(t, err)
			require.True(t, utf8.Valid(b))
		})
	}
}

// TestSizeAtMatchesTheEncoder: the sizes shrink searches with are the sizes the body is sent
// with, for every kind of character JSON escapes.
func TestSizeAtMatchesTheEncoder(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"ascii":           "hello world",
		"quotes":          `say "hi" \ back\slash`,
		"controls":        "a\nb\tc\rd\be\ff\x00g\x1fh",
		"html kept":       "<script>&amp;</script>",
		"line separators": "a\u2028b\u2029c",
		"multibyte":       "éé中中😀😀",
		"mixed":           "é\"中\n😀<\u2028>",
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for c := 1; c <= utf8.RuneCountInString(s)+1; c++ {
				cut := templates.Truncate(c, s)
				b, err := marshal(cut)
				require.NoError(t, err)
				require.Equal(t, len(b), sizeAt(s, c, true), "JSON of %q", cut)
				require.Equal(t, len(cut), sizeAt(s, c, false), "UTF-8 of %q", cut)
			}
		})
	}
}
