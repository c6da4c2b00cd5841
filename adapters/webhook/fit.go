package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/templates"
)

// Fitting a preset's body into its service's limits (limits.go): the body is decoded, the
// preset's fitter cuts what is over (strings by runes with "…", lists by their tail with the count
// noted), and the body is encoded again only when something was cut (or the rendering was
// longer than its encoding, see fitBody), so a body within the limits is sent byte for byte as
// rendered. Whatever the template or the event holds, the request stays
// one the service accepts: a message is never dropped for its size.

// fitting collects what a fitter changed, one note per field ("pagerduty: event cut from 729949
// to 512000 bytes (limit 512000): description"), for the attempt log.
type fitting struct {
	preset string
	notes  []string
}

func (f *fitting) note(format string, args ...any) {
	f.notes = append(f.notes, f.preset+": "+fmt.Sprintf(format, args...))
}

// cut shortens m[key], when it is a string of more than n runes, to n runes ending with "…".
func (f *fitting) cut(m map[string]any, key string, n int, what string) {
	s, ok := m[key].(string)
	if !ok {
		return
	}
	if r := utf8.RuneCountInString(s); r > n {
		m[key] = templates.Truncate(n, s)
		f.note("%s cut from %d to %d characters", what, r, n)
	}
}

// cutBytes shortens m[key], when it is a string of more than n bytes of UTF-8, to at most n bytes
// ending with "…", never splitting a rune.
func (f *fitting) cutBytes(m map[string]any, key string, n int, what string) {
	s, ok := m[key].(string)
	if !ok || len(s) <= n {
		return
	}
	m[key] = truncateBytes(s, n)
	f.note("%s cut from %d to %d bytes", what, len(s), n)
}

// list keeps at most n items of the list m[key] (the first ones), noting how many it dropped.
func (f *fitting) list(m map[string]any, key string, n int, what string) []any {
	l, ok := m[key].([]any)
	if !ok {
		return nil
	}
	if len(l) > n {
		f.note("%d %s over the limit of %d left out", len(l)-n, what, n)
		l = l[:n]
		m[key] = l
	}
	return l
}

// stringValues turns every value of m that is not a string into its JSON text, for services
// whose maps take strings only (Opsgenie details, GitLab variables).
func (f *fitting) stringValues(m map[string]any, what string) {
	n := 0
	for k, v := range m {
		if _, ok := v.(string); ok {
			continue
		}
		b, err := marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		m[k] = string(b)
		n++
	}
	if n > 0 {
		f.note("%d %s values sent as their JSON text (the service takes strings only)", n, what)
	}
}

// truncateBytes cuts s to at most n bytes of UTF-8 ending with "…" (3 bytes), on a rune
// boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	if n < len(ellipsis) {
		return ""
	}
	end := n - len(ellipsis)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + ellipsis
}

// slot is one string of a decoded body that may be cut, with its original value.
type slot struct {
	key   string // its key, or its list's
	orig  string
	runes int // runes of orig
	cur   int // runes of the value set now (runes when not cut)
	set   func(string)
	// size is the size of orig in the measure shrink uses (bytes of UTF-8 or of JSON).
	size int
}

// slots lists the strings under v whose key (for list items, the list's key) cuttable accepts,
// in a stable order (map keys sorted).
func slots(v any, key string, cuttable func(key string) bool) []*slot {
	var out []*slot
	add := func(key, s string, set func(string)) {
		r := utf8.RuneCountInString(s)
		out = append(out, &slot{key: key, orig: s, runes: r, cur: r, set: set})
	}
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if s, ok := x[k].(string); ok {
					if cuttable(k) {
						add(k, s, func(s string) { x[k] = s })
					}
					continue
				}
				walk(x[k], k)
			}
		case []any:
			for i := range x {
				if s, ok := x[i].(string); ok {
					if cuttable(key) {
						add(key, s, func(s string) { x[i] = s })
					}
					continue
				}
				walk(x[i], key)
			}
		}
	}
	walk(v, key)
	return out
}

