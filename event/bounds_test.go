package event_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
)

// The tests in this file pin the parser's bounds one value either side: the problems an
// InvalidError lists and counts, the nesting limit on empty containers, the cut of long paths,
// the ranges of known fields and the check of the context. Each fails on a mutant of event.go
// that once lived (docs/security.md, "Mutation testing").

func envelope(typ, data string) string {
	return `{"event":"` + typ + `","id":"e","timestamp":"2024-01-01T12:00:00Z","data":` + data + `}`
}

func invalid(t *testing.T, body string) *event.InvalidError {
	t.Helper()
	_, err := event.Parse([]byte(body))
	var ie *event.InvalidError
	require.True(t, errors.As(err, &ie), "want *InvalidError, got %v", err)
	return ie
}

// TestParseCountsEveryProblem: the error lists the first 20 problems, envelope ones first, and
// counts the rest, those of the envelope, of numbers out of range and of known fields alike;
// with 20 or fewer it says nothing of more.
func TestParseCountsEveryProblem(t *testing.T) {
	t.Parallel()
	outOfRange := func(n int) string { return `{"l":[` + strings.Repeat(`1e999,`, n-1) + `1e999]}` }
	tests := map[string]struct {
		body  string
		first []string // the first problems, in order
		len   int
		more  int
		text  string // the whole error, when short
	}{
		"one problem": {body: `{"event":"x","timestamp":"2024-01-01T12:00:00Z","data":{}}`,
			first: []string{"id: required"}, len: 1, text: "invalid event: id: required"},
		"exactly 20": {body: envelope("x", outOfRange(20)), first: []string{"data.l[0]: number out of range"}, len: 20},
		"25 numbers": {body: envelope("x", outOfRange(25)), first: []string{"data.l[0]: number out of range"}, len: 20, more: 5},
		"envelope, numbers and a field": {
			body:  `{"event":"scan.completed","timestamp":"yesterday","data":` + strings.TrimSuffix(outOfRange(25), "}") + `,"score":"x"}}`,
			first: []string{"id: required", "timestamp: must be RFC 3339", "data.l[0]: number out of range"},
			len:   20, more: 2 + 5 + 2, // 18 numbers listed; 7 more numbers, scan_id and score
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ie := invalid(t, tc.body)
			require.Len(t, ie.Problems, tc.len)
			for i, want := range tc.first {
				require.True(t, strings.HasPrefix(ie.Problems[i].Error(), want), "problem %d: %s", i, ie.Problems[i])
			}
			require.Equal(t, tc.more, ie.More)
			if tc.more > 0 {
				require.True(t, strings.HasSuffix(ie.Error(), fmt.Sprintf("; and %d more", tc.more)), ie.Error())
			} else {
				require.NotContains(t, ie.Error(), "more")
			}
			if tc.text != "" {
				require.Equal(t, tc.text, ie.Error())
			}
		})
	}
}

// TestParseNestingLimitOnEmptyContainers: the limit is checked where an object or array opens,
// so an empty one one level too deep is refused as well as a full one, and one at the limit is
// accepted.
func TestParseNestingLimitOnEmptyContainers(t *testing.T) {
	t.Parallel()
	// data is level 2; levels-1 containers in it, then an empty one, reach level 2+levels.
	nest := func(levels int, open, empty, close string) string {
		return envelope("x", `{"k":`+strings.Repeat(open, levels-1)+empty+strings.Repeat(close, levels-1)+`}`)
	}
	limit := event.MaxNestingDepth
	for _, c := range []struct{ open, empty, close string }{{`{"a":`, `{}`, `}`}, {`[`, `[]`, `]`}} {
		_, err := event.Parse([]byte(nest(limit-2, c.open, c.empty, c.close)))
		require.NoError(t, err, "%s at the limit", c.empty)
		_, err = event.Parse([]byte(nest(limit-1, c.open, c.empty, c.close)))
		require.ErrorIs(t, err, event.ErrInvalidJSON, "%s over the limit", c.empty)
		require.ErrorContains(t, err, fmt.Sprintf("nest deeper than %d levels", limit))
	}
}

