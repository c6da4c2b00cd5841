package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
)

// TestFindingsKeys: the findings section's defaults, what reaches the runtime, and each bad
// value named by its key path.
func TestFindingsKeys(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		section string
		check   func(t *testing.T, c *config.Config)
		wantErr []wantKey
	}{
		"defaults": {
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, config.Findings{Baseline: core.BaselineNotify, Retention: core.DefaultFindingsRetention,
					Settle: core.DefaultFindingsSettle}, c.Findings)
			},
		},
		"set": {
			section: "findings: {fingerprint: [rule_id, file, line], baseline: quiet, retention: 24h, settle: 30s}\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, config.Findings{Fingerprint: []string{"rule_id", "file", "line"}, Baseline: core.BaselineQuiet,
					Retention: 24 * time.Hour, Settle: 30 * time.Second}, c.Findings)
			},
		},
		"unknown baseline": {
			section: "findings: {baseline: loud}\n",
			wantErr: []wantKey{{path: "findings.baseline", at: "baseline: loud", msg: `must be notify or quiet, got "loud"`}},
		},
		"negative retention and settle over an hour": {
			section: "findings: {retention: -1h, settle: 2h}\n",
			wantErr: []wantKey{
				{path: "findings.retention", at: "retention: -1h", msg: "must be positive"},
				{path: "findings.settle", at: "settle: 2h", msg: "must be between 0s and 1h0m0s"},
			},
		},
		"fingerprint fields": {
			section: "findings:\n  fingerprint: [file, '', file, fingerprint]\n",
			wantErr: []wantKey{
				{path: "findings.fingerprint[1]", msg: "must name a data field"},
				{path: "findings.fingerprint[2]", msg: `"file" is listed twice`},
				{path: "findings.fingerprint[3]", msg: "used as it is when Cortex sends it"},
			},
		},
		"unknown key": {
			section: "findings: {fingerprints: [file]}\n",
			wantErr: []wantKey{{path: "findings.fingerprints", at: "fingerprints", msg: "unknown key"}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			src := minimal + tt.section
			cfg, err := b.parse(t, src, nil)
			if tt.wantErr != nil {
				requireKeyErrors(t, src, err, tt.wantErr...)
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}
