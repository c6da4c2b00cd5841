// Package silences is the run-time silence service: silences created through the management
// API, the dashboard or Slack's Mute button (validation, limits, the audit log), Slack's
// Acknowledge, and the cache of active silences that ingest consults for every event
// (core.Silencer). Silences are store rows, so every replica applies them; each replica
// refreshes its cache every RefreshInterval (docs/api.md, silences).
package silences

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/rules"
)

// Store is what the service needs from storage. Storage failures wrap core.ErrUnavailable.
type Store interface {
	// CreateSilence stores s with the audit entries in one transaction.
	CreateSilence(ctx context.Context, s *core.Silence, audit ...core.AuditEntry) error
	// EndSilence ends silence id at a.At with the audit entry a: core.ErrNotFound when there is
	// no such silence, core.ErrConflict when it had already ended or expired.
	EndSilence(ctx context.Context, id string, a core.AuditEntry) error
	// Silence returns one silence, or core.ErrNotFound.
	Silence(ctx context.Context, id string) (*core.Silence, error)
	// Silences lists silences newest first (only those active at f.ActiveAt when it is set).
	Silences(ctx context.Context, f core.SilenceFilter) ([]*core.Silence, error)
	// Acknowledge records ack with the audit entry a: core.ErrNotFound when the event is gone.
	Acknowledge(ctx context.Context, ack core.Acknowledgement, a core.AuditEntry) error
	// LoadEvent returns a stored event, or core.ErrNotFound.
	LoadEvent(ctx context.Context, id string) (*event.Event, error)
	// AuditLog lists up to limit audit entries about subject (a silence's or an event's id),
	// newest first.
	AuditLog(ctx context.Context, subject string, limit int) ([]core.AuditEntry, error)
}

// Limits of a silence. Each active silence costs ingest one rule evaluation per event, so their
// number is bounded; each rule is bounded by the rule compiler's own budgets (rules.Compile).
const (
	MaxActive       = 200                 // active silences at once
	MaxDuration     = 90 * 24 * time.Hour // how far ahead a silence may expire
	MaxCommentBytes = 1024
	MaxByBytes      = 256 // created_by
	MaxRuleBytes    = 4096
	// RefreshInterval is how often a replica reloads the active silences from the store: a
	// silence created or ended on another replica applies here within this time (on this
	// replica, at once).
	RefreshInterval = 5 * time.Second
)

// muteSlack is how much earlier than asked an existing silence of the same finding may end and
// still count as the one a Mute asks for.
const muteSlack = 5 * time.Minute

// Mute durations Slack's Mute buttons offer.
var MuteDurations = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// FieldErrors are validation problems by JSON field name ("when", "duration", …).
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + f[k]
	}
	return strings.Join(parts, "; ")
}

// ErrLimitReached is returned by Create while MaxActive silences are active.
var ErrLimitReached = fmt.Errorf("%w: at most %d silences may be active at once", core.ErrLimitReached, MaxActive)

