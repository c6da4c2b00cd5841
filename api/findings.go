package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// FindingStore lists findings (docs/api.md, GET /findings).
type FindingStore interface {
	// Findings lists the findings f selects, most recently seen first, every filter applied
	// before f.Limit and f.After. Errors wrap core.ErrUnavailable.
	Findings(ctx context.Context, f core.FindingFilter) ([]core.Finding, error)
}

// Findings is GET /findings: the findings of the scanned repositories, for admins only. A
// finding says which code has which problem across every repository the bridge hears of, so a
// tenant key (an account that registers webhooks) gets 403 forbidden whatever it subscribed to.
type Findings struct {
	Store FindingStore
	Keys  *Keys
	Log   *slog.Logger // storage failures (default: discarded)
}

// maxFindingsPage is the largest limit GET /findings accepts (default core.DefaultPageSize).
const maxFindingsPage = 1000

// findingJSON is a finding as the API shows it.
type findingJSON struct {
	RepoURL     string     `json:"repo_url"`
	Branch      string     `json:"branch"`
	Fingerprint string     `json:"fingerprint"`
	Title       string     `json:"title"`
	File        string     `json:"file"`
	Line        int64      `json:"line"`
	Severity    string     `json:"severity"`
	Status      string     `json:"status"`
	FirstSeen   time.Time  `json:"first_seen"`
	LastSeen    time.Time  `json:"last_seen"`
	FixedAt     *time.Time `json:"fixed_at,omitempty"`
	FirstScanID string     `json:"first_scan_id"`
	LastScanID  string     `json:"last_scan_id"`
}

// Register adds GET /findings to mux.
func (h *Findings) Register(mux *http.ServeMux) {
	if h.Log == nil {
		h.Log = slog.New(slog.DiscardHandler)
	}
	mux.Handle("GET /findings", h.Keys.Require(http.HandlerFunc(h.list)))
}

// list answers GET /findings?repo=&branch=&status=&limit=&cursor=: one page, most recently seen
// first, with next_cursor ("" on the last page). branch present but empty selects the scans
// that named no branch; absent, every branch.
func (h *Findings) list(w http.ResponseWriter, r *http.Request) {
	if !h.Keys.Admin(AccountOf(r)) {
		writeError(w, http.StatusForbidden, CodeForbidden, "only an account with api.keys[].role: admin may list findings")
		return
	}
	q := r.URL.Query()
	f := core.FindingFilter{RepoURL: q.Get("repo"), State: q.Get("status"), Limit: core.DefaultPageSize}
	if q.Has("branch") {
		branch := q.Get("branch")
		f.Branch = &branch
	}
	bad := map[string]string{}
	if len(f.RepoURL) > event.MaxScanRepoURLBytes {
		bad["repo"] = fmt.Sprintf("must be at most %d bytes (no stored repository is longer)", event.MaxScanRepoURLBytes)
	}
	if f.Branch != nil && len(*f.Branch) > event.MaxScanBranchBytes {
		bad["branch"] = fmt.Sprintf("must be at most %d bytes (no stored branch is longer)", event.MaxScanBranchBytes)
	}
	switch f.State {
	case "", core.FindingOpen, core.FindingRegressed, core.FindingFixed:
	default:
		bad["status"] = "must be one of open, regressed, fixed"
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxFindingsPage {
			bad["limit"] = fmt.Sprintf("must be a number from 1 to %d", maxFindingsPage)
		}
		f.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		k, err := core.ParseFindingCursor(c)
		if err != nil {
			bad["cursor"] = "not a cursor this listing returned"
		}
		f.After = k
	}
	if len(bad) > 0 {
		writeFieldErrors(w, bad)
		return
	}
	limit := f.Limit
	f.Limit++ // one more than the page: whether a next page exists
	list, err := h.Store.Findings(r.Context(), f)
	if err != nil {
		h.Log.Error("findings API: storage failed", "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "storage is unavailable; retry later")
		return
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].Key().Cursor()
	}
	out := make([]findingJSON, len(list))
	for i, x := range list {
		out[i] = findingJSON{RepoURL: x.RepoURL, Branch: x.Branch, Fingerprint: x.Fingerprint, Title: x.Title, File: x.File,
			Line: x.Line, Severity: x.Severity, Status: x.State, FirstSeen: x.FirstSeen, LastSeen: x.LastSeen,
			FirstScanID: x.FirstScanID, LastScanID: x.LastScanID}
		if !x.FixedAt.IsZero() {
			fixed := x.FixedAt
			out[i].FixedAt = &fixed
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out, "next_cursor": next})
}