// sizeAt is the size of s cut to c runes (templates.Truncate) in bytes of UTF-8, or with json
// of its JSON string as the bodies are encoded (HTML characters unescaped), quotes included.
// It computes the size without building the cut string.
func sizeAt(s string, c int, json bool) int {
	n, runes := 0, 0
	total := utf8.RuneCountInString(s)
	if total > c {
		total = c - 1 // then "…": 3 bytes either way
		n = len("…")
	}
	if json {
		n += 2
	}
	for i, r := range s {
		if runes == total {
			break
		}
		runes++
		size := utf8.RuneLen(r)
		if json {
			switch {
			case r == '"' || r == '\\' || r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t':
				size = 2
			case r < 0x20 || r == '\u2028' || r == '\u2029':
				size = 6
			case r == utf8.RuneError:
				if _, w := utf8.DecodeRuneInString(s[i:]); w == 1 {
					size = 6 // an invalid byte becomes \ufffd
				}
			}
		}
		n += size
	}
	return n
}

// measure is a size of the whole (a body, a map) at a common cut length c of its slots.
type measure func(c int) int

// jsonMeasure: base is the encoded size of the whole as it is now (its slots uncut); cutting a
// slot changes it by the change in that string's encoded size.
func jsonMeasure(ss []*slot, base int) measure {
	for _, s := range ss {
		s.size = sizeAt(s.orig, s.runes, true)
	}
	return func(c int) int {
		n := base
		for _, s := range ss {
			if s.runes > c {
				n += sizeAt(s.orig, c, true) - s.size
			}
		}
		return n
	}
}

// runeMeasure: fixed plus the runes of the slots.
func runeMeasure(ss []*slot, fixed int) measure {
	return func(c int) int {
		n := fixed
		for _, s := range ss {
			n += min(s.runes, c)
		}
		return n
	}
}

// byteMeasure: fixed plus the UTF-8 bytes of the slots.
func byteMeasure(ss []*slot, fixed int) measure {
	for _, s := range ss {
		s.size = len(s.orig)
	}
	return func(c int) int {
		n := fixed
		for _, s := range ss {
			if s.runes > c {
				n += sizeAt(s.orig, c, false)
			} else {
				n += s.size
			}
		}
		return n
	}
}

// shrink cuts the longest strings of ss to one common length, the longest that brings size to
// at most limit, so short fields stay whole and long ones share what is left. It returns the
// sizes before and after, and whether it fit; when even one character each is too much,
// nothing is cut and it reports false. Only the final cut builds strings: the search measures.
func shrink(ss []*slot, size measure, limit int) (before, after int, ok bool) {
	longest := 0
	for _, s := range ss {
		longest = max(longest, s.runes)
	}
	before = size(longest)
	if before <= limit {
		return before, before, true
	}
	if longest <= 1 || size(1) > limit {
		return before, before, false
	}
	lo, hi := 1, longest-1 // lo fits; find the largest c ≤ hi that fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if size(mid) <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	for _, s := range ss {
		if s.runes > lo {
			s.set(templates.Truncate(lo, s.orig))
			s.cur = lo
		}
	}
	return before, size(lo), true
}

// cutFields names the fields shrink cut ("description, title"; at most 5, then "…").
func cutFields(ss []*slot) string {
	var names []string
	for _, s := range ss {
		if s.cur < s.runes && !slices.Contains(names, s.key) {
			names = append(names, s.key)
		}
	}
	if len(names) > 5 {
		names = append(names[:5], "…")
	}
	return strings.Join(names, ", ")
}

// everything accepts every key: all strings may be cut.
func everything(string) bool { return true }

// keysIn accepts the keys listed.
func keysIn(keys ...string) func(string) bool {
	return func(k string) bool { return slices.Contains(keys, k) }
}

// keysNotIn accepts every key but those listed.
func keysNotIn(keys ...string) func(string) bool {
	return func(k string) bool { return !slices.Contains(keys, k) }
}

// jsonSize is the encoded size of v in bytes, as the body will be sent.
func jsonSize(v any) int {
	b, err := marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}

// keyRule is what renameKeys needs to know of a platform's keys: which are valid, how an
// invalid one is made valid before being cut to max bytes, and the words of its notes
// ("<noun> "k" left out: <why>", "<noun> "k" renamed "name" (<allows>, at most <max>)").
type keyRule struct {
	valid             func(string) bool
	fix               func(string) string
	max               int // bytes
	noun, why, allows string
}

