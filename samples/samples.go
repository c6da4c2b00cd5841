// Package samples embeds the Cortex sample events: scan.completed.json and issue.critical.json
// are the Cortex documentation's examples byte for byte; the other four follow SPEC §1. They are
// what `route --sample`, `send --sample` and the load-time template checks use. stream.jsonl (a
// day of traffic, ~1 800 events) sits beside them for `send --file` and tests; it is not embedded.
package samples

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed *.json
var files embed.FS

// Get returns the sample body for an event type, byte for byte.
func Get(eventType string) ([]byte, error) {
	b, err := files.ReadFile(eventType + ".json")
	if err != nil {
		return nil, fmt.Errorf("no sample for event %q (have: %s)", eventType, strings.Join(Types(), ", "))
	}
	return b, nil
}

// Types lists the event types that have a sample, sorted.
func Types() []string {
	entries, _ := files.ReadDir(".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(out)
	return out
}
