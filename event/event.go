package event

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Event is one Cortex webhook event (README.md, "The ingest endpoint"). Raw keeps the body exactly as received, so the
// webhook target can pass it on unchanged and unknown fields survive.
type Event struct {
	Type       string         // envelope "event", e.g. "scan.completed"
	ID         string         // envelope "id": the idempotency key
	Timestamp  time.Time      // envelope "timestamp"
	Data       map[string]any // every data field; numbers are float64, integer fields int64
	Raw        []byte         // the request body, byte for byte
	Delivery   string         // the sender's X-Cortex-Delivery header, "" if none
	ReceivedAt time.Time      // when the bridge accepted it (UTC)
	// FindingStatus is set at ingest for an issue.critical event when findings are compared
	// (new, recurring, regressed or unknown: docs/events.md, "Findings"); rules see it as
	// finding_status. It is not stored: "" for an event loaded from storage.
	FindingStatus string
	// Fingerprint is set when the bridge routes an event whose finding it tracks: an
	// issue.critical with a scan_id (computed per the findings: config) or a derived finding.*
	// event (its data.fingerprint). Rules see it as fingerprint (docs/events.md, "Findings").
	// It is not stored: "" for an event loaded from storage.
	Fingerprint string
}

// ErrInvalidJSON is returned (wrapped) by Parse when the body is not a JSON object.
var ErrInvalidJSON = errors.New("invalid JSON")

// FieldError names one invalid field by its JSON path ("timestamp", "data.score").
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// InvalidError lists the problems found in an event's envelope or data fields: the first
// 20 in Problems, and how many more there were in More.
type InvalidError struct {
	Problems []FieldError
	More     int
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	if e.More > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", e.More))
	}
	return "invalid event: " + strings.Join(parts, "; ")
}

// MaxNestingDepth is how deeply objects and arrays may nest in an event body, counting the
// envelope object as level 1 and data as level 2. A Cortex event nests 3 levels; the limit
// leaves room for labels and lists of any reasonable shape while keeping every reader of the
// event (rules, templates, and the receivers of webhook targets, which get the raw body) far
// from its recursion limits. A deeper body is refused with ErrInvalidJSON naming the limit.
const MaxNestingDepth = 128

// MaxValues bounds the JSON values in an event body, counting every object member's value and
// every array element at any depth. A Cortex event has about 15; the limit keeps the Go values
// built for rules and templates to a few MB and the parse to a few ms whatever the body holds
// (a 1 MiB body can hold 350 000 empty objects: 45 MB as Go maps). A body over it is refused
// with ErrInvalidJSON naming the limit, before the rest is read.
const MaxValues = 10_000

// maxProblems bounds the problems an InvalidError lists (the rest are counted), so a body
// of 100 000 out-of-range numbers gets a short answer, not one as large as the body.
const maxProblems = 20

// maxPathBytes bounds a JSON path or value quoted in an error: keys may be as long as the body.
const maxPathBytes = 200

// ctxCheckTokens is how many tokens are read between checks of the context.
const ctxCheckTokens = 4096

// Parse parses and validates body as a Cortex event. It returns an error wrapping
// ErrInvalidJSON when body is not a single JSON object (also for invalid UTF-8, a name that
// appears twice in one object, nesting deeper than MaxNestingDepth and more than MaxValues
// values), and
// *InvalidError when the envelope or a known data field is missing or has the wrong type
// or range. Unknown fields are kept. The returned Event's Raw aliases body, which is not
// modified. Time and memory are linear in len(body).
func Parse(body []byte) (*Event, error) {
	return ParseContext(context.Background(), body)
}

