package silences

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/rules"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

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

// FieldErrors are validation problems by JSON field name ("when", "duration", …): the same
// type as the webhook service's, so the API and the dashboard show both alike.
type FieldErrors = webhooks.FieldErrors

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
