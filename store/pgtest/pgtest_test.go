package pgtest_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// childEnv marks the test binary re-run by TestUnreachableFailsOnce.
const childEnv = "PGTEST_CHILD"

// TestManyAsk is the child's work: several parallel tests asking for a schema, as the store
// suite's do. Outside the child it asks nothing.
func TestManyAsk(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("run by TestUnreachableFailsOnce")
	}
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pgtest.Schema(t, "")
		})
	}
}

// TestUnreachableFailsOnce runs TestManyAsk in a child process against a closed port: the
// child fails, and says so in exactly one line naming the fix; the other tests are skipped.
func TestUnreachableFailsOnce(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestManyAsk$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1",
		pgtest.DSNEnv+"=postgres://postgres:s3cret@127.0.0.1:1/test?sslmode=disable", pgtest.SkipEnv+"=")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the child must fail: %v\n%s", err, out)

	var reports []string
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "PostgreSQL not reachable at 127.0.0.1:1: run scripts/test-setup, which starts it") {
			reports = append(reports, line)
		}
	}
	require.Len(t, reports, 1, "%s", out)
	require.Contains(t, reports[0], "connection refused")
	require.Equal(t, 1, strings.Count(string(out), "--- FAIL: TestManyAsk/"), "%s", out)
	require.Equal(t, 5, strings.Count(string(out), "--- SKIP: TestManyAsk/"), "%s", out)
	require.Equal(t, 5, strings.Count(string(out), "PostgreSQL not reachable: reported once, by TestManyAsk/"), "%s", out)
	require.NotContains(t, string(out), "s3cret")
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		dsn  string
		want string
	}{
		"host and port": {
			dsn:  "postgres://u:pw@db.example:6543/x",
			want: "PostgreSQL not reachable at db.example:6543: run scripts/test-setup, which starts it (or point CORTEX_BRIDGE_TEST_POSTGRES at a server; CORTEX_BRIDGE_SKIP_POSTGRES=1 skips these tests): refused",
		},
		"unparsable": {
			dsn:  "postgres://u:pw@[::1/x",
			want: "PostgreSQL not reachable at (unparsable CORTEX_BRIDGE_TEST_POSTGRES): run scripts/test-setup",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := pgtest.Unreachable(tt.dsn, errors.New("refused"))
			require.True(t, strings.HasPrefix(got, tt.want), got)
			require.NotContains(t, got, "pw")
			require.NotContains(t, got, "\n")
		})
	}
}
