package event

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// unquote decodes raw, one JSON string as the decoder returned it (quotes included, already
// checked: every escape well formed, the rest valid UTF-8), into a string allocated once at its
// decoded size. An escaped lone surrogate (\ud800) becomes U+FFFD, as jsontext's Token.String
// makes it. Token.String allocates the encoded size, cleared, then copies the result into a
// string: for a 1 MiB string of \u00e9 escapes (BENCHMARKS.md, hostile input row 20), 1.35 MB
// for 0.35 MB of text, at every parse of the event.
func unquote(raw []byte) string {
	s := raw[1 : len(raw)-1]
	first := bytes.IndexByte(s, '\\')
	if first < 0 {
		return string(s)
	}
	n := first
	for i := first; i < len(s); {
		if s[i] != '\\' {
			n, i = n+1, i+1
			continue
		}
		if s[i+1] == 'u' { // the common case, without the call: a rune of the Basic Multilingual Plane
			if r := hex4(s[i+2 : i+6]); r >= 0 && !utf16.IsSurrogate(r) {
				n, i = n+utf8.RuneLen(r), i+6
				continue
			}
		}
		r, w := escape(s[i:])
		n, i = n+utf8.RuneLen(r), i+w
	}
	var b strings.Builder
	b.Grow(n)
	b.Write(s[:first])
	// Decoded runes and short runs are gathered in chunk, so that the builder is called once per
	// chunk, not once per escape.
	var chunk [512]byte
	c := chunk[:0]
	for i := first; i < len(s); {
		if len(c) > len(chunk)-utf8.UTFMax {
			b.Write(c)
			c = c[:0]
		}
		if s[i] == '\\' {
			r, w := escape(s[i:])
			c = utf8.AppendRune(c, r)
			i += w
			continue
		}
		j := bytes.IndexByte(s[i:], '\\')
		if j < 0 {
			j = len(s) - i
		}
		if len(c)+j > len(chunk) {
			b.Write(c)
			c = c[:0]
			b.Write(s[i : i+j])
		} else {
			c = append(c, s[i:i+j]...)
		}
		i += j
	}
	b.Write(c)
	return b.String()
}

// escape decodes the checked escape sequence that starts s (s[0] is the backslash): the rune it
// stands for and its length in bytes. A surrogate pair is one rune from two \u escapes; a
// surrogate not followed by its other half is U+FFFD, and the escape after it is read on its own.
func escape(s []byte) (rune, int) {
	switch c := s[1]; c {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r := hex4(s[2:6])
		if r < 0 {
			return utf8.RuneError, 6
		}
		if !utf16.IsSurrogate(r) {
			return r, 6
		}
		if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
			if pair := utf16.DecodeRune(r, hex4(s[8:12])); pair != utf8.RuneError {
				return pair, 12
			}
		}
		return utf8.RuneError, 6
	default: // '"', '\\' and '/' stand for themselves
		return rune(c), 2
	}
}

// hex4 is the value of four hexadecimal digits (checked by the decoder; -1 if one is not).
func hex4(h []byte) rune {
	_ = h[3]
	a, b, c, d := hexValue[h[0]], hexValue[h[1]], hexValue[h[2]], hexValue[h[3]]
	if a|b|c|d < 0 {
		return -1
	}
	return rune(a)<<12 | rune(b)<<8 | rune(c)<<4 | rune(d)
}

// hexValue maps a byte to its value as a hexadecimal digit, -1 when it is not one.
var hexValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range 10 {
		t['0'+i] = int8(i)
	}
	for i := range 6 {
		t['a'+i], t['A'+i] = int8(10+i), int8(10+i)
	}
	return t
}()