// Input is a silence to create, as the API and the dashboard take it: When, and either Duration
// (a Go duration such as "2h" or "90m") or ExpiresAt.
type Input struct {
	When      string     `json:"when"`
	Duration  string     `json:"duration,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Comment   string     `json:"comment,omitempty"`
	// CreatedBy names who asks for it (a person); "" takes the caller's account.
	CreatedBy string `json:"created_by,omitempty"`
}

// Service creates, lists and ends silences, records acknowledgements, and answers
// core.Silencer from a cache of the active silences. Store is required; zero fields take the
// defaults given.
type Service struct {
	Store   Store
	NowFunc func() time.Time // default time.Now
	Log     *slog.Logger     // audit lines (default: discarded)

	once   sync.Once
	active atomic.Pointer[[]compiled] // the cache; nil until the first Refresh
	mu     sync.Mutex                 // serialises Refresh
}

// compiled is an active silence with its rule compiled.
type compiled struct {
	s    *core.Silence
	rule *rules.Rule
}

var _ core.Silencer = (*Service)(nil)

func (s *Service) defaults() {
	s.once.Do(func() {
		if s.NowFunc == nil {
			s.NowFunc = time.Now
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Validate checks in at now and returns the silence it describes (without id, creator or
// creation time), or FieldErrors naming each bad JSON field.
func Validate(in Input, now time.Time) (*core.Silence, error) {
	bad := FieldErrors{}
	s := &core.Silence{When: strings.TrimSpace(in.When), Comment: in.Comment, CreatedBy: in.CreatedBy}
	switch {
	case s.When == "":
		bad["when"] = "required: a rule in the route rule language, e.g. repo == \"acme/api\" && severity == \"low\""
	case len(s.When) > MaxRuleBytes:
		bad["when"] = fmt.Sprintf("at most %d bytes", MaxRuleBytes)
	default:
		if _, err := rules.Compile(s.When); err != nil {
			bad["when"] = err.Error()
		}
	}
	switch {
	case in.Duration != "" && in.ExpiresAt != nil:
		bad["duration"] = "set duration or expires_at, not both"
	case in.Duration != "":
		d, err := time.ParseDuration(in.Duration)
		switch {
		case err != nil:
			bad["duration"] = fmt.Sprintf("not a duration such as 1h or 90m: %q", in.Duration)
		case d <= 0 || d > MaxDuration:
			bad["duration"] = fmt.Sprintf("must be more than 0 and at most %s", MaxDuration)
		default:
			s.ExpiresAt = now.Add(d)
		}
	case in.ExpiresAt != nil:
		switch {
		case !in.ExpiresAt.After(now):
			bad["expires_at"] = "must be in the future"
		case in.ExpiresAt.Sub(now) > MaxDuration:
			bad["expires_at"] = fmt.Sprintf("must be at most %s ahead", MaxDuration)
		default:
			s.ExpiresAt = in.ExpiresAt.UTC()
		}
	default:
		bad["duration"] = "required: duration (e.g. 24h) or expires_at"
	}
	if len(in.Comment) > MaxCommentBytes || !utf8.ValidString(in.Comment) {
		bad["comment"] = fmt.Sprintf("at most %d bytes of UTF-8", MaxCommentBytes)
	}
	if len(in.CreatedBy) > MaxByBytes || !utf8.ValidString(in.CreatedBy) {
		bad["created_by"] = fmt.Sprintf("at most %d bytes of UTF-8", MaxByBytes)
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return s, nil
}

// Create validates in and stores the silence it describes, created by in.CreatedBy (or actor
// when empty), with an audit entry naming actor ("api:<account>", "dashboard:<account>",
// "slack:<user>"). It returns FieldErrors, ErrLimitReached, or a storage error.
func (s *Service) Create(ctx context.Context, in Input, actor string) (*core.Silence, error) {
	return s.create(ctx, in, actor, "", "")
}

// create is Create; when eventID is set, a second audit entry of action eventAction records
// the change on that event too.
func (s *Service) create(ctx context.Context, in Input, actor, eventAction, eventID string) (*core.Silence, error) {
	s.defaults()
	now := s.NowFunc().UTC().Truncate(time.Millisecond) // as stored
	sil, err := Validate(in, now)
	if err != nil {
		return nil, err
	}
	active, err := s.Store.Silences(ctx, core.SilenceFilter{ActiveAt: now, Limit: MaxActive})
	if err != nil {
		return nil, err
	}
	if eventID != "" {
		// A second click on Mute (a double click, or Slack's request replayed within its
		// 5 minutes) finds the silence the first one made: nothing more is created.
		for _, a := range active {
			if a.When == sil.When && !a.ExpiresAt.Before(sil.ExpiresAt.Add(-muteSlack)) {
				return a, nil
			}
		}
	}
	if len(active) >= MaxActive {
		return nil, ErrLimitReached
	}
	sil.ID, sil.CreatedAt = uuid.Must(uuid.NewV7()).String(), now
	if sil.CreatedBy == "" {
		sil.CreatedBy = actor
	}
	detail := fmt.Sprintf("when %s; until %s", sil.When, sil.ExpiresAt.Format(time.RFC3339))
	if sil.Comment != "" {
		detail += "; comment: " + sil.Comment
	}
	audit := []core.AuditEntry{s.audit(now, actor, core.AuditSilenceCreate, sil.ID, detail)}
	if eventID != "" {
		audit = append(audit, s.audit(now, actor, eventAction, eventID,
			"muted until "+sil.ExpiresAt.Format(time.RFC3339)+" by silence "+sil.ID))
	}
	if err := s.Store.CreateSilence(ctx, sil, audit...); err != nil {
		return nil, err
	}
	s.refreshSoon(ctx)
	return sil, nil
}

// End ends silence id now: core.ErrNotFound when there is none, core.ErrConflict when it had
// already ended or expired.
func (s *Service) End(ctx context.Context, id, actor string) error {
	s.defaults()
	now := s.NowFunc().UTC().Truncate(time.Millisecond) // as stored
	if err := s.Store.EndSilence(ctx, id, s.audit(now, actor, core.AuditSilenceEnd, id, "ended early")); err != nil {
		return err
	}
	s.refreshSoon(ctx)
	return nil
}

// Get returns silence id, or core.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (*core.Silence, error) {
	return s.Store.Silence(ctx, id)
}

// maxHistory is how many audit entries History returns.
const maxHistory = 100

// History returns the audit entries of silence or event id (created, ended; acknowledged,
// muted), newest first, at most 100.
func (s *Service) History(ctx context.Context, id string) ([]core.AuditEntry, error) {
	return s.Store.AuditLog(ctx, id, maxHistory)
}

// List returns up to limit silences, newest first: the active ones, or all when all is set.
func (s *Service) List(ctx context.Context, all bool, limit int) ([]*core.Silence, error) {
	s.defaults()
	f := core.SilenceFilter{Limit: limit}
	if !all {
		f.ActiveAt = s.NowFunc().UTC()
	}
	return s.Store.Silences(ctx, f)
}

// audit builds an audit entry and writes it as a log line (the audit log's copy in the logs).
func (s *Service) audit(now time.Time, actor, action, subject, detail string) core.AuditEntry {
	s.Log.Info("audit", "actor", actor, "action", action, "subject", subject, "detail", detail)
	return core.AuditEntry{ID: uuid.Must(uuid.NewV7()).String(), At: now, Actor: actor, Action: action, Subject: subject, Detail: detail}
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

// MuteRule is the rule of a silence that mutes "this finding" of ev (Slack's Mute button):
// the same event type, repository, title and file. This is the seam for findings with
// fingerprints: once events carry one, match on it here instead.
func MuteRule(ev *event.Event) string {
	parts := []string{"event == " + quote(ev.Type)}
	for _, f := range []string{"repo_url", "title", "file"} {
		if v := ev.String(f); v != "" {
			parts = append(parts, f+" == "+quote(v))
		}
	}
	if len(parts) == 1 { // nothing identifies a finding: mute this event only
		parts = append(parts, "id == "+quote(ev.ID))
	}
	return strings.Join(parts, " && ")
}

// quote makes v a string literal of the rule language (its escapes are Go's).
func quote(v string) string { return fmt.Sprintf("%q", v) }

// Acknowledge records that user (id and name, from source, e.g. "slack") acknowledged event
// eventID, with an audit entry. core.ErrNotFound when the event is not stored.
func (s *Service) Acknowledge(ctx context.Context, eventID, source, userID, userName string) error {
	s.defaults()
	now := s.NowFunc().UTC().Truncate(time.Millisecond) // as stored
	actor := actorOf(source, userID, userName)
	return s.Store.Acknowledge(ctx, core.Acknowledgement{EventID: eventID, UserID: userID, UserName: userName, Source: source, At: now},
		s.audit(now, actor, core.AuditEventAcknowledge, eventID, "acknowledged"))
}

// Mute creates a silence of the finding of event eventID (MuteRule) for d, on behalf of user,
// with audit entries for the silence and the event; it returns the silence. When an active
// silence of the same finding already lasts that long (within 5 minutes), it returns that one
// and creates nothing: double clicks and replayed requests mute once.
// core.ErrNotFound when the event is not stored; FieldErrors when d is out of range.
func (s *Service) Mute(ctx context.Context, eventID, source, userID, userName string, d time.Duration) (*core.Silence, error) {
	s.defaults()
	ev, err := s.Store.LoadEvent(ctx, eventID)
	if err != nil {
		return nil, err
	}
	return s.create(ctx, Input{When: MuteRule(ev), Duration: d.String(), Comment: "muted from " + source + " (event " + eventID + ")"},
		actorOf(source, userID, userName), core.AuditEventMute, eventID)
}

func actorOf(source, id, name string) string {
	if name == "" {
		return source + ":" + id
	}
	return source + ":" + id + " (" + name + ")"
}
