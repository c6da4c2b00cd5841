package adaptertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// PreviewIsWhatIsSent: the adapter is a notify.Previewer, and its Preview of a message is,
// byte for byte, the body Notify then sends for it (secrets replaced by "<redacted>", so none
// appears in the preview); a JSON body has no null anywhere (a platform expects a field absent,
// not null: Discord's "components": null).
func (s Suite) PreviewIsWhatIsSent(t *testing.T) {
	var (
		mu   sync.Mutex
		got  []byte
		kind string
	)
	srv := s.serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, kind = b, r.Header.Get("Content-Type")
		mu.Unlock()
		s.Success(w)
	})
	n := s.New(t, srv.URL)
	pv, ok := n.(notify.Previewer)
	require.True(t, ok, "an HTTP adapter is a notify.Previewer (the dry run prints what it would send)")
	p, err := pv.Preview(context.Background(), Message(t))
	require.NoError(t, err)
	require.NotNil(t, p)
	require.NoError(t, n.Notify(context.Background(), Message(t)))
	mu.Lock()
	defer mu.Unlock()
	want := got
	for _, secret := range s.secrets() {
		require.NotContains(t, string(p.Body), secret, "the preview shows a secret")
		want = bytes.ReplaceAll(want, []byte(secret), []byte("<redacted>"))
	}
	require.Equal(t, string(want), string(p.Body), "the preview is the body sent")
	require.Equal(t, kind, p.ContentType)
	if json.Valid(got) {
		var v any
		require.NoError(t, json.Unmarshal(got, &v))
		requireNoNull(t, v, "$")
	}
}

// requireNoNull fails on the first null in v (decoded JSON), naming its path.
func requireNoNull(t *testing.T, v any, path string) {
	t.Helper()
	switch x := v.(type) {
	case nil:
		require.Failf(t, "null in the payload", "%s is null: leave the field out instead", path)
	case map[string]any:
		for k, e := range x {
			requireNoNull(t, e, path+"."+k)
		}
	case []any:
		for i, e := range x {
			requireNoNull(t, e, path+"["+strconv.Itoa(i)+"]")
		}
	}
}
