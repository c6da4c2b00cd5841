package event

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/stretchr/testify/require"
)

// tokenString is what unquote replaces: the string as jsontext's Token.String decodes it, with
// the decoder options of Parse; ok is false when the decoder refuses raw.
func tokenString(raw []byte) (string, bool) {
	if !utf8.Valid(raw) {
		return "", false
	}
	tok, err := jsontext.NewDecoder(bytes.NewBuffer(raw), jsontext.AllowInvalidUTF8(true)).ReadToken()
	if err != nil || tok.Kind() != '"' {
		return "", false
	}
	return tok.String(), true
}

// TestUnquote: unquote decodes every kind of escape, surrogate pairs and lone surrogates as
// Token.String does.
func TestUnquote(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		raw, want string
	}{
		"empty":                     {`""`, ""},
		"no escapes":                {`"plain é text"`, "plain é text"},
		"short escapes":             {`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		"unicode escapes":           {`"\u00e9\u00E9x\u20ac\u0000"`, "ééx€\x00"},
		"text around escapes":       {`"a\nb\u00e9c"`, "a\nbéc"},
		"surrogate pair":            {`"\ud83d\ude00"`, "😀"},
		"lone high surrogate":       {`"\ud800x"`, "\uFFFDx"},
		"lone low surrogate":        {`"\udc00"`, "\uFFFD"},
		"high then non-surrogate":   {`"\ud800\u0041"`, "\uFFFDA"},
		"two high surrogates":       {`"\ud800\ud83d\ude00"`, "\uFFFD😀"},
		"high surrogate at the end": {`"x\ud800"`, "x\uFFFD"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, ok := tokenString([]byte(tc.raw))
			require.True(t, ok, "the decoder takes %s", tc.raw)
			require.Equal(t, tc.want, want, "the case's expectation is Token.String's")
			require.Equal(t, tc.want, unquote([]byte(tc.raw)))
		})
	}
}

// FuzzUnquote: for every JSON string the decoder accepts, unquote gives what Token.String gives.
// Seeds (escapes, surrogate pairs, lone surrogates) are in testdata/fuzz/FuzzUnquote.
func FuzzUnquote(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, ok := tokenString(raw)
		if !ok {
			return
		}
		v, err := jsontext.NewDecoder(bytes.NewBuffer(raw), jsontext.AllowInvalidUTF8(true)).ReadValue()
		require.NoError(t, err)
		require.Equal(t, want, unquote(v))
	})
}

// BenchmarkUnquote compares reading a 1 MiB string of \u00e9 escapes (BENCHMARKS.md, hostile input
// row 20) as the parser does (ReadValue, then unquote) with ReadToken and Token.String.
func BenchmarkUnquote(b *testing.B) {
	raw := []byte(`"` + strings.Repeat(`\u00e9`, (1<<20-2)/6) + `"`)
	b.Run("ReadValue+unquote", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			v, err := jsontext.NewDecoder(bytes.NewBuffer(raw), jsontext.AllowInvalidUTF8(true)).ReadValue()
			if err != nil {
				b.Fatal(err)
			}
			_ = unquote(v)
		}
	})
	b.Run("ReadToken+Token.String", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			_, _ = tokenString(raw)
		}
	})
}
