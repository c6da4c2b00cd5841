package templates_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/templates"
)

// hostileList is the 130 000-element list of the report: a custom template ranging and
// appending over it never finished.
func hostileList() []any {
	list := make([]any, 130_000)
	for i := range list {
		list[i] = map[string]any{"title": "t", "n": i}
	}
	return list
}

// render writes src as webhook/t.tmpl (plus html for email/t.html.tmpl when given), builds an
// engine with limits l and renders it with data.
func renderWith(t *testing.T, ctx context.Context, l templates.Limits, src, html string, data any) (*templates.Output, error) {
	t.Helper()
	dir := t.TempDir()
	key := "webhook/t"
	writeFile(t, dir, key+".tmpl", src)
	if html != "" {
		key = "email/t"
		writeFile(t, dir, key+".tmpl", src)
		writeFile(t, dir, key+".html.tmpl", html)
	}
	e, err := templates.NewWithLimits(dir, l)
	require.NoError(t, err)
	return e.RenderContext(ctx, key, data)
}

// TestRenderBudgets: every form of unbounded template work fails with an error naming the
// template and the bound, promptly, instead of running for minutes or allocating gigabytes.
// MaxSteps is 100 000 and MaxRenderTime an hour, so twenty renders at once stay quick under
// the race detector on a small machine and the step budget, not the clock, is what stops them;
// TestRenderDefaults runs the report's case with the shipped limits.
func TestRenderBudgets(t *testing.T) {
	t.Parallel()
	data := map[string]any{"Events": hostileList(), "title": strings.Repeat("x", 1000)}
	tests := map[string]struct {
		src  string
		html string
		want error
	}{
		"append in nested loops":    {src: `{{ $l := list }}{{ range .Events }}{{ range $.Events }}{{ $l = append $l .title }}{{ end }}{{ end }}{{ len $l }}`, want: templates.ErrStepLimit},
		"append to one list twice":  {src: `{{ $l := list }}{{ range .Events }}{{ $a := append $l 1 }}{{ $l = append $l . }}{{ end }}`, want: templates.ErrStepLimit},
		"prepend in a loop":         {src: `{{ $l := list }}{{ range .Events }}{{ $l = prepend $l . }}{{ end }}`, want: templates.ErrStepLimit},
		"nested range, no function": {src: `{{ range .Events }}{{ range $.Events }}{{ end }}{{ end }}`, want: templates.ErrStepLimit},
		"range over a huge int":     {src: `{{ range 100000000000 }}{{ end }}`, want: templates.ErrStepLimit},
		"exponential template calls": {src: `{{ define "a" }}{{ template "b" . }}{{ template "b" . }}{{ end }}{{ define "b" }}{{ template "c" . }}{{ template "c" . }}{{ end }}` +
			`{{ define "c" }}{{ range $.Events }}{{ end }}{{ end }}{{ range .Events }}{{ template "a" $ }}{{ end }}`, want: templates.ErrStepLimit},
		"recursive template":          {src: `{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}`, want: templates.ErrStepLimit},
		"recursive include":           {src: `{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}`, want: templates.ErrStepLimit},
		"repeat from a number":        {src: `{{ repeat 1000000000000 "x" }}`, want: templates.ErrStepLimit},
		"until from a number":         {src: `{{ len (until 1000000000000) }}`, want: templates.ErrStepLimit},
		"untilStep from a number":     {src: `{{ len (untilStep 0 1000000000000 1) }}`, want: templates.ErrStepLimit},
		"seq from a number":           {src: `{{ seq 1000000000000 }}`, want: templates.ErrStepLimit},
		"randAlpha from a number":     {src: `{{ randAlpha 1000000000000 }}`, want: templates.ErrStepLimit},
		"indent from a number":        {src: `{{ indent 1000000000000 "a\nb" }}`, want: templates.ErrStepLimit},
		"uniq (quadratic)":            {src: `{{ len (uniq .Events) }}`, want: templates.ErrStepLimit},
		"string doubling with printf": {src: `{{ $s := "xx" }}{{ range until 64 }}{{ $s = printf "%s%s" $s $s }}{{ end }}{{ len $s }}`, want: templates.ErrStepLimit},
		"string doubling with cat":    {src: `{{ $s := "xx" }}{{ range until 64 }}{{ $s = cat $s $s }}{{ end }}{{ len $s }}`, want: templates.ErrStepLimit},
		"printing in a loop":          {src: `{{ range .Events }}{{ $.title }}{{ end }}`, want: templates.ErrOutputLimit},
		"printf width":                {src: `{{ range .Events }}{{ printf "%01000000d" 1 }}{{ end }}`, want: templates.ErrStepLimit},
		"include in a loop":           {src: `{{ define "x" }}{{ $.title }}{{ end }}{{ range .Events }}{{ $_ := include "x" $ }}{{ end }}`, want: templates.ErrOutputLimit},
		"subject block": {src: `{{ define "subject" }}{{ range .Events }}{{ $.title }}{{ end }}{{ end }}x`,
			html: `ok`, want: templates.ErrOutputLimit},
		"html part":         {src: `x`, html: `{{ range .Events }}{{ $.title }}{{ end }}`, want: templates.ErrOutputLimit},
		"html nested range": {src: `x`, html: `{{ range .Events }}{{ range $.Events }}{{ end }}{{ end }}`, want: templates.ErrStepLimit},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			out, err := renderWith(t, context.Background(), templates.Limits{MaxSteps: 100_000, MaxRenderTime: time.Hour}, tc.src, tc.html, data)
			require.Less(t, time.Since(start), 10*time.Second, "the render was not stopped promptly")
			require.Nil(t, out)
			require.ErrorIs(t, err, tc.want)
			var te *templates.Error
			require.ErrorAs(t, err, &te)
			require.Contains(t, []string{"webhook/t", "email/t"}, te.Key)
			require.Regexp(t, `templates\.max_|nested more than 1000 deep`, err.Error(), "the error names the bound")
			require.Less(t, len(err.Error()), 2000, "one bound, said once")
			require.NotErrorIs(t, err, context.DeadlineExceeded)
		})
	}
}

