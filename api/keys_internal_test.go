package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKeysCompareFixedSizeDigests: keys of every length are compared as SHA-256 digests, so
// the comparison's time cannot tell an attacker how long a key is. Not parallel: it swaps
// equalFunc.
func TestKeysCompareFixedSizeDigests(t *testing.T) {
	var mu sync.Mutex
	var lengths []int
	equalFunc = func(x, y []byte) int {
		mu.Lock()
		lengths = append(lengths, len(x), len(y))
		mu.Unlock()
		return subtle.ConstantTimeCompare(x, y)
	}
	t.Cleanup(func() { equalFunc = subtle.ConstantTimeCompare })
	long := strings.Repeat("k", 200)
	k := NewKeys(map[string]string{"short": "0123456789abcdef", "long": long})
	tests := []struct {
		given string
		want  string
	}{
		{"0123456789abcdef", "short"},
		{long, "long"},
		{"0123456789abcde", ""},
		{"0123456789abcdef0", ""},
		{long[:199], ""},
		{"x", ""},
	}
	for _, tt := range tests {
		account, ok := k.Lookup(tt.given)
		require.Equal(t, tt.want, account, "given %d bytes", len(tt.given))
		require.Equal(t, tt.want != "", ok)
	}
	require.NotEmpty(t, lengths)
	for _, n := range lengths {
		require.Equal(t, sha256.Size, n, "every comparison is of two SHA-256 digests")
	}
}
