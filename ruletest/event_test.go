package ruletest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPatchEvent(t *testing.T) {
	t.Parallel()
	const body = `{"event":"scan.completed","data":{"score":85,"repo":{"name":"api"}},"n":1.50}`
	tests := map[string]struct {
		set     map[string]any
		unset   []string
		want    string
		wantErr string
	}{
		"set a field":             {set: map[string]any{"data.score": 40}, want: `{"event":"scan.completed","data":{"score":40,"repo":{"name":"api"}},"n":1.50}`},
		"objects made on the way": {set: map[string]any{"data.a.b": "x"}, want: `{"event":"scan.completed","data":{"a":{"b":"x"},"score":85,"repo":{"name":"api"}},"n":1.50}`},
		"shorter paths first":     {set: map[string]any{"data.x.y": 1, "data.x": map[string]any{}}, want: `{"event":"scan.completed","data":{"x":{"y":1},"score":85,"repo":{"name":"api"}},"n":1.50}`},
		"unset":                   {unset: []string{"data.score", "data.missing.deeper"}, want: `{"event":"scan.completed","data":{"repo":{"name":"api"}},"n":1.50}`},
		"through a non-object":    {set: map[string]any{"data.score.x": 1}, wantErr: "data.score.x: data.score is not an object"},
		"YAML maps become JSON":   {set: map[string]any{"data.m": map[any]any{1: "a"}}, want: `{"event":"scan.completed","data":{"m":{"1":"a"},"score":85,"repo":{"name":"api"}},"n":1.50}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := patchEvent([]byte(body), tc.set, tc.unset)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(got))
			require.Contains(t, string(got), `"n":1.50`, "numbers are kept as written")
		})
	}
	_, err := patchEvent([]byte(`[1]`), map[string]any{"a": 1}, nil)
	require.EqualError(t, err, "set/unset: the event is not a JSON object")
}
