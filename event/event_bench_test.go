package event_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// BenchmarkParseEvent measures parsing and validating one event body as ingest does for every
// accepted request (and the store for every event it loads back), per sample event type.
func BenchmarkParseEvent(b *testing.B) {
	for _, typ := range samples.Types() {
		body, err := samples.Get(typ)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(typ, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := event.Parse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseEventHostile measures the bodies of hostileBodies at the default
// ingest.max_body_bytes (1 MiB), and the 170 KB body nested 10 000 objects deep: each
// must cost near-linear CPU and bounded memory (B/op is allocation, an upper bound of RSS).
func BenchmarkParseEventHostile(b *testing.B) {
	bodies := hostileBodies(1 << 20)
	bodies["deep objects 170 KB"] = []byte(`{"event":"scan.completed","id":"e","timestamp":"2024-01-01T12:00:00Z","data":` +
		strings.Repeat(`{"aaaaaaaaaaaaaa":`, 9990) + `1` + strings.Repeat(`}`, 9990) + `}`)
	for _, name := range slices.Sorted(maps.Keys(bodies)) {
		body := bodies[name]
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				_, _ = event.Parse(body)
			}
		})
	}
}