// ParseContext is Parse that stops early, returning ctx.Err(), once ctx is done (the
// client that sent the body has gone).
func ParseContext(ctx context.Context, body []byte) (*Event, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: the body is not valid UTF-8", ErrInvalidJSON)
	}
	p := &eventParser{ctx: ctx}
	// Invalid UTF-8 is refused above; allowing it here only lets an escaped lone surrogate
	// (\ud800) through as U+FFFD, which envelopeString then names, as encoding/json did.
	p.dec = jsontext.NewDecoder(bytes.NewBuffer(body), jsontext.AllowInvalidUTF8(true))
	env, data, err := p.envelope()
	if err != nil {
		return nil, err
	}
	var probs []FieldError
	more := 0
	bad := func(field, msg string) {
		if len(probs) == maxProblems {
			more++
			return
		}
		probs = append(probs, FieldError{field, msg})
	}
	ev := &Event{Raw: body}
	ev.Type = envelopeString(env, "event", bad)
	ev.ID = envelopeString(env, "id", bad)
	if ts := envelopeString(env, "timestamp", bad); ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			bad("timestamp", fmt.Sprintf("must be RFC 3339 with a zone, e.g. 2024-01-01T12:00:00Z; got %q", shorten(ts)))
		}
		ev.Timestamp = t
	}
	if d, isObject := data.(map[string]any); !p.hasData {
		bad("data", "required")
	} else if !isObject { // null included; an object is never a nil map (value makes one)
		bad("data", "must be an object")
	} else {
		ev.Data = d
		for _, pr := range p.probs {
			bad(pr.Field, pr.Msg)
		}
		more += p.more
		checkData(ev.Type, ev.Data, bad)
	}
	if len(probs) > 0 {
		return nil, &InvalidError{Problems: probs, More: more}
	}
	return ev, nil
}

// eventParser reads an event body token by token with jsontext, which rejects names that
// appear twice in an object (in linear time) and bounds nesting; it builds Go values only for
// data and the envelope's strings.
type eventParser struct {
	ctx     context.Context
	dec     *jsontext.Decoder
	tokens  int
	path    []pathElem   // where the value being read is: joined only for an error
	probs   []FieldError // numbers out of range in data
	more    int          // problems beyond maxProblems
	values  int          // values read so far, for MaxValues
	hasData bool
}

// pathElem is one step of a JSON path: an object member's name, or an index when index >= 0.
type pathElem struct {
	name  string
	index int
}

// envelope reads the top-level object: the string members event, id and timestamp (any other
// kind is kept as a non-string marker), data as Go values, everything else only checked.
func (p *eventParser) envelope() (map[string]any, any, error) {
	tok, err := p.token()
	if err != nil {
		return nil, nil, err
	}
	switch tok.Kind() {
	case '{':
	case 'n':
		return nil, nil, fmt.Errorf("%w: body is null, want an object", ErrInvalidJSON)
	default:
		if err := p.skip(tok); err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: the body must be a JSON object, got %s", ErrInvalidJSON, kindName(tok.Kind()))
	}
	env := map[string]any{}
	var data any
	for {
		tok, err := p.token()
		if err != nil {
			return nil, nil, err
		}
		if tok.Kind() == '}' {
			break
		}
		name := tok.String()
		p.path = append(p.path, pathElem{name: name, index: -1})
		if err := p.counted(); err != nil {
			return nil, nil, err
		}
		if tok, err = p.token(); err != nil {
			return nil, nil, err
		}
		switch name {
		case "event", "id", "timestamp":
			switch tok.Kind() {
			case '"':
				env[name] = tok.String()
			case 'n':
				env[name] = "" // encoding/json leaves a string empty for null: "must not be empty"
			default:
				env[name] = notString{}
				err = p.skip(tok)
			}
		case "data":
			p.hasData = true
			data, err = p.value(tok)
		default:
			err = p.skip(tok)
		}
		if err != nil {
			return nil, nil, err
		}
		p.path = p.path[:len(p.path)-1]
	}
	// One value only: anything but white space after it is an error.
	if _, err := p.dec.ReadToken(); err != io.EOF {
		return nil, nil, fmt.Errorf("%w: unexpected data after the JSON value (at byte %d)", ErrInvalidJSON, p.dec.InputOffset())
	}
	return env, data, nil
}

// notString marks an envelope member that is not a JSON string.
type notString struct{}

// token reads the next token, checking the context now and then and the nesting depth at
// every object or array start.
func (p *eventParser) token() (jsontext.Token, error) {
	if err := p.tick(); err != nil {
		return jsontext.Token{}, err
	}
	tok, err := p.dec.ReadToken()
	if err != nil {
		return tok, p.syntaxError(err)
	}
	if k := tok.Kind(); (k == '{' || k == '[') && p.dec.StackDepth() > MaxNestingDepth {
		return tok, fmt.Errorf("%w: objects and arrays nest deeper than %d levels at %s; that is the limit for an event",
			ErrInvalidJSON, MaxNestingDepth, p.pathString(true))
	}
	return tok, nil
}

