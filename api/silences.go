package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/silences"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

// maxSilencePage is the most silences GET /silences lists.
const maxSilencePage = 500

// silenceJSON is a silence as the API shows it.
type silenceJSON struct {
	ID        string     `json:"id"`
	When      string     `json:"when"`
	Comment   string     `json:"comment"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	EndedBy   string     `json:"ended_by,omitempty"`
	Active    bool       `json:"active"`
}

func toSilenceJSON(s *core.Silence, now time.Time) silenceJSON {
	out := silenceJSON{ID: s.ID, When: s.When, Comment: s.Comment, CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt,
		ExpiresAt: s.ExpiresAt, EndedBy: s.EndedBy, Active: s.Active(now)}
	if !s.EndedAt.IsZero() {
		ended := s.EndedAt
		out.EndedAt = &ended
	}
	return out
}

// silenceAdmin answers 403 unless the caller's account has role admin: silences hide deliveries of
// every account, so only admins may see or change them.
func (m *Management) silenceAdmin(w http.ResponseWriter, r *http.Request) bool {
	if m.Keys.Admin(AccountOf(r)) {
		return true
	}
	writeError(w, http.StatusForbidden, CodeForbidden, "only an account with api.keys[].role: admin may see or change silences")
	return false
}

// listSilences answers GET /silences: the active silences, newest first; ?all=true lists ended
// and expired ones too; ?limit (1–500, default 50).
func (m *Management) listSilences(w http.ResponseWriter, r *http.Request) {
	if !m.silenceAdmin(w, r) {
		return
	}
	q := r.URL.Query()
	all := false
	if v := q.Get("all"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeFieldErrors(w, webhooks.FieldErrors{"all": "must be true or false"})
			return
		}
		all = b
	}
	limit := core.DefaultPageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxSilencePage {
			writeFieldErrors(w, webhooks.FieldErrors{"limit": "must be a number from 1 to " + strconv.Itoa(maxSilencePage)})
			return
		}
		limit = n
	}
	list, err := m.Silences.List(r.Context(), all, limit)
	if err != nil {
		m.unavailable(w, err)
		return
	}
	now := time.Now()
	out := make([]silenceJSON, len(list))
	for i, s := range list {
		out[i] = toSilenceJSON(s, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// createSilence answers POST /silences.
func (m *Management) createSilence(w http.ResponseWriter, r *http.Request) {
	if !m.silenceAdmin(w, r) {
		return
	}
	var in silences.Input
	if !decodeBody(w, r, &in) {
		return
	}
	s, err := m.Silences.Create(r.Context(), in, "api:"+AccountOf(r))
	var bad silences.FieldErrors
	switch {
	case errors.As(err, &bad):
		writeFieldErrors(w, bad)
		return
	case errors.Is(err, core.ErrLimitReached):
		writeError(w, http.StatusConflict, CodeLimitReached, err.Error())
		return
	case err != nil:
		m.unavailable(w, err)
		return
	}
	w.Header().Set("Location", "/silences/"+s.ID)
	writeJSON(w, http.StatusCreated, toSilenceJSON(s, time.Now()))
}

// getSilence answers GET /silences/{id}.
func (m *Management) getSilence(w http.ResponseWriter, r *http.Request) {
	if !m.silenceAdmin(w, r) {
		return
	}
	s, err := m.Silences.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, core.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "no silence "+r.PathValue("id"))
		return
	case err != nil:
		m.unavailable(w, err)
		return
	}
	history, err := m.Silences.History(r.Context(), s.ID)
	if err != nil {
		m.unavailable(w, err)
		return
	}
	out := struct {
		silenceJSON
		History []auditJSON `json:"history"`
	}{silenceJSON: toSilenceJSON(s, time.Now()), History: toAuditJSON(history)}
	writeJSON(w, http.StatusOK, out)
}

// auditJSON is an audit log entry as the API shows it.
type auditJSON struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Detail string    `json:"detail"`
}

func toAuditJSON(entries []core.AuditEntry) []auditJSON {
	out := make([]auditJSON, len(entries))
	for i, a := range entries {
		out[i] = auditJSON{At: a.At, Actor: a.Actor, Action: a.Action, Detail: a.Detail}
	}
	return out
}

// endSilence answers DELETE /silences/{id}: the silence ends now (it stays listed with ?all).
func (m *Management) endSilence(w http.ResponseWriter, r *http.Request) {
	if !m.silenceAdmin(w, r) {
		return
	}
	switch err := m.Silences.End(r.Context(), r.PathValue("id"), "api:"+AccountOf(r)); {
	case errors.Is(err, core.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "no silence "+r.PathValue("id"))
		return
	case errors.Is(err, core.ErrConflict):
		writeError(w, http.StatusConflict, CodeConflict, "silence "+r.PathValue("id")+" has already ended or expired")
		return
	case err != nil:
		m.unavailable(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
