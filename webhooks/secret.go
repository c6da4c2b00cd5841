package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
)

// NewSecret returns a random signing secret for a webhook: "whsec_" and 48 hex digits.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

// NewStandardSecret returns a random secret for the standard-webhooks scheme: "whsec_" and the
// base64 of a 32-byte key, as Standard Webhooks libraries expect.
func NewStandardSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return webhook.StandardSecretPrefix + base64.StdEncoding.EncodeToString(b)
}
