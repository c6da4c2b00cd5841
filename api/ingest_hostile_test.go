package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestIngest_ContentEncoding: identity as before; gzip is decoded after the signature over the
// bytes as sent is checked, up to ingest.max_body_bytes decompressed; every other coding, or a
// stack of codings, is refused with 415 naming it. (Before: br was read as if plain, and gzip
// failed as invalid UTF-8.)
func TestIngest_ContentEncoding(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	plain := eventBody(t, "scan.completed", time.Time{}, nil)
	gz := gzipped(t, plain)
	padded := append(bytes.Clone(plain[:len(plain)-1]), append(bytes.Repeat([]byte(" "), limit-len(plain)), '}')...)
	require.Len(t, padded, limit)
	bomb := gzipped(t, append(bytes.Clone(padded[:len(padded)-1]), ' ', '}')) // limit+1 bytes once decompressed
	big := gzipped(t, bytes.Repeat([]byte("0"), 10<<20))                      // 10 MiB in about 10 KB
	tests := map[string]struct {
		body      []byte
		encodings []string // header lines
		opts      []reqOpt
		status    int
		code      string
		msg       []string
	}{
		"no header":                 {body: plain, status: http.StatusOK},
		"identity":                  {body: plain, encodings: []string{"identity"}, status: http.StatusOK},
		"gzip":                      {body: gz, encodings: []string{"gzip"}, status: http.StatusOK},
		"GZIP in capitals":          {body: gz, encodings: []string{"GZIP"}, status: http.StatusOK},
		"x-gzip":                    {body: gz, encodings: []string{"x-gzip"}, status: http.StatusOK},
		"gzip with identity":        {body: gz, encodings: []string{"identity, gzip"}, status: http.StatusOK},
		"gzip of exactly the limit": {body: gzipped(t, padded), encodings: []string{"gzip"}, status: http.StatusOK},
		"gzip signed over the decompressed bytes": {body: gz, encodings: []string{"gzip"}, opts: []reqOpt{signedOver(plain)},
			status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
		"gzip one byte over the limit": {body: bomb, encodings: []string{"gzip"}, status: http.StatusRequestEntityTooLarge,
			code: api.CodeBodyTooLarge, msg: []string{fmt.Sprint(limit), "ingest.max_body_bytes"}},
		"gzip bomb": {body: big, encodings: []string{"gzip"}, status: http.StatusRequestEntityTooLarge,
			code: api.CodeBodyTooLarge, msg: []string{fmt.Sprint(limit)}},
		"gzip header on a plain body": {body: plain, encodings: []string{"gzip"}, status: http.StatusBadRequest,
			code: api.CodeInvalidJSON, msg: []string{"Content-Encoding is gzip", "not gzip"}},
		"truncated gzip": {body: gz[:len(gz)-8], encodings: []string{"gzip"}, status: http.StatusBadRequest,
			code: api.CodeInvalidJSON, msg: []string{"not valid gzip"}},
		"br":                  {body: plain, encodings: []string{"br"}, status: http.StatusUnsupportedMediaType, code: api.CodeUnsupportedEncoding, msg: []string{`"br"`}},
		"deflate":             {body: plain, encodings: []string{"deflate"}, status: http.StatusUnsupportedMediaType, code: api.CodeUnsupportedEncoding, msg: []string{"deflate"}},
		"zstd":                {body: plain, encodings: []string{"zstd"}, status: http.StatusUnsupportedMediaType, code: api.CodeUnsupportedEncoding, msg: []string{"zstd"}},
		"unknown":             {body: plain, encodings: []string{"rot13"}, status: http.StatusUnsupportedMediaType, code: api.CodeUnsupportedEncoding, msg: []string{"rot13"}},
		"gzip twice":          {body: gzipped(t, gz), encodings: []string{"gzip, gzip"}, status: http.StatusUnsupportedMediaType, code: api.CodeUnsupportedEncoding, msg: []string{"gzip, gzip"}},
		"gzip then br, lines": {body: gz, encodings: []string{"gzip", "br"}, status: http.StatusUnsupportedMediaType, code: api.CodeUnsupportedEncoding, msg: []string{"gzip, br"}},
		"br unsigned": {body: plain, encodings: []string{"br"}, opts: []reqOpt{signedWith(otherSecret)},
			status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupIngest(t, func(c *api.IngestConfig) { c.MaxBodyBytes = limit }, nil)
			opts := []reqOpt{withHeader("X-Cortex-Event", "scan.completed"), func(_ *testing.T, r *http.Request, _ []byte) {
				for _, e := range tc.encodings {
					r.Header.Add("Content-Encoding", e)
				}
			}}
			res := send(t, b.url, http.MethodPost, tc.body, false, append(opts, tc.opts...)...)
			require.Equal(t, tc.status, res.status, "%s", res.body)
			if tc.status != http.StatusOK {
				requireErrorBody(t, res, tc.code, tc.msg...)
				require.Empty(t, b.acc.calls())
				return
			}
			calls := b.acc.calls()
			require.Len(t, calls, 1)
			require.JSONEq(t, string(plain), string(calls[0].Raw), "the event holds the decompressed body")
		})
	}
}

