// Package webhooks is the registered-webhook service: the webhooks accounts register through
// the management API or the dashboard (validation, limits, generated secrets, test sends,
// retries), and the Registry that delivers to them. Both HTTP front ends (api.Management and the
// dashboard) call one Service, so they validate and behave alike (README.md, "Management API").
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// Store is what the service needs from storage: the registered webhooks, and retries of their
// deliveries. Storage failures wrap core.ErrUnavailable.
type Store interface {
	CreateWebhook(ctx context.Context, w *core.Webhook, max int) error
	Webhooks(ctx context.Context, account string) ([]*core.Webhook, error)
	Webhook(ctx context.Context, account, id string) (*core.Webhook, error)
	UpdateWebhook(ctx context.Context, w *core.Webhook, ifVersion int) error
	DeleteWebhook(ctx context.Context, account, id string) error
	RetryDelivery(ctx context.Context, id string, now time.Time) error
}

// DefaultMaxWebhooksPerAccount is Service.MaxPerAccount's default, and
// api.max_webhooks_per_account's (docs/configuration.md).
const DefaultMaxWebhooksPerAccount = 10

// Test sends per account: defaultTestRate a second, in bursts of defaultTestBurst.
const (
	defaultTestRate  = 100
	defaultTestBurst = 100
)

