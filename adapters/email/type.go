package email

import (
	"strings"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Type declares the email target type.
var Type = notify.TargetType{
	Name:      "email",
	NewConfig: func() notify.TargetConfig { return &Config{} },
	New: func(cfg notify.TargetConfig, d notify.Deps) (notify.Notifier, error) {
		return notify.Built(New(cfg.(*Config), WithVersion(d.Version)))
	},
	Format:      notify.FormatEmail,
	Concurrency: 4,
}

// Disabled says why the target sends nothing: smtp.host is empty, or every recipient is an
// empty string (`to: ["${OPS_EMAIL}"]` with OPS_EMAIL unset); "" when it can send.
func (c *Config) Disabled() string {
	switch {
	case c.Credential() == "":
		return "smtp.host is empty"
	case c.unsetRecipients():
		return "to is empty (its variable is unset)"
	}
	return ""
}

// unsetRecipients reports whether recipients are listed and every one is blank.
func (c *Config) unsetRecipients() bool {
	all := append(append(append([]string(nil), c.To...), c.CC...), c.BCC...)
	for _, a := range all {
		if strings.TrimSpace(a) != "" {
			return false
		}
	}
	return len(all) > 0
}

// SecretFiles lists the secrets with a <key>_file form.
func (c *Config) SecretFiles() []notify.SecretFile {
	return []notify.SecretFile{{Key: "smtp.password", Value: &c.SMTP.Password, File: c.SMTP.PasswordFile}}
}