// slowBody sends left bytes at once but the last, which comes after stall: the body stays in
// flight, reserved, for that long (a body in the kernel's buffers arrives at once).
type slowBody struct {
	left  int
	stall time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), s.left-1)
	if n == 0 {
		time.Sleep(s.stall)
		n = 1
	}
	for i := range n {
		p[i] = ' '
	}
	s.left -= n
	return n, nil
}

// TestIngest_UnverifiedBytesBounded: many concurrent slow bodies with a bogus signature never
// hold more than ingest.max_unverified_bytes reserved; those over it get 503 with Retry-After;
// a correctly signed event still gets through, retrying on 503 as a sender does. (Before, 300
// such bodies held +320 MB: every body was read whole before its signature was checked.)
func TestIngest_UnverifiedBytesBounded(t *testing.T) {
	t.Parallel()
	const maxBody, budget, clients = 32 << 10, 4 * 32 << 10, 40
	tests := map[string]struct{ chunked bool }{
		"with Content-Length": {},
		"chunked":             {chunked: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupIngest(t, func(c *api.IngestConfig) { c.MaxBodyBytes, c.MaxUnverifiedBytes = maxBody, budget }, nil)
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses, retryAfter := map[int]int{}, map[string]int{}
			for range clients {
				wg.Go(func() {
					body := &slowBody{left: maxBody - 1, stall: 2 * api.UnverifiedWait}
					var rd io.Reader = body
					req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url, rd)
					if err != nil { // no require outside the test's goroutine
						panic(err)
					}
					if !tc.chunked {
						req.ContentLength = int64(body.left)
					}
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Cortex-Signature", "sha256="+strings.Repeat("ab", 32))
					resp, err := http.DefaultClient.Do(req)
					if err != nil { // the server may answer 503 before the body is sent and close
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					if resp.StatusCode == http.StatusServiceUnavailable {
						retryAfter[resp.Header.Get("Retry-After")]++
					}
					mu.Unlock()
				})
			}
			valid := eventBody(t, "scan.completed", time.Time{}, nil)
			deadline := time.Now().Add(60 * time.Second)
			for {
				res := send(t, b.url, http.MethodPost, valid, tc.chunked)
				if res.status == http.StatusOK {
					break
				}
				require.Equal(t, http.StatusServiceUnavailable, res.status, "%s", res.body)
				requireErrorBody(t, res, api.CodeUnavailable, "ingest.max_unverified_bytes")
				require.True(t, time.Now().Before(deadline), "a signed event never got through")
				time.Sleep(50 * time.Millisecond)
			}
			wg.Wait()
			now, peak := b.h.UnverifiedBytes()
			require.Zero(t, now, "every reservation is freed")
			require.LessOrEqual(t, peak, int64(budget))
			require.Greater(t, peak, int64(maxBody), "bodies were in flight together")
			require.Len(t, b.acc.calls(), 1, "only the signed event is stored")
			mu.Lock()
			defer mu.Unlock()
			require.Positive(t, statuses[http.StatusServiceUnavailable], "the budget was used up: %v", statuses)
			require.Equal(t, map[string]int{"1": statuses[http.StatusServiceUnavailable]}, retryAfter, "every 503 says Retry-After: 1")
			require.Positive(t, statuses[http.StatusUnauthorized], "%v", statuses)
			for status := range statuses {
				require.Contains(t, []int{http.StatusUnauthorized, http.StatusServiceUnavailable}, status, "%v", statuses)
			}
		})
	}
}

