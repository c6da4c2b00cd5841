package notify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
)

// MinSecretLen is the shortest credential SecretForms keeps: replacing a shorter one (a test's
// "x") would mangle error texts, and real keys, tokens and passwords are far longer.
const MinSecretLen = 8

// minSegmentLen is the shortest URL path segment SecretForms takes for a token: webhook tokens
// are long random strings (Slack's 24 characters, Discord's 68), the fixed parts of their paths
// ("services", "webhooks") short words.
const minSegmentLen = 12

// SecretForms lists the texts under which secrets may come back in a receiver's answer or a
// library's error: each value as given, URL path- and query-escaped, JSON-escaped and base64
// (standard and URL alphabets); for a value that is an absolute URL (a Slack, Discord or Teams
// webhook), also its path with the query, its path, its query, each query value and each path
// segment of at least 12 characters. Forms shorter than MinSecretLen are dropped; the list is
// longest first, so Scrub replaces a URL as a whole before its parts.
func SecretForms(secrets ...string) []string {
	var out []string
	add := func(v string) {
		out = append(out, v, url.PathEscape(v), url.QueryEscape(v),
			base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)))
		if b, err := json.Marshal(v); err == nil {
			out = append(out, string(b[1:len(b)-1]))
		}
	}
	for _, s := range secrets {
		if len(s) < MinSecretLen {
			continue
		}
		add(s)
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() || u.Host == "" {
			continue
		}
		for _, part := range []string{u.RequestURI(), u.EscapedPath(), u.Path, u.RawQuery} {
			if part != "/" {
				add(part)
			}
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
		for _, seg := range strings.Split(u.Path, "/") {
			if len(seg) >= minSegmentLen {
				add(seg)
			}
		}
	}
	out = slices.DeleteFunc(out, func(s string) bool { return len(s) < MinSecretLen })
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// Scrub replaces every one of forms (from SecretForms) in err's text and, for a
// *DeliveryError, in its recorded Response with "<redacted>", so neither the attempt log, the
// API, the CLI nor the logs show a credential a receiver or a library echoed. A
// *DeliveryError keeps its classification (its Err is replaced by an error with the scrubbed
// text that still unwraps to the original); an error whose text still holds a form (another
// error, or a wrapper made before) is wrapped the same way. nil stays nil.
func Scrub(err error, forms []string) error {
	if err == nil || len(forms) == 0 {
		return err
	}
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, redacted)
	}
	r := strings.NewReplacer(pairs...)
	var de *DeliveryError
	if errors.As(err, &de) {
		de.Response = r.Replace(de.Response)
		if de.Err != nil {
			if text := r.Replace(de.Err.Error()); text != de.Err.Error() {
				de.Err = &scrubbedError{text: text, err: de.Err}
			}
		}
	}
	// A wrapper around the DeliveryError (fmt.Errorf's) fixed its text when it was made.
	if text := r.Replace(err.Error()); text != err.Error() {
		return &scrubbedError{text: text, err: err}
	}
	return err
}

// scrubbedError is an error whose text had credentials removed; errors.Is and errors.As still
// see the original.
type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }
