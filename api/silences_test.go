package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/silences"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

// setupSilences serves the management API with silences; acme is an admin, beta a tenant.
func setupSilences(t *testing.T) *mgmt {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	keys := api.NewKeys(nil)
	keys.Set(map[string]string{"acme": acmeKey, "beta": betaKey}, "acme")
	log := slog.New(slog.DiscardHandler)
	mg := &api.Management{Store: db, Keys: keys, Log: log, Webhooks: &webhooks.Service{Store: db, Log: log},
		Silences: &silences.Service{Store: db, Log: log}}
	mux := http.NewServeMux()
	mg.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &mgmt{srv: srv, db: db}
}

func TestSilencesAreForAdmins(t *testing.T) {
	t.Parallel()
	m := setupSilences(t)
	for _, req := range [][2]string{{"GET", "/silences"}, {"POST", "/silences"}, {"GET", "/silences/x"}, {"DELETE", "/silences/x"}} {
		var body any
		if req[0] == "POST" {
			body = map[string]any{"when": "true", "duration": "1h"}
		}
		a := m.do(t, req[0], req[1], betaKey, body)
		require.Equal(t, http.StatusForbidden, a.status, "%s %s", req[0], req[1])
		require.Equal(t, api.CodeForbidden, code(a))
		require.Equal(t, http.StatusUnauthorized, m.do(t, req[0], req[1], "", body).status)
	}
	list, err := m.db.Silences(context.Background(), core.SilenceFilter{})
	require.NoError(t, err)
	require.Empty(t, list, "a tenant's POST created nothing")
}

func TestSilenceValidationNamesTheField(t *testing.T) {
	t.Parallel()
	m := setupSilences(t)
	tests := map[string]struct {
		body  any
		field string
	}{
		"no when":      {map[string]any{"duration": "1h"}, "when"},
		"bad rule":     {map[string]any{"when": "scroe < 70", "duration": "1h"}, "when"},
		"no expiry":    {map[string]any{"when": "true"}, "duration"},
		"bad duration": {map[string]any{"when": "true", "duration": "soon"}, "duration"},
		"past expiry":  {map[string]any{"when": "true", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"},
		"both":         {map[string]any{"when": "true", "duration": "1h", "expires_at": "2999-01-01T00:00:00Z"}, "duration"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := m.do(t, http.MethodPost, "/silences", acmeKey, tt.body)
			require.Equal(t, http.StatusUnprocessableEntity, a.status, a.raw)
			fields := a.body["error"].(map[string]any)["fields"].(map[string]any)
			require.Contains(t, fields, tt.field, a.raw)
		})
	}
	a := m.do(t, http.MethodPost, "/silences", acmeKey, map[string]any{"when": "true", "duration": "1h", "typo": 1})
	require.Equal(t, http.StatusBadRequest, a.status, "unknown fields are refused")
	a = m.do(t, http.MethodGet, "/silences?limit=0", acmeKey, nil)
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	a = m.do(t, http.MethodGet, "/silences?all=maybe", acmeKey, nil)
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
}

// TestSilenceCreateListEnd: an admin creates a silence, sees it listed and by id, ends it (a
// second end is a conflict), and then finds it only with all=true; each change is audited
// with the account.
func TestSilenceCreateListEnd(t *testing.T) {
	t.Parallel()
	m := setupSilences(t)
	a := m.do(t, http.MethodPost, "/silences", acmeKey, map[string]any{
		"when": `repo == "acme/api"`, "duration": "2h", "comment": "deploy window", "created_by": "alice"})
	require.Equal(t, http.StatusCreated, a.status, a.raw)
	id := a.body["id"].(string)
	require.Equal(t, "/silences/"+id, a.header.Get("Location"))
	require.Equal(t, "alice", a.body["created_by"])
	require.Equal(t, true, a.body["active"])

	a = m.do(t, http.MethodGet, "/silences", acmeKey, nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Len(t, a.body["data"], 1)
	a = m.do(t, http.MethodGet, "/silences/"+id, acmeKey, nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "deploy window", a.body["comment"])
	require.Len(t, a.body["history"], 1)
	require.Equal(t, "silence.create", a.body["history"].([]any)[0].(map[string]any)["action"])
	require.Equal(t, http.StatusNotFound, m.do(t, http.MethodGet, "/silences/nope", acmeKey, nil).status)

	require.Equal(t, http.StatusNoContent, m.do(t, http.MethodDelete, "/silences/"+id, acmeKey, nil).status)
	a = m.do(t, http.MethodDelete, "/silences/"+id, acmeKey, nil)
	require.Equal(t, http.StatusConflict, a.status)
	require.Equal(t, http.StatusNotFound, m.do(t, http.MethodDelete, "/silences/nope", acmeKey, nil).status)
	a = m.do(t, http.MethodGet, "/silences", acmeKey, nil)
	require.Empty(t, a.body["data"])
	a = m.do(t, http.MethodGet, "/silences?all=true", acmeKey, nil)
	require.Len(t, a.body["data"], 1)
	got := a.body["data"].([]any)[0].(map[string]any)
	require.Equal(t, false, got["active"])
	require.Equal(t, "api:acme", got["ended_by"])
	require.NotEmpty(t, got["ended_at"])

	a = m.do(t, http.MethodGet, "/silences/"+id, acmeKey, nil)
	history := a.body["history"].([]any)
	require.Len(t, history, 2, "created and ended")
	require.Equal(t, "silence.end", history[0].(map[string]any)["action"])
	for _, e := range history {
		require.Equal(t, "api:acme", e.(map[string]any)["actor"])
	}
}
