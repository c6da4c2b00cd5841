package notify

import "log/slog"

// Secret is a credential from the config: a signing secret, a token, a password, or a URL that
// carries a token (Slack and Discord webhooks). It prints, marshals and logs as "<redacted>", so
// a config or an error that includes one cannot leak it; Reveal returns the value for the one
// place that uses it.
type Secret string

const redacted = "<redacted>"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String hides the value ("" stays "", so an unset secret is visible as such).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `notify.Secret("` + s.String() + `")` }

// MarshalJSON hides the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML hides the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// LogValue hides the value from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// RevealAll returns the values of ss.
func RevealAll(ss []Secret) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}
