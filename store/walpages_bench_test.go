package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/store"
)

// BenchmarkIngestWALPages: what one-event ingests write to SQLite's WAL (the sample events in
// turn, each with one delivery leased at ingest, one Ingest call each as the bench at 1 000
// events/s makes them), reported as wal-pages/event: the frames of the ingest journal's applier
// (journal.go: as many events a transaction as came in its 25 ms, here a few hundred, since the
// calls come as fast as the journal's fdatasync allows; about 25 at 1 000 events/s) and of the
// listings after them (listing.go), over the events; ingest-wal-pages/event, the applier's alone
// (the listing held off meanwhile); and cpu-µs/event, the process's CPU time for both (the
// journal's appends included), which a busy machine disturbs less than the time per op.
// Checkpoints are off during the count.
func BenchmarkIngestWALPages(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite", filepath.Join(b.TempDir(), "bench.db"))
	require.NoError(b, err)
	defer db.Close()
	var bodies []map[string]any
	for _, typ := range samples.Types() {
		raw, err := samples.Get(typ)
		require.NoError(b, err)
		var m map[string]any
		require.NoError(b, json.Unmarshal(raw, &m))
		bodies = append(bodies, m)
	}
	n := 0
	item := func() []core.IngestItem {
		m := bodies[n%len(bodies)]
		m["id"] = fmt.Sprintf("bench-0123abcd-%d", n)
		n++
		raw, err := json.Marshal(m)
		require.NoError(b, err)
		ev, err := event.Parse(raw)
		require.NoError(b, err)
		now := time.Now().UTC()
		ev.ReceivedAt = now
		return []core.IngestItem{{Event: ev, Deliveries: []*core.Delivery{{ID: uuid.Must(uuid.NewV7()).String(), Target: "wh", Route: "r",
			State: core.StateRunning, LeaseOwner: "owner", LeaseUntil: now.Add(time.Minute), NextAttemptAt: now, CreatedAt: now}}}}
	}
	for range 2000 { // the indexes a few levels deep, as in a bridge that has run a while
		_, err := db.Ingest(ctx, item())
		require.NoError(b, err)
	}
	require.NoError(b, store.CatchUp(db))
	items := make([][]core.IngestItem, b.N)
	for i := range items {
		items[i] = item()
	}
	_, err = store.WALFrames(db)
	require.NoError(b, err)
	cpu0 := processCPU(b)
	b.ResetTimer()
	release := store.HoldListing(db) // the ingest commits' frames are counted apart from the listings'
	for _, it := range items {
		_, err := db.Ingest(ctx, it)
		require.NoError(b, err)
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	ingestFrames, err := store.WALFrames(db) // a checkpoint: not counted in cpu
	require.NoError(b, err)
	release()
	b.StartTimer()
	cpu1 := processCPU(b)
	require.NoError(b, store.CatchUp(db))
	b.StopTimer()
	cpu += processCPU(b) - cpu1
	frames, err := store.WALFrames(db)
	require.NoError(b, err)
	b.ReportMetric(float64(ingestFrames)/float64(b.N), "ingest-wal-pages/event")
	b.ReportMetric(float64(ingestFrames+frames)/float64(b.N), "wal-pages/event")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
}

// processCPU is the CPU time (user and system) the test process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
