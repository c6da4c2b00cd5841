package discord

import (
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// Type declares the discord target type. Its default rate limit is a Discord webhook's bucket:
// 5 requests per 2 seconds (the X-RateLimit-* headers its API reports,
// https://discord.com/developers/docs/topics/rate-limits).
var Type = notify.TargetType{
	Name:      "discord",
	NewConfig: func() notify.TargetConfig { return &Config{} },
	New: func(cfg notify.TargetConfig, d notify.Deps) (notify.Notifier, error) {
		return notify.Built(New(cfg.(*Config), d.Client, d.Version))
	},
	Format:      notify.FormatJSON,
	Payload:     notify.PayloadDiscord,
	Escape:      func(s string) string { return templates.DiscordEscape(s) },
	Concurrency: 4,
	RateLimit:   2.5,
	Burst:       5,
}

// Disabled says why the target sends nothing: webhook_url is empty (its variable unset); ""
// when it can send.
func (c *Config) Disabled() string {
	if c.Credential() == "" {
		return "webhook_url is empty"
	}
	return ""
}

// SecretFiles lists the secrets with a <key>_file form.
func (c *Config) SecretFiles() []notify.SecretFile {
	return []notify.SecretFile{{Key: "webhook_url", Value: &c.WebhookURL, File: c.WebhookURLFile}}
}
