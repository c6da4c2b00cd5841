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

// maxFindingsShown bounds what the findings page reads: the most recently seen findings.
const maxFindingsShown = 1000

// findingScope is one repository and branch on the findings page, with its findings' counts.
type findingScope struct {
	RepoURL, Branch        string
	Open, Regressed, Fixed int
	Link                   string // this scope's own page
	LastSeen               string // the latest scan that had one of its findings, RFC 3339
}

type findingsData struct {
	Scopes   []findingScope
	Scope    *findingScope // the scope shown, nil on the overview
	Findings []core.Finding
	Status   string
	Capped   bool // more findings than maxFindingsShown
}

// findingsPage shows the findings per repository and branch (docs/events.md, Findings): the
// list of scopes, or with ?repo=&branch= one scope's findings (open, regressed and fixed, with
// when and in which scans they were seen); ?status= narrows it. Admin accounts only, as
// GET /findings: findings name weaknesses in every repository the bridge hears of.
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
		all, err := d.cfg.Store.Findings(r.Context(), core.FindingFilter{Limit: maxFindingsShown})
		if err != nil {
			d.unavailable(w, r, err)
			return
		}
		data.Capped = len(all) == maxFindingsShown
		byScope := map[[2]string]*findingScope{}
		for _, f := range all {
			k := [2]string{f.RepoURL, f.Branch}
			s := byScope[k]
			if s == nil {
				s = &findingScope{RepoURL: f.RepoURL, Branch: f.Branch, Link: scopeLink(f.RepoURL, f.Branch)}
				byScope[k] = s
			}
			switch f.State {
			case core.FindingOpen:
				s.Open++
			case core.FindingRegressed:
				s.Regressed++
			default:
				s.Fixed++
			}
		}
		for _, s := range byScope {
			data.Scopes = append(data.Scopes, *s)
		}
		slices.SortFunc(data.Scopes, func(a, b findingScope) int {
			return cmp.Or(cmp.Compare(b.Open+b.Regressed, a.Open+a.Regressed), cmp.Compare(a.RepoURL, b.RepoURL), cmp.Compare(a.Branch, b.Branch))
		})
		d.render(w, r, http.StatusOK, "findings", page{Title: "Findings", Nav: "findings", Data: data})
		return
	}
	list, err := d.cfg.Store.Findings(r.Context(), core.FindingFilter{RepoURL: repo, Branch: branch, State: data.Status, Limit: maxFindingsShown})
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	data.Capped = len(list) == maxFindingsShown
	// The branch filter is exact: "" is the scope of scans that named no branch.
	list = slices.DeleteFunc(list, func(f core.Finding) bool { return f.Branch != branch })
	slices.SortStableFunc(list, func(a, b core.Finding) int { return cmp.Compare(stateOrder(a.State), stateOrder(b.State)) })
	data.Findings = list
	data.Scope = &findingScope{RepoURL: repo, Branch: branch, Link: scopeLink(repo, branch)}
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
