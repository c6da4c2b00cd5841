package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// standardE2EReceiver verifies every request with the official Standard Webhooks library, the
// secret chosen by path (one per target), fails the first attempt of each delivery with 503 and
// accepts the retry.
type standardE2EReceiver struct {
	mu      sync.Mutex
	secrets map[string]string // path → the secret this receiver knows
	got     map[string][]http.Header
	errs    []error
}

func (rc *standardE2EReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	wh, err := standardwebhooks.NewWebhook(rc.secrets[r.URL.Path])
	if err == nil {
		err = wh.Verify(body, r.Header)
	}
	if err != nil {
		rc.errs = append(rc.errs, fmt.Errorf("%s: %w", r.URL.Path, err))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	key := r.URL.Path + " " + r.Header.Get("X-Cortex-Delivery")
	rc.got[key] = append(rc.got[key], r.Header.Clone())
	if len(rc.got[key]) == 1 {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *standardE2EReceiver) snapshot() (map[string][]http.Header, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string][]http.Header{}
	for k, v := range rc.got {
		out[k] = append([]http.Header(nil), v...)
	}
	return out, append([]error(nil), rc.errs...)
}

// TestEndToEndStandardWebhooks: the real bridge signs by the Standard Webhooks scheme for a
// configured webhook target during a secret rotation (the receiver knows only the old secret)
// and for a webhook registered through the API with a generated secret; the official library
// verifies every request, webhook-id is the delivery id on the first attempt and its retry,
// and each attempt carries its own timestamp.
func TestEndToEndStandardWebhooks(t *testing.T) {
	t.Parallel()
	secret := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return "whsec_" + base64.StdEncoding.EncodeToString(b)
	}
	oldSecret, newSecret := secret(), secret()
	rc := &standardE2EReceiver{secrets: map[string]string{"/siem": oldSecret}, got: map[string][]http.Header{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 5s, max_attempts: 3, backoff: {initial: 2100ms, max: 3s}}
api:
  keys: [{account: acme, key: %q}]
  allow_private_urls: true   # the test's receiver is on loopback
  require_https: false
targets:
  - {name: siem, type: webhook, url: %q, signature_scheme: standard-webhooks, secret: %q}
routes:
  - {name: everything, when: "true", targets: [siem]}
`, ingestSecret, apiKey, srv.URL+"/siem", newSecret+" "+oldSecret), 0o600))
	b := startBridge(t, cfgPath, io.Discard)
	base := "http://" + b.addr

	status, created := apiCall(t, base, http.MethodPost, "/webhooks", map[string]any{
		"url": srv.URL + "/app", "events": []string{"scan.completed"}, "signature_scheme": "standard-webhooks"})
	require.Equal(t, http.StatusCreated, status, created)
	require.Equal(t, "standard-webhooks", created["signature_scheme"])
	rc.mu.Lock()
	rc.secrets["/app"] = created["secret"].(string)
	rc.mu.Unlock()

	_, res := sendSample(t, b, "scan.completed", time.Now())
	require.Equal(t, 2, res.Deliveries, "siem and the registered webhook")
	var got map[string][]http.Header
	require.Eventually(t, func() bool {
		var errs []error
		got, errs = rc.snapshot()
		require.Empty(t, errs, "every request verifies with the official library")
		done := 0
		for _, hs := range got {
			if len(hs) == 2 {
				done++
			}
		}
		return done == 2
	}, 20*time.Second, 50*time.Millisecond, "both deliveries are retried once and then accepted")
	require.Len(t, got, 2)
	for key, hs := range got {
		delivery := hs[0].Get("X-Cortex-Delivery")
		require.NotEmpty(t, delivery)
		for i, h := range hs {
			require.Equal(t, delivery, h.Get("webhook-id"), "%s attempt %d: webhook-id is the delivery id", key, i+1)
			require.Empty(t, h.Get("X-Cortex-Signature"))
		}
		// webhook-timestamp is in whole seconds: the backoff (2.1 s ± 50%, so at least 1.05 s)
		// puts the retry in a later second.
		require.Greater(t, hs[1].Get("webhook-timestamp"), hs[0].Get("webhook-timestamp"), "%s: the retry is signed at its own time", key)
	}
}