// tick counts one more token, checking the context every ctxCheckTokens.
func (p *eventParser) tick() error {
	p.tokens++
	if p.tokens%ctxCheckTokens == 0 {
		return p.ctx.Err()
	}
	return nil
}

// next reads the next value as value does. A string is read whole and decoded by unquote, not
// through a token (Token.String's copies: see unquote).
func (p *eventParser) next() (any, error) {
	if p.dec.PeekKind() == '"' {
		if err := p.tick(); err != nil {
			return nil, err
		}
		raw, err := p.dec.ReadValue()
		if err != nil {
			return nil, p.syntaxError(err)
		}
		return unquote(raw), nil
	}
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	return p.value(tok)
}

// counted counts one more value against MaxValues.
func (p *eventParser) counted() error {
	if p.values++; p.values > MaxValues {
		return fmt.Errorf("%w: the body holds more than %d values (object members and array elements at any depth); that is the limit for an event",
			ErrInvalidJSON, MaxValues)
	}
	return nil
}

// value reads the value that starts with tok as Go values: objects map[string]any, arrays
// []any, integers that fit int64 as int64, other numbers float64 (one beyond float64's range,
// 1e400, is a problem at its path), strings, bools and nil.
func (p *eventParser) value(tok jsontext.Token) (any, error) {
	switch tok.Kind() {
	case '{':
		m := map[string]any{}
		for {
			tok, err := p.token()
			if err != nil {
				return nil, err
			}
			if tok.Kind() == '}' {
				return m, nil
			}
			name := tok.String()
			p.path = append(p.path, pathElem{name: name, index: -1})
			if err := p.counted(); err != nil {
				return nil, err
			}
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			p.path = p.path[:len(p.path)-1]
			m[name] = v
		}
	case '[':
		a := []any{}
		p.path = append(p.path, pathElem{index: 0})
		for i := 0; ; i++ {
			if p.dec.PeekKind() == '"' {
				v, err := p.next()
				if err != nil {
					return nil, err
				}
				if err := p.counted(); err != nil {
					return nil, err
				}
				a = append(a, v)
				continue
			}
			tok, err := p.token()
			if err != nil {
				return nil, err
			}
			if tok.Kind() == ']' {
				p.path = p.path[:len(p.path)-1]
				return a, nil
			}
			if err := p.counted(); err != nil {
				return nil, err
			}
			p.path[len(p.path)-1].index = i
			v, err := p.value(tok)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case '"':
		return tok.String(), nil
	case '0':
		lit := tok.String()
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil || math.IsInf(f, 0) {
			if len(p.probs) < maxProblems {
				p.probs = append(p.probs, FieldError{p.pathString(true), "number out of range"})
			} else {
				p.more++
			}
			return nil, nil
		}
		return f, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return nil, nil
}

// skip reads past the value that starts with tok, building nothing but counting its values.
func (p *eventParser) skip(tok jsontext.Token) error {
	end := jsontext.Kind('}')
	switch tok.Kind() {
	case '{':
	case '[':
		end = ']'
	default:
		return nil
	}
	for {
		tok, err := p.token()
		if err != nil {
			return err
		}
		if tok.Kind() == end {
			return nil
		}
		if end == '}' { // tok is a member's name: its value comes next
			if tok, err = p.token(); err != nil {
				return err
			}
		}
		if err := p.counted(); err != nil {
			return err
		}
		if err := p.skip(tok); err != nil {
			return err
		}
	}
}

// syntaxError says what is wrong with a body in the sender's terms.
func (p *eventParser) syntaxError(err error) error {
	var syn *jsontext.SyntacticError
	if errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syn) {
		// Go keeps the last value, other readers the first, so such a body would mean
		// different things downstream.
		p.path = append(p.path, pathElem{name: syn.JSONPointer.LastToken(), index: -1})
		return fmt.Errorf("%w: key %s appears twice (readers would disagree on its value)", ErrInvalidJSON, p.pathString(false))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: the body ends before the JSON value does", ErrInvalidJSON)
	}
	if errors.As(err, &syn) {
		return fmt.Errorf("%w: %s (at byte %d)", ErrInvalidJSON, shorten(syn.Err.Error()), syn.ByteOffset)
	}
	return fmt.Errorf("%w: %s", ErrInvalidJSON, err)
}

// pathString joins p.path as "data.labels.team" or, with indexes, "data.list[1]" (a repeated
// key is named without indexes: "data.list.k"), cut to maxPathBytes.
func (p *eventParser) pathString(indexes bool) string {
	var b strings.Builder
	for _, e := range p.path {
		if b.Len() > maxPathBytes {
			break
		}
		if e.index >= 0 {
			if indexes {
				fmt.Fprintf(&b, "[%d]", e.index)
			}
			continue
		}
		if b.Len() > 0 {
			b.WriteString(".")
		}
		if e.name == "" {
			b.WriteString(`""`) // an empty name, which JSON allows
		} else {
			b.WriteString(e.name)
		}
	}
	return shorten(b.String())
}

// shorten cuts s to about maxPathBytes at a rune boundary, marking the cut with "…".
func shorten(s string) string {
	if len(s) <= maxPathBytes {
		return s
	}
	cut := maxPathBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	}
	return k.String()
}

