package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Signature schemes (Config.SignatureScheme).
const (
	// SchemeCortex signs the body only, as Cortex does: X-Cortex-Signature: sha256=<hex
	// HMAC-SHA256 of the body>. The default.
	SchemeCortex = "cortex"
	// SchemeStandardWebhooks follows https://www.standardwebhooks.com/ (spec
	// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
	// webhook-id (the delivery id, the same on every retry), webhook-timestamp (the attempt's,
	// Unix seconds) and webhook-signature: "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one
	// per secret separated by spaces, so a receiver can refuse a replay by its age.
	SchemeStandardWebhooks = "standard-webhooks"
)

// Schemes lists the signature schemes, the default first.
func Schemes() []string { return []string{SchemeCortex, SchemeStandardWebhooks} }

// Standard Webhooks secrets are "whsec_" and the base64 of the key; the spec asks for keys of
// 24 to 64 bytes (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#signature-scheme).
const (
	StandardSecretPrefix = "whsec_"
	minStandardKeyBytes  = 24
	maxStandardKeyBytes  = 64
)

// ErrStandardSecret is why a secret cannot sign under the standard-webhooks scheme; the
// message never repeats the secret.
var ErrStandardSecret = fmt.Errorf("the standard-webhooks scheme wants %s followed by the base64 of a %d–%d byte key, one or more separated by spaces (a rotation signs with each)",
	StandardSecretPrefix, minStandardKeyBytes, maxStandardKeyBytes)

// StandardSigners parses a standard-webhooks secret: one or more "whsec_<base64>" separated by
// spaces (during a rotation, the new and the old), each a key of 24–64 bytes. The error wraps
// ErrStandardSecret and names the secret's position, never its value.
func StandardSigners(secret string) ([]*standardwebhooks.Webhook, error) {
	fields := strings.Fields(secret)
	if len(fields) == 0 {
		return nil, ErrStandardSecret
	}
	out := make([]*standardwebhooks.Webhook, 0, len(fields))
	for i, f := range fields {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(f, StandardSecretPrefix))
		if !strings.HasPrefix(f, StandardSecretPrefix) || err != nil || len(key) < minStandardKeyBytes || len(key) > maxStandardKeyBytes {
			return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(fields), ErrStandardSecret)
		}
		wh, err := standardwebhooks.NewWebhookRaw(key)
		if err != nil {
			return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(fields), ErrStandardSecret)
		}
		out = append(out, wh)
	}
	return out, nil
}

// validateScheme checks signature_scheme and, for standard-webhooks, the secret's form.
func (c *Config) validateScheme() []error {
	switch c.SignatureScheme {
	case "", SchemeCortex:
		return nil
	case SchemeStandardWebhooks:
		if c.Secret == "" {
			return nil // the credential check says what is missing
		}
		if _, err := StandardSigners(c.Secret.Reveal()); err != nil {
			return []error{fmt.Errorf("secret: %w", err)}
		}
		return nil
	}
	return []error{fmt.Errorf("signature_scheme: must be %s or %s, got %q", SchemeCortex, SchemeStandardWebhooks, c.SignatureScheme)}
}

// signStandard sets the Standard Webhooks headers on req: id is the delivery id, at the
// attempt's time.
func signStandard(req *http.Request, signers []*standardwebhooks.Webhook, id string, at time.Time, body []byte) error {
	sigs := make([]string, 0, len(signers))
	for _, wh := range signers {
		sig, err := wh.Sign(id, at, body)
		if err != nil {
			return err
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return errors.New("no signing secret")
	}
	req.Header.Set(standardwebhooks.HeaderWebhookID, id)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(sigs, " "))
	return nil
}