// TestRenderDefaults: the report's template (append over a 130 000-element list, which never
// finished) now renders, linearly, within the default step budget (the render time limit is
// lifted: under the race detector on a busy machine this linear render can take seconds); and
// a quadratic one stops with the default step budget or render time limit.
func TestRenderDefaults(t *testing.T) {
	t.Parallel()
	data := map[string]any{"Events": hostileList()}
	start := time.Now()
	out, err := renderWith(t, context.Background(), templates.Limits{MaxRenderTime: time.Hour},
		`{{ $l := list }}{{ range .Events }}{{ $l = append $l .title }}{{ end }}{{ len $l }} {{ index $l 129999 }}`, "", data)
	require.NoError(t, err)
	require.Equal(t, "130000 t", string(out.Body))
	require.Less(t, time.Since(start), time.Minute)

	start = time.Now()
	_, err = renderWith(t, context.Background(), templates.Limits{}, `{{ range .Events }}{{ range $.Events }}{{ end }}{{ end }}`, "", data)
	require.Less(t, time.Since(start), 2*templates.DefaultMaxRenderTime)
	require.True(t, errors.Is(err, templates.ErrStepLimit) || errors.Is(err, context.DeadlineExceeded), "%v", err)
}

// TestAppendKeepsListsApart: append reuses a list's spare room only for the longest list of its
// array, so lists built from a common prefix never see each other's elements.
func TestAppendKeepsListsApart(t *testing.T) {
	t.Parallel()
	src := `{{ $a := list 1 }}{{ $b := append $a 2 }}{{ $c := append $a 3 }}{{ $d := append $b 4 }}{{ $e := append $b 5 }}` +
		`{{ $f := append $d 6 }}{{ $g := append .data 7 }}{{ $h := append (slice $f 0 2) 8 }}` +
		`{{ $a }} {{ $b }} {{ $c }} {{ $d }} {{ $e }} {{ $f }} {{ $g }} {{ $h }} {{ .data }} {{ len .data }}`
	data := map[string]any{"data": make([]any, 0, 8)}
	out, err := renderWith(t, context.Background(), templates.Limits{}, src, "", data)
	require.NoError(t, err)
	require.Equal(t, "[1] [1 2] [1 3] [1 2 4] [1 2 5] [1 2 4 6] [7] [1 2 8] [] 0", string(out.Body))
	require.Equal(t, 8, cap(data["data"].([]any)))
	require.Nil(t, data["data"].([]any)[:1][0], "the caller's array was not written")
}