func envelopeString(env map[string]any, key string, bad func(string, string)) string {
	v, ok := env[key]
	if !ok {
		bad(key, "required")
		return ""
	}
	s, ok := v.(string)
	if !ok {
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

// checkData validates the known data fields of typ (the table in fields.go) and converts them to their kind:
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
			if !ok {
				bad(path, "must be a number")
			} else if f.Kind == KindInt && (n != math.Trunc(n) || math.Abs(n) > 1<<53) {
				bad(path, "must be an integer (at most 2^53)")
			} else if (f.HasMin && n < f.Min) || (f.Max != 0 && n > f.Max) {
				bad(path, "must be "+rangeText(f))
			} else if f.Kind == KindInt {
				data[f.Name] = int64(n)
			} else {
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
	} else if host, rest, ok := strings.Cut(repoURL, ":"); ok && strings.Contains(host, "@") {
		path = rest // scp-like git@host:owner/name.git
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	return path
}

// RepoKey reduces a repository however people write it to what identifies it: the host ("" when
// repoURL names none, as owner/name does; the port left out) and the path as Repo gives it, both
// in lower case. https://github.com/Acme/API.git/, git@github.com:acme/api, github.com/acme/api
// and acme/api all have the path "acme/api", all but the last the host "github.com". The
// findings' repository filter compares both sides with it (core.FindingFilter.RepoURL).
func RepoKey(repoURL string) (host, path string) {
	s := strings.ToLower(strings.TrimSpace(repoURL))
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		host = u.Hostname()
	} else if h, _, ok := strings.Cut(s, ":"); ok && strings.Contains(h, "@") {
		_, host, _ = strings.Cut(h, "@") // scp-like user@host:owner/name
	} else if first, rest, ok := strings.Cut(strings.TrimPrefix(s, "/"), "/"); ok && strings.Contains(first, ".") && strings.Contains(strings.Trim(rest, "/"), "/") {
		host, s = first, rest // host/owner/name without a scheme
	}
	return host, Repo(s)
}

// RepoMatcher returns whether a stored repository URL, as events name it, is the repository
// query names (RepoKey on both sides, query's worked out once): the same path, and the same host
// unless query names none.
func RepoMatcher(query string) func(stored string) bool {
	qh, qp := RepoKey(query)
	return func(stored string) bool {
		if query != "" && query == stored {
			return true
		}
		sh, sp := RepoKey(stored)
		return qp != "" && qp == sp && (qh == "" || qh == sh)
	}
}

// Field returns the data field name or nil when the event lacks it.
func (e *Event) Field(name string) any { return e.Data[name] }

// String returns the data field name when it is a string, else "".
func (e *Event) String(name string) string {
	s, _ := e.Data[name].(string)
	return s
}
