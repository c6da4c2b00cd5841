package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/silences"
)

// recentEnded is how many ended or expired silences the silences page lists below the active
// ones.
const recentEnded = 20

// silenceDurations are the durations the silence forms offer (the silences page, the event
// page's "Silence similar").
var silenceDurations = []string{"1h", "4h", "24h", "168h"}

// silenceForm is the silences page: the form (with its values and problems) and the lists.
type silenceForm struct {
	When, Duration, ExpiresAt, Comment, CreatedBy string
	Errors                                        map[string]string
	Active, Ended                                 []*core.Silence
	Durations                                     []string
}

// silencedLink is the deliveries page listing the silenced deliveries created while silence s
// was active (whole minutes, UTC). The deliveries of another silence active at the same time
// are listed too: each names its silence on its event's page.
func silencedLink(s *core.Silence) string {
	end := s.ExpiresAt
	if !s.EndedAt.IsZero() {
		end = s.EndedAt
	}
	q := url.Values{"status": {string(core.StateSilenced)}, "from": {s.CreatedAt.UTC().Format(dateInput)}, "to": {end.UTC().Format(dateInput)}}
	return "/ui/deliveries?" + q.Encode()
}

func (d *Dashboard) silencesAllowed(w http.ResponseWriter, r *http.Request) bool {
	if d.cfg.Silences == nil {
		d.notFound(w, r)
		return false
	}
	if !d.cfg.Keys.Admin(accountOf(r)) {
		d.fail(w, r, http.StatusForbidden, "Only an account with api.keys[].role: admin may see or change silences.")
		return false
	}
	return true
}

// showSilences renders the page with f's form and the current lists.
func (d *Dashboard) showSilences(w http.ResponseWriter, r *http.Request, status int, f *silenceForm) {
	ctx := r.Context()
	// The active ones are read apart: among all silences, newest first, a long one could sit
	// past any cap once enough later ones exist, and still mute events unlisted. At most
	// MaxActive are active, so the newest MaxActive+recentEnded hold the recent ended ones.
	active, err := d.cfg.Silences.List(ctx, false, silences.MaxActive)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	all, err := d.cfg.Silences.List(ctx, true, silences.MaxActive+recentEnded)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	now := d.cfg.NowFunc()
	for _, s := range active {
		if s.Active(now) {
			f.Active = append(f.Active, s)
		}
	}
	for _, s := range all {
		if !s.Active(now) && len(f.Ended) < recentEnded {
			f.Ended = append(f.Ended, s)
		}
	}
	f.Durations = silenceDurations
	d.render(w, r, status, "silences", page{Title: "Silences", Nav: "silences", Flash: flash(r), Data: f})
}

func (d *Dashboard) silencesPage(w http.ResponseWriter, r *http.Request) {
	if d.silencesAllowed(w, r) {
		d.showSilences(w, r, http.StatusOK, &silenceForm{Duration: "24h"})
	}
}

func (d *Dashboard) silenceCreate(w http.ResponseWriter, r *http.Request) {
	if !d.silencesAllowed(w, r) {
		return
	}
	f := &silenceForm{When: r.PostFormValue("when"), Duration: r.PostFormValue("duration"), ExpiresAt: r.PostFormValue("expires_at"),
		Comment: r.PostFormValue("comment"), CreatedBy: r.PostFormValue("created_by")}
	in := silences.Input{When: f.When, Comment: f.Comment, CreatedBy: f.CreatedBy}
	if f.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, f.ExpiresAt)
		if err != nil {
			f.Errors = map[string]string{"expires_at": "Give a time such as 2026-12-31T18:00:00Z (RFC 3339), or leave it empty and choose a duration."}
			d.showSilences(w, r, http.StatusUnprocessableEntity, f)
			return
		}
		in.ExpiresAt = &t
	} else {
		in.Duration = f.Duration
	}
	_, err := d.cfg.Silences.Create(r.Context(), in, "dashboard:"+accountOf(r))
	var bad silences.FieldErrors
	switch {
	case errors.As(err, &bad):
		f.Errors = bad
		d.showSilences(w, r, http.StatusUnprocessableEntity, f)
		return
	case errors.Is(err, core.ErrLimitReached):
		f.Errors = map[string]string{"when": err.Error()}
		d.showSilences(w, r, http.StatusConflict, f)
		return
	case err != nil:
		d.unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/silences?done=silenced", http.StatusSeeOther)
}

func (d *Dashboard) silenceEnd(w http.ResponseWriter, r *http.Request) {
	if !d.silencesAllowed(w, r) {
		return
	}
	switch err := d.cfg.Silences.End(r.Context(), r.PathValue("id"), "dashboard:"+accountOf(r)); {
	case errors.Is(err, core.ErrNotFound):
		d.fail(w, r, http.StatusNotFound, "There is no silence "+r.PathValue("id")+".")
		return
	case errors.Is(err, core.ErrConflict):
		http.Redirect(w, r, "/ui/silences?done=already-ended", http.StatusSeeOther)
		return
	case err != nil:
		d.unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/silences?done=unsilenced", http.StatusSeeOther)
}