// Service registers, changes, tests and deletes an account's webhooks and retries their
// deliveries. Zero fields take the defaults given; Store and CheckURL are required.
type Service struct {
	Store         Store
	MaxPerAccount int // api.max_webhooks_per_account (default DefaultMaxWebhooksPerAccount)
	// CheckURL vets a URL a user registers (scheme, and the SSRF guard: webhook.Guard.CheckURL).
	CheckURL func(ctx context.Context, url string) error
	// Changed is called after a webhook is created, changed or deleted (the plan is rebuilt).
	Changed func()
	// Test sends a sample event of eventType to w now and returns the attempt (Registry.Test).
	Test func(ctx context.Context, w *core.Webhook, eventType string) core.Attempt
	// TestRate limits test sends per account (default defaultTestRate, with TestBurst
	// defaultTestBurst: the seed's 100 events/s burst).
	TestRate  rate.Limit
	TestBurst int
	NowFunc   func() time.Time
	Log       *slog.Logger

	once     sync.Once
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// defaults fills the zero fields once, whichever method comes first.
func (s *Service) defaults() {
	s.once.Do(func() {
		if s.NowFunc == nil {
			s.NowFunc = time.Now
		}
		if s.MaxPerAccount <= 0 {
			s.MaxPerAccount = DefaultMaxWebhooksPerAccount
		}
		if s.TestRate <= 0 {
			s.TestRate, s.TestBurst = defaultTestRate, defaultTestBurst
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Limit is the number of webhooks an account may register (MaxPerAccount or its default).
func (s *Service) Limit() int {
	s.defaults()
	return s.MaxPerAccount
}

// ErrStale is returned by Service.UpdateWebhook when the webhook is not at the version the
// caller expected; it wraps core.ErrConflict.
var ErrStale = fmt.Errorf("%w: the webhook is not at the expected version", core.ErrConflict)

// ErrTestRateLimited is returned by Service.TestWebhook when the account sent too many tests.
var ErrTestRateLimited = errors.New("too many test sends for this account; retry in a second")

// List returns account's webhooks.
func (s *Service) List(ctx context.Context, account string) ([]*core.Webhook, error) {
	return s.Store.Webhooks(ctx, account)
}

// Get returns account's webhook id; core.ErrNotFound when account has none with that id
// (another account's id included, so ids do not leak).
func (s *Service) Get(ctx context.Context, account, id string) (*core.Webhook, error) {
	return s.Store.Webhook(ctx, account, id)
}

// CreateWebhook registers a webhook for account: in is validated (FieldErrors), a secret is
// generated when in has none and returned as secretOnce (the only time it is shown; "" when
// the user set one), and the plan is rebuilt. It returns an error wrapping
// core.ErrLimitReached when the account has Limit webhooks, or a storage error.
func (s *Service) CreateWebhook(ctx context.Context, account string, in Input) (hook *core.Webhook, secretOnce string, err error) {
	s.defaults()
	if bad := s.Validate(ctx, in, nil); len(bad) > 0 {
		return nil, "", bad
	}
	now := s.NowFunc().UTC()
	hook = &core.Webhook{ID: core.WebhookPrefix + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""),
		Account: account, URL: *in.URL, Events: dedupe(*in.Events), Active: true, Version: 1, CreatedAt: now, UpdatedAt: now}
	if in.SignatureScheme != nil {
		hook.SignatureScheme = *in.SignatureScheme
	}
	if in.Secret == nil {
		secretOnce = NewSecret()
		if hook.SignatureScheme == webhook.SchemeStandardWebhooks {
			secretOnce = NewStandardSecret()
		}
		hook.Secret = notify.Secret(secretOnce)
	} else {
		hook.Secret = notify.Secret(*in.Secret)
	}
	if in.Active != nil {
		hook.Active = *in.Active
	}
	if in.Description != nil {
		hook.Description = *in.Description
	}
	switch err := s.Store.CreateWebhook(ctx, hook, s.MaxPerAccount); {
	case errors.Is(err, core.ErrLimitReached):
		return nil, "", fmt.Errorf("%w: an account may register at most %d webhooks", err, s.MaxPerAccount)
	case err != nil:
		return nil, "", err
	}
	s.changed()
	s.Log.Info("webhook registered", "account", hook.Account, "webhook_id", hook.ID, "events", hook.Events, "active", hook.Active)
	return hook, secretOnce, nil
}

// UpdateWebhook changes hook (loaded for its account with Get) with the fields in gives: in is
// validated (FieldErrors); then, unless ifVersion is 0 (any version), ErrStale when hook is not
// at ifVersion (a negative ifVersion never matches); hook is updated in place and stored
// provided its stored version is still ifVersion (core.ErrConflict otherwise,
// core.ErrNotFound when it is gone), and the plan is rebuilt.
func (s *Service) UpdateWebhook(ctx context.Context, hook *core.Webhook, in Input, ifVersion int) error {
	s.defaults()
	if bad := s.Validate(ctx, in, hook); len(bad) > 0 {
		return bad
	}
	if ifVersion != 0 && ifVersion != hook.Version {
		return ErrStale
	}
	if in.URL != nil {
		hook.URL = *in.URL
	}
	if in.Events != nil {
		hook.Events = dedupe(*in.Events)
	}
	if in.Secret != nil {
		hook.Secret = notify.Secret(*in.Secret)
	}
	if in.Active != nil {
		hook.Active = *in.Active
	}
	if in.Description != nil {
		hook.Description = *in.Description
	}
	if in.SignatureScheme != nil {
		hook.SignatureScheme = *in.SignatureScheme
	}
	hook.UpdatedAt = s.NowFunc().UTC()
	if err := s.Store.UpdateWebhook(ctx, hook, ifVersion); err != nil {
		return err
	}
	s.changed()
	s.Log.Info("webhook changed", "account", hook.Account, "webhook_id", hook.ID, "events", hook.Events, "active", hook.Active)
	return nil
}

// DeleteWebhook removes one of account's webhooks (core.ErrNotFound when it has none with id);
// its queued deliveries are cancelled by the re-plan.
func (s *Service) DeleteWebhook(ctx context.Context, account, id string) error {
	s.defaults()
	if err := s.Store.DeleteWebhook(ctx, account, id); err != nil {
		return err
	}
	s.changed()
	s.Log.Info("webhook deleted; its queued deliveries are cancelled", "account", account, "webhook_id", id)
	return nil
}

// TestWebhook sends a signed sample event of eventType to hook now and returns the attempt
// (nothing is stored). It returns FieldErrors for an unknown event type and
// ErrTestRateLimited past the account's test rate.
func (s *Service) TestWebhook(ctx context.Context, hook *core.Webhook, eventType string) (core.Attempt, error) {
	s.defaults()
	if !event.IsKnownType(eventType) {
		return core.Attempt{}, FieldErrors{"event": fmt.Sprintf("unknown event type %q (want %s)", eventType, strings.Join(event.Types, ", "))}
	}
	if !s.limiter(hook.Account).Allow() {
		return core.Attempt{}, ErrTestRateLimited
	}
	return s.Test(ctx, hook, eventType), nil
}

func (s *Service) limiter(account string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limiters == nil {
		s.limiters = map[string]*rate.Limiter{}
	}
	l := s.limiters[account]
	if l == nil {
		l = rate.NewLimiter(s.TestRate, s.TestBurst)
		s.limiters[account] = l
	}
	return l
}

// RetryDelivery makes d (a delivery to one of account's webhooks, checked by the caller) due
// now with a fresh budget of attempts; core.ErrConflict while an attempt of it runs.
func (s *Service) RetryDelivery(ctx context.Context, account string, d *core.Delivery) error {
	s.defaults()
	if err := s.Store.RetryDelivery(ctx, d.ID, s.NowFunc()); err != nil {
		return err
	}
	s.Log.Info("delivery retried on request", "account", account, "delivery_id", d.ID, "webhook_id", d.Target)
	return nil
}

func (s *Service) changed() {
	if s.Changed != nil {
		s.Changed()
	}
}

func dedupe(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}
