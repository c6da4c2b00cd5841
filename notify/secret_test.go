package notify_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// TestSecretNeverPrints: a Secret is hidden in every output a log line, an error or an API
// response could take (C07 by construction).
func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := notify.Secret("FAKE-SECRET-123")
	var logBuf strings.Builder
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "secret", s, "cfg", struct{ Token notify.Secret }{s})
	b, err := json.Marshal(struct{ Token notify.Secret }{s})
	require.NoError(t, err)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %q %#v %+v", s, s, s, s, struct{ T notify.Secret }{s}), string(b), logBuf.String(),
		fmt.Errorf("sending with %v failed", s).Error()} {
		require.NotContains(t, out, "FAKE-SECRET-123")
	}
	require.Equal(t, "FAKE-SECRET-123", s.Reveal())
	require.Equal(t, "", notify.Secret("").String(), "an unset secret shows as empty")
}
