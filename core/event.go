package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one Cortex webhook event (SPEC §1). Raw keeps the body exactly as received, so the
// webhook target can pass it on unchanged and unknown fields survive.
type Event struct {
	Type       string         // envelope "event", e.g. "scan.completed"
	ID         string         // envelope "id": the idempotency key
	Timestamp  time.Time      // envelope "timestamp"
	Data       map[string]any // every data field; numbers are float64, integer fields int64
	Raw        []byte         // the request body, byte for byte
	Delivery   string         // the sender's X-Cortex-Delivery header, "" if none
	ReceivedAt time.Time      // when the bridge accepted it (UTC)
}

// ErrInvalidJSON is returned (wrapped) by ParseEvent when the body is not a JSON object.
var ErrInvalidJSON = errors.New("invalid JSON")

// FieldError names one invalid field by its JSON path ("timestamp", "data.score").
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// InvalidEventError lists every problem found in an event's envelope or data fields.
type InvalidEventError struct {
	Problems []FieldError
}

func (e *InvalidEventError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return "invalid event: " + strings.Join(parts, "; ")
}

// ParseEvent parses and validates body as a Cortex event. It returns an error wrapping
// ErrInvalidJSON when body is not a single JSON object, and *InvalidEventError when the envelope
// or a known data field is missing or has the wrong type or range. Unknown fields are kept.
// The returned Event's Raw aliases body.
func ParseEvent(body []byte) (*Event, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: the body is not valid UTF-8", ErrInvalidJSON)
	}
	var env map[string]json.RawMessage
	if err := decodeStrict(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidJSON, jsonProblem(err))
	}
	if key := duplicateKey(body); key != "" {
		return nil, fmt.Errorf("%w: key %s appears twice (readers would disagree on its value)", ErrInvalidJSON, key)
	}
	if env == nil {
		return nil, fmt.Errorf("%w: body is null, want an object", ErrInvalidJSON)
	}
	var probs []FieldError
	bad := func(field, msg string) { probs = append(probs, FieldError{field, msg}) }

	ev := &Event{Raw: body}
	ev.Type = envelopeString(env, "event", bad)
	ev.ID = envelopeString(env, "id", bad)
	if ts := envelopeString(env, "timestamp", bad); ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			bad("timestamp", fmt.Sprintf("must be RFC 3339 with a zone, e.g. 2024-01-01T12:00:00Z; got %q", ts))
		}
		ev.Timestamp = t
	}
	if raw, ok := env["data"]; !ok {
		bad("data", "required")
	} else if err := decodeStrict(raw, &ev.Data); err != nil || ev.Data == nil {
		bad("data", "must be an object")
	} else {
		for k, v := range ev.Data {
			ev.Data[k] = normalizeValue(v, "data."+k, bad)
		}
		checkData(ev.Type, ev.Data, bad)
	}
	if len(probs) > 0 {
		return nil, &InvalidEventError{Problems: probs}
	}
	return ev, nil
}

// decodeStrict decodes exactly one JSON value, keeping numbers as json.Number.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// jsonProblem says what is wrong with a body in the sender's terms, without Go type names.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%v (at byte %d)", syn, syn.Offset)
	case errors.As(err, &typ):
		return "the body must be a JSON object, got " + typ.Value
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the body ends before the JSON value does"
	}
	return err.Error()
}

func envelopeString(env map[string]json.RawMessage, key string, bad func(string, string)) string {
	raw, ok := env[key]
	if !ok {
		bad(key, "required")
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		bad(key, "must be a string")
		return ""
	}
	if strings.TrimSpace(s) == "" {
		bad(key, "must not be empty")
	}
	if strings.ContainsRune(s, utf8.RuneError) {
		bad(key, "contains U+FFFD (an invalid escape such as a lone surrogate): ids must be exact")
	}
	return s
}

