// Package email is the email target (SPEC §6): SMTP via go-mail, for single alerts and digests.
// This file holds its configuration; delivery is built in the email issue.
package email

import (
	"errors"
	"fmt"
	"net/mail"
	"time"
)

// SMTP is how the target reaches its mail server.
type SMTP struct {
	Host string `yaml:"host"`
	// Port defaults to 587 (465 when TLS is "implicit").
	Port int `yaml:"port"`
	// TLS is "starttls", "implicit" or "none"; default implicit on port 465, starttls elsewhere.
	// "none" (plaintext) only when written explicitly, e.g. for a local relay.
	TLS          string        `yaml:"tls"`
	Username     string        `yaml:"username"`
	Password     string        `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
	DialTimeout  time.Duration `yaml:"dial_timeout"` // default 10s
}

// Config is an email target's YAML (targets[] with type: email).
type Config struct {
	SMTP          SMTP     `yaml:"smtp"`
	From          string   `yaml:"from"`
	To            []string `yaml:"to"`
	CC            []string `yaml:"cc"`
	BCC           []string `yaml:"bcc"`
	ReplyTo       string   `yaml:"reply_to"`
	SubjectPrefix string   `yaml:"subject_prefix"`
}

// Credential is what must be set for the target to work: the SMTP host.
func (c *Config) Credential() string { return c.SMTP.Host }

// WithDefaults fills the port and TLS mode.
func (c *Config) WithDefaults() {
	if c.SMTP.TLS == "" {
		c.SMTP.TLS = "starttls"
		if c.SMTP.Port == 465 {
			c.SMTP.TLS = "implicit"
		}
	}
	if c.SMTP.Port == 0 {
		c.SMTP.Port = 587
		if c.SMTP.TLS == "implicit" {
			c.SMTP.Port = 465
		}
	}
	if c.SMTP.DialTimeout == 0 {
		c.SMTP.DialTimeout = 10 * time.Second
	}
}

// Validate checks the config; errors name the key relative to the target.
func (c *Config) Validate() error {
	var errs []error
	if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp.port: must be 1–65535, got %d", c.SMTP.Port))
	}
	switch c.SMTP.TLS {
	case "starttls", "implicit", "none":
	default:
		errs = append(errs, fmt.Errorf("smtp.tls: must be starttls, implicit or none, got %q", c.SMTP.TLS))
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("from: %q is not an address: %v", c.From, err))
	}
	if len(c.To)+len(c.CC)+len(c.BCC) == 0 {
		errs = append(errs, errors.New("to: at least one recipient required (to, cc or bcc)"))
	}
	for _, l := range []struct {
		key  string
		list []string
	}{{"to", c.To}, {"cc", c.CC}, {"bcc", c.BCC}} {
		for i, a := range l.list {
			if _, err := mail.ParseAddress(a); err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %q is not an address", l.key, i, a))
			}
		}
	}
	return errors.Join(errs...)
}
