package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/config"
)

// openSessions is a Store whose sessions are never signed out; the benchmark calls nothing else.
type openSessions struct{ Store }

func (openSessions) SessionRevoked(context.Context, string, time.Time) (bool, error) {
	return false, nil
}

// BenchmarkTryHostile measures one "Try an event" POST through the signed-in middleware (session,
// form, CSRF) and the handler, for the hostile bodies of the benchmark's dashboard rows
// (BENCHMARKS.md, hostile input rows 39 and 41), each at ingest.max_body_bytes (1 MiB).
func BenchmarkTryHostile(b *testing.B) {
	rt := dryRunRuntime(b, strings.Replace(fuzzConfig, "max_body_bytes: 65536", "max_body_bytes: 1048576", 1))
	d, err := New(Config{Store: openSessions{}, Keys: api.NewKeys(map[string]string{"acme": "acme-bench-key-0123456789"}),
		Runtime: func() *config.Runtime { return rt }})
	require.NoError(b, err)
	s, ok := d.newSession("acme")
	require.True(b, ok)
	cookie := (&http.Cookie{Name: sessionCookie, Value: s.encode()}).String()
	const maxBody = 1 << 20
	head := `{"id":"hostile-1","event":"issue.critical","timestamp":"2024-01-01T12:00:00Z","data":{"scan_id":"s","issue_id":"i","severity":"critical","title":"t","file":"a.go","line":1,`
	fill := func(field string, value func(left int) string) string {
		h := head + `"` + field + `":`
		return h + value(maxBody-len(h)-2) + `}}`
	}
	bodies := []struct {
		name   string
		event  string
		status int
	}{
		{"80000_keys_last_repeats_first", fill("x", func(left int) string {
			var v bytes.Buffer
			v.WriteByte('{')
			count := (left - 2) / 13
			for i := range count {
				if i > 0 {
					v.WriteByte(',')
				}
				k := i
				if i == count-1 {
					k = 0
				}
				fmt.Fprintf(&v, `"k%07d":0`, k)
			}
			v.WriteByte('}')
			return v.String()
		}), http.StatusUnprocessableEntity},
		{"huge_string", fill("title2", func(left int) string { return `"` + strings.Repeat("a", left-2) + `"` }), http.StatusOK},
	}
	for _, tc := range bodies {
		form := url.Values{"event": {tc.event}, "sample": {""}, "csrf": {s.csrf}}.Encode()
		h := d.signedIn(d.routesTry)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(form)))
			for b.Loop() {
				r := httptest.NewRequestWithContext(b.Context(), http.MethodPost, "/ui/routes/try", strings.NewReader(form))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Cookie", cookie)
				w := httptest.NewRecorder()
				h(w, r)
				if w.Code != tc.status {
					b.Fatalf("status %d, want %d: %.300s", w.Code, tc.status, w.Body)
				}
			}
		})
	}
}
