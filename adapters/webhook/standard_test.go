package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/adaptertest"
	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// newStandardSecret returns a Standard Webhooks secret: whsec_ and the base64 of n random bytes.
func newStandardSecret(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return webhook.StandardSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// standardReceiver verifies every request with the official Standard Webhooks library, as a
// receiver would, for each of the secrets it knows, and answers with the status codes given in
// turn (200 after the last).
type standardReceiver struct {
	mu       sync.Mutex
	verifier []*standardwebhooks.Webhook
	codes    []int
	got      []standardRequest
}

type standardRequest struct {
	header   http.Header
	body     []byte
	verified []error // per known secret: nil when Verify accepted the request
}

func (rc *standardReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	req := standardRequest{header: r.Header.Clone(), body: b}
	for _, v := range rc.verifier {
		req.verified = append(req.verified, v.Verify(b, r.Header))
	}
	rc.mu.Lock()
	code := http.StatusOK
	if n := len(rc.got); n < len(rc.codes) {
		code = rc.codes[n]
	}
	rc.got = append(rc.got, req)
	rc.mu.Unlock()
	w.WriteHeader(code)
}

func (rc *standardReceiver) requests() []standardRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]standardRequest(nil), rc.got...)
}

// TestStandardWebhooksInterop: with signature_scheme standard-webhooks, what the bridge sends
// verifies with the official Go library (github.com/standard-webhooks/standard-webhooks) over a
// real HTTP receiver, with one secret and during a rotation (both signatures in one header, a
// receiver knowing either secret accepts it, one knowing neither refuses it); webhook-id is the
// delivery id on every retry, webhook-timestamp the attempt's time, and no X-Cortex-Signature
// is sent.
func TestStandardWebhooksInterop(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret, strange := newStandardSecret(t, 32), newStandardSecret(t, 24), newStandardSecret(t, 64)
	tests := map[string]struct {
		secret     string   // the target's
		known      []string // the receiver's
		verified   []bool   // by known secret
		signatures int
	}{
		"one secret":                 {secret: newSecret, known: []string{newSecret}, verified: []bool{true}, signatures: 1},
		"rotation, receiver has new": {secret: newSecret + " " + oldSecret, known: []string{newSecret}, verified: []bool{true}, signatures: 2},
		"rotation, receiver has old": {secret: newSecret + "  " + oldSecret, known: []string{oldSecret}, verified: []bool{true}, signatures: 2},
		"wrong secret":               {secret: newSecret, known: []string{strange, oldSecret}, verified: []bool{false, false}, signatures: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rc := &standardReceiver{codes: []int{http.StatusServiceUnavailable}}
			for _, k := range tc.known {
				v, err := standardwebhooks.NewWebhook(k)
				require.NoError(t, err)
				rc.verifier = append(rc.verifier, v)
			}
			srv := httptest.NewServer(rc)
			t.Cleanup(srv.Close)
			n, err := webhook.New(&webhook.Config{URL: srv.URL + "/hooks", Secret: notify.Secret(tc.secret),
				SignatureScheme: webhook.SchemeStandardWebhooks}, nil, "test")
			require.NoError(t, err)

			msg := adaptertest.Message(t)
			var windows [][2]int64 // each attempt's [start, end] in Unix seconds
			for attempt := 1; attempt <= 2; attempt++ {
				m := *msg
				m.Attempt = attempt
				start := time.Now().Unix()
				err := n.Notify(context.Background(), &m)
				windows = append(windows, [2]int64{start, time.Now().Unix()})
				if attempt == 1 {
					require.Error(t, err, "the first attempt gets 503 and is retried")
				} else {
					require.NoError(t, err)
				}
				if attempt == 1 {
					time.Sleep(1100 * time.Millisecond) // the retry's timestamp is a later second
				}
			}
			got := rc.requests()
			require.Len(t, got, 2)
			for i, r := range got {
				require.Equal(t, msg.DeliveryID, r.header.Get("webhook-id"), "attempt %d: the delivery id, stable across retries", i+1)
				ts, err := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64)
				require.NoError(t, err)
				require.GreaterOrEqual(t, ts, windows[i][0], "attempt %d: the attempt's time, not the event's", i+1)
				require.LessOrEqual(t, ts, windows[i][1])
				sigs := strings.Split(r.header.Get("webhook-signature"), " ")
				require.Len(t, sigs, tc.signatures)
				for _, s := range sigs {
					require.True(t, strings.HasPrefix(s, "v1,"), s)
				}
				require.Empty(t, r.header.Get("X-Cortex-Signature"))
				require.Equal(t, msg.DeliveryID, r.header.Get("X-Cortex-Delivery"))
				require.Equal(t, []byte(msg.Event.Raw), r.body, "the body is the event as Cortex sent it")
				for j, ok := range tc.verified {
					if ok {
						require.NoError(t, r.verified[j], "attempt %d, receiver secret %d", i+1, j+1)
					} else {
						require.ErrorIs(t, r.verified[j], standardwebhooks.ErrNoMatchingSignature)
					}
				}
			}
			require.Greater(t, got[1].header.Get("webhook-timestamp"), got[0].header.Get("webhook-timestamp"), "each attempt is signed at its own time")
		})
	}
}

