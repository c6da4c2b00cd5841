// Package webhook is the generic signed HTTP target (docs/configuration.md, targets): it POSTs the original event, or a
// template's JSON, signed exactly like Cortex signs what it sends, so one receiver's
// verifySignature code works for both, or, with signature_scheme standard-webhooks, by the
// Standard Webhooks scheme, whose signed timestamp lets receivers refuse replays. Presets (Config.Preset) shape it for one service:
// PagerDuty, Opsgenie, Microsoft Teams, Mattermost, Rocket.Chat, GitHub repository dispatch,
// GitLab pipeline triggers, CloudEvents, each with a built-in template and the service's auth.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/signature"
)

// Config is a webhook target's YAML (targets[] with type: webhook).
type Config struct {
	// URL receives a POST per delivery; absolute http(s). Optional for the presets with a fixed
	// endpoint (pagerduty, opsgenie, github-dispatch with repo, gitlab-pipeline with project),
	// where it overrides that endpoint (proxies, GitHub Enterprise, self-managed GitLab).
	URL string `yaml:"url"`
	// Secret signs each body (X-Cortex-Signature: sha256=<hex HMAC-SHA256>). Required without a
	// preset and for generic-json and cloudevents (empty disables the target); optional for the
	// other presets, which authenticate with their own credential. Also settable as secret_file.
	Secret     notify.Secret `yaml:"secret"`
	SecretFile string        `yaml:"secret_file"`
	// SignatureScheme is how the body is signed: "cortex" (default; X-Cortex-Signature over the
	// body, as Cortex signs) or "standard-webhooks" (webhook-id, webhook-timestamp and
	// webhook-signature over id.timestamp.body, so receivers can refuse replays by age; Secret
	// is then one or more "whsec_<base64 key>" separated by spaces, each signing during a
	// rotation). See SchemeCortex and SchemeStandardWebhooks.
	SignatureScheme string `yaml:"signature_scheme"`
	// Headers are added to every request; they cannot replace the Content-Type, X-Cortex-* or
	// User-Agent headers the bridge sets, nor the headers a preset sets (its auth).
	Headers map[string]string `yaml:"headers"`

	// Preset shapes the request for one service (see Presets): its default template
	// (webhook/<preset>.tmpl, overridable like any template), default URL, auth and the keys
	// below. "" is the plain signed webhook.
	Preset string `yaml:"preset"`
	// RoutingKey is the PagerDuty Events API v2 integration key (pagerduty; required), sent as
	// the body's routing_key. Also routing_key_file.
	RoutingKey     notify.Secret `yaml:"routing_key"`
	RoutingKeyFile string        `yaml:"routing_key_file"`
	// APIKey is the Opsgenie API integration key (opsgenie; required), sent as
	// "Authorization: GenieKey <key>". Also api_key_file.
	APIKey     notify.Secret `yaml:"api_key"`
	APIKeyFile string        `yaml:"api_key_file"`
	// Token is a GitHub token allowed to write the repository's contents (github-dispatch; sent as
	// "Authorization: Bearer <token>") or a GitLab pipeline trigger token (gitlab-pipeline; sent
	// as the body's token). Required for those presets. Also token_file.
	Token     notify.Secret `yaml:"token"`
	TokenFile string        `yaml:"token_file"`
	// Repo is owner/name of the repository to dispatch to (github-dispatch; required unless URL
	// is set).
	Repo string `yaml:"repo"`
	// EventType is the repository dispatch's event_type (github-dispatch; at most 100
	// characters); default the template's, "cortex-<event type with - for .>" (cortex-scan-failed).
	EventType string `yaml:"event_type"`
	// Project is the GitLab project id or path, e.g. 1234 or group/app (gitlab-pipeline;
	// required unless URL is set).
	Project string `yaml:"project"`
	// Ref is the branch or tag the pipeline runs on (gitlab-pipeline; required).
	Ref string `yaml:"ref"`
	// Source is the CloudEvents source URI reference (cloudevents); default "cortex-bridge".
	Source string `yaml:"source"`
}

// Validate checks the config; errors name the key relative to the target
// ("routing_key: required for preset pagerduty").
func (c *Config) Validate() error {
	errs := append(c.validatePreset(), c.validateScheme()...)
	endpoint := c.Endpoint()
	u, err := url.Parse(endpoint)
	switch {
	case endpoint == "" && (c.Preset == PresetGitHubDispatch || c.Preset == PresetGitLabPipeline):
		// validatePreset asked for repo or project
	case endpoint == "":
		errs = append(errs, errors.New("url: required"))
	case err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		errs = append(errs, fmt.Errorf("url: must be an absolute http(s) URL, got %q", notify.RedactURL(endpoint)))
	}
	for k := range c.Headers {
		if http.CanonicalHeaderKey(k) != "" && isReserved(k) {
			errs = append(errs, fmt.Errorf("headers.%s: set by the bridge, cannot be configured", k))
		}
	}
	return errors.Join(errs...)
}

func isReserved(h string) bool {
	switch http.CanonicalHeaderKey(h) {
	case "Content-Type", "Content-Length", "Host", "User-Agent", "X-Cortex-Signature", "X-Cortex-Event", "X-Cortex-Delivery",
		"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature":
		return true
	}
	return false
}

