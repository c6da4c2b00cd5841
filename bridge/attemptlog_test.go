package bridge

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

// TestAttemptLogger: a failure is logged at warn whatever the level; a success only at debug,
// and with the same attributes as before it was skipped at other levels.
func TestAttemptLogger(t *testing.T) {
	t.Parallel()
	dl := &core.Delivery{ID: "d1", EventID: "e1", Target: "hook", Route: "all"}
	ok := core.Attempt{Number: 1, Outcome: "success", Duration: 3 * time.Millisecond}
	failed := core.Attempt{Number: 2, Outcome: "server_error", StatusCode: 503, Error: "503 Service Unavailable"}
	tests := []struct {
		name    string
		level   slog.Level
		attempt core.Attempt
		state   core.State
		want    string // the line, without its time; "" when none
	}{
		{"success at info", slog.LevelInfo, ok, core.StateSucceeded, ""},
		{"success at debug", slog.LevelDebug, ok, core.StateSucceeded,
			`level=DEBUG msg=delivered delivery_id=d1 event_id=e1 target=hook route=all attempt=1 outcome=success state=succeeded duration=3ms`},
		{"failure at info", slog.LevelInfo, failed, core.StatePending,
			`level=WARN msg="delivery attempt failed" delivery_id=d1 event_id=e1 target=hook route=all attempt=2 outcome=server_error state=pending duration=0s status=503 err="503 Service Unavailable"`},
		{"failure at error", slog.LevelError, failed, core.StateDead, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: tc.level,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				}}))
			attemptLogger(log)(dl, tc.attempt, tc.state)
			got := bytes.TrimSuffix(out.Bytes(), []byte("\n"))
			require.Equal(t, tc.want, string(got))
		})
	}
}

// TestAttemptLoggerSuccessCostsNothing: with debug off, a success is not described at all (it
// was a dozen allocations per delivery). Not parallel: testing.AllocsPerRun refuses to be.
func TestAttemptLoggerSuccessCostsNothing(t *testing.T) {
	logAttempt := attemptLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	dl := &core.Delivery{ID: "d1", EventID: "e1", Target: "hook", Route: "all"}
	a := core.Attempt{Number: 1, Outcome: "success", Duration: 3 * time.Millisecond}
	require.Zero(t, testing.AllocsPerRun(100, func() { logAttempt(dl, a, core.StateSucceeded) }))
}
