package webhook

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGuardClientHasNoProxy: the guarded client never uses a proxy (HTTP_PROXY, HTTPS_PROXY),
// which would dial for it, past the guard; after a reload neither.
func TestGuardClientHasNoProxy(t *testing.T) {
	t.Parallel()
	live := NewLive(Guard{})
	c := live.Client()
	tr, ok := c.Transport.(*liveTransport)
	require.True(t, ok)
	require.Nil(t, tr.current().Proxy)
	live.Set(Guard{AllowPrivate: true})
	require.Nil(t, tr.current().Proxy)
	require.NotNil(t, http.DefaultTransport.(*http.Transport).Proxy, "the default would use one")
}

// TestGuardDialer: the dialer gives up connecting after 10 s and keeps connections alive
// every 30 s (neither can be seen over loopback, where a connection is made at once), and its
// Control refuses what the guard in force refuses, and an address it cannot read.
func TestGuardDialer(t *testing.T) {
	t.Parallel()
	live := NewLive(Guard{})
	d := live.dialer()
	require.Equal(t, 10*time.Second, d.Timeout)
	require.Equal(t, 30*time.Second, d.KeepAlive)
	tests := map[string]string{
		"93.184.216.34:443":    "",
		"[2a00:1450::1]:443":   "",
		"127.0.0.1:80":         "address not allowed: 127.0.0.1 is a private",
		"[::ffff:10.0.0.1]:80": "address not allowed: 10.0.0.1 is a private",
		"[fe80::1%eth0]:80":    "address not allowed: fe80::1 is a private",
		"not-an-address":       "address not allowed: not-an-address",
	}
	for address, want := range tests {
		t.Run(address, func(t *testing.T) {
			t.Parallel()
			err := d.Control("tcp", address, nil)
			if want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrForbiddenAddress)
			require.ErrorContains(t, err, want)
		})
	}

	reloaded := NewLive(Guard{})
	built := reloaded.dialer()
	reloaded.Set(Guard{AllowPrivate: true})
	require.NoError(t, built.Control("tcp", "127.0.0.1:80", nil), "the guard in force decides, not the one it was built with")
}
