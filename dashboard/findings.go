package dashboard

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// maxFindingsShown bounds what the findings page reads: the most recently seen findings of the
// scope shown, and the scopes of the overview (most open first).
const maxFindingsShown = 1000

// findingScope is one repository and branch on the findings page, with its findings' counts.
type findingScope struct {
	core.FindingScope
	Link string // this scope's own page
}

type findingsData struct {
	Scopes   []findingScope
	Scope    *findingScope // the scope shown, nil on the overview
	Findings []core.Finding
	Status   string
	Capped   bool // more findings (or scopes) than maxFindingsShown
}

// findingsPage shows the findings per repository and branch (docs/events.md, Findings): the
// list of scopes, or with ?repo=&branch= one scope's findings (open, regressed and fixed, with
// when and in which scans they were seen); ?status= narrows it. The branch is exact ("": the
// scans that named none); repo is matched as GET /findings matches it (event.RepoMatcher). Admin
// accounts only, as GET /findings: findings name weaknesses in every repository the bridge
// hears of.
func (d *Dashboard) findingsPage(w http.ResponseWriter, r *http.Request) {
	if !d.cfg.Keys.Admin(accountOf(r)) {
		d.fail(w, r, http.StatusForbidden, "Only an account with api.keys[].role: admin may see findings.")
		return
	}
	q := r.URL.Query()
	data := findingsData{Status: q.Get("status")}
	switch data.Status {
	case "", core.FindingOpen, core.FindingRegressed, core.FindingFixed:
	default:
		d.fail(w, r, http.StatusBadRequest, "status must be open, regressed or fixed.")
		return
	}
	repo, branch := q.Get("repo"), q.Get("branch")
	if repo == "" {
		scopes, err := d.cfg.Store.FindingScopes(r.Context(), maxFindingsShown)
		if err != nil {
			d.unavailable(w, r, err)
			return
		}
		data.Capped = len(scopes) == maxFindingsShown
		for _, s := range scopes {
			data.Scopes = append(data.Scopes, findingScope{FindingScope: s, Link: scopeLink(s.RepoURL, s.Branch)})
		}
		d.render(w, r, http.StatusOK, "findings", page{Title: "Findings", Nav: "findings", Data: data})
		return
	}
	list, err := d.cfg.Store.Findings(r.Context(), core.FindingFilter{RepoURL: repo, Branch: &branch, State: data.Status, Limit: maxFindingsShown})
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	data.Capped = len(list) == maxFindingsShown
	slices.SortStableFunc(list, func(a, b core.Finding) int { return cmp.Compare(stateOrder(a.State), stateOrder(b.State)) })
	data.Findings = list
	data.Scope = &findingScope{FindingScope: core.FindingScope{RepoURL: repo, Branch: branch}, Link: scopeLink(repo, branch)}
	d.render(w, r, http.StatusOK, "findings", page{Title: "Findings", Nav: "findings", Data: data})
}

// stateOrder lists regressed findings first, then open, then fixed.
func stateOrder(s string) int {
	switch s {
	case core.FindingRegressed:
		return 0
	case core.FindingOpen:
		return 1
	}
	return 2
}

// findingsLink is the findings page of the repository and branch ev is about: a finding.*
// event's own, an issue.critical's scan's (the scan context); "" for other events or when the
// scan's repository is not known (a storage error there is left to the rest of the page).
func (d *Dashboard) findingsLink(ctx context.Context, ev *event.Event) string {
	switch {
	case core.IsFindingEvent(ev.Type):
		if repo := ev.String("repo_url"); repo != "" {
			return scopeLink(repo, ev.String("branch"))
		}
	case ev.Type == event.IssueCritical:
		scans, err := d.cfg.Store.Scans(ctx, core.ScanIDs([]*event.Event{ev}))
		if err != nil {
			return ""
		}
		if s, ok := scans[ev.String("scan_id")]; ok && s.RepoURL != "" {
			return scopeLink(s.RepoURL, s.Branch)
		}
	}
	return ""
}

// scopeLink is the findings page of one repository and branch.
func scopeLink(repo, branch string) string {
	return "/ui/findings?" + url.Values{"repo": {repo}, "branch": {branch}}.Encode()
}
