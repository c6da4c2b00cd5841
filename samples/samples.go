// Package samples embeds the Cortex sample events: scan.completed.json and issue.critical.json
// are the Cortex documentation's examples byte for byte; the other four follow docs/events.md. They are
// what `route --sample`, `send --sample` and the load-time template checks use. stream.jsonl (a
// day of traffic, ~1 800 events) sits beside them for `send --file` and tests; it is not embedded.
// bridge/ holds one example of each of the bridge's own alert events (bridge.*, see core/alert.go):
// Get returns them too, but Types leaves them out, since they are not Cortex events; so does
// finding/, one example of each event the bridge derives from comparing scans (finding.*).
package samples

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed *.json
var files embed.FS

//go:embed bridge/*.json
var alertFiles embed.FS

//go:embed finding/*.json
var findingFiles embed.FS

// Get returns the sample body for an event type (a Cortex one, a bridge.* alert or a finding.*
// event), byte for byte.
func Get(eventType string) ([]byte, error) {
	b, err := files.ReadFile(eventType + ".json")
	if err != nil {
		b, err = alertFiles.ReadFile("bridge/" + eventType + ".json")
	}
	if err != nil {
		b, err = findingFiles.ReadFile("finding/" + eventType + ".json")
	}
	if err != nil {
		return nil, fmt.Errorf("no sample for event %q (have: %s)", eventType, strings.Join(Types(), ", "))
	}
	return b, nil
}

// AlertTypes lists the bridge's own alert event types (bridge.*) that have a sample, sorted.
func AlertTypes() []string {
	return typesIn(alertFiles, "bridge")
}

// FindingTypes lists the derived finding event types (finding.*) that have a sample, sorted.
func FindingTypes() []string {
	return typesIn(findingFiles, "finding")
}

// Types lists the event types that have a sample, sorted.
func Types() []string {
	return typesIn(files, ".")
}

// typesIn lists the event types of the samples in dir of fsys (the names of its .json files
// without the extension), sorted.
func typesIn(fsys embed.FS, dir string) []string {
	entries, _ := fsys.ReadDir(dir)
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(out)
	return out
}
