package signature_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/signature"
)

// TestCase_C14_SignatureOverRawBytes: the MAC covers the body exactly as sent, not its JSON meaning.
func TestCase_C14_SignatureOverRawBytes(t *testing.T) {
	t.Parallel()
	const (
		secret = "test-secret"
		header = "sha256=8fd339f7cd6fdffcc01f1e8daec1b6aad237f1977323116fd53be931c723f306"
	)
	raw := []byte(`{"b":1, "a":"x"}`)
	oneByte := []byte(`{"b":2, "a":"x"}`)
	tests := map[string]struct {
		body   []byte
		header string
		want   error
	}{
		"raw bytes verify":          {raw, header, nil},
		"re-serialised JSON fails":  {[]byte(`{"a":"x","b":1}`), header, signature.ErrInvalidSignature},
		"no sha256= prefix":         {raw, header[len("sha256="):], signature.ErrInvalidSignature},
		"other algorithm prefix":    {raw, "sha1=" + header[len("sha256="):], signature.ErrInvalidSignature},
		"empty header":              {raw, "", signature.ErrMissingSignature},
		"blank header":              {raw, "   ", signature.ErrMissingSignature},
		"one body byte changed":     {oneByte, header, signature.ErrInvalidSignature},
		"one signature hex changed": {raw, header[:len(header)-1] + "5", signature.ErrInvalidSignature},
		"truncated hex":             {raw, header[:len(header)-2], signature.ErrInvalidSignature},
		"not hex":                   {raw, "sha256=" + string(make([]byte, 64)), signature.ErrInvalidSignature},
		"uppercase hex decodes":     {raw, "sha256=8FD339F7CD6FDFFCC01F1E8DAEC1B6AAD237F1977323116FD53BE931C723F306", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := signature.Verify([]string{secret}, tc.body, tc.header)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
	got, err := signature.Sign(secret, raw)
	require.NoError(t, err)
	require.Equal(t, header, got)
}

func TestVerifyRotation(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"scan.started"}`)
	oldSig, err := signature.Sign("old-secret-value", body)
	require.NoError(t, err)
	newSig, err := signature.Sign("new-secret-value", body)
	require.NoError(t, err)

	secrets := []string{"new-secret-value", "old-secret-value"}
	require.NoError(t, signature.Verify(secrets, body, oldSig))
	require.NoError(t, signature.Verify(secrets, body, newSig))
	require.ErrorIs(t, signature.Verify([]string{"new-secret-value"}, body, oldSig), signature.ErrInvalidSignature)
	require.ErrorIs(t, signature.Verify(nil, body, newSig), signature.ErrInvalidSignature)
	require.ErrorIs(t, signature.Verify([]string{""}, body, newSig), signature.ErrInvalidSignature, "an empty secret never matches")
}

// TestVerifyRefusesTheEmptySecretsMAC: an empty secret in the list (an unset variable during a
// rotation) must not turn into a key anyone can sign with: HMAC with an empty key is still a MAC,
// and anyone can compute it.
func TestVerifyRefusesTheEmptySecretsMAC(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"scan.started"}`)
	m := hmac.New(sha256.New, nil)
	m.Write(body)
	emptyKeyMAC := signature.Prefix + hex.EncodeToString(m.Sum(nil))
	for name, secrets := range map[string][]string{
		"only an empty secret":       {""},
		"an empty secret beside one": {"", "real-secret"},
		"an empty secret after one":  {"real-secret", ""},
		"no secrets":                 nil,
	} {
		require.ErrorIs(t, signature.Verify(secrets, body, emptyKeyMAC), signature.ErrInvalidSignature, name)
	}
	good, err := signature.Sign("real-secret", body)
	require.NoError(t, err)
	require.NoError(t, signature.Verify([]string{"", "real-secret"}, body, good), "the real secret still works")
}

func TestSignRefusesEmptySecret(t *testing.T) {
	t.Parallel()
	_, err := signature.Sign("", []byte("x"))
	require.ErrorIs(t, err, signature.ErrEmptySecret)
}

func ExampleSign() {
	sig, _ := signature.Sign("test-secret", []byte(`{"b":1, "a":"x"}`))
	fmt.Println(sig)
	// Output: sha256=8fd339f7cd6fdffcc01f1e8daec1b6aad237f1977323116fd53be931c723f306
}

func ExampleVerify() {
	body := []byte(`{"event":"scan.completed","id":"evt_1"}`)
	sig, _ := signature.Sign("new-secret", body)
	// Accept the old and the new secret while senders switch over.
	err := signature.Verify([]string{"old-secret", "new-secret"}, body, sig)
	fmt.Println(err)
	// Output: <nil>
}

// FuzzVerify: only a spelling of the right MAC (hex case, surrounding spaces) by one of the
// configured secrets passes, the order of the secrets and an empty one in the list change
// nothing, and every refusal is one of the sentinel errors. Seeds are in
// testdata/fuzz/FuzzVerify: the samples signed, and near misses (short, long, non-hex, other
// prefix, other or empty secret, two signatures, a changed body).
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"b":1, "a":"x"}`), "sha256=8fd339f7cd6fdffcc01f1e8daec1b6aad237f1977323116fd53be931c723f306")
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		err := signature.Verify([]string{"test-secret"}, body, header)
		sig, _ := signature.Sign("test-secret", body)
		rotated, _ := signature.Sign("rotated-secret", body)
		if header == sig {
			require.NoError(t, err)
		}
		if err == nil {
			// Only another spelling of the right MAC (hex case, surrounding spaces) may pass.
			got := strings.TrimSpace(header)
			require.True(t, strings.HasPrefix(got, "sha256="))
			require.True(t, strings.EqualFold(got, sig), "accepted %q for %q", header, sig)
		} else {
			require.True(t, errors.Is(err, signature.ErrMissingSignature) || errors.Is(err, signature.ErrInvalidSignature), "%v", err)
		}
		both := signature.Verify([]string{"", "rotated-secret", "test-secret"}, body, header)
		// The prefix is compared exactly, only the hex digits in either case.
		hexPart, prefixed := strings.CutPrefix(strings.TrimSpace(header), signature.Prefix)
		wantBoth := err == nil || (prefixed && strings.EqualFold(signature.Prefix+hexPart, rotated))
		require.Equal(t, wantBoth, both == nil, "either secret of a rotation, nothing else: %q", header)
		require.Error(t, signature.Verify([]string{""}, body, header), "an empty secret verifies nothing")
	})
}
