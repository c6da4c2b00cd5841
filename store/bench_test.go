package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// Benchmarks per driver, to compare them: go test -run x -bench . -benchmem ./store/
// (the Postgres ones use a fresh schema on the test database, like the tests).

var benchDrivers = []struct {
	name string
	open func(b *testing.B) *store.DB
}{
	{"sqlite", func(b *testing.B) *store.DB {
		db, err := store.Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		return db
	}},
	{"postgres", func(b *testing.B) *store.DB { return openPG(b, pgtest.Schema(b, "")) }},
}

// benchItems makes n new events (ids unique under prefix) with two pending deliveries each.
func benchItems(b *testing.B, prefix string, n int) []core.IngestItem {
	items := make([]core.IngestItem, n)
	now := time.Now().UTC()
	for i := range items {
		ev := pgEvent(b, fmt.Sprintf("%s-%d", prefix, i))
		ev.ReceivedAt = now
		items[i] = core.IngestItem{Event: ev, Deliveries: []*core.Delivery{
			{ID: uuid.Must(uuid.NewV7()).String(), Target: "a", Route: "r", State: core.StatePending, NextAttemptAt: now, CreatedAt: now},
			{ID: uuid.Must(uuid.NewV7()).String(), Target: "b", Route: "r", State: core.StatePending, NextAttemptAt: now, CreatedAt: now},
		}}
	}
	return items
}

// BenchmarkIngest: one op is one group-commit transaction of batch new events, each with two
// deliveries.
func BenchmarkIngest(b *testing.B) {
	for _, drv := range benchDrivers {
		for _, batch := range []int{1, 64, 512} {
			b.Run(fmt.Sprintf("%s/batch=%d", drv.name, batch), func(b *testing.B) {
				db := drv.open(b)
				ctx := context.Background()
				i := 0
				for b.Loop() {
					b.StopTimer()
					items := benchItems(b, fmt.Sprint("e", i), batch)
					i++
					b.StartTimer()
					if _, err := db.Ingest(ctx, items); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkClaimComplete: one op claims 64 due deliveries of a target and completes them in one
// batch (half succeeded, half retried later), as the dispatcher's poller and completion writer do.
func BenchmarkClaimComplete(b *testing.B) {
	const n = 64
	for _, drv := range benchDrivers {
		b.Run(drv.name, func(b *testing.B) {
			db := drv.open(b)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				b.StopTimer()
				if _, err := db.Ingest(ctx, benchItems(b, fmt.Sprint("e", i), n/2)); err != nil {
					b.Fatal(err)
				}
				i++
				now := time.Now().UTC()
				b.StartTimer()
				var ds []*core.Delivery
				for _, target := range []string{"a", "b"} {
					got, err := db.Claim(ctx, core.ClaimRequest{Owner: "bench", Target: target, Now: now, Lease: time.Minute, Limit: n})
					if err != nil {
						b.Fatal(err)
					}
					ds = append(ds, got...)
				}
				if len(ds) != n {
					b.Fatalf("claimed %d, want %d", len(ds), n)
				}
				cs := make([]core.Completion, len(ds))
				for j, d := range ds {
					cs[j] = core.Completion{LeaseOwner: "bench", State: core.StateSucceeded,
						Attempt: core.Attempt{DeliveryID: d.ID, Number: 1, StartedAt: now, Duration: time.Millisecond, Outcome: "success"}}
					if j%2 == 1 {
						cs[j].State, cs[j].NextAttemptAt, cs[j].Attempt.Outcome = core.StatePending, now.Add(time.Hour), "server_error"
					}
				}
				if err := db.Complete(ctx, cs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkComplete: one op records a batch of first attempts that succeeded (the completion
// writer's batch at 1 000 events/s with two targets holds about ten), on claimed deliveries;
// only Complete is timed. cpu-us/op is the process's CPU time (getrusage) during the Complete
// calls, which a shared machine's load changes less than their wall time.
func BenchmarkComplete(b *testing.B) {
	for _, drv := range benchDrivers {
		for _, n := range []int{2, 10, 40} {
			b.Run(fmt.Sprintf("%s/batch=%d", drv.name, n), func(b *testing.B) {
				db := drv.open(b)
				ctx := context.Background()
				i := 0
				var cpu time.Duration
				for b.Loop() {
					b.StopTimer()
					if _, err := db.Ingest(ctx, benchItems(b, fmt.Sprint("e", i), n/2)); err != nil {
						b.Fatal(err)
					}
					i++
					now := time.Now().UTC()
					var cs []core.Completion
					for _, target := range []string{"a", "b"} {
						got, err := db.Claim(ctx, core.ClaimRequest{Owner: "bench", Target: target, Now: now, Lease: time.Minute, Limit: n})
						if err != nil {
							b.Fatal(err)
						}
						for _, d := range got {
							cs = append(cs, core.Completion{LeaseOwner: "bench", State: core.StateSucceeded,
								Attempt: core.Attempt{DeliveryID: d.ID, Number: 1, StartedAt: now, Duration: time.Millisecond, Outcome: "success"}})
						}
					}
					if len(cs) != n {
						b.Fatalf("claimed %d, want %d", len(cs), n)
					}
					var before, after syscall.Rusage
					_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
					b.StartTimer()
					if err := db.Complete(ctx, cs); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
					cpu += rusageCPU(after) - rusageCPU(before)
					b.StartTimer()
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
			})
		}
	}
}

// rusageCPU is the user plus system CPU time of r.
func rusageCPU(r syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
