// Package signature signs and verifies Cortex webhook bodies: the X-Cortex-Signature header is
// "sha256=" followed by the lowercase hex HMAC-SHA256 of the exact body bytes with a shared secret.
// Ingest verifies with it and the webhook target signs with it, so both sides agree by construction.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Prefix starts every signature header value.
const Prefix = "sha256="

// Sentinel errors returned by Sign and Verify.
var (
	ErrMissingSignature = errors.New("missing signature")
	ErrInvalidSignature = errors.New("invalid signature")
	ErrEmptySecret      = errors.New("empty secret")
)

// Sign returns the header value "sha256=<64 lowercase hex>" for body. It returns ErrEmptySecret
// for an empty secret: an empty key would make every signature guessable.
func Sign(secret string, body []byte) (string, error) {
	if secret == "" {
		return "", ErrEmptySecret
	}
	return Prefix + hex.EncodeToString(mac(secret, body)), nil
}

// Verify checks header (the X-Cortex-Signature value) against body with each of secrets, so a
// secret can be rotated by accepting the old and the new one for a while. It returns nil when
// any non-empty secret matches, ErrMissingSignature when header is empty, and ErrInvalidSignature
// when it is malformed (no "sha256=" prefix, not 64 hex digits) or matches no secret. The MACs
// are compared in constant time; every secret is tried, so timing does not tell which matched.
func Verify(secrets []string, body []byte, header string) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrMissingSignature
	}
	hexMAC, ok := strings.CutPrefix(header, Prefix)
	if !ok || len(hexMAC) != 2*sha256.Size {
		return ErrInvalidSignature
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return ErrInvalidSignature
	}
	matched := false
	for _, s := range secrets {
		if s != "" && hmac.Equal(got, mac(s, body)) {
			matched = true
		}
	}
	if !matched {
		return ErrInvalidSignature
	}
	return nil
}

func mac(secret string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return h.Sum(nil)
}
