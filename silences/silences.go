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
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
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
	// Event returns a stored event: core.ErrNotFound when there is none, another error when
	// its stored body no longer parses.
	Event(ctx context.Context, id string) (*event.Event, error)
	// Scans returns the scan contexts recorded for the scan ids (absent: none recorded).
	Scans(ctx context.Context, ids []string) (map[string]event.Scan, error)
	// Acknowledgements lists the acknowledgements of an event, oldest first.
	Acknowledgements(ctx context.Context, eventID string) ([]core.Acknowledgement, error)
	// AuditLog lists up to limit audit entries about subject (a silence's or an event's id),
	// newest first.
	AuditLog(ctx context.Context, subject string, limit int) ([]core.AuditEntry, error)
}

// Service creates, lists and ends silences, records acknowledgements, and answers
// core.Silencer from a cache of the active silences. Store is required; zero fields take the
// defaults given.
type Service struct {
	Store   Store
	NowFunc func() time.Time // default time.Now
	Log     *slog.Logger     // audit lines (default: discarded)
	// Findings returns the findings policy in force, whose fingerprints Mute's silences key on
	// (MuteRuleOf); nil: the default policy.
	Findings func() core.FindingsPolicy

	once   sync.Once
	active atomic.Pointer[[]compiled] // the cache; nil until the first Refresh
	mu     sync.Mutex                 // serialises Refresh
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
