package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
)

// replayConfig is a bridge with no targets; %s is storage.retention.
const replayConfig = `
ingest: {secrets: ["` + testSecret + `"], tolerance: 5m}
storage: {retention: %s}
`

// TestReplayAfterShortRetention: with storage.retention far shorter than twice ingest.tolerance,
// a byte-identical request sent again while its timestamp is still fresh is answered
// "duplicate", because the pruner keeps the event id for Ingest.ReplayWindow whatever the
// retention. Both ways a fresh timestamp gets in are tried (ahead of the clock and behind it),
// and a tolerance raised by a reload widens the window. Past the window the id goes, and the
// replay is then stale.
func TestReplayAfterShortRetention(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		retention time.Duration
		ahead     time.Duration // the event's timestamp minus the clock when it first arrives
		reload    time.Duration // ingest.tolerance after a reload; 0 keeps 5m
		later     time.Duration // when the pruner runs and the replay is sent
		pruned    int64
		status    int
		answer    string
	}{
		"timestamp ahead of the clock": {retention: time.Minute, ahead: 4 * time.Minute, later: 8*time.Minute + 30*time.Second,
			status: http.StatusOK, answer: "duplicate"},
		"timestamp behind the clock": {retention: 30 * time.Second, ahead: -4 * time.Minute, later: 55 * time.Second,
			status: http.StatusOK, answer: "duplicate"},
		"tolerance raised by a reload": {retention: time.Minute, ahead: 4 * time.Minute, reload: 10 * time.Minute, later: 13*time.Minute + 30*time.Second,
			status: http.StatusOK, answer: "duplicate"},
		"past the window the id goes": {retention: time.Minute, ahead: 4 * time.Minute, later: 2*5*time.Minute + api.ReplayMargin + time.Second,
			pruned: 1, status: http.StatusBadRequest, answer: api.CodeStaleTimestamp},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var offset atomic.Int64 // the fake clock: real time plus this
			now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			b := bridgetest.Start(t, fmt.Sprintf(replayConfig, tc.retention), bridgetest.WithNow(now))
			body := eventBody(t, "scan.completed", time.Now().Add(tc.ahead).UTC(), func(env, _ map[string]any) { env["id"] = "evt_replay" })
			res := send(t, b.IngestURL, http.MethodPost, body, false)
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			require.Contains(t, string(res.body), `"accepted"`)

			if tc.reload != 0 {
				b.WriteConfig(strings.Replace(fmt.Sprintf(replayConfig, tc.retention), "tolerance: 5m", "tolerance: "+tc.reload.String(), 1))
				require.NoError(t, b.Bridge.Reload(t.Context()))
			}
			offset.Store(int64(tc.later))
			n, err := b.Bridge.Prune(t.Context())
			require.NoError(t, err)
			require.Equal(t, tc.pruned, n)
			res = send(t, b.IngestURL, http.MethodPost, body, false)
			require.Equal(t, tc.status, res.status, "body: %s", res.body)
			require.Contains(t, string(res.body), `"`+tc.answer+`"`)
		})
	}
}
