package webhook

import (
	"net/http"
	"testing"

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
