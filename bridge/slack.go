package bridge

import (
	"context"
	"time"

	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/silences"
)

// slackSecrets returns the signing secrets of the Slack targets of the config in force, for
// the interactions endpoint (a reload applies at once).
func (b *Bridge) slackSecrets() []string {
	b.mu.Lock()
	cfg := b.cfg
	b.mu.Unlock()
	var out []string
	for i := range cfg.Targets {
		if c := config.AdapterConfig[*slack.Config](&cfg.Targets[i]); c != nil && c.SigningSecret != "" {
			out = append(out, c.SigningSecret.Reveal())
		}
	}
	return out
}

// slackAPIURLs returns the api_url of each Slack target of the config in force: a click's
// response_url may be on one of their hosts (slack.Interactions.APIURLs).
func (b *Bridge) slackAPIURLs() []string {
	b.mu.Lock()
	cfg := b.cfg
	b.mu.Unlock()
	var out []string
	for i := range cfg.Targets {
		if c := config.AdapterConfig[*slack.Config](&cfg.Targets[i]); c != nil && c.APIURL != "" {
			out = append(out, c.APIURL)
		}
	}
	return out
}

// slackActions is what Slack's buttons do: the silence service's acknowledge and mute.
type slackActions struct{ s *silences.Service }

func (a slackActions) Acknowledge(ctx context.Context, eventID, userID, userName string) error {
	return a.s.Acknowledge(ctx, eventID, "slack", userID, userName)
}

func (a slackActions) Mute(ctx context.Context, eventID, userID, userName string, d time.Duration) (time.Time, error) {
	s, err := a.s.Mute(ctx, eventID, "slack", userID, userName, d)
	if err != nil {
		return time.Time{}, err
	}
	return s.ExpiresAt, nil
}
