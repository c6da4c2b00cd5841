// Package ruletest runs rule test files (README.md#testing-rules): each case builds an event
// (a sample, a file or inline, patched with set/unset), routes it with a loaded config in a dry
// run (package dryrun) and compares the matching routes, the targets, the digests and snippets
// of the rendered messages with what the case expects. `cortex-bridge test-rules` prints the
// results.
package ruletest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// Suite is a rule test file (see README.md#testing-rules).
type Suite struct {
	Config string `yaml:"config"` // relative to the file
	Cases  []Case `yaml:"cases"`  // in file order; each one's event is built and parsed by Load

	path string
}

// Case is one event and what the config must do with it.
type Case struct {
	Name  string         `yaml:"name"` // unique in the file
	Event EventSource    `yaml:"event"`
	Set   map[string]any `yaml:"set"`   // dotted path in the event JSON → value
	Unset []string       `yaml:"unset"` // dotted paths to remove
	// FindingStatus is the finding_status an issue.critical event gets at ingest (new,
	// recurring, regressed or unknown; docs/events.md, Findings); "": nil, as in a dry run.
	FindingStatus string      `yaml:"finding_status"`
	Expect        Expectation `yaml:"expect"`

	file string
	line int
	ev   *event.Event
}

// EventSource is exactly one of a built-in sample, a JSON file and an inline event.
type EventSource struct {
	Sample string         `yaml:"sample"`
	File   string         `yaml:"file"` // relative to the test file
	Inline map[string]any `yaml:"inline"`
}

// Expectation lists what a case checks; a key left out is not checked.
type Expectation struct {
	Routes   *[]string              `yaml:"routes"`   // exactly the matching routes, in config order
	Targets  *[]string              `yaml:"targets"`  // exactly the targets the routes send to (any order), disabled or not
	Skipped  *[]string              `yaml:"skipped"`  // exactly those of them that are disabled here
	Digests  *[]string              `yaml:"digests"`  // exactly the digests that collect the event
	Messages map[string]TextExpects `yaml:"messages"` // target name → snippets of its message
}

// TextExpects are snippets a target's rendered message must contain or must not contain.
type TextExpects struct {
	Contains    []string `yaml:"contains"`
	NotContains []string `yaml:"not_contains"`
}

// ConfigPath resolves the config for the file's cases: --config, the file's config: key,
// $CORTEX_BRIDGE_CONFIG, ./config.yaml.
func (s *Suite) ConfigPath(flag string) string {
	switch {
	case flag != "":
		return flag
	case s.Config != "":
		if filepath.IsAbs(s.Config) {
			return s.Config
		}
		return filepath.Join(filepath.Dir(s.path), s.Config)
	case os.Getenv("CORTEX_BRIDGE_CONFIG") != "":
		return os.Getenv("CORTEX_BRIDGE_CONFIG")
	}
	return "config.yaml"
}

