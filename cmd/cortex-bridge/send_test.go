package main

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/samples"
)

// TestSendFresh repeats the README's tour against an in-process bridge: the sample sent twice
// is a duplicate the second time; with --fresh it is a new event (a new id, the timestamp now)
// every time, delivered again, and the rest of the body is the sample's.
func TestSendFresh(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	cfg := writeConfig(t, t.TempDir(), srv.URL)
	b := startBridge(t, cfg, io.Discard)
	send := func(extra ...string) (string, error) {
		out, _, err := run(t, append([]string{"send", "--config", cfg, "--url", "http://" + b.addr + "/webhooks/cortex", "--sample", "issue.critical"}, extra...)...)
		return out, err
	}

	out, err := send()
	require.NoError(t, err)
	require.Contains(t, out, "evt_1234567891 issue.critical → 200 accepted")
	out, err = send()
	require.NoError(t, err)
	require.Contains(t, out, "evt_1234567891 issue.critical → 200 duplicate")

	accepted := regexp.MustCompile(`(?m)^(evt_[0-9a-f]{20}) issue\.critical → 200 accepted \(2 deliveries\)$`)
	ids := map[string]bool{"evt_1234567891": true}
	start := time.Now()
	for range 2 {
		out, err = send("--fresh")
		require.NoError(t, err)
		m := accepted.FindStringSubmatch(out)
		require.NotNil(t, m, out)
		require.False(t, ids[m[1]], "a new id each time: %s", m[1])
		ids[m[1]] = true
		require.Contains(t, out, "sent 1: 1 accepted, 0 duplicate")
	}

	// The receiver gets each of the three events once (the route "everything" sends it the
	// original; the fresh copies differ from it only in id and timestamp).
	require.Eventually(t, func() bool { return len(rc.snapshot()) == 3 }, 30*time.Second, 20*time.Millisecond)
	raw, err := samples.Get("issue.critical")
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, json.Unmarshal(raw, &want))
	seen := map[string]bool{}
	for _, p := range rc.snapshot() {
		var got map[string]any
		require.NoError(t, json.Unmarshal(p.body, &got))
		id := got["id"].(string)
		require.True(t, ids[id], "an id that send printed: %s", id)
		seen[id] = true
		ts, err := time.Parse(time.RFC3339, got["timestamp"].(string))
		require.NoError(t, err)
		if id != "evt_1234567891" {
			require.WithinDuration(t, start, ts, time.Minute, "a fresh copy is stamped now")
		}
		got["id"], got["timestamp"] = want["id"], want["timestamp"]
		require.Equal(t, want, got, "only the id and timestamp differ from the sample")
	}
	require.Len(t, seen, 3)

	_, err = send("--fresh", "--keep-timestamps")
	require.ErrorContains(t, err, "none of the others can be")
}
