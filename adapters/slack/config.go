package slack

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// DefaultAPIURL is Slack's Web API base, used in bot-token mode.
const DefaultAPIURL = "https://slack.com/api/"

// Config is a slack target's YAML (targets[] with type: slack). Either WebhookURL, or Token with
// Channel. The webhook URL, the token and the signing secret are secrets (also settable as
// *_file). SigningSecret, with Token, turns on the Acknowledge and Mute buttons (see
// Interactions): Slack's app signing secret, which verifies the clicks Slack sends back.
type Config struct {
	WebhookURL     notify.Secret `yaml:"webhook_url"`
	WebhookURLFile string        `yaml:"webhook_url_file"`
	Token          notify.Secret `yaml:"token"`
	TokenFile      string        `yaml:"token_file"`
	Channel        string        `yaml:"channel"`
	APIURL         string        `yaml:"api_url"` // default DefaultAPIURL; for proxies and tests
	// SigningSecret is the Slack app's signing secret (Basic Information, App Credentials).
	// Only with Token: incoming webhooks cannot receive interactions, so they get no buttons.
	SigningSecret     notify.Secret `yaml:"signing_secret"`
	SigningSecretFile string        `yaml:"signing_secret_file"`
}

// Credential is the secret whose absence disables the target.
func (c *Config) Credential() string { return c.WebhookURL.Reveal() + c.Token.Reveal() }

// Validate checks the config; errors name the key relative to the target.
func (c *Config) Validate() error {
	var errs []error
	if c.WebhookURL != "" && c.Token != "" {
		errs = append(errs, errors.New("webhook_url and token: set one, not both"))
	}
	if c.WebhookURL != "" {
		if err := checkURL(c.WebhookURL.Reveal()); err != nil {
			errs = append(errs, fmt.Errorf("webhook_url: %w", err))
		}
	}
	if c.Token != "" && c.Channel == "" {
		errs = append(errs, errors.New("channel: required with token"))
	}
	if c.SigningSecret != "" && c.Token == "" {
		errs = append(errs, errors.New("signing_secret: only with token (chat.postMessage): incoming webhooks cannot receive button clicks"))
	}
	if c.APIURL != "" {
		if err := checkURL(c.APIURL); err != nil {
			errs = append(errs, fmt.Errorf("api_url: %w", err))
		}
	}
	return errors.Join(errs...)
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("must be an absolute http(s) URL, got %q", notify.RedactURL(raw))
	}
	return nil
}
