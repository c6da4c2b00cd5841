package notify_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// TestScrub: every form in which a receiver or a library may echo a credential is replaced in
// the error text and in the recorded answer, the classification and error chain are kept, and
// values too short to be credentials are left alone.
func TestScrub(t *testing.T) {
	t.Parallel()
	const token = "FAKE-TOKEN/with+odd&chars=1"
	const hook = "https://hooks.example.com/services/T0001/B0001/FAKE-WEBHOOK-TOKEN-24ch?key=FAKE-QUERY-KEY-77"
	forms := notify.SecretForms(token, hook, "short")
	tests := map[string]string{
		"as given":           token,
		"path-escaped":       url.PathEscape(token),
		"query-escaped":      url.QueryEscape(token),
		"JSON-escaped":       `FAKE-TOKEN/with+odd\u0026chars=1`,
		"base64":             base64.StdEncoding.EncodeToString([]byte(token)),
		"base64 URL":         base64.RawURLEncoding.EncodeToString([]byte(token)),
		"the whole URL":      hook,
		"the URL's path":     "/services/T0001/B0001/FAKE-WEBHOOK-TOKEN-24ch",
		"a long segment":     "FAKE-WEBHOOK-TOKEN-24ch",
		"a query value":      "FAKE-QUERY-KEY-77",
		"the request target": "/services/T0001/B0001/FAKE-WEBHOOK-TOKEN-24ch?key=FAKE-QUERY-KEY-77",
	}
	for name, leak := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cause := errors.New("dial: " + leak)
			de := &notify.DeliveryError{Err: cause, Reason: notify.ReasonServerError, Retryable: true, StatusCode: 500,
				Response: "you sent " + leak + " and short"}
			err := notify.Scrub(fmt.Errorf("wrapped: %w", de), forms)
			require.NotContains(t, err.Error(), leak)
			require.NotContains(t, de.Response, leak)
			require.Contains(t, de.Response, "<redacted>")
			require.Contains(t, de.Response, "short", "a value under notify.MinSecretLen is not a credential")
			require.ErrorIs(t, err, cause, "the chain is kept")
			require.True(t, de.Retryable)

			plain := notify.Scrub(errors.New("plain "+leak), forms)
			require.NotContains(t, plain.Error(), leak)
		})
	}
	require.NoError(t, notify.Scrub(nil, forms))
}
