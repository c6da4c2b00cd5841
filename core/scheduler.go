package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// Schedule gives the next activation strictly after t (ZoneSchedule for configured digests).
type Schedule interface {
	Next(t time.Time) time.Time
}

// DigestSpec is a configured digest (digests[] in docs/configuration.md) at run time.
type DigestSpec struct {
	Name      string
	Spec      string         // the schedule as configured, with its zone, e.g. "0 8 * * MON UTC"
	Schedule  Schedule       // parsed Spec (ParseSchedule: daylight-saving changes as cron(8))
	Location  *time.Location // the zone the schedule is read in
	When      Matcher        // nil matches every event
	Target    string
	Template  string  // default "compliance-digest"
	SendEmpty bool    // send a digest for a period without events
	Threshold float64 // score threshold for "below target" lists; 0 = DefaultScoreThreshold
	// TargetDisabled closes periods without sending them (like routes, a digest skips a target
	// whose credential is not set), so events do not pile up for a target that cannot send.
	TargetDisabled bool
}

// next returns the first activation after t, read in the digest's zone.
func (s *DigestSpec) next(t time.Time) time.Time { return s.Schedule.Next(t.In(s.Location)).UTC() }

// SchedulerStore is what the Scheduler needs from storage: digest schedules claimed with a
// lease and their periods closed, and open groups fired. Each write runs in one transaction;
// errors wrap ErrUnavailable.
type SchedulerStore interface {
	// SyncDigests records the configured digests: new ones are added as given, a changed
	// schedule gets the given NextRun (LastEnd is kept), and digests no longer configured are
	// removed with the events they were still collecting.
	SyncDigests(ctx context.Context, ds []DigestSchedule) error
	// ClaimDigests leases the digests due at now to owner and returns their schedules.
	ClaimDigests(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]DigestSchedule, error)
	// RunDigest closes a period (see DigestRunRequest) and returns how many events it covers.
	RunDigest(ctx context.Context, r DigestRunRequest) (int, error)
	// OpenGroups lists the groups with items not fired yet.
	OpenGroups(ctx context.Context) ([]OpenGroup, error)
	// FireGroup fires a group (see FireGroupRequest) and returns how many events it lists.
	FireGroup(ctx context.Context, r FireGroupRequest) (int, error)
}

// Defaults of Scheduler.
const (
	DefaultScheduleLease    = time.Minute // how long a claimed digest schedule is held
	DefaultScheduleInterval = time.Second // how often due digests and groups are looked for
)

// Scheduler runs digests and groups: at each due activation it closes the digest's period in
// one transaction, storing a digest run event with a delivery to the digest's target, which the
// dispatcher then delivers like any other. The schedule rows are claimed with a lease, so a
// digest fires once even with several replicas. Due groups fire the same way (group.go).
type Scheduler struct {
	Store    SchedulerStore
	Owner    string
	Digests  func() []*DigestSpec // the digests in force (they change on a config reload)
	Plan     func() *Plan         // the plan in force, for its routes' groups; nil: no groups
	Lease    time.Duration        // default DefaultScheduleLease
	Interval time.Duration        // how often due digests are looked for; default DefaultScheduleInterval
	NowFunc  func() time.Time
	Log      *slog.Logger
	Observer Observer // optional: counts digest runs
}

func (s *Scheduler) now() time.Time {
	if s.NowFunc != nil {
		return s.NowFunc().UTC()
	}
	return time.Now().UTC()
}

// Sync records the configured digests in the store: a new digest covers events from now and
// first runs at its next activation.
func (s *Scheduler) Sync(ctx context.Context) error {
	now := s.now()
	specs := s.Digests()
	ds := make([]DigestSchedule, len(specs))
	for i, d := range specs {
		ds[i] = DigestSchedule{Name: d.Name, Schedule: d.Spec, LastEnd: now, NextRun: d.next(now)}
	}
	return s.Store.SyncDigests(ctx, ds)
}

