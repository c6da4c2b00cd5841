package silences

import (
	"context"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/rules"
)

// compiled is an active silence with its rule compiled.
type compiled struct {
	s    *core.Silence
	rule *rules.Rule
}

// refreshSoon reloads the cache after a change made here, so this replica applies it at once.
func (s *Service) refreshSoon(ctx context.Context) {
	if err := s.Refresh(context.WithoutCancel(ctx)); err != nil {
		s.Log.Warn("silences: reloading after a change failed; the next refresh retries", "err", err)
	}
}

// Refresh reloads the active silences from the store into the cache.
func (s *Service) Refresh(ctx context.Context) error {
	s.defaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	list, err := s.Store.Silences(ctx, core.SilenceFilter{ActiveAt: s.NowFunc().UTC(), Limit: MaxActive})
	if err != nil {
		return err
	}
	// A silence's rule never changes: rules compiled before are kept.
	known := map[string]*rules.Rule{}
	if prev := s.active.Load(); prev != nil {
		for _, c := range *prev {
			known[c.s.ID] = c.rule
		}
	}
	out := make([]compiled, 0, len(list))
	for _, sil := range list {
		if r := known[sil.ID]; r != nil {
			out = append(out, compiled{s: sil, rule: r})
			continue
		}
		r, err := rules.Compile(sil.When)
		if err != nil { // stored by an older build whose rule language differed: skip, say so
			s.Log.Warn("silences: a stored rule no longer compiles; the silence is not applied", "silence", sil.ID, "err", err)
			continue
		}
		out = append(out, compiled{s: sil, rule: r})
	}
	s.active.Store(&out)
	return nil
}

// Run refreshes the cache every RefreshInterval until ctx ends (the first time at once).
func (s *Service) Run(ctx context.Context) {
	ctx = core.Unhurried(ctx)
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	for {
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("silences: refresh failed; the cached silences stay in force", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Silenced implements core.Silencer from the cache: the first silence active at now whose rule
// matches ev. A rule that fails at run time does not match. Expiry is checked here, so a
// silence stops exactly when it expires, between refreshes too.
func (s *Service) Silenced(ev *event.Event, now time.Time) (string, bool) {
	p := s.active.Load()
	if p == nil {
		return "", false
	}
	for _, c := range *p {
		if !c.s.Active(now) {
			continue
		}
		if ok, err := c.rule.Match(ev); err == nil && ok {
			return c.s.ID, true
		}
	}
	return "", false
}