// TestParseCutsLongPaths: a path is named whole up to 200 bytes; a longer one is cut at 200
// bytes, or before a rune that byte 200 is inside, and marked with "…".
func TestParseCutsLongPaths(t *testing.T) {
	t.Parallel()
	k195 := strings.Repeat("k", 195) // "data." and these: 200 bytes
	tests := map[string]struct {
		data string
		want string
	}{
		"200 bytes":          {`{"` + k195 + `":1e999}`, "data." + k195},
		"201 bytes":          {`{"` + k195 + `k":1e999}`, "data." + k195 + "…"},
		"200, then a member": {`{"` + k195 + `":{"x":1e999}}`, "data." + k195 + "…"},
		"200, then an index": {`{"` + k195 + `":[1e999]}`, "data." + k195 + "…"},
		"cut inside a rune":  {`{"` + strings.Repeat("é", 150) + `":1e999}`, "data." + strings.Repeat("é", 97) + "…"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ie := invalid(t, envelope("x", tc.data))
			require.Len(t, ie.Problems, 1)
			require.Equal(t, event.FieldError{Field: tc.want, Msg: "number out of range"}, ie.Problems[0])
		})
	}
}

// TestParseFieldRangesAreInclusive: a known number at either end of its range, and an integer of
// 2^53, are accepted; one step beyond is refused.
func TestParseFieldRangesAreInclusive(t *testing.T) {
	t.Parallel()
	issue := func(line string) string {
		return envelope("issue.critical", `{"scan_id":"s","issue_id":"i","severity":"high","title":"t","line":`+line+`}`)
	}
	tests := map[string]struct {
		body string
		want string // "" = accepted
	}{
		"score 100":           {envelope("scan.completed", `{"scan_id":"s","score":100}`), ""},
		"score just over 100": {envelope("scan.completed", `{"scan_id":"s","score":100.000001}`), "data.score: must be between 0 and 100"},
		"score just under 0":  {envelope("scan.completed", `{"scan_id":"s","score":-0.000001}`), "data.score: must be between 0 and 100"},
		"progress 100":        {envelope("scan.progress", `{"scan_id":"s","progress":100}`), ""},
		"progress 0":          {envelope("scan.progress", `{"scan_id":"s","progress":0}`), ""},
		"line 1":              {issue("1"), ""},
		"issues 2^53":         {envelope("scan.completed", `{"scan_id":"s","issues_count":9007199254740992}`), ""},
		"issues 2^53+2":       {envelope("scan.completed", `{"scan_id":"s","issues_count":9007199254740994}`), "data.issues_count: must be an integer (at most 2^53)"},
		"line -2^53 - 2":      {issue("-9007199254740994"), "data.line: must be an integer (at most 2^53)"},
		"duration unbounded":  {envelope("scan.failed", `{"scan_id":"s","duration_seconds":1e300}`), ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev, err := event.Parse([]byte(tc.body))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Nil(t, ev)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestParseContextCheckedNowAndThen: the context is looked at every few thousand tokens, not at
// every one, so a small body is parsed whole even when its client has already gone (the look
// would cost more than the rest of the parse); TestParseEventContextStops shows a large one
// stopping.
func TestParseContextCheckedNowAndThen(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev, err := event.ParseContext(ctx, []byte(envelope("scan.completed", `{"scan_id":"s","score":50}`)))
	require.NoError(t, err)
	require.Equal(t, 50.0, ev.Data["score"])
}

// TestParseNamesAnEarlyEnd: a body that stops before its value ends is told so in those words,
// whether it is empty or stops inside a string, an object or an array.
func TestParseNamesAnEarlyEnd(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, ` `, `{`, `{"event":`, `{"event":"x`, `{"data":[1,`, `{"data":{"a":1}`} {
		_, err := event.Parse([]byte(body))
		require.ErrorIs(t, err, event.ErrInvalidJSON, "%q", body)
		require.EqualError(t, err, "invalid JSON: the body ends before the JSON value does", "%q", body)
	}
}
