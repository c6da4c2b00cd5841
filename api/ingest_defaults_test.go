package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// TestIngestDefaults: a zero field of IngestConfig takes docs/configuration.md's default (a zero tolerance
// would refuse every event as stale, a zero burst every request as over the rate), and
// ReplayWindow follows the tolerance in force.
func TestIngestDefaults(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		cfg        func(*api.IngestConfig)
		ts         time.Duration // the event's timestamp, from fixedNow
		body       []byte        // instead of the event, when set
		requests   int           // sent first, each answered 200
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		"tolerance 0 is 5m: 4m59s behind": {cfg: func(c *api.IngestConfig) { c.Tolerance = 0 }, ts: -299 * time.Second, wantStatus: http.StatusOK},
		"tolerance 0 is 5m: 5m1s behind": {cfg: func(c *api.IngestConfig) { c.Tolerance = 0 }, ts: -301 * time.Second,
			wantStatus: http.StatusBadRequest, wantCode: api.CodeStaleTimestamp, wantMsg: "the tolerance is 5m0s"},
		"tolerance below 0 is 5m": {cfg: func(c *api.IngestConfig) { c.Tolerance = -time.Minute }, ts: -4 * time.Minute, wantStatus: http.StatusOK},
		"max body 0 is 1 MiB": {cfg: func(c *api.IngestConfig) { c.MaxBodyBytes = 0 }, body: bytes.Repeat([]byte(" "), 1<<20+1),
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: api.CodeBodyTooLarge, wantMsg: "the limit is 1048576"},
		"max body 0 lets 1 MiB in": {cfg: func(c *api.IngestConfig) { c.MaxBodyBytes = 0 }, body: bytes.Repeat([]byte(" "), 1<<20-300),
			wantStatus: http.StatusOK},
		"burst 0 is 1: the first passes": {cfg: func(c *api.IngestConfig) { c.RatePerSec, c.RateBurst = 0.001, 0 }, wantStatus: http.StatusOK},
		"burst 0 is 1: the second waits": {cfg: func(c *api.IngestConfig) { c.RatePerSec, c.RateBurst = 0.001, 0 }, requests: 1,
			wantStatus: http.StatusTooManyRequests, wantCode: api.CodeRateLimited},
		"rate 0 is 500/s in bursts of 1000": {cfg: func(c *api.IngestConfig) { c.RatePerSec, c.RateBurst = 0, 1 }, requests: 20,
			wantStatus: http.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupIngest(t, tc.cfg, nil)
			for i := range tc.requests {
				res := b.post(t, eventBody(t, "scan.completed", fixedNow.Add(time.Duration(i+1)*time.Millisecond), nil))
				require.Equal(t, http.StatusOK, res.status, "request %d before: %s", i, res.body)
			}
			body := eventBody(t, "scan.completed", fixedNow.Add(tc.ts), nil)
			if tc.body != nil {
				body = append(bytes.Clone(tc.body), body...) // leading spaces: still the event
			}
			res := b.post(t, body)
			require.Equal(t, tc.wantStatus, res.status, "body: %.300s", res.body)
			if tc.wantCode != "" {
				requireErrorBody(t, res, tc.wantCode, tc.wantMsg)
			}
		})
	}
	h := api.NewIngest(api.IngestConfig{}, nil, nil)
	require.Equal(t, 11*time.Minute, h.ReplayWindow(), "2 × the default 5m tolerance + ReplayMargin")
	h.Update(api.IngestConfig{Tolerance: 2 * time.Minute})
	require.Equal(t, 5*time.Minute, h.ReplayWindow())
}

// TestIngestHeldDeliveries: the answer counts the deliveries a route held back (a group,
// throttle or quiet hours) only when there are some.
func TestIngestHeldDeliveries(t *testing.T) {
	t.Parallel()
	for held, want := range map[int]string{0: `{"status":"accepted","id":"%s","deliveries":3}`, 2: `{"status":"accepted","id":"%s","deliveries":3,"held":2}`} {
		acc := acceptFunc(func(context.Context, *event.Event) (core.AcceptResult, error) {
			return core.AcceptResult{Deliveries: 3, Held: held}, nil
		})
		cfg := defaultConfig()
		srv := httptest.NewServer(api.NewIngest(cfg, acc, nil))
		t.Cleanup(srv.Close)
		body := eventBody(t, "scan.completed", time.Time{}, nil)
		res := send(t, srv.URL+ingestPath, http.MethodPost, body, false)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		require.JSONEq(t, fmt.Sprintf(want, idOf(t, body)), string(res.body))
	}
}

