package slack

import (
	"strings"

	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// Type declares the slack target type. Its default rate limit is Slack's: about one message a
// second per incoming webhook or channel
// (https://api.slack.com/docs/rate-limits#rate-limits__limits-when-posting-messages).
var Type = notify.TargetType{
	Name:      "slack",
	NewConfig: func() notify.TargetConfig { return &Config{} },
	New: func(cfg notify.TargetConfig, d notify.Deps) (notify.Notifier, error) {
		n, err := New(cfg.(*Config), d.Client, d.Version)
		if n != nil {
			n.publicURL = strings.TrimSuffix(d.PublicURL, "/")
		}
		return notify.Built(n, err)
	},
	Format:      notify.FormatJSON,
	Payload:     notify.PayloadSlack,
	Escape:      func(s string) string { return templates.SlackEscape(s) },
	Concurrency: 4,
	RateLimit:   1,
	Burst:       3,
}

// Disabled says why the target sends nothing: no webhook_url and no token (their variables
// unset); "" when it can send.
func (c *Config) Disabled() string {
	if c.Credential() == "" {
		return "webhook_url (or token) is empty"
	}
	return ""
}

// SecretFiles lists the secrets with a <key>_file form.
func (c *Config) SecretFiles() []notify.SecretFile {
	return []notify.SecretFile{{Key: "webhook_url", Value: &c.WebhookURL, File: c.WebhookURLFile}, {Key: "token", Value: &c.Token, File: c.TokenFile},
		{Key: "signing_secret", Value: &c.SigningSecret, File: c.SigningSecretFile}}
}