// renameKeys moves each key of m that rule.valid rejects, in sorted order, to its fixed form
// cut to rule.max bytes; a key whose fixed form is empty or already taken is left out. Each
// change gets a note.
func (f *fitting) renameKeys(m map[string]any, rule keyRule) {
	var bad []string
	for k := range m {
		if !rule.valid(k) {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad)
	for _, k := range bad {
		name := rule.fix(k)
		if len(name) > rule.max {
			name = name[:rule.max]
		}
		v := m[k]
		delete(m, k)
		if _, taken := m[name]; name == "" || taken {
			f.note("%s %q left out: %s", rule.noun, k, rule.why)
			continue
		}
		m[name] = v
		f.note("%s %q renamed %q (%s, at most %d)", rule.noun, k, name, rule.allows, rule.max)
	}
}

// fitJSONSize keeps the encoded size of doc at most limit bytes by cutting the strings under
// root that cuttable accepts (what names the whole in the note). When cutting strings cannot do
// it (too many members), parent[key] is replaced by {"truncated_json": "<its JSON text, cut>"}
// so the request still goes out; an error means even that cannot fit.
func (f *fitting) fitJSONSize(doc map[string]any, root any, cuttable func(string) bool, limit int, what string, parent map[string]any, key string) error {
	base := jsonSize(doc)
	if base <= limit {
		return nil
	}
	ss := slots(root, "", cuttable)
	before, after, ok := shrink(ss, jsonMeasure(ss, base), limit)
	if ok {
		f.note("%s cut from %d to %d bytes (limit %d): %s", what, before, after, limit, cutFields(ss))
		return nil
	}
	if parent != nil {
		if v, present := parent[key]; present {
			if _, after, ok := f.asText(doc, parent, key, v, limit); ok {
				f.note("%s cut from %d to %d bytes (limit %d): %s sent as the start of its JSON text", what, before, after, limit, key)
				return nil
			}
		}
	}
	return fmt.Errorf("%s is %d bytes, over the limit of %d even with every text cut", what, before, limit)
}

// asText replaces parent[key] (v) by {"truncated_json": "<v's JSON text>"} cut so that doc
// encodes in at most limit bytes.
func (f *fitting) asText(doc, parent map[string]any, key string, v any, limit int) (before, after int, ok bool) {
	text, err := marshal(v)
	if err != nil {
		return 0, 0, false
	}
	obj := map[string]any{"truncated_json": string(text)}
	parent[key] = obj
	ss := slots(obj, "", everything)
	return shrink(ss, jsonMeasure(ss, jsonSize(doc)), limit)
}

// fitRunes keeps the runes of the strings under root that cuttable accepts, plus fixed (e.g.
// the keys), at most limit in all.
func (f *fitting) fitRunes(root any, cuttable func(string) bool, fixed, limit int, what string) bool {
	ss := slots(root, "", cuttable)
	before, after, ok := shrink(ss, runeMeasure(ss, fixed), limit)
	if ok && before > limit {
		f.note("%s cut from %d to %d characters (limit %d): %s", what, before, after, limit, cutFields(ss))
	}
	return ok
}

// marshal encodes v as the bodies are encoded: HTML characters kept as they are, no newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// fitBody applies fit to body (a JSON object) and returns the body to send and the notes: body
// itself when nothing was cut and it is no longer than its re-encoding (the built-in templates'
// bodies), else the re-encoded document, the form the limits were measured on. A body that is
// not a JSON object is returned as it is (the service will say what is wrong with it).
func fitBody(preset string, fit func(doc map[string]any, f *fitting) error, body []byte) ([]byte, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return body, nil, nil
	}
	f := &fitting{preset: preset}
	if err := fit(doc, f); err != nil {
		return nil, f.notes, err
	}
	out, err := marshal(doc)
	if err != nil {
		return nil, f.notes, err
	}
	if len(f.notes) == 0 && len(body) <= len(out) {
		return body, nil, nil // as rendered, byte for byte
	}
	// Cut, or rendered with escapes (toJson writes < as \u003c, 6 bytes for 1): the limits were
	// measured on this encoding, so it is the one sent.
	return out, f.notes, nil
}