// TestRenderLimitsConfigurable: a render within the limits succeeds, and the same render fails
// once a limit is set below what it needs.
func TestRenderLimitsConfigurable(t *testing.T) {
	t.Parallel()
	src := `{{ range .Events }}{{ .title }}{{ end }}`
	data := map[string]any{"Events": hostileList()[:1000]}
	out, err := renderWith(t, context.Background(), templates.Limits{}, src, "", data)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("t", 1000), string(out.Body))

	_, err = renderWith(t, context.Background(), templates.Limits{MaxOutputBytes: 999}, src, "", data)
	require.ErrorIs(t, err, templates.ErrOutputLimit)
	require.ErrorContains(t, err, "more than 999 bytes")
	_, err = renderWith(t, context.Background(), templates.Limits{MaxSteps: 500}, src, "", data)
	require.ErrorIs(t, err, templates.ErrStepLimit)
	require.ErrorContains(t, err, "more than 500 steps")
}

// TestRenderStopsWhenContextEnds: a render whose work is within its budgets but would run for
// minutes stops when its context is cancelled (the drain) or reaches its deadline
// (delivery.timeout), with the context's error.
func TestRenderStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	huge := templates.Limits{MaxSteps: 1 << 62, MaxOutputBytes: 1 << 62}
	data := map[string]any{"Events": hostileList()}
	tests := map[string]struct {
		src  string
		html string
	}{
		"nested range":     {src: `{{ range .Events }}{{ range $.Events }}{{ end }}{{ end }}`},
		"function in loop": {src: `{{ range .Events }}{{ range $.Events }}{{ $_ := add1 1 }}{{ end }}{{ end }}`},
		"append in loop":   {src: `{{ $l := list }}{{ range .Events }}{{ range $.Events }}{{ $l = append $l . }}{{ end }}{{ end }}`},
		"html part":        {src: `x`, html: `{{ range .Events }}{{ range $.Events }}{{ end }}{{ end }}`},
	}
	for name, tc := range tests {
		for _, how := range []string{"cancel", "deadline"} {
			t.Run(name+"/"+how, func(t *testing.T) {
				t.Parallel()
				var ctx context.Context
				var cancel context.CancelFunc
				if how == "cancel" {
					ctx, cancel = context.WithCancel(context.Background())
					time.AfterFunc(100*time.Millisecond, cancel)
				} else {
					ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
				}
				defer cancel()
				start := time.Now()
				_, err := renderWith(t, ctx, huge, tc.src, tc.html, data)
				require.Less(t, time.Since(start), 10*time.Second, "the render ignored its context")
				want := map[string]error{"cancel": context.Canceled, "deadline": context.DeadlineExceeded}[how]
				require.ErrorIs(t, err, want)
				require.False(t, errors.Is(err, templates.ErrStepLimit))
			})
		}
	}
}

// TestRemovedFuncs: functions that cost seconds or read the environment do not parse.
func TestRemovedFuncs(t *testing.T) {
	t.Parallel()
	for _, fn := range []string{"env", "expandenv", "getHostByName", "genPrivateKey", "derivePassword", "bcrypt", "htpasswd", "genCA", "genSelfSignedCert"} {
		t.Run(fn, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFile(t, dir, "webhook/t.tmpl", `{{ `+fn+` "x" }}`)
			_, err := templates.New(dir)
			require.ErrorContains(t, err, `function "`+fn+`" not defined`)
		})
	}
}
