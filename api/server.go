package api

import (
	"context"
	"net/http"
	"time"
)

// Pinger reports whether storage answers (core.Store).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Handler routes the bridge's endpoints: POST ingestPath, GET /healthz and GET /readyz.
func Handler(ingestPath string, ingest http.Handler, store Pinger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ingestPath, ingest)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": map[string]string{"storage": "unreachable"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": map[string]string{"storage": "ok"}})
	})
	return mux
}

// NewServer wraps h with timeouts suited to webhook traffic (bounded header and body reads, so
// slow clients cannot hold connections).
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