// TestIngest_ClientGone: a client that leaves mid-body frees its reservation and stores nothing;
// a request whose context has ended by the time its body is verified is not parsed or stored.
func TestIngest_ClientGone(t *testing.T) {
	t.Parallel()
	b := setupIngest(t, nil, nil)
	valid := eventBody(t, "scan.completed", time.Time{}, nil)

	conn := sendHalf(t, b.url, valid)
	require.Eventually(t, func() bool { now, _ := b.h.UnverifiedBytes(); return now == int64(len(valid)) }, 10*time.Second, 5*time.Millisecond,
		"the half-sent body holds its reservation")
	require.NoError(t, conn.Close())
	require.Eventually(t, func() bool { now, _ := b.h.UnverifiedBytes(); return now == 0 }, 10*time.Second, 5*time.Millisecond,
		"the reservation is freed when the client goes")
	require.Empty(t, b.acc.calls())

	// The client goes just after its last byte: the body is read and verified, then nothing more.
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, ingestPath, &cancelAtEOF{bytes.NewReader(valid), cancel})
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Cortex-Signature", sign(t, testSecret, valid))
	b.h.ServeHTTP(httptest.NewRecorder(), req)
	require.Empty(t, b.acc.calls(), "nothing is stored for a client that has gone")

	res := send(t, b.url, http.MethodPost, valid, false) // and the same event from a client that stays is stored
	require.Equal(t, http.StatusOK, res.status)
	require.Len(t, b.acc.calls(), 1)
	require.Equal(t, "scan.completed", b.acc.calls()[0].Type)
}

// cancelAtEOF cancels its request's context when the body has been read to its end.
type cancelAtEOF struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.cancel()
	}
	return n, err
}

// BenchmarkIngestHostile measures signed hostile bodies of up to the default 1 MiB through the
// whole handler (signature, decoding, parsing, refusal): B/op bounds the memory one costs.
func BenchmarkIngestHostile(b *testing.B) {
	env := func(data string) string {
		return `{"event":"scan.completed","id":"e1","timestamp":"2024-01-01T12:02:00Z","data":` + data + `}`
	}
	var keys strings.Builder
	keys.WriteString(`{"scan_id":"s"`)
	for i := 0; keys.Len() < 1<<20-200; i++ {
		fmt.Fprintf(&keys, `,"%x":0`, i)
	}
	keys.WriteString(`}`)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), 100<<20))
	_ = zw.Close()
	bodies := map[string]struct {
		body     []byte
		encoding string
	}{
		"deep_170KB":       {body: []byte(env(strings.Repeat(`{"aaaaaaaaaaaaaa":`, 9990) + `1` + strings.Repeat(`}`, 9990)))},
		"many_keys_1MiB":   {body: []byte(env(keys.String()))},
		"gzip_bomb_100MiB": {body: bomb.Bytes(), encoding: "gzip"},
		"br":               {body: []byte(env(`{"scan_id":"s"}`)), encoding: "br"},
	}
	acc := acceptFunc(func(context.Context, *event.Event) (core.AcceptResult, error) {
		return core.AcceptResult{Deliveries: 1}, nil
	})
	cfg := defaultConfig()
	cfg.RatePerSec, cfg.RateBurst = 1e9, 1e9 // measure the body's cost, not the rate limit
	h := api.NewIngest(cfg, acc, nil)
	for name, tc := range bodies {
		sig := sign(b, testSecret, tc.body)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, ingestPath, bytes.NewReader(tc.body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("X-Cortex-Signature", sig)
				if tc.encoding != "" {
					r.Header.Set("Content-Encoding", tc.encoding)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code == http.StatusOK || w.Code == http.StatusTooManyRequests {
					b.Fatalf("%s: %d %s", name, w.Code, w.Body)
				}
			}
		})
	}
}

// sendHalf sends a signed POST of body to the ingest endpoint at url with only the first half
// of the body, so the server waits for the rest (holding the body's unverified-bytes
// reservation) until the connection closes. The connection is closed when the test ends, before
// the server, whose Close waits for it.
func sendHalf(t *testing.T, url string, body []byte) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(url, ingestPath), "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Cortex-Signature: %s\r\nContent-Length: %d\r\n\r\n%s",
		ingestPath, sign(t, testSecret, body), len(body), body[:len(body)/2])
	require.NoError(t, err)
	return conn
}
