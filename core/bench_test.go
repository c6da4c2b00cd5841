package core_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cortexbridge/cortex-bridge/adapters/file"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// nopNotifier accepts every message at once, so the benchmark measures the queue, not a target.
type nopNotifier struct{ n atomic.Int64 }

func (n *nopNotifier) Notify(context.Context, *notify.Message) error { n.n.Add(1); return nil }

// BenchmarkIngest measures Bus.Accept on SQLite (WAL, synchronous=FULL): each op routes one
// event to two targets and returns after the group commit, while the workers deliver and the
// completion writer records the results. senders=64 runs 64 concurrent senders (commits carry
// many events); senders=1 one at a time, as at 1 000 events/s, where a commit carries about
// one. It reports the ack latency p50/p99, and goroutines started per event (the database
// driver's statement watchers among them): allocations are per event too, dispatch included.
func BenchmarkIngest(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) { benchIngest(b, senders) })
	}
}

func benchIngest(b *testing.B, senders int) {
	engine, err := templates.New("")
	if err != nil {
		b.Fatal(err)
	}
	sink := &nopNotifier{}
	targets := []*core.Target{
		{Name: "a", Type: "file", Notifier: sink, Concurrency: 4},
		{Name: "b", Type: "file", Notifier: sink, Concurrency: 4},
	}
	router := &core.Router{Routes: []*core.Route{{Name: "all", When: matchAll{}, Targets: []string{"a", "b"}}}}
	e := startEngine(b, "", core.DispatcherConfig{Owner: "bench"}, &core.Plan{Targets: targets, Router: router, Renderer: &core.Renderer{Engine: engine}}, nil)
	bus := e.bus

	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	b.ReportAllocs()
	b.ResetTimer()
	send := func(next func() bool) {
		var mine []time.Duration
		for next() {
			body := fmt.Sprintf(`{"event":"scan.completed","id":"evt_%d","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s","score":80}}`, seq.Add(1))
			ev, err := event.Parse([]byte(body))
			if err != nil {
				b.Error(err)
				return
			}
			start := time.Now()
			if _, err := bus.Accept(context.Background(), ev); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	}
	if senders == 1 {
		send(b.Loop)
	} else {
		b.SetParallelism(senders / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) { send(pb.Next) })
	}
	// Wait for the deliveries of the events sent, so that their cost is counted.
	for sink.n.Load() < 2*seq.Load() {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	metrics.Read(created)
	n := seq.Load()
	e.stop()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(created[0].Value.Uint64()-before)/float64(n), "goroutines/event")
	}
}

// BenchmarkAcceptOneAtATime measures the path of an event that arrives alone (the usual case
// at 1 000 events/s, where each ingest transaction carries about one event): one sender,
// each Accept after the last returned, on SQLite (WAL, synchronous=FULL), routed to a real
// audit file target and a no-op target, until every delivery is recorded. sink=raw sends the
// no-op target the event as received (a webhook without a template, as the bench's); sink=slack
// renders Slack's built-in template for it, which shows the scan context. Besides time and
// allocations it reports the process's CPU time per event and its voluntary and involuntary
// context switches per event (getrusage): the voluntary ones count the blocking waits and
// wake-ups the path takes (goroutine hand-offs that put a thread to sleep, fsyncs), which the
// machine's load changes little.
func BenchmarkAcceptOneAtATime(b *testing.B) {
	for _, sink := range []struct {
		name, typ string
		format    notify.Format
	}{{"raw", "webhook", notify.FormatNone}, {"slack", "slack", notify.FormatJSON}} {
		b.Run("sink="+sink.name, func(b *testing.B) {
			engine, err := templates.New("")
			if err != nil {
				b.Fatal(err)
			}
			audit, err := file.New(&file.Config{Path: filepath.Join(b.TempDir(), "audit.jsonl")})
			if err != nil {
				b.Fatal(err)
			}
			targets := []*core.Target{
				{Name: "audit", Type: "file", Notifier: audit, Concurrency: 64},
				{Name: "sink", Type: sink.typ, Format: sink.format, Notifier: &nopNotifier{}, Concurrency: 4},
			}
			router := &core.Router{Routes: []*core.Route{{Name: "all", When: matchAll{}, Targets: []string{"audit", "sink"}}}}
			e := startEngine(b, "", core.DispatcherConfig{Owner: "bench"}, &core.Plan{Targets: targets, Router: router, Renderer: &core.Renderer{Engine: engine}}, nil)
			var before, after syscall.Rusage
			b.ReportAllocs()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			n := 0
			for b.Loop() {
				body := fmt.Sprintf(`{"event":"scan.completed","id":"evt_%d","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s","score":80}}`, n)
				n++
				ev, err := event.Parse([]byte(body))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.bus.Accept(context.Background(), ev); err != nil {
					b.Fatal(err)
				}
			}
			for !e.disp.Idle() {
				time.Sleep(time.Millisecond)
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
			b.ReportMetric(float64(cpu)/1e3/float64(n), "cpu-us/event")
			b.ReportMetric(float64(after.Nvcsw-before.Nvcsw)/float64(n), "vcsw/event")
			b.ReportMetric(float64(after.Nivcsw-before.Nivcsw)/float64(n), "ivcsw/event")
		})
	}
}
