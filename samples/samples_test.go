package samples_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func TestSamplesParse(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"issue.critical", "scan.completed", "scan.failed", "scan.progress", "scan.started", "scan.timeout"}, samples.Types())
	require.Equal(t, []string{"bridge.delivery_dead", "bridge.digest_failed", "bridge.target_recovered", "bridge.target_unhealthy"}, samples.AlertTypes())
	for _, typ := range append(samples.Types(), samples.AlertTypes()...) {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			b, err := samples.Get(typ)
			require.NoError(t, err)
			ev, err := event.Parse(b)
			require.NoError(t, err)
			require.Equal(t, typ, ev.Type)
			require.Equal(t, b, ev.Raw)
		})
	}
	_, err := samples.Get("scan.nope")
	require.ErrorContains(t, err, "scan.completed")
}

// frozen pins every sample file by SHA-256. scan.completed.json and issue.critical.json are the
// Cortex documentation's examples byte for byte, and the others (stream.jsonl above all, a day
// of traffic generated once) are fixtures other tests and the benchmarks count on: a sample is
// never edited to fit the code. If a new Cortex version really changes one, replace the file
// with the new upstream bytes and update its sum here in the same commit, saying why.
var frozen = map[string]string{
	"issue.critical.json":                 "85b8cb28c578c9cc683be5d66a6c6e8d746ad86fa5f25f28e4ae812d48727c21",
	"scan.completed.json":                 "de2d81529f8d729f33be2cf2f1b73ec23f2e2ac264119b42f54efdb32ade0ec5",
	"scan.failed.json":                    "079babc46a61b66054d89f20d85609584363602fdd5acb2ba0787f0e268d3037",
	"scan.progress.json":                  "55a117e093e95a2b4766285d37af4144b86ed00e0520b8bac0078eb4e5201a87",
	"scan.started.json":                   "db9b0cc7490ec5fd3343e3e23b932f23e58f821ece9147b9fe0cd52504e7d345",
	"scan.timeout.json":                   "147459b4520c4d7c71dbd3828df87a2f6cac486c0834e483e317dc3cba0f6f30",
	"stream.jsonl":                        "b115dd5c23d714f97a6c75eef728bf5a6ff8eafbd49fe507a4852b0e756d6293",
	"bridge/bridge.delivery_dead.json":    "2bc14e4dca7dd1a24f4a057c9babe04601000beaeed1c879bab3d7dd5bff289a",
	"bridge/bridge.digest_failed.json":    "ad1e4121e2fbbae8b03ba9ca0418b17fcd09dc25c455000aa900402003fe9b1b",
	"bridge/bridge.target_recovered.json": "7c5b441602fe13885cda5fe613eb984e65d026542c8fa4e2d5c890b13132e99e",
	"bridge/bridge.target_unhealthy.json": "9ba63f991691c52af7952bd50a225cd0ccdf21ece642473e88b4b94daffba94a",
	"findings-scan-1.jsonl":               "2bcbbb85fdeac7a8107df1e7bc235d9886d87d12f4f148ea3f8637bf8634c790",
	"findings-scan-2.jsonl":               "2e28df7fb50e359691cebe144cfc73d8d703875059cc9819e4e038fa05c75e88",
	"finding/finding.fixed.json":          "0c546406a73c5bfa73cfc09e21a5f489868c2f9e3572346c6d55db0c2a042040",
	"finding/finding.new.json":            "b0d7d977e8c113931d49a7d512467606a6422c114428afbe5c756fb60461b7ce",
	"finding/finding.regressed.json":      "3a9262162b682390063220bf80658377d45c74fec705ebc1576742a43d3b0868",
}

// TestSamplesAreFrozen guards the samples in this folder against drift: every file is pinned, a
// new file must be pinned too, and Get serves exactly the bytes on disk.
func TestSamplesAreFrozen(t *testing.T) {
	t.Parallel()
	var onDisk []string
	for _, pattern := range []string{"*.json", "*.jsonl", "bridge/*.json", "finding/*.json"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		onDisk = append(onDisk, m...)
	}
	var pinned []string
	for name := range frozen {
		pinned = append(pinned, name)
	}
	slices.Sort(onDisk)
	slices.Sort(pinned)
	require.Equal(t, pinned, onDisk, "every sample file has a pinned SHA-256 and every pin a file")
	for name, want := range frozen {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(name)
			require.NoError(t, err)
			sum := sha256.Sum256(b)
			require.Equal(t, want, hex.EncodeToString(sum[:]), "%s changed: samples are frozen (see frozen)", name)
			if typ, ok := bytes.CutSuffix([]byte(filepath.Base(name)), []byte(".json")); ok {
				got, err := samples.Get(string(typ))
				require.NoError(t, err)
				require.Equal(t, b, got, "Get serves the file byte for byte")
			}
		})
	}
}

// TestStreamIsADayOfValidTraffic: every line of stream.jsonl is an event the bridge accepts, of a
// type that has a sample, with an id of its own, in time order (to the second).
func TestStreamIsADayOfValidTraffic(t *testing.T) {
	t.Parallel()
	f, err := os.Open("stream.jsonl")
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	seen := map[string]int{}
	byType := map[string]int{}
	var prev *event.Event
	line := 0
	for sc.Scan() {
		line++
		ev, err := event.Parse(bytes.Clone(sc.Bytes()))
		require.NoError(t, err, "line %d", line)
		require.Contains(t, samples.Types(), ev.Type, "line %d", line)
		first, dup := seen[ev.ID]
		require.False(t, dup, "line %d repeats the id %s of line %d", line, ev.ID, first)
		seen[ev.ID] = line
		byType[ev.Type]++
		if prev != nil {
			// Senders stamp fractions of a second or none, so the order holds to the second.
			require.False(t, ev.Timestamp.Truncate(time.Second).Before(prev.Timestamp.Truncate(time.Second)),
				"line %d is older than line %d", line, line-1)
		}
		prev = ev
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 1790, line)
	for _, typ := range samples.Types() {
		require.Positive(t, byType[typ], "the stream has %s events", typ)
	}
}