// Notifier posts deliveries to one URL, signed when it has a secret, shaped by its preset.
type Notifier struct {
	cfg       Config
	preset    *preset
	endpoint  string
	client    *http.Client
	userAgent string
	nowFunc   func() time.Time
	// signers sign under the standard-webhooks scheme (one per secret); nil for the cortex scheme.
	signers []*standardwebhooks.Webhook
	// secrets are the forms of the credential values (notify.SecretForms) kept out of every
	// error, also when a receiver echoes them in its answer.
	secrets []string
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a Notifier. client nil means notify.NewHTTPClient(); version goes into the
// User-Agent ("cortex-bridge/<version>"). It fails when cfg is invalid or its credential empty
// (signature.ErrEmptySecret for a target that needs the signing secret), and, with the
// standard-webhooks scheme, when the secret is not one or more whsec_<base64 of 24–64 bytes>
// (an error wrapping ErrStandardSecret that names the key "secret", never its value).
func New(cfg *Config, client *http.Client, version string) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, _ := cfg.preset()
	if key, v := cfg.credentialValue(); v == "" {
		if key == "secret" {
			return nil, signature.ErrEmptySecret
		}
		return nil, fmt.Errorf("%s: required for preset %s", key, p.name)
	}
	if client == nil {
		client = notify.NewHTTPClient()
	}
	n := &Notifier{cfg: *cfg, preset: p, endpoint: cfg.Endpoint(), client: client, userAgent: "cortex-bridge/" + version, nowFunc: time.Now}
	secrets := []string{cfg.Secret.Reveal(), cfg.RoutingKey.Reveal(), cfg.APIKey.Reveal(), cfg.Token.Reveal()}
	if p.credential == credURL {
		secrets = append(secrets, cfg.URL)
	}
	for _, v := range cfg.Headers { // an Authorization or API-key header the user configured
		secrets = append(secrets, v)
	}
	n.secrets = notify.SecretForms(secrets...)
	if cfg.SignatureScheme == SchemeStandardWebhooks && cfg.Secret != "" {
		var err error
		if n.signers, err = StandardSigners(cfg.Secret.Reveal()); err != nil {
			return nil, fmt.Errorf("secret: %w", err)
		}
		for _, f := range strings.Fields(cfg.Secret.Reveal()) { // each secret of a rotation
			n.secrets = append(n.secrets, notify.SecretForms(f)...)
		}
	}
	return n, nil
}

// Notify POSTs msg.Body (or, when nil, the event exactly as Cortex sent it) with the event,
// delivery and configured headers, the signature when the target has a secret, and the
// preset's auth headers and body fields (its secrets are added here, never rendered by a
// template), fits the body into the preset's service limits (limits.go; what was cut goes to
// msg.Notes), and classifies the answer (docs/architecture.md, the life of a delivery).
func (n *Notifier) Notify(ctx context.Context, msg *notify.Message) error {
	body := msg.Body
	if body == nil {
		body = msg.Event.Raw
	}
	if n.preset.fields != nil {
		if fields := n.preset.fields(&n.cfg); len(fields) > 0 {
			b, err := setFields(body, fields)
			if err != nil {
				return &notify.DeliveryError{Err: fmt.Errorf("preset %s: %w", n.preset.name, err), Reason: notify.ReasonTemplate}
			}
			body = b
		}
	}
	body, notes, err := n.cfg.Fit(body)
	msg.Notes = append(msg.Notes, notes...)
	if err != nil {
		return &notify.DeliveryError{Err: err, Reason: notify.ReasonTemplate}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, bytes.NewReader(body))
	if err != nil {
		return &notify.DeliveryError{Err: errors.New("cannot build request for " + notify.RedactURL(n.endpoint)), Reason: notify.ReasonConfig}
	}
	for k, v := range n.cfg.Headers {
		req.Header.Set(k, v)
	}
	contentType := "application/json"
	if n.preset.contentType != "" {
		contentType = n.preset.contentType
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", n.userAgent)
	req.Header.Set("X-Cortex-Event", msg.Event.Type)
	req.Header.Set("X-Cortex-Delivery", msg.DeliveryID)
	if n.signers != nil {
		if err := signStandard(req, n.signers, msg.DeliveryID, n.nowFunc(), body); err != nil {
			return &notify.DeliveryError{Err: err, Reason: notify.ReasonConfig}
		}
	} else if n.cfg.Secret != "" {
		sig, err := signature.Sign(n.cfg.Secret.Reveal(), body)
		if err != nil {
			return &notify.DeliveryError{Err: err, Reason: notify.ReasonConfig}
		}
		req.Header.Set("X-Cortex-Signature", sig)
	}
	if n.preset.headers != nil {
		for k, v := range n.preset.headers(&n.cfg) {
			req.Header.Set(k, v)
		}
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return n.scrub(notify.RequestError(ctx, err))
	}
	now := n.nowFunc()
	code, header := resp.StatusCode, resp.Header
	err = notify.CheckResponse(resp, now)
	var de *notify.DeliveryError
	if n.preset.retryable != nil && errors.As(err, &de) {
		if ok, after := n.preset.retryable(code, header, now); ok {
			de.Reason, de.Retryable, de.RetryAfter = notify.ReasonRateLimited, true, max(after, de.RetryAfter)
		}
	}
	return n.scrub(err)
}

// scrub removes the target's credentials (notify.SecretForms of its secret, key or token, its URL
// when the URL is the credential, and its configured header values) from err's text and
// recorded answer.
func (n *Notifier) scrub(err error) error {
	return notify.Scrub(err, n.secrets)
}

// Credentials returns the URL and the header values: a preset's URL can be the credential and a
// header can carry an API key, so the target keeps them out of its errors and callers printing a
// receiver's answer scrub them too (notify.Credentialer).
func (c *Config) Credentials() []string {
	out := []string{c.URL}
	for _, v := range c.Headers {
		out = append(out, v)
	}
	return out
}