// Run syncs the digests, then runs due ones every Interval until ctx is done. Storage errors are
// logged and retried at the next tick.
func (s *Scheduler) Run(ctx context.Context) {
	ctx = Unhurried(ctx)
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultScheduleInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	synced := false
	for {
		var err error
		if !synced {
			if err = s.Sync(ctx); err == nil {
				synced = true
			}
		}
		if synced {
			err = s.RunDue(ctx)
		}
		if err != nil && ctx.Err() == nil {
			s.Log.Warn("digest scheduler: storage failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDue runs every digest whose activation has come, then fires the groups that are due. A
// digest whose activations were missed (the bridge was down) runs once, covering everything up
// to its latest missed activation.
func (s *Scheduler) RunDue(ctx context.Context) error {
	err := s.runDigests(ctx)
	if s.Plan != nil {
		err = errors.Join(err, s.fireGroups(ctx, s.Plan()))
	}
	return err
}

func (s *Scheduler) runDigests(ctx context.Context) error {
	specs := s.Digests()
	if len(specs) == 0 {
		return nil
	}
	lease := s.Lease
	if lease <= 0 {
		lease = DefaultScheduleLease
	}
	now := s.now()
	due, err := s.Store.ClaimDigests(ctx, s.Owner, now, lease)
	if err != nil {
		return err
	}
	byName := map[string]*DigestSpec{}
	for _, d := range specs {
		byName[d.Name] = d
	}
	var errs []error
	for _, st := range due {
		spec := byName[st.Name]
		if spec == nil {
			continue // removed from the config since Sync; its lease expires
		}
		end := st.NextRun
		for t := spec.next(end); !t.After(now); t = spec.next(t) {
			end = t
		}
		n, err := s.runPeriod(ctx, spec, st.LastEnd, end, spec.next(end), now)
		if err != nil {
			errs = append(errs, fmt.Errorf("digest %s: %w", spec.Name, err))
			continue
		}
		outcome := "sent"
		switch {
		case spec.TargetDisabled:
			outcome = "skipped"
		case n == 0 && !spec.SendEmpty:
			outcome = "empty"
		}
		if s.Observer != nil {
			s.Observer.DigestRun(spec.Name, outcome)
		}
		s.Log.Info("digest period closed", "digest", spec.Name, "from", st.LastEnd, "to", end, "events", n,
			"outcome", outcome, "next", spec.next(end))
	}
	return errors.Join(errs...)
}

func (s *Scheduler) runPeriod(ctx context.Context, spec *DigestSpec, from, to, next, now time.Time) (int, error) {
	id := fmt.Sprintf("digest_%s_%s", spec.Name, to.UTC().Format("20060102T150405Z"))
	run := DigestRun{Digest: spec.Name, Template: spec.Template, From: from, To: to}
	if f, ok := s.Store.(OpenFindingsReader); ok {
		open, err := f.OpenFindings(ctx, notify.MaxOpenFindingScopes)
		if err != nil {
			return 0, err
		}
		run.OpenFindings = open
	}
	ev, err := NewDigestEvent(id, run, now)
	if err != nil {
		return 0, err
	}
	dl := &Delivery{ID: uuid.Must(uuid.NewV7()).String(), EventID: id, Target: spec.Target, Route: DigestRoute(spec.Name),
		State: StatePending, NextAttemptAt: now, CreatedAt: now}
	if spec.TargetDisabled {
		dl = nil
	}
	return s.Store.RunDigest(ctx, DigestRunRequest{Name: spec.Name, Owner: s.Owner, PeriodEnd: to, NextRun: next,
		Event: ev, Delivery: dl, SendEmpty: spec.SendEmpty})
}

// DigestRoute is the route name a digest's deliveries carry.
func DigestRoute(name string) string { return "digest:" + name }

// DigestsFor names the digests whose rule matches ev.
func (r *Router) DigestsFor(ev *event.Event) []string {
	var out []string
	for _, d := range r.Digests {
		if d.When == nil {
			out = append(out, d.Name)
			continue
		}
		ok, err := d.When.Match(ev)
		if err != nil {
			r.ruleError(DigestRoute(d.Name), ev, err)
			continue
		}
		if ok {
			out = append(out, d.Name)
		}
	}
	return out
}

// Digest returns the digest called name, or nil.
func (r *Router) Digest(name string) *DigestSpec {
	for _, d := range r.Digests {
		if d.Name == name {
			return d
		}
	}
	return nil
}
