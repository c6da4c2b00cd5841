package signature_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/signature"
)

// BenchmarkVerify measures the check ingest runs on every request: one HMAC-SHA256 per
// configured secret over the raw body (a Cortex sample, and a 16 KiB body), constant-time
// compare. "2-secrets" is the rotation case, where every secret is tried.
func BenchmarkVerify(b *testing.B) {
	sample, err := samples.Get("scan.completed")
	if err != nil {
		b.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 16<<10)
	for _, body := range []struct {
		name string
		b    []byte
	}{{"sample", sample}, {"16KiB", big}} {
		for _, secrets := range [][]string{{"s1"}, {"old", "s1"}} {
			header, err := signature.Sign("s1", body.b)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/%d-secrets", body.name, len(secrets)), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body.b)))
				for b.Loop() {
					if err := signature.Verify(secrets, body.b, header); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSign measures what the webhook target and the sender do per delivery.
func BenchmarkSign(b *testing.B) {
	body, err := samples.Get("scan.completed")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := signature.Sign("s1", body); err != nil {
			b.Fatal(err)
		}
	}
}
