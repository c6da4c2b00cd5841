package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

// FuzzManagementBodies sends arbitrary bodies to POST /webhooks and PATCH /webhooks/{id}: every
// answer is one of the documented statuses with a JSON body, never a 5xx, a secret given in the
// body is never echoed, and a webhook the API accepted reads back as it was given. The seed
// corpus is in testdata/fuzz/FuzzManagementBodies.
func FuzzManagementBodies(f *testing.F) {
	for _, seed := range []string{
		`{"url":"https://hooks.example.com/a","events":["*"]}`,
		`{"url":"https://hooks.example.com/a","events":["scan.completed","issue.critical"],"secret":"0123456789abcdef0123","active":false,"description":"d"}`,
		`{"url":"https://[::127.0.0.1]/x","events":["*"]}`,
		`{"url":"https://2130706433/x","events":["*"]}`,
		`{"url":"https://rebind.example.com/x","events":["*"]}`,
		`{"events":[]}`,
		`{"secret":"short"}`,
		`{"url":null,"events":null}`,
		`{"url":"https://hooks.example.com/a","events":["*"]} trailing`,
		`{"unknown":1}`,
		`[]`,
		``,
		`{"description":"` + strings.Repeat("é", 300) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(f.TempDir(), "bridge.db"))
	require.NoError(f, err)
	f.Cleanup(func() { db.Close() })
	guard := webhook.Guard{Resolver: publicResolver{}}
	mg := &api.Management{Store: db, Keys: api.NewKeys(map[string]string{"acme": acmeKey}),
		Webhooks: &webhooks.Service{Store: db, MaxPerAccount: 1000,
			CheckURL: func(ctx context.Context, url string) error { return guard.CheckURL(ctx, url, true) }}}
	mux := http.NewServeMux()
	mg.Register(mux)
	do := func(t testing.TB, method, path string, body []byte) (int, map[string]any) {
		req := httptest.NewRequest(method, path, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+acmeKey)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var out map[string]any
		if rec.Code != http.StatusNoContent {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), "%s %s answered %d with a body that is not JSON: %q", method, path, rec.Code, rec.Body.String())
		}
		return rec.Code, out
	}
	// A webhook every input patches.
	code, base := do(f, http.MethodPost, "/webhooks", []byte(`{"url":"https://hooks.example.com/base","events":["*"]}`))
	require.Equal(f, http.StatusCreated, code)
	baseID, _ := base["id"].(string)
	f.Fuzz(func(t *testing.T, body []byte) {
		var given struct {
			URL         *string   `json:"url"`
			Secret      *string   `json:"secret"`
			Events      *[]string `json:"events"`
			Description *string   `json:"description"`
		}
		_ = json.Unmarshal(body, &given)
		noSecret := func(ans map[string]any, generated bool) {
			// A secret too short to be one, or also given as another field that answers may
			// echo (an event type, the URL), says nothing when it appears.
			if given.Secret == nil || len(*given.Secret) < webhooks.MinSecretBytes || generated {
				return
			}
			others, _ := json.Marshal([]any{given.URL, given.Events, given.Description})
			if strings.Contains(string(others), *given.Secret) {
				return
			}
			b, _ := json.Marshal(ans)
			require.NotContains(t, string(b), *given.Secret, "the secret given is echoed")
		}
		code, ans := do(t, http.MethodPost, "/webhooks", body)
		require.Contains(t, []int{http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity}, code, "POST: %v", ans)
		if code == http.StatusCreated {
			id, _ := ans["id"].(string)
			_, generated := ans["secret"]
			noSecret(ans, generated)
			if given.URL != nil && utf8.ValidString(*given.URL) {
				require.Equal(t, *given.URL, ans["url"])
			}
			code, got := do(t, http.MethodGet, "/webhooks/"+id, nil)
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, ans["url"], got["url"])
			code, _ = do(t, http.MethodDelete, "/webhooks/"+id, nil)
			require.Equal(t, http.StatusNoContent, code)
		} else {
			noSecret(ans, false)
		}
		code, ans = do(t, http.MethodPatch, "/webhooks/"+baseID, body)
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity}, code, "PATCH: %v", ans)
		noSecret(ans, false)
	})
}
