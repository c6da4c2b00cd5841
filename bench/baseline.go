package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/signature"
)

// Baseline is the machine's ceiling for the bench: an in-process server that does only what no
// ingest can skip, verify the HMAC and parse and validate the event, then answers 200 the way
// the bridge does. It stores nothing and delivers nothing.
type Baseline struct {
	secrets []string
}

// ServeHTTP answers 401 for a bad signature, 400 for a bad event and 200 otherwise.
func (b *Baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, 1<<20)); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if signature.Verify(b.secrets, buf.Bytes(), r.Header.Get("X-Cortex-Signature")) != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ev, err := event.Parse(buf.Bytes())
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	out := make([]byte, 0, 128)
	out = append(out, `{"deliveries":0,"id":`...)
	out = strconv.AppendQuote(out, ev.ID)
	out = append(out, `,"status":"accepted"}`+"\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// startBaseline serves a Baseline on a free loopback port and returns its ingest URL.
func startBaseline(secret string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: &Baseline{secrets: []string{secret}}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + IngestPath, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
