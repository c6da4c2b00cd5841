package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewDialer(t *testing.T) {
	t.Parallel()
	d := newDialer()
	require.Equal(t, 10*time.Second, d.Timeout)
	require.Equal(t, 30*time.Second, d.KeepAlive)
}
