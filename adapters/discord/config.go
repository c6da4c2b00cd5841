// Package discord is the Discord target (docs/configuration.md, targets): one execute-webhook call per message
// (github.com/bwmarrin/discordgo, with ?wait=true), an embed with a severity colour, fitted into
// Discord's limits, mentions never parsed, and every failure classified for the delivery queue.
package discord

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Config is a discord target's YAML (targets[] with type: discord). The webhook URL carries the
// webhook token: it is a secret (also settable as webhook_url_file).
type Config struct {
	// WebhookURL is the webhook to execute, https://discord.com/api/webhooks/{id}/{token}. It is
	// used as given — scheme, host and any path before /webhooks/ — so a proxy or a
	// Discord-compatible server works; a query in it (e.g. thread_id) is kept. Empty disables the
	// target.
	WebhookURL     notify.Secret `yaml:"webhook_url"`
	WebhookURLFile string        `yaml:"webhook_url_file"`
	// Username replaces the webhook's name for every message (at most 80 characters; Discord
	// refuses names containing "discord" or "clyde"). Empty keeps the name set in Discord.
	Username string `yaml:"username"`
	// AvatarURL replaces the webhook's avatar (absolute http(s) URL). Empty keeps Discord's.
	AvatarURL string `yaml:"avatar_url"`
	// ThreadID posts into this thread of the webhook's channel (a Discord snowflake, digits).
	ThreadID string `yaml:"thread_id"`
}

// Credential is the secret whose absence disables the target.
func (c *Config) Credential() string { return c.WebhookURL.Reveal() }

var (
	webhookPath = regexp.MustCompile(`/api(/v\d+)?/webhooks/\d+/[\w-]+/?$`)
	snowflake   = regexp.MustCompile(`^\d{1,20}$`)
)

// Validate checks the config; errors name the key relative to the target and never contain the
// webhook token.
func (c *Config) Validate() error {
	var errs []error
	if c.WebhookURL != "" {
		if _, err := parseWebhookURL(c.WebhookURL.Reveal()); err != nil {
			errs = append(errs, err)
		}
	}
	if n := utf8.RuneCountInString(c.Username); n > maxUsernameRunes {
		errs = append(errs, fmt.Errorf("username: at most %d characters, got %d", maxUsernameRunes, n))
	}
	for _, banned := range []string{"discord", "clyde"} {
		if strings.Contains(strings.ToLower(c.Username), banned) {
			errs = append(errs, fmt.Errorf("username: Discord refuses webhook names containing %q", banned))
		}
	}
	if c.AvatarURL != "" && !isHTTPURL(c.AvatarURL) {
		errs = append(errs, fmt.Errorf("avatar_url: must be an absolute http(s) URL, got %q", c.AvatarURL))
	}
	if c.ThreadID != "" && !snowflake.MatchString(c.ThreadID) {
		errs = append(errs, fmt.Errorf("thread_id: must be a Discord id (digits), got %q", c.ThreadID))
	}
	return errors.Join(errs...)
}

// endpoint is a parsed webhook URL: base is everything before "/webhooks/" (scheme, user info,
// host, path prefix such as "/api" or "/proxy/api/v10") plus the URL's own query.
type endpoint struct {
	base  url.URL
	id    string
	token string
}

func parseWebhookURL(raw string) (*endpoint, error) {
	bad := fmt.Errorf("webhook_url: want https://discord.com/api/webhooks/{id}/{token}, got %q", notify.RedactURL(raw))
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Fragment != "" ||
		!webhookPath.MatchString(u.Path) {
		return nil, bad
	}
	i := strings.LastIndex(u.Path, "/webhooks/")
	id, token, ok := strings.Cut(strings.TrimSuffix(u.Path[i+len("/webhooks/"):], "/"), "/")
	if !ok || id == "" || token == "" {
		return nil, bad
	}
	base := *u
	base.Path, base.RawPath = u.Path[:i], ""
	return &endpoint{base: base, id: id, token: token}, nil
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.IsAbs() && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http")
}
