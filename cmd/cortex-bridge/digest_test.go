package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const scheduleConfig = `
ingest: {secrets: [s3cret-value]}
targets:
  - {name: hook, type: webhook, url: "https://example.com/h", secret: x}
routes: []
digests:
  - {name: nightly, schedule: "30 2 * * *", timezone: Europe/Berlin, target: hook}
  - {name: weekly, schedule: "30 1 * * SUN", timezone: America/New_York, target: hook}
  - {name: quarter-hours, schedule: "*/15 * * * *", timezone: Europe/Berlin, target: hook}
  - {name: never, schedule: "0 0 30 2 *", target: hook}
`

// TestDigestSchedule: `digest schedule` prints the next run times in the digest's zone, one
// per line, across the 2027 daylight-saving changes, and names what is wrong otherwise.
func TestDigestSchedule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(scheduleConfig), 0o600))
	tests := map[string]struct {
		args    []string
		want    []string
		wantErr string
	}{
		"berlin spring": {args: []string{"nightly", "--from", "2027-03-27T00:00:00Z", "--count", "3"},
			want: []string{"2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"}},
		"berlin fall, from UTC": {args: []string{"nightly", "--from", "2027-10-30T12:00:00Z", "--count", "2"},
			want: []string{"2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"}},
		"weekly new york fall": {args: []string{"weekly", "--from=2027-10-30T00:00:00-04:00", "--count=3"},
			want: []string{"2027-10-31T01:30:00-04:00", "2027-11-07T01:30:00-04:00", "2027-11-14T01:30:00-05:00"}},
		"quarter hours through the fall change": {args: []string{"quarter-hours", "--from", "2027-10-31T02:40:00+02:00", "--count", "2"},
			want: []string{"2027-10-31T02:45:00+02:00", "2027-10-31T02:00:00+01:00"}},
		"default count": {args: []string{"nightly", "--from", "2027-01-01T00:00:00+01:00"}, want: make([]string, 10)},
		"unknown digest": {args: []string{"monthly"},
			wantErr: `no digest named "monthly" in ` + cfg + " (digests: nightly, weekly, quarter-hours, never)"},
		"bad from":   {args: []string{"nightly", "--from", "2027-03-28 02:30"}, wantErr: `--from: want an RFC 3339 time such as 2027-03-28T00:00:00+01:00, got "2027-03-28 02:30"`},
		"zero count": {args: []string{"nightly", "--count", "0"}, wantErr: "--count: want 1 to 3660, got 0"},
		"huge count": {args: []string{"nightly", "--count", "100000"}, wantErr: "--count: want 1 to 3660, got 100000"},
		"no time":    {args: []string{"never", "--from", "2027-01-01T00:00:00Z"}, wantErr: `digest never: schedule "0 0 30 2 * UTC" names no time after 2027-01-01T00:00:00Z`},
		"no name":    {args: nil, wantErr: "accepts 1 arg(s), received 0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, _, err := run(t, append([]string{"digest", "schedule", "--config", cfg}, tc.args...)...)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				require.Empty(t, out)
				return
			}
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			require.Len(t, lines, len(tc.want), out)
			for i, w := range tc.want {
				if w != "" {
					require.Equal(t, w, lines[i])
				}
			}
		})
	}
}
