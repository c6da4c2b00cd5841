package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/sender"
	"github.com/cortexbridge/cortex-bridge/signature"
)

// nopAcceptor accepts every event at once, so the benchmark measures the handler, not storage.
type nopAcceptor struct{}

func (nopAcceptor) Accept(context.Context, *event.Event) (core.AcceptResult, error) {
	return core.AcceptResult{Deliveries: 2}, nil
}

// BenchmarkIngestHandler measures the ingest handler around Accept for one signed event: body
// read, signature, rate limit, content type, parse and validation, the JSON answer and the
// "event accepted" log line (JSON, to io.Discard: formatting is paid, writing is not).
func BenchmarkIngestHandler(b *testing.B) {
	const secret = "bench-secret"
	sample, err := samples.Get("scan.completed")
	if err != nil {
		b.Fatal(err)
	}
	body, err := sender.Restamp(sample, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	sig, err := signature.Sign(secret, body)
	if err != nil {
		b.Fatal(err)
	}
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		b.Run("log="+level.String(), func(b *testing.B) {
			log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))
			h := api.NewIngest(api.IngestConfig{Secrets: []string{secret}, RatePerSec: 1e9, RateBurst: 1e9}, nopAcceptor{}, log)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/webhooks/cortex", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Cortex-Signature", sig)
				req.Header.Set("X-Cortex-Event", "scan.completed")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
