package event

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
	"unicode/utf8"
)

// CutMark ends a string value Cut shortened.
const CutMark = "…"

// Cut returns ev bounded for a list of many events (a group message): each string in its data,
// at any depth, cut to at most maxString bytes (at a UTF-8 boundary, CutMark appended), and no
// more data than about maxTotal bytes in all (keys and strings at their length, other values at
// 8), the known fields (ShortcutFields) first, then the other keys in order; values that no
// longer fit are left out. Raw becomes the JSON of the result, so a cut event never carries its
// full body. Type, ID, Timestamp, Delivery and ReceivedAt are kept. An event whose body is no
// larger than maxString and maxTotal is returned as it is. ev is not changed.
func (ev *Event) Cut(maxString, maxTotal int) *Event {
	if len(ev.Raw) <= min(maxString, maxTotal) {
		return ev
	}
	c := &cutter{maxString: maxString, left: maxTotal}
	data := make(map[string]any, len(ev.Data))
	known := map[string]bool{}
	for _, f := range ShortcutFields() {
		known[f.Name] = true
		if v, ok := ev.Data[f.Name]; ok {
			c.member(data, f.Name, v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ev.Data)) {
		if !known[k] {
			c.member(data, k, ev.Data[k])
		}
	}
	out := *ev
	out.Data = data
	// The envelope as parsed: Parse accepted it, so Marshal cannot fail on these values.
	out.Raw, _ = json.Marshal(map[string]any{"event": ev.Type, "id": ev.ID,
		"timestamp": ev.Timestamp.Format(time.RFC3339Nano), "data": data})
	return &out
}

// cutter copies data values within a budget of bytes (left).
type cutter struct {
	maxString int
	left      int
}

// member puts key's value, cut, into m, unless the budget is spent.
func (c *cutter) member(m map[string]any, key string, v any) {
	if c.left <= 0 {
		return
	}
	c.left -= len(key)
	m[key] = c.value(v)
}

// value returns v within the budget, charging it for what it keeps.
func (c *cutter) value(v any) any {
	switch v := v.(type) {
	case string:
		s := cutString(v, min(c.maxString, max(c.left, 0)))
		c.left -= len(s)
		return s
	case map[string]any:
		out := make(map[string]any, min(len(v), 16))
		c.left -= 2
		for _, k := range slices.Sorted(maps.Keys(v)) {
			c.member(out, k, v[k])
		}
		return out
	case []any:
		out := make([]any, 0, min(len(v), 16))
		c.left -= 2
		for _, e := range v {
			if c.left <= 0 {
				break
			}
			out = append(out, c.value(e))
		}
		return out
	default: // numbers, booleans, null
		c.left -= 8
		return v
	}
}

// cutString returns s, or its first bytes up to n (less at a rune boundary) and CutMark when s is
// longer than n.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n-len(CutMark), 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + CutMark // a new string: the long one is not kept
}
