package api_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
)

// TestIngestObserve: IngestConfig.Observe hears every answer with the event type as far as it
// is known (none before the signature is checked, the header's once it is, the body's once
// the body is parsed) and the outcome, and how long the answer took.
func TestIngestObserve(t *testing.T) {
	t.Parallel()
	completed := eventBody(t, "scan.completed", time.Time{}, nil)
	critical := eventBody(t, "issue.critical", time.Time{}, nil)
	type observed struct{ eventType, outcome string }
	tests := map[string]struct {
		body   []byte
		before int // the same request sent first
		opts   []reqOpt
		want   observed
	}{
		"accepted":         {body: completed, want: observed{"scan.completed", "accepted"}},
		"duplicate":        {body: completed, before: 1, want: observed{"scan.completed", "duplicate"}},
		"unsigned":         {body: completed, opts: []reqOpt{withoutHeader("X-Cortex-Signature")}, want: observed{"", api.CodeMissingSignature}},
		"forged":           {body: completed, opts: []reqOpt{signedWith(otherSecret)}, want: observed{"", api.CodeInvalidSignature}},
		"signed, not JSON": {body: []byte("{"), opts: []reqOpt{withHeader("X-Cortex-Event", "scan.completed")}, want: observed{"scan.completed", api.CodeInvalidJSON}},
		"body's type, not the header's": {body: critical, opts: []reqOpt{withHeader("X-Cortex-Event", "scan.completed")},
			want: observed{"issue.critical", api.CodeEventMismatch}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var (
				mu  sync.Mutex
				got []observed
				ds  []time.Duration
				now = fixedNow
			)
			b := setupIngest(t, func(c *api.IngestConfig) {
				c.NowFunc = func() time.Time { // each call a second later
					mu.Lock()
					defer mu.Unlock()
					now = now.Add(time.Second)
					return now
				}
				c.Tolerance = time.Hour
				c.Observe = func(eventType, outcome string, d time.Duration) {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, observed{eventType, outcome})
					ds = append(ds, d)
				}
			}, nil)
			for range tc.before {
				b.post(t, tc.body, tc.opts...)
			}
			b.post(t, tc.body, tc.opts...)
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, got, tc.before+1)
			require.Equal(t, tc.want, got[len(got)-1])
			require.Positive(t, ds[len(ds)-1], "the time from the first NowFunc to the last")
		})
	}
}

// TestIngestObserveClientGone: a client that leaves mid-body is counted as gone, not as a
// sender of invalid JSON.
func TestIngestObserveClientGone(t *testing.T) {
	t.Parallel()
	outcomes := make(chan string, 1)
	b := setupIngest(t, func(c *api.IngestConfig) {
		c.Observe = func(_, outcome string, _ time.Duration) { outcomes <- outcome }
	}, nil)
	valid := eventBody(t, "scan.completed", time.Time{}, nil)
	conn := sendHalf(t, b.url, valid)
	require.NoError(t, conn.Close())
	select {
	case got := <-outcomes:
		require.Equal(t, "client_gone", got)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the request was never answered")
	}
	require.Empty(t, b.acc.calls())
}
