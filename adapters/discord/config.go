// Package discord is the Discord target (SPEC §6): webhook execution with embeds. This file
// holds its configuration; delivery is built in the Discord issue.
package discord

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/cortexbridge/cortex-bridge/core"
)

// Config is a discord target's YAML (targets[] with type: discord). The webhook URL carries the
// webhook token: it is a secret (also settable as webhook_url_file).
type Config struct {
	WebhookURL     string `yaml:"webhook_url"`
	WebhookURLFile string `yaml:"webhook_url_file"`
	Username       string `yaml:"username"`
	AvatarURL      string `yaml:"avatar_url"`
	ThreadID       string `yaml:"thread_id"`
}

// Credential is the secret whose absence disables the target.
func (c *Config) Credential() string { return c.WebhookURL }

var webhookPath = regexp.MustCompile(`/api(/v\d+)?/webhooks/\d+/[\w-]+/?$`)

// Validate checks the config; errors name the key relative to the target.
func (c *Config) Validate() error {
	if c.WebhookURL == "" {
		return nil
	}
	u, err := url.Parse(c.WebhookURL)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || !webhookPath.MatchString(u.Path) {
		return fmt.Errorf("webhook_url: want https://discord.com/api/webhooks/{id}/{token}, got %q", core.RedactURL(c.WebhookURL))
	}
	return nil
}