// duplicateKey returns the path of the first object key that appears twice in the JSON
// document b ("id", "data.score"), or "". Go keeps the last value, other readers the first, so
// such a body would mean different things downstream. b must be valid JSON (ParseEvent decodes
// it first): this is a single pass over the bytes, which allocates only for the paths of nested
// objects and for keys written with escapes (compared unescaped: "a" and "\u0061" are the same
// key).
func duplicateKey(b []byte) string {
	type frame struct {
		object    bool
		expectKey bool
		path      string   // the key path of this object or array
		keys      [][]byte // the object's keys so far
	}
	var stack []frame
	var last []byte // the last key read: the value that comes next is its
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			j, escaped := i+1, false
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
					escaped = true
				}
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				top := &stack[n-1]
				key := b[i+1 : j]
				if escaped {
					var k string
					if json.Unmarshal(b[i:j+1], &k) == nil {
						key = []byte(k)
					}
				}
				for _, seen := range top.keys {
					if bytes.Equal(seen, key) {
						return joinPath(top.path, string(key))
					}
				}
				top.keys, top.expectKey, last = append(top.keys, key), false, key
			}
			i = j
		case '{', '[':
			path := ""
			if n := len(stack); n > 0 {
				path = stack[n-1].path
				if stack[n-1].object {
					path = joinPath(path, string(last))
				}
			}
			stack = append(stack, frame{object: c == '{', expectKey: c == '{', path: path})
		case '}', ']':
			if len(stack) == 0 {
				return "" // not valid JSON: not this function's to report
			}
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		}
	}
	return ""
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// normalizeValue turns json.Number values into int64 (when integral and in range) or float64,
// recursively, so rules and templates see plain Go numbers. A number beyond float64's range
// (1e400) is a problem at path.
func normalizeValue(v any, path string, bad func(string, string)) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			bad(path, "number out of range")
			return nil
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeValue(e, path+"."+k, bad)
		}
	case []any:
		for i := range x {
			x[i] = normalizeValue(x[i], fmt.Sprintf("%s[%d]", path, i), bad)
		}
	}
	return v
}

// checkData validates the known data fields of typ (SPEC §1) and converts them to their kind:
// KindNumber fields become float64, KindInt fields int64. A JSON null counts as absent.
func checkData(typ string, data map[string]any, bad func(string, string)) {
	spec, ok := eventFields[typ]
	if !ok {
		return
	}
	for _, f := range spec.fields {
		path := "data." + f.Name
		v, present := data[f.Name]
		if !present || v == nil {
			if spec.required[f.Name] {
				bad(path, "required for "+typ)
			}
			delete(data, f.Name)
			continue
		}
		switch f.Kind {
		case KindString:
			s, ok := v.(string)
			if !ok {
				bad(path, "must be a string")
			} else if spec.required[f.Name] && strings.TrimSpace(s) == "" {
				bad(path, "must not be empty")
			}
		case KindNumber, KindInt:
			n, ok := asFloat(v)
			switch {
			case !ok:
				bad(path, "must be a number")
			case f.Kind == KindInt && (n != math.Trunc(n) || math.Abs(n) > 1<<53):
				bad(path, "must be an integer (at most 2^53)")
			case f.HasMin && n < f.Min, f.Max != 0 && n > f.Max:
				bad(path, "must be "+rangeText(f))
			case f.Kind == KindInt:
				data[f.Name] = int64(n)
			default:
				data[f.Name] = n
			}
		}
	}
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func rangeText(f Field) string {
	if f.Max != 0 {
		return fmt.Sprintf("between %g and %g", f.Min, f.Max)
	}
	return fmt.Sprintf("at least %g", f.Min)
}

// Repo derives "owner/name" from a repository URL such as https://github.com/owner/name(.git);
// for deeper paths (GitLab subgroups) it returns the whole path. It returns "" when repoURL has
// no path.
func Repo(repoURL string) string {
	u, err := url.Parse(repoURL)
	path := repoURL
	if err == nil && u.Host != "" {
		path = u.Path
	} else if i := strings.Index(repoURL, ":"); i > 0 && strings.Contains(repoURL[:i], "@") {
		path = repoURL[i+1:] // scp-like git@host:owner/name.git
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	return path
}

// Field returns the data field name or nil when the event lacks it.
func (e *Event) Field(name string) any { return e.Data[name] }

// String returns the data field name when it is a string, else "".
func (e *Event) String(name string) string {
	s, _ := e.Data[name].(string)
	return s
}
