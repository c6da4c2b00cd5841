package core_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/rules"
)

// TestRouterUsesFindingStatus: ingest reads a finding's status only when a route's or a
// digest's rule reads finding_status.
func TestRouterUsesFindingStatus(t *testing.T) {
	t.Parallel()
	rule := func(src string) core.Matcher {
		r, err := rules.Compile(src)
		require.NoError(t, err)
		return r
	}
	tests := map[string]struct {
		routes, digests []string
		want            bool
	}{
		"no rule reads it":    {routes: []string{`event == "issue.critical"`, `severity == "high"`}, digests: []string{"true"}},
		"a route reads it":    {routes: []string{`true`, `event == "issue.critical" && finding_status != "recurring"`}, want: true},
		"a digest reads it":   {routes: []string{`true`}, digests: []string{`finding_status == "new"`}, want: true},
		"$env may read it":    {routes: []string{`$env["finding_status"] == "new"`}, want: true},
		"a name alike is not": {routes: []string{`data.finding_status == "x"`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := &core.Router{}
			for _, src := range tt.routes {
				r.Routes = append(r.Routes, &core.Route{Name: src, When: rule(src)})
			}
			for _, src := range tt.digests {
				r.Digests = append(r.Digests, &core.DigestSpec{Name: src, When: rule(src)})
			}
			require.Equal(t, tt.want, r.UsesFindingStatus())
		})
	}
}
