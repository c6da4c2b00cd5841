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
// noted), and the body is encoded again only when something was cut, so a body within the limits
// is sent byte for byte as rendered. Whatever the template or the event holds, the request stays
// one the service accepts: a message is never dropped for its size.

// fitting collects what a fitter changed, one note per field ("opsgenie: details cut from 10 597
// to 8 000 characters"), for the attempt log.
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
	key        string // its key, or its list's
	orig       string
	runes, cur int // runes of orig and of the current value
	set        func(string)
}

func (s *slot) current() int { return s.cur }

// slots lists the strings under v whose key (for list items, the list's key) cuttable accepts,
// in a stable order (map keys sorted).
func slots(v any, key string, cuttable func(key string) bool) []*slot {
	var out []*slot
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
						r := utf8.RuneCountInString(s)
						out = append(out, &slot{key: k, orig: s, runes: r, cur: r, set: func(s string) { x[k] = s }})
					}
					continue
				}
				walk(x[k], k)
			}
		case []any:
			for i := range x {
				if s, ok := x[i].(string); ok {
					if cuttable(key) {
						r := utf8.RuneCountInString(s)
						out = append(out, &slot{key: key, orig: s, runes: r, cur: r, set: func(s string) { x[i] = s }})
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

// capAt cuts every slot to at most c runes (restoring the others to their original value).
func capAt(ss []*slot, c int) {
	for _, s := range ss {
		if s.runes > c {
			s.set(templates.Truncate(c, s.orig))
			s.cur = c
		} else {
			s.set(s.orig)
			s.cur = s.runes
		}
	}
}

// shrink cuts the longest strings of ss to one common length, the longest that brings size() to
// at most limit, so short fields stay whole and long ones share what is left. It returns the
// size before and whether it fit; when even one character each is too much, the strings are
// restored and it reports false.
func shrink(ss []*slot, size func() int, limit int) (before int, ok bool) {
	before = size()
	if before <= limit {
		return before, true
	}
	longest := 0
	for _, s := range ss {
		longest = max(longest, s.runes)
	}
	if longest <= 1 {
		return before, false
	}
	capAt(ss, 1)
	if size() > limit {
		capAt(ss, longest)
		return before, false
	}
	lo, hi := 1, longest-1 // lo fits; find the largest c ≤ hi that fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		capAt(ss, mid)
		if size() <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	capAt(ss, lo)
	return before, true
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

// fitJSONSize keeps the encoded size of doc at most limit bytes by cutting the strings under
// root that cuttable accepts (what names root in the note). When cutting strings cannot do it
// (too many members), parent[key] is replaced by {"truncated_json": "<its JSON text, cut>"} so
// the request still goes out; an error means even that cannot fit.
func (f *fitting) fitJSONSize(doc map[string]any, root any, cuttable func(string) bool, limit int, what string, parent map[string]any, key string) error {
	size := func() int { return jsonSize(doc) }
	ss := slots(root, "", cuttable)
	before, ok := shrink(ss, size, limit)
	if ok {
		if before > limit {
			f.note("%s cut from %d to %d bytes (limit %d): %s", what, before, size(), limit, cutFields(ss))
		}
		return nil
	}
	if parent != nil {
		if v, present := parent[key]; present {
			text, err := marshal(v)
			if err == nil {
				obj := map[string]any{"truncated_json": string(text)}
				parent[key] = obj
				if _, ok := shrink(slots(obj, "", everything), size, limit); ok {
					f.note("%s cut from %d to %d bytes (limit %d): %s sent as the start of its JSON text", what, before, size(), limit, key)
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%s is %d bytes, over the limit of %d even with every text cut", what, before, limit)
}

// fitRunes keeps the runes of the strings under root that cuttable accepts (plus fixed, e.g.
// the keys) at most limit in all.
func (f *fitting) fitRunes(root any, cuttable func(string) bool, fixed, limit int, what string) bool {
	ss := slots(root, "", cuttable)
	size := func() int {
		n := fixed
		for _, s := range ss {
			n += s.current()
		}
		return n
	}
	before, ok := shrink(ss, size, limit)
	if ok && before > limit {
		f.note("%s cut from %d to %d characters (limit %d): %s", what, before, size(), limit, cutFields(ss))
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

// fitBody applies fit to body (a JSON object) and returns the body to send and the notes. A body
// that is not a JSON object is returned as it is (the service will say what is wrong with it).
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
	if len(f.notes) == 0 {
		return body, nil, nil
	}
	out, err := marshal(doc)
	if err != nil {
		return nil, f.notes, err
	}
	return out, f.notes, nil
}
