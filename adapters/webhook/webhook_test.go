package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/adaptertest"
	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/notify"
)

const secret = "FAKE-WEBHOOK-SECRET-123"

func newNotifier(t *testing.T, url string, headers map[string]string) *webhook.Notifier {
	t.Helper()
	n, err := webhook.New(&webhook.Config{URL: url + "/hooks/cortex", Secret: secret, Headers: headers}, nil, "test")
	require.NoError(t, err)
	return n
}

func TestConformance(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, adaptertest.Suite{
		New:    func(t *testing.T, url string) notify.Notifier { return newNotifier(t, url, nil) },
		Secret: secret,
	})
}

// TestConformanceConfiguredHeaderSecret: a credential the user put in headers (an
// Authorization or API-key header) is echoed by the receiver like any other and is kept out of
// errors and recorded answers too.
func TestConformanceConfiguredHeaderSecret(t *testing.T) {
	t.Parallel()
	const apiKey = "FAKE-HEADER-API-KEY-5512"
	adaptertest.Suite{
		New: func(t *testing.T, url string) notify.Notifier {
			return newNotifier(t, url, map[string]string{"Authorization": "Bearer " + apiKey, "X-Api-Key": apiKey})
		},
		Secret: apiKey,
	}.SecretEchoed(t)
}

// verifySignature is the seed's receiver check: HMAC-SHA256 of the raw body, hex, "sha256=" prefix.
func verifySignature(body []byte, header, secret string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal([]byte(header), []byte("sha256="+hex.EncodeToString(m.Sum(nil))))
}

type captured struct {
	header http.Header
	body   []byte
	path   string
}

func receiver(t *testing.T) (*httptest.Server, chan captured) {
	got := make(chan captured, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- captured{r.Header.Clone(), b, r.URL.Path}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestNotifySendsOriginalEventSigned(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t)
	msg := adaptertest.Message(t)
	require.NoError(t, newNotifier(t, srv.URL, map[string]string{"X-Team": "security"}).Notify(context.Background(), msg))
	c := <-got
	require.Equal(t, "/hooks/cortex", c.path)
	require.Equal(t, msg.Event.Raw, c.body, "the default body is the event byte for byte")
	require.True(t, verifySignature(c.body, c.header.Get("X-Cortex-Signature"), secret))
	require.Equal(t, "application/json", c.header.Get("Content-Type"))
	require.Equal(t, "issue.critical", c.header.Get("X-Cortex-Event"))
	require.Equal(t, msg.DeliveryID, c.header.Get("X-Cortex-Delivery"))
	require.Equal(t, "cortex-bridge/test", c.header.Get("User-Agent"))
	require.Equal(t, "security", c.header.Get("X-Team"))
}

func TestNotifySignsTemplatedBody(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t)
	msg := adaptertest.Message(t)
	msg.Body = []byte(`{"summary":"a<b & \"c\""}`)
	require.NoError(t, newNotifier(t, srv.URL, nil).Notify(context.Background(), msg))
	c := <-got
	require.Equal(t, msg.Body, c.body)
	require.True(t, verifySignature(c.body, c.header.Get("X-Cortex-Signature"), secret), "the signature covers exactly the bytes sent")
}

func TestDeliveryIDStableAcrossAttempts(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t)
	n := newNotifier(t, srv.URL, nil)
	msg := adaptertest.Message(t)
	require.NoError(t, n.Notify(context.Background(), msg))
	msg.Attempt = 2
	require.NoError(t, n.Notify(context.Background(), msg))
	require.Equal(t, (<-got).header.Get("X-Cortex-Delivery"), (<-got).header.Get("X-Cortex-Delivery"))
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		cfg  webhook.Config
		want string
	}{
		"missing url":      {webhook.Config{Secret: secret}, "url: required"},
		"relative url":     {webhook.Config{URL: "/hooks", Secret: secret}, "url: must be an absolute"},
		"ftp url":          {webhook.Config{URL: "ftp://x/y", Secret: secret}, "url: must be an absolute"},
		"reserved header":  {webhook.Config{URL: "https://x/y", Secret: secret, Headers: map[string]string{"x-cortex-signature": "x"}}, "headers.x-cortex-signature"},
		"url is redacted":  {webhook.Config{URL: "ftp://x/" + secret, Secret: secret}, "ftp://x/<redacted>"},
		"valid passes too": {webhook.Config{URL: "https://siem.example.com/hooks", Secret: secret}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), secret)
		})
	}
	_, err := webhook.New(&webhook.Config{URL: "https://x/y"}, nil, "v")
	require.Error(t, err, "an empty secret is refused")
}
