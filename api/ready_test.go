package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/bridge"
	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store"
)

// fullDisk is a real SQLite store whose writes fail, while full is set, the way they fail on a
// full disk: every commit is refused, Ping (SELECT 1, which writes nothing) still answers.
type fullDisk struct {
	*store.DB
	full     atomic.Bool
	probes   atomic.Int32
	noProber bool
}

var errDiskFull = fmt.Errorf("%w: ingest: database or disk is full (13)", core.ErrUnavailable)

func (s *fullDisk) Ingest(ctx context.Context, items []core.IngestItem) ([]bool, error) {
	if s.full.Load() {
		return nil, errDiskFull
	}
	return s.DB.Ingest(ctx, items)
}

func (s *fullDisk) ProbeWrite(ctx context.Context) error {
	s.probes.Add(1)
	if s.full.Load() {
		return errDiskFull
	}
	return s.DB.ProbeWrite(ctx)
}

// plainStore hides ProbeWrite: a store that cannot make a trial write.
type plainStore struct{ bridge.Store }

// TestReadyzFollowsStorageWrites: while storage refuses commits but still answers a ping (a full
// disk), ingest answers 503 unavailable and /readyz fails on its storage check too; once storage
// takes writes again /readyz recovers by itself, with no event sent (a load balancer would not
// send one to an unready bridge). Without a trial write, only the next successful commit clears it.
func TestReadyzFollowsStorageWrites(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		prober bool
	}{
		"store with a trial write": {prober: true},
		"store without":            {prober: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var fd *fullDisk
			b := bridgetest.Start(t, `ingest: {secrets: ["`+testSecret+`"]}`, bridgetest.WithStore(func(db *store.DB) bridge.Store {
				fd = &fullDisk{DB: db}
				if !tc.prober {
					return plainStore{fd}
				}
				return fd
			}))
			ready := func() (int, string) {
				resp, err := http.Get(b.URL + "/readyz")
				require.NoError(t, err)
				defer resp.Body.Close()
				var body struct{ Checks map[string]string }
				raw, _ := io.ReadAll(resp.Body)
				require.NoError(t, json.Unmarshal(raw, &body), "%s", raw)
				return resp.StatusCode, body.Checks["storage"]
			}
			post := func(id string) response {
				return send(t, b.IngestURL, http.MethodPost,
					eventBody(t, "scan.started", time.Now().UTC(), func(env, _ map[string]any) { env["id"] = id }), false)
			}

			require.Equal(t, http.StatusOK, post("before").status)
			status, _ := ready()
			require.Equal(t, http.StatusOK, status)

			fd.full.Store(true)
			status, _ = ready()
			require.Equal(t, http.StatusOK, status, "nothing has tried to write yet")
			res := post("during")
			require.Equal(t, http.StatusServiceUnavailable, res.status, "body: %s", res.body)
			requireErrorBody(t, res, api.CodeUnavailable)
			status, check := ready()
			require.Equal(t, http.StatusServiceUnavailable, status, "ingest refuses events: /readyz must say so")
			require.Contains(t, check, "disk is full")
			status, _ = ready()
			require.Equal(t, http.StatusServiceUnavailable, status, "still down")

			fd.full.Store(false)
			status, check = ready()
			if tc.prober {
				require.Equal(t, http.StatusOK, status, "a trial write shows storage is back: %s", check)
				require.Equal(t, int32(3), fd.probes.Load(), "a trial write only while the last commit failed")
				status, _ = ready()
				require.Equal(t, http.StatusOK, status)
				require.Equal(t, int32(3), fd.probes.Load(), "no trial write once ready")
				return
			}
			require.Equal(t, http.StatusServiceUnavailable, status, "nothing has shown that writes work again")
			require.Eventually(t, func() bool { return post("after").status == http.StatusOK }, 10*time.Second, 100*time.Millisecond)
			status, _ = ready()
			require.Equal(t, http.StatusOK, status, "a successful commit clears it")
		})
	}
}
