package file_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cortexbridge/cortex-bridge/adapters/file"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// BenchmarkNotify measures one audit line appended and fsync'd, alone (a target with
// concurrency 1) and with 4 workers at once. Alone, each line gets its own fsync at once; with
// several workers, fsyncs are spaced file.SyncInterval apart and shared (group commit), which
// trades lines per second per worker for fewer fsyncs — the target's default concurrency (64)
// is what restores the throughput.
func BenchmarkNotify(b *testing.B) {
	body, err := samples.Get("scan.completed")
	if err != nil {
		b.Fatal(err)
	}
	ev, err := event.Parse(body)
	if err != nil {
		b.Fatal(err)
	}
	ev.ReceivedAt = time.Now().UTC()
	for _, workers := range []int{1, 4} {
		b.Run(map[int]string{1: "workers=1", 4: "workers=4"}[workers], func(b *testing.B) {
			n, err := file.New(&file.Config{Path: filepath.Join(b.TempDir(), "audit.jsonl")}, file.WithConcurrency(workers))
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			msg := &notify.Message{DeliveryID: "d", Attempt: 1, Target: "audit", Route: "r", Event: ev, Events: []*event.Event{ev}}
			b.ReportAllocs()
			b.SetParallelism(workers)
			if workers == 1 {
				for b.Loop() {
					if err := n.Notify(context.Background(), msg); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(workers / 2) // × GOMAXPROCS (2 here) goroutines
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := n.Notify(context.Background(), msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