// TestIngestUpdateKeepsTheRateLimiter: a reload that keeps ingest.rate_per_sec and
// ingest.rate_burst keeps the tokens already used (else every reload would hand out a fresh
// burst); one that changes either starts a limiter of the new size.
func TestIngestUpdateKeepsTheRateLimiter(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		update     func(*api.IngestConfig)
		wantStatus int
	}{
		"same rate and burst: the used token stays used": {func(c *api.IngestConfig) { c.Tolerance = time.Hour }, http.StatusTooManyRequests},
		"new rate: a new limiter":                        {func(c *api.IngestConfig) { c.RatePerSec = 1000 }, http.StatusOK},
		"new burst: a new limiter":                       {func(c *api.IngestConfig) { c.RateBurst = 2 }, http.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			slow := func(c *api.IngestConfig) { c.RatePerSec, c.RateBurst = 0.001, 1 }
			b := setupIngest(t, slow, nil)
			valid := eventBody(t, "scan.completed", time.Time{}, nil)
			require.Equal(t, http.StatusOK, send(t, b.url, http.MethodPost, valid, false).status, "the burst's one token")
			cfg := defaultConfig()
			slow(&cfg)
			tc.update(&cfg)
			b.h.Update(cfg)
			res := send(t, b.url, http.MethodPost, valid, false)
			require.Equal(t, tc.wantStatus, res.status, "body: %s", res.body)
		})
	}
}

// TestIngestUpdateKeepsTheUnverifiedBudget: a reload that keeps ingest.max_unverified_bytes
// keeps the reservations of bodies in flight (a reload must not double the budget); one that
// changes it starts a new budget of the new size.
func TestIngestUpdateKeepsTheUnverifiedBudget(t *testing.T) {
	t.Parallel()
	valid := eventBody(t, "scan.completed", time.Time{}, nil)
	tests := map[string]struct {
		update     func(*api.IngestConfig)
		wantStatus int
	}{
		"same budget: still in use": {func(c *api.IngestConfig) { c.Tolerance = time.Hour }, http.StatusServiceUnavailable},
		"new budget: a fresh one":   {func(c *api.IngestConfig) { c.MaxUnverifiedBytes *= 2 }, http.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			budget := func(c *api.IngestConfig) { c.MaxUnverifiedBytes = int64(len(valid)) }
			b := setupIngest(t, budget, nil)
			// A body half sent holds the whole budget.
			sendHalf(t, b.url, valid)
			require.Eventually(t, func() bool { now, _ := b.h.UnverifiedBytes(); return now == int64(len(valid)) }, 10*time.Second, 5*time.Millisecond)

			cfg := defaultConfig()
			budget(&cfg)
			tc.update(&cfg)
			b.h.Update(cfg)
			res := send(t, b.url, http.MethodPost, valid, false)
			require.Equal(t, tc.wantStatus, res.status, "body: %s", res.body)
			if tc.wantStatus == http.StatusServiceUnavailable {
				requireErrorBody(t, res, api.CodeUnavailable, "ingest.max_unverified_bytes")
				requireRetryAfter(t, res, 1, 1)
			}
		})
	}
}

// TestIngestToleranceBothWays: a timestamp exactly the tolerance ahead of the bridge's clock
// passes, as one exactly the tolerance behind does; a second more either way is stale.
func TestIngestToleranceBothWays(t *testing.T) {
	t.Parallel()
	tests := map[time.Duration]int{
		5 * time.Minute:              http.StatusOK,
		-5 * time.Minute:             http.StatusOK,
		5*time.Minute + time.Second:  http.StatusBadRequest,
		-5*time.Minute - time.Second: http.StatusBadRequest,
	}
	for skew, want := range tests {
		t.Run(skew.String(), func(t *testing.T) {
			t.Parallel()
			b := setupIngest(t, nil, nil)
			res := b.post(t, eventBody(t, "scan.completed", fixedNow.Add(skew), nil))
			require.Equal(t, want, res.status, "body: %s", res.body)
			if want != http.StatusOK {
				requireErrorBody(t, res, api.CodeStaleTimestamp, "the tolerance is 5m0s")
			}
		})
	}
}

// TestIngestEmptyBodyReservesNothing: a signed request with an empty body (Content-Length: 0)
// reserves no unverified budget, so it is answered at once (400) while other bodies hold all of
// it, rather than 503 after waiting for budget it does not need.
func TestIngestEmptyBodyReservesNothing(t *testing.T) {
	t.Parallel()
	valid := eventBody(t, "scan.completed", time.Time{}, nil)
	b := setupIngest(t, func(c *api.IngestConfig) { c.MaxUnverifiedBytes = int64(len(valid)) }, nil)
	sendHalf(t, b.url, valid)
	require.Eventually(t, func() bool { now, _ := b.h.UnverifiedBytes(); return now == int64(len(valid)) }, 10*time.Second, 5*time.Millisecond)

	res := send(t, b.url, http.MethodPost, []byte{}, false)
	require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
	requireErrorBody(t, res, api.CodeInvalidJSON)
}