// TestStandardWebhooksSecretForm: under the standard-webhooks scheme the secret must be one or
// more whsec_<base64 of 24–64 bytes>; a bad one is refused naming the key, never repeating the
// value; an unknown scheme is refused naming signature_scheme.
func TestStandardWebhooksSecretForm(t *testing.T) {
	t.Parallel()
	good := newStandardSecret(t, 32)
	tests := map[string]struct {
		scheme, secret string
		want           string // "" valid
	}{
		"cortex scheme takes any secret": {scheme: webhook.SchemeCortex, secret: "plain-secret-123"},
		"default is cortex":              {scheme: "", secret: "plain-secret-123"},
		"standard, one":                  {scheme: webhook.SchemeStandardWebhooks, secret: good},
		"standard, rotation":             {scheme: webhook.SchemeStandardWebhooks, secret: good + " " + newStandardSecret(t, 64)},
		"standard, no prefix":            {scheme: webhook.SchemeStandardWebhooks, secret: strings.TrimPrefix(good, "whsec_"), want: "secret: secret 1 of 1: the standard-webhooks scheme wants whsec_"},
		"standard, not base64":           {scheme: webhook.SchemeStandardWebhooks, secret: "whsec_not*base64*at*all*not*base64*at*all", want: "secret: secret 1 of 1"},
		"standard, key too short":        {scheme: webhook.SchemeStandardWebhooks, secret: newStandardSecret(t, 16), want: "24–64 byte key"},
		"standard, key too long":         {scheme: webhook.SchemeStandardWebhooks, secret: newStandardSecret(t, 65), want: "24–64 byte key"},
		"standard, second of a rotation": {scheme: webhook.SchemeStandardWebhooks, secret: good + " whsec_short", want: "secret: secret 2 of 2"},
		"unknown scheme":                 {scheme: "hmac-sha1", secret: good, want: `signature_scheme: must be cortex or standard-webhooks, got "hmac-sha1"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := webhook.New(&webhook.Config{URL: "https://example.com/hook", Secret: notify.Secret(tc.secret), SignatureScheme: tc.scheme}, nil, "test")
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			for _, f := range strings.Fields(tc.secret) {
				require.NotContains(t, err.Error(), strings.TrimPrefix(f, "whsec_"), "the error never repeats the secret")
			}
		})
	}
}

// TestStandardWebhooksConformance: the HTTP adapter suite, including the receiver echoing every
// secret, holds under the standard-webhooks scheme too.
func TestStandardWebhooksConformance(t *testing.T) {
	t.Parallel()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("FAKE-STANDARD-KEY-0123456789abcdef"))
	adaptertest.Run(t, adaptertest.Suite{
		New: func(t *testing.T, url string) notify.Notifier {
			n, err := webhook.New(&webhook.Config{URL: url + "/hooks", Secret: notify.Secret(secret), SignatureScheme: webhook.SchemeStandardWebhooks}, nil, "test")
			require.NoError(t, err)
			return n
		},
		Secret: secret,
	})
}
