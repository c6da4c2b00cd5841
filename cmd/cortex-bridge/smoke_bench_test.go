package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bench"
)

// TestBenchSmoke runs `bench` for 3 s at a low rate against the real bridge (in-process, on a
// generated config with a webhook target at the bench receiver and a file target) and checks
// that nothing is lost and that the report has figures. The figures themselves are not
// asserted: they depend on the machine; so does how many events the generator sends in the 3 s
// (147 of 150 under load), so the counts are checked against each other.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	start := time.Now()
	out, stderr, err := run(t, "bench", "--in-process", "--rate", "50", "--duration", "3s", "--warmup", "0",
		"--drain", "20s", "--events", "../../samples/stream.jsonl", "--json", "--quiet")
	require.NoError(t, err, stderr)
	var rep bench.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.NotNil(t, rep.Result)
	r := rep.Result
	require.Positive(t, r.Sent)
	require.LessOrEqual(t, r.Sent, uint64(150), "never more than the rate asks")
	require.Equal(t, r.Sent, r.Accepted, "errors: %v", r.Errors)
	require.Empty(t, r.Errors)
	require.Zero(t, rep.Lost)
	require.Zero(t, rep.LostFile)
	require.Zero(t, rep.Duplicates)
	require.Zero(t, rep.BadSignatures)
	require.EqualValues(t, r.Sent, r.Delivered)
	require.NotNil(t, r.E2E)
	require.EqualValues(t, r.Sent, r.E2E.Count)
	require.Greater(t, r.Ack.P50, 0.0)
	require.GreaterOrEqual(t, r.Ack.Max, r.Ack.P99)
	require.Greater(t, r.E2E.P50, 0.0)
	require.Greater(t, r.BridgeCPUS, 0.0)
	require.Greater(t, r.PeakRSSMB, 1.0)
	require.Less(t, time.Since(start), 60*time.Second)
}
