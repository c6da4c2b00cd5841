package ruletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// buildEvent reads the case's event, applies set and unset, and parses it as the ingest endpoint
// does. An inline event without timestamp gets the current time, and one without id gets one.
func (c *Case) buildEvent(dir string) (*event.Event, error) {
	var body []byte
	var err error
	switch {
	case c.Event.Sample != "":
		body, err = samples.Get(c.Event.Sample)
	case c.Event.File != "":
		p := c.Event.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		body, err = os.ReadFile(p)
	default:
		obj := jsonable(c.Event.Inline).(map[string]any)
		if _, ok := obj["timestamp"]; !ok {
			obj["timestamp"] = time.Now().UTC().Format(time.RFC3339)
		}
		if _, ok := obj["id"]; !ok {
			obj["id"] = fmt.Sprintf("evt_rule_test_line_%d", c.line)
		}
		body, err = json.Marshal(obj)
	}
	if err != nil {
		return nil, err
	}
	if len(c.Set) > 0 || len(c.Unset) > 0 {
		if body, err = patchEvent(body, c.Set, c.Unset); err != nil {
			return nil, err
		}
	}
	return event.Parse(body)
}

// patchEvent sets and removes fields of a JSON event by dotted path (data.severity), creating
// the objects on the way when needed. Shorter paths are set first.
func patchEvent(body []byte, set map[string]any, unset []string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("set/unset: the event is not a JSON object")
	}
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		keys := strings.Split(p, ".")
		m, err := walkTo(obj, keys, p, true)
		if err != nil {
			return nil, err
		}
		m[keys[len(keys)-1]] = jsonable(set[p])
	}
	for _, p := range unset {
		keys := strings.Split(p, ".")
		m, err := walkTo(obj, keys, p, false)
		if err != nil {
			return nil, err
		}
		if m != nil {
			delete(m, keys[len(keys)-1])
		}
	}
	return json.Marshal(obj)
}

// walkTo returns the object holding the last key of path; with create, missing objects on the
// way are added, else a missing one gives nil.
func walkTo(obj map[string]any, keys []string, path string, create bool) (map[string]any, error) {
	m := obj
	for i, k := range keys[:len(keys)-1] {
		next, ok := m[k]
		if !ok || next == nil {
			if !create {
				return nil, nil
			}
			next = map[string]any{}
			m[k] = next
		}
		nm, ok := next.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not an object", path, strings.Join(keys[:i+1], "."))
		}
		m = nm
	}
	return m, nil
}

// jsonable turns a YAML-decoded value into one encoding/json can encode the way it reads.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}
