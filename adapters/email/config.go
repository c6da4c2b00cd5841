// Package email is the email target (docs/configuration.md, targets): SMTP via go-mail, multipart text + HTML, for single
// alerts, groups and digests.
package email

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// TLS modes of SMTP.TLS.
const (
	TLSStartTLS = "starttls" // plaintext connect, then STARTTLS before anything else; refused if not offered
	TLSImplicit = "implicit" // TLS from the first byte (SMTPS, RFC 8314 §3.3)
	TLSNone     = "none"     // plaintext throughout; only when written explicitly
)

// SMTP is how the target reaches its mail server.
type SMTP struct {
	// Host is the server's name, also the name its certificate must carry. Empty disables the
	// target.
	Host string `yaml:"host"`
	// Port defaults to 587 (465 when TLS is "implicit").
	Port int `yaml:"port"`
	// TLS is "starttls", "implicit" or "none"; default implicit on port 465, starttls elsewhere.
	// "none" (plaintext) only when written explicitly, e.g. for a local relay. Certificates are
	// always verified against the system roots, with TLS 1.2 or later.
	TLS string `yaml:"tls"`
	// Username, when set, turns on SMTP AUTH (without it the password is unused); the mechanism is picked from what the server
	// offers (SCRAM-SHA-256(-PLUS), SCRAM-SHA-1(-PLUS), CRAM-MD5, PLAIN, LOGIN). PLAIN and LOGIN
	// are used over TLS only, so with tls: none only CRAM-MD5 and SCRAM can authenticate.
	Username string `yaml:"username"`
	// Password is a secret (also settable as password_file); it never appears in errors or logs.
	Password     notify.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
	// DialTimeout bounds connecting: TCP, TLS, greeting, EHLO, STARTTLS and AUTH together
	// (default 10s). Sending each message is bounded by the attempt's deadline (delivery.timeout).
	DialTimeout time.Duration `yaml:"dial_timeout"`
}

// Config is an email target's YAML (targets[] with type: email).
type Config struct {
	SMTP SMTP `yaml:"smtp"`
	// From is the sender, "Name <addr>" or "addr"; also the envelope sender. A non-ASCII name
	// is encoded (RFC 2047). In every address (from, to, cc, bcc, reply_to) a Unicode domain is
	// sent as A-labels, and a Unicode local part needs a server offering SMTPUTF8 (address.go).
	From string `yaml:"from"`
	// To, CC and BCC are recipient addresses; at least one in all. BCC recipients get the
	// message without appearing in its headers.
	To  []string `yaml:"to"`
	CC  []string `yaml:"cc"`
	BCC []string `yaml:"bcc"`
	// ReplyTo, when set, is the Reply-To header.
	ReplyTo string `yaml:"reply_to"`
	// SubjectPrefix goes before every subject as written (e.g. "[prod] "); default none.
	SubjectPrefix string `yaml:"subject_prefix"`
}

// Credential is what must be set for the target to work: the SMTP host.
func (c *Config) Credential() string { return c.SMTP.Host }

// WithDefaults fills the port, TLS mode and dial timeout.
func (c *Config) WithDefaults() {
	if c.SMTP.TLS == "" {
		c.SMTP.TLS = TLSStartTLS
		if c.SMTP.Port == 465 {
			c.SMTP.TLS = TLSImplicit
		}
	}
	if c.SMTP.Port == 0 {
		c.SMTP.Port = 587
		if c.SMTP.TLS == TLSImplicit {
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
	if strings.TrimSpace(c.SMTP.Host) == "" {
		errs = append(errs, errors.New("smtp.host: required"))
	} else if net.ParseIP(c.SMTP.Host) == nil && strings.ContainsAny(c.SMTP.Host, " :/[]\r\n") {
		errs = append(errs, fmt.Errorf("smtp.host: must be a host name or IP address without port or scheme, got %q", c.SMTP.Host))
	}
	if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp.port: must be 1–65535, got %d", c.SMTP.Port))
	}
	switch c.SMTP.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		errs = append(errs, fmt.Errorf("smtp.tls: must be starttls, implicit or none, got %q", c.SMTP.TLS))
	}
	if c.SMTP.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("smtp.dial_timeout: must be positive, got %s", c.SMTP.DialTimeout))
	}
	if len(c.To)+len(c.CC)+len(c.BCC) == 0 {
		errs = append(errs, errors.New("to: at least one recipient required (to, cc or bcc)"))
	}
	for _, k := range c.addressKeys() {
		for j, v := range k.values {
			if _, err := parseAddress(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k.name(j), err))
			}
		}
	}
	if strings.ContainsAny(c.SubjectPrefix, "\r\n") {
		errs = append(errs, errors.New("subject_prefix: must be one line"))
	}
	return errors.Join(errs...)
}
