package core_test

import (
	"testing"

	"github.com/cortexbridge/cortex-bridge/core"
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
				if _, err := core.ParseEvent(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
