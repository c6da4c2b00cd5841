package sender_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/sender"
	"github.com/cortexbridge/cortex-bridge/signature"
)

func TestRestamp(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 23, 45, 1, 234e6, time.UTC)
	out, err := sender.Restamp([]byte(`{"event":"x","id":"e","timestamp":"2024-01-01T00:00:00Z","data":{"n":1.50,"s":"a<b"}}`), now)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	require.Equal(t, "2026-11-29T23:45:01.234Z", m["timestamp"])
	require.Contains(t, string(out), `"data":{"n":1.50,"s":"a<b"}`, "other values keep their bytes")
	_, err = sender.Restamp([]byte(`[]`), now)
	require.Error(t, err)
}

func TestReissue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 23, 45, 1, 234e6, time.UTC)
	in := []byte(`{"event":"x","id":"e","timestamp":"2024-01-01T00:00:00Z","data":{"n":1.50,"s":"a<b"}}`)
	id1, id2 := sender.NewEventID(), sender.NewEventID()
	require.Regexp(t, `^evt_[0-9a-f]{20}$`, id1)
	require.NotEqual(t, id1, id2)
	out, err := sender.Reissue(in, id1, now)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	require.Equal(t, id1, m["id"])
	require.Equal(t, "2026-11-29T23:45:01.234Z", m["timestamp"])
	require.Equal(t, "x", m["event"])
	require.Contains(t, string(out), `"data":{"n":1.50,"s":"a<b"}`, "other values keep their bytes")
	_, err = sender.Reissue([]byte(`"e"`), id1, now)
	require.Error(t, err)
}

// TestSendRetriesLikeCortex: 429 waits for Retry-After, 503 is retried, the delivery id stays.
func TestSendRetriesLikeCortex(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var times []time.Time
	var deliveries []string
	body := []byte(`{"event":"scan.started","id":"e1"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		require.NoError(t, signature.Verify([]string{"s3cret"}, b, r.Header.Get("X-Cortex-Signature")))
		require.Equal(t, "scan.started", r.Header.Get("X-Cortex-Event"))
		mu.Lock()
		times = append(times, time.Now())
		deliveries = append(deliveries, r.Header.Get("X-Cortex-Delivery"))
		n := len(times)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch n {
		case 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"code":"rate_limited","message":"slow down"}}`))
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"later"}}`))
		default:
			_, _ = w.Write([]byte(`{"status":"accepted","id":"e1","deliveries":3}`))
		}
	}))
	defer srv.Close()
	res, err := (&sender.Client{URL: srv.URL, Secret: "s3cret"}).Send(context.Background(), body)
	require.NoError(t, err)
	require.Equal(t, sender.Result{EventID: "e1", Event: "scan.started", StatusCode: 200, Status: "accepted", Deliveries: 3, Tries: 3}, res)
	require.GreaterOrEqual(t, times[1].Sub(times[0]), time.Second, "Retry-After honoured")
	require.Equal(t, deliveries[0], deliveries[2], "the same X-Cortex-Delivery on every retry")
}

func TestSendReturnsRejections(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"invalid_signature","message":"no"}}`))
	}))
	defer srv.Close()
	res, err := (&sender.Client{URL: srv.URL, Secret: "x"}).Send(context.Background(), []byte(`{"id":"e"}`))
	require.NoError(t, err, "a rejection is an answer, not a failure to send")
	require.Equal(t, 401, res.StatusCode)
	require.Equal(t, "invalid_signature", res.Code)
	require.Equal(t, 1, res.Tries)

	res, err = (&sender.Client{URL: "http://127.0.0.1:1", Secret: "x", MaxElapsed: 300 * time.Millisecond}).Send(context.Background(), []byte(`{"id":"e"}`))
	require.Error(t, err)
	require.Zero(t, res.StatusCode)
	require.Greater(t, res.Tries, 1, "network errors are retried")
}
