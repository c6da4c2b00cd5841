package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
)

// TestReloadIsForAdminsAndThrottled: POST /-/reload needs an admin account's key (a tenant's
// key gets 403) and is throttled for the whole process: 3 in a row, then 429 with Retry-After.
func TestReloadIsForAdminsAndThrottled(t *testing.T) {
	t.Parallel()
	keys := api.NewKeys(nil)
	keys.Set(map[string]string{"ops": "ops-key-0123456789abcdef", "acme": acmeKey}, "ops")
	var reloads atomic.Int32
	srv := httptest.NewServer(api.Routes{IngestPath: "/webhooks/cortex", Ingest: http.NotFoundHandler(), Keys: keys,
		Reload: func(context.Context) error { reloads.Add(1); return nil }}.Handler())
	t.Cleanup(srv.Close)
	reload := func(key string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/-/reload", nil)
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		name       string
		key        string
		want       int
		retryAfter string
	}{
		{"no key", "", http.StatusUnauthorized, ""},
		{"a tenant", acmeKey, http.StatusForbidden, ""},
		{"admin 1", "ops-key-0123456789abcdef", http.StatusOK, ""},
		{"admin 2", "ops-key-0123456789abcdef", http.StatusOK, ""},
		{"a tenant again: refused before it spends a reload", acmeKey, http.StatusForbidden, ""},
		{"admin 3", "ops-key-0123456789abcdef", http.StatusOK, ""},
		{"admin 4: throttled", "ops-key-0123456789abcdef", http.StatusTooManyRequests, "10"},
	}
	for _, tt := range tests {
		resp := reload(tt.key)
		require.Equal(t, tt.want, resp.StatusCode, tt.name)
		require.Equal(t, tt.retryAfter, resp.Header.Get("Retry-After"), tt.name)
	}
	require.Equal(t, int32(3), reloads.Load())
	require.False(t, keys.Admin("acme"))
	require.True(t, keys.Admin("ops"))
}