// Load reads and checks a test file strictly: unknown keys, wrong types, missing or
// ambiguous events, events that are not valid Cortex events and cases without a check are all
// reported together, each with its line and case.
func Load(path string) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	suite := &Suite{path: path}
	var errs []keyProblem
	fail := func(line int, label, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if label != "" {
			msg = label + ": " + msg
		}
		errs = append(errs, keyProblem{line, msg})
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty file; want a cases: list", path)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping with config: and cases:", path, root.Line)
	}
	var casesNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "config":
			if err := v.Decode(&suite.Config); err != nil {
				for _, p := range yamlProblems(err, v.Line) {
					fail(p.line, "", "config: %s", p.msg)
				}
			}
		case "cases":
			casesNode = v
		default:
			fail(k.Line, "", "%s: unknown key (known: config, cases)", k.Value)
		}
	}
	if casesNode == nil || casesNode.Kind != yaml.SequenceNode || len(casesNode.Content) == 0 {
		line := root.Line
		if casesNode != nil {
			line = casesNode.Line
		}
		fail(line, "", "cases: want a non-empty list of cases")
	} else {
		names := map[string]int{}
		for i, n := range casesNode.Content {
			c := Case{file: path, line: n.Line}
			label := fmt.Sprintf("cases[%d]", i)
			if n.Kind != yaml.MappingNode {
				fail(n.Line, label, "want a mapping with name, event and expect")
				continue
			}
			for j := 0; j+1 < len(n.Content); j += 2 {
				if k, v := n.Content[j], n.Content[j+1]; k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
					label = fmt.Sprintf("case %q", v.Value)
				}
			}
			before := len(errs)
			for _, p := range unknownKeys(n, reflect.TypeFor[Case](), "") {
				fail(p.line, label, "%s", p.msg)
			}
			if err := n.Decode(&c); err != nil {
				for _, p := range yamlProblems(err, n.Line) {
					fail(p.line, label, "%s", p.msg)
				}
				continue
			}
			if c.Name == "" {
				fail(n.Line, label, "name: required")
			} else if first, dup := names[c.Name]; dup {
				fail(n.Line, label, "name: the case at line %d has the same name", first)
			} else {
				names[c.Name] = n.Line
			}
			for _, p := range c.check() {
				fail(n.Line, label, "%s", p)
			}
			if len(errs) == before {
				if c.ev, err = c.buildEvent(filepath.Dir(path)); err != nil {
					fail(n.Line, label, "event: %v", err)
				} else if c.FindingStatus != "" && c.ev.Type != event.IssueCritical {
					fail(n.Line, label, "finding_status: only issue.critical events have one (this is %s)", c.ev.Type)
				} else {
					c.ev.FindingStatus = c.FindingStatus
				}
			}
			suite.Cases = append(suite.Cases, c)
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].line < errs[j].line })
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = fmt.Sprintf("%s:%d: %s", path, e.line, e.msg)
		}
		return nil, fmt.Errorf("%s is invalid:\n  %s", path, strings.Join(lines, "\n  "))
	}
	return suite, nil
}

// check reports the problems of a decoded case that do not depend on the config.
func (c *Case) check() []string {
	var probs []string
	n := 0
	for _, set := range []bool{c.Event.Sample != "", c.Event.File != "", c.Event.Inline != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		probs = append(probs, "event: want exactly one of sample, file or inline")
	}
	switch c.FindingStatus {
	case "", core.FindingStatusNew, core.FindingStatusRecurring, core.FindingStatusRegressed, core.FindingStatusUnknown:
	default:
		probs = append(probs, fmt.Sprintf("finding_status: want new, recurring, regressed or unknown, got %q", c.FindingStatus))
	}
	for p := range c.Set {
		if !validPath(p) {
			probs = append(probs, fmt.Sprintf("set: %q is not a dotted path such as data.severity", p))
		}
	}
	for _, p := range c.Unset {
		if !validPath(p) {
			probs = append(probs, fmt.Sprintf("unset: %q is not a dotted path such as data.score", p))
		}
	}
	e := c.Expect
	if e.Routes == nil && e.Targets == nil && e.Skipped == nil && e.Digests == nil && len(e.Messages) == 0 {
		probs = append(probs, "expect: required, with at least one of routes, targets, skipped, digests, messages")
	}
	for key, list := range map[string]*[]string{"routes": e.Routes, "targets": e.Targets, "skipped": e.Skipped, "digests": e.Digests} {
		if list == nil {
			continue
		}
		seen := map[string]bool{}
		for _, name := range *list {
			if seen[name] {
				probs = append(probs, fmt.Sprintf("expect.%s: %s is listed twice", key, name))
			}
			seen[name] = true
		}
	}
	for target, m := range e.Messages {
		if len(m.Contains)+len(m.NotContains) == 0 {
			probs = append(probs, fmt.Sprintf("expect.messages.%s: want contains or not_contains", target))
		}
	}
	sort.Strings(probs)
	return probs
}

func validPath(p string) bool {
	return p != "" && !slices.Contains(strings.Split(p, "."), "")
}
