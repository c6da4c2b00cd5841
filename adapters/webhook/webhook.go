// Package webhook is the generic signed HTTP target (SPEC §6): it POSTs the original event, or a
// template's JSON, signed exactly like Cortex signs what it sends, so one receiver's
// verifySignature code works for both.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/signature"
)

// Config is a webhook target's YAML (targets[] with type: webhook).
type Config struct {
	// URL receives a POST per delivery; absolute http(s).
	URL string `yaml:"url"`
	// Secret signs each body (X-Cortex-Signature: sha256=<hex HMAC-SHA256>). Required; empty
	// disables the target. Also settable as secret_file.
	Secret     core.Secret `yaml:"secret"`
	SecretFile string      `yaml:"secret_file"`
	// Headers are added to every request; they cannot replace the Content-Type, X-Cortex-* or
	// User-Agent headers the bridge sets.
	Headers map[string]string `yaml:"headers"`
}

// Validate checks the config; errors name the key relative to the target.
func (c *Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("url: required"))
	case err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		errs = append(errs, fmt.Errorf("url: must be an absolute http(s) URL, got %q", core.RedactURL(c.URL)))
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
	case "Content-Type", "Content-Length", "Host", "User-Agent", "X-Cortex-Signature", "X-Cortex-Event", "X-Cortex-Delivery":
		return true
	}
	return false
}

// Notifier posts signed deliveries to one URL.
type Notifier struct {
	cfg       Config
	client    *http.Client
	userAgent string
	nowFunc   func() time.Time
}

var _ core.Notifier = (*Notifier)(nil)

// New builds a Notifier. client nil means core.NewHTTPClient(); version goes into the
// User-Agent ("cortex-bridge/<version>"). It fails when cfg is invalid or its secret empty.
func New(cfg *Config, client *http.Client, version string) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Secret == "" {
		return nil, signature.ErrEmptySecret
	}
	if client == nil {
		client = core.NewHTTPClient()
	}
	return &Notifier{cfg: *cfg, client: client, userAgent: "cortex-bridge/" + version, nowFunc: time.Now}, nil
}

// Notify POSTs msg.Body (or, when nil, the event exactly as Cortex sent it) with the signature,
// event, delivery and configured headers, and classifies the answer by SPEC §5.
func (n *Notifier) Notify(ctx context.Context, msg *core.Message) error {
	body := msg.Body
	if body == nil {
		body = msg.Event.Raw
	}
	sig, err := signature.Sign(n.cfg.Secret.Reveal(), body)
	if err != nil {
		return &core.DeliveryError{Err: err, Reason: core.ReasonConfig}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return &core.DeliveryError{Err: errors.New("cannot build request for " + core.RedactURL(n.cfg.URL)), Reason: core.ReasonConfig}
	}
	for k, v := range n.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", n.userAgent)
	req.Header.Set("X-Cortex-Signature", sig)
	req.Header.Set("X-Cortex-Event", msg.Event.Type)
	req.Header.Set("X-Cortex-Delivery", msg.DeliveryID)
	resp, err := n.client.Do(req)
	if err != nil {
		return core.RequestError(ctx, err)
	}
	return core.CheckResponse(resp, n.nowFunc())
}
