package webhook

import (
	"fmt"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Type declares the webhook target type (presets included: see Config.Preset).
var Type = notify.TargetType{
	Name:      "webhook",
	NewConfig: func() notify.TargetConfig { return &Config{} },
	New: func(cfg notify.TargetConfig, d notify.Deps) (notify.Notifier, error) {
		return notify.Built(New(cfg.(*Config), d.Client, d.Version))
	},
	Format:      notify.FormatJSON,
	Concurrency: 4,
}

// RefusesDigests says why a digest cannot go to this target (its preset's service would refuse
// it or not show it), or "" when it can (see CarriesDigests).
func (c *Config) RefusesDigests() string {
	if c.CarriesDigests() {
		return ""
	}
	return fmt.Sprintf("uses preset %s, whose service would refuse a digest or not show it (send digests to an email, slack, discord or plain webhook target)", c.Preset)
}

// SecretFiles lists the secrets with a <key>_file form.
func (c *Config) SecretFiles() []notify.SecretFile {
	return []notify.SecretFile{
		{Key: "secret", Value: &c.Secret, File: c.SecretFile},
		{Key: "routing_key", Value: &c.RoutingKey, File: c.RoutingKeyFile},
		{Key: "api_key", Value: &c.APIKey, File: c.APIKeyFile},
		{Key: "token", Value: &c.Token, File: c.TokenFile},
	}
}
