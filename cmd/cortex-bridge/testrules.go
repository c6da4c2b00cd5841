package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/rules"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func newTestRules() *cobra.Command {
	var format, runPattern string
	c := &cobra.Command{
		Use:   "test-rules [FILE...] [--run REGEXP] [--format text|json]",
		Short: "Check that events are routed as expected (rule tests for CI)",
		Long: `Run the rule test cases of each FILE (default rules_test.yaml): for each case, build its event,
route it with the config's rules and compare the matching routes, the targets that get a delivery,
the digests that collect it and, optionally, snippets of the rendered messages with what the case
expects. Nothing is sent and nothing is stored.

Prints one line per case (ok or FAIL); a failing case shows what it expected and what it got, with
- for expected but missing and + for present but not expected, and the explanation of the rules
involved (as route --explain prints it). Exit status 1 when a case fails or a FILE is invalid.

The config is --config when given, else the file's config: key (relative to the file), else
$CORTEX_BRIDGE_CONFIG, else ./config.yaml. See README.md#testing-rules for the file format.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format: want text or json, got %q", format)
			}
			var filter *regexp.Regexp
			if runPattern != "" {
				var err error
				if filter, err = regexp.Compile(runPattern); err != nil {
					return fmt.Errorf("--run: %w", err)
				}
			}
			defaulted := len(args) == 0
			if defaulted {
				args = []string{"rules_test.yaml"}
			}
			flagConfig, _ := cmd.Flags().GetString("config")
			runtimes := map[string]*config.Runtime{}
			var results []*caseResult
			for _, path := range args {
				suite, err := loadRuleTests(path)
				if defaulted && errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("%w (give the test file: %s FILE)", err, cmd.CommandPath())
				}
				if err != nil {
					return err
				}
				cfgPath := suite.configPath(flagConfig)
				rt := runtimes[cfgPath]
				if rt == nil {
					if rt, err = loadRuntime(cfgPath); err != nil {
						return fmt.Errorf("%s: config: %w", path, err)
					}
					runtimes[cfgPath] = rt
				}
				for _, tc := range suite.Cases {
					if filter != nil && !filter.MatchString(tc.Name) {
						continue
					}
					res := tc.run(rt)
					res.Config = cfgPath
					results = append(results, res)
				}
			}
			if filter != nil && len(results) == 0 {
				return fmt.Errorf("--run %q matches no case", runPattern)
			}
			out := cmd.OutOrStdout()
			var err error
			if format == "json" {
				err = writeRuleTestsJSON(out, results)
			} else {
				writeRuleTestsText(out, results)
			}
			if err != nil {
				return err
			}
			for _, r := range results {
				if !r.OK {
					return errSilent
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	c.Flags().StringVar(&runPattern, "run", "", "run only the cases whose name matches this regular expression")
	return c
}

// ruleTests is a rule test file (see README.md#testing-rules).
type ruleTests struct {
	Config string     `yaml:"config"` // relative to the file
	Cases  []ruleCase `yaml:"cases"`

	path string
}

// ruleCase is one event and what the config must do with it.
type ruleCase struct {
	Name   string         `yaml:"name"`
	Event  eventSource    `yaml:"event"`
	Set    map[string]any `yaml:"set"`   // dotted path in the event JSON → value
	Unset  []string       `yaml:"unset"` // dotted paths to remove
	Expect expectation    `yaml:"expect"`

	file string
	line int
	ev   *event.Event
}

// eventSource is exactly one of a built-in sample, a JSON file and an inline event.
type eventSource struct {
	Sample string         `yaml:"sample"`
	File   string         `yaml:"file"` // relative to the test file
	Inline map[string]any `yaml:"inline"`
}

// expectation lists what a case checks; a key left out is not checked.
type expectation struct {
	Routes   *[]string              `yaml:"routes"`  // exactly the matching routes, in config order
	Targets  *[]string              `yaml:"targets"` // exactly the targets the routes send to (any order), disabled or not
	Skipped  *[]string              `yaml:"skipped"` // exactly those of them that are disabled here
	Digests  *[]string              `yaml:"digests"` // exactly the digests that collect the event
	Messages map[string]textExpects `yaml:"messages"`
}

// textExpects are snippets a target's rendered message must contain or must not contain.
type textExpects struct {
	Contains    []string `yaml:"contains"`
	NotContains []string `yaml:"not_contains"`
}

// configPath resolves the config for the file's cases: --config, the file's config: key,
// $CORTEX_BRIDGE_CONFIG, ./config.yaml.
func (s *ruleTests) configPath(flag string) string {
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

// loadRuleTests reads and checks a test file strictly: unknown keys, wrong types, missing or
// ambiguous events, events that are not valid Cortex events and cases without a check are all
// reported together, each with its line and case.
func loadRuleTests(path string) (*ruleTests, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	suite := &ruleTests{path: path}
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
			c := ruleCase{file: path, line: n.Line}
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
			for _, p := range unknownKeys(n, reflect.TypeFor[ruleCase](), "") {
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

type keyProblem struct {
	line int
	msg  string
}

// unknownKeys walks n against the yaml fields of t and reports every key t does not have, with
// its path and line; free-form values (map[string]any) are not looked into.
func unknownKeys(n *yaml.Node, t reflect.Type, path string) []keyProblem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []keyProblem
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
				known = append(known, name)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			ft, ok := fields[k.Value]
			if !ok {
				out = append(out, keyProblem{k.Line, fmt.Sprintf("%s: unknown key (known: %s)", p, strings.Join(known, ", "))})
				continue
			}
			out = append(out, unknownKeys(n.Content[i+1], ft, p)...)
		}
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, unknownKeys(n.Content[i+1], t.Elem(), path+"."+n.Content[i].Value)...)
		}
	}
	return out
}

// yamlProblems splits a decode error into its problems, each with its line (line when yaml
// gives none), without the "yaml: unmarshal errors:" preamble and Go type names.
func yamlProblems(err error, line int) []keyProblem {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []keyProblem{{line, err.Error()}}
	}
	out := make([]keyProblem, len(te.Errors))
	for i, m := range te.Errors {
		l := line
		if rest, ok := strings.CutPrefix(m, "line "); ok {
			if num, msg, ok := strings.Cut(rest, ": "); ok {
				if n, err := strconv.Atoi(num); err == nil {
					l, m = n, msg
				}
			}
		}
		if j := strings.LastIndex(m, " into "); j >= 0 {
			switch typ := m[j+len(" into "):]; {
			case typ == "[]string":
				m = m[:j] + " into a list of strings"
			case strings.HasPrefix(typ, "map["), strings.HasPrefix(typ, "main."):
				m = m[:j] + " into a mapping"
			case typ == "string":
				m = m[:j] + " into a string"
			}
		}
		out[i] = keyProblem{l, m}
	}
	return out
}

// check reports the problems of a decoded case that do not depend on the config.
func (c *ruleCase) check() []string {
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

// buildEvent reads the case's event, applies set and unset, and parses it as the ingest endpoint
// does. An inline event without timestamp gets the current time, and one without id gets one.
func (c *ruleCase) buildEvent(dir string) (*event.Event, error) {
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

// caseResult is the outcome of one case.
type caseResult struct {
	File     string     `json:"file"`
	Line     int        `json:"line"`
	Name     string     `json:"name"`
	Config   string     `json:"config"`
	OK       bool       `json:"ok"`
	Diffs    []caseDiff `json:"diffs,omitempty"`
	Warnings []string   `json:"warnings,omitempty"` // rules that failed at run time
	Why      string     `json:"why,omitempty"`      // the explanations of the rules involved
}

// caseDiff is one expectation that does not hold. For lists, Missing are expected names that
// are not there and Unexpected names that are there without being expected; for messages,
// Missing are contains snippets not found and Unexpected not_contains snippets found.
type caseDiff struct {
	Key        string    `json:"key"`
	Want       *[]string `json:"want,omitempty"` // lists only
	Got        *[]string `json:"got,omitempty"`
	Missing    []string  `json:"missing,omitempty"`
	Unexpected []string  `json:"unexpected,omitempty"`
	Note       string    `json:"note,omitempty"`
	Message    string    `json:"message,omitempty"` // the rendered message, for messages.*
}

// run routes the case's event with rt and compares the outcome with the expectation.
func (c *ruleCase) run(rt *config.Runtime) *caseResult {
	res := &caseResult{File: c.file, Line: c.line, Name: c.Name}
	ev := c.ev
	targets := map[string]*core.Target{}
	for _, t := range rt.Targets {
		targets[t.Name] = t
	}
	verdicts := rules.ExplainRoutes(rt.Router, ev)
	for _, v := range verdicts {
		if v.Explanation != nil && v.Explanation.Err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("route %s: the rule failed at run time and counts as not matched: %s",
				v.Route.Name, firstLineOf(v.Explanation.Err)))
		}
	}
	for _, d := range rt.Router.Digests {
		if d.When == nil {
			continue
		}
		if _, err := d.When.Match(ev); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("digest %s: the rule failed at run time and counts as not matched: %s",
				d.Name, firstLineOf(err)))
		}
	}

	var routes []string
	for _, r := range rt.Router.Match(ev) {
		routes = append(routes, r.Name)
	}
	assigned := rt.Router.Assign(ev, func(string) bool { return true })
	var sent, skipped []string
	from := map[string]core.Assignment{}
	for _, a := range assigned {
		sent = append(sent, a.Target)
		from[a.Target] = a
		if t := targets[a.Target]; t != nil && t.Disabled != "" {
			skipped = append(skipped, a.Target)
		}
	}
	digests := rt.Router.DigestsFor(ev)

	known := func(names []string) func(string) bool {
		return func(n string) bool { return slices.Contains(names, n) }
	}
	var routeNames, digestNames []string
	for _, r := range rt.Router.Routes {
		routeNames = append(routeNames, r.Name)
	}
	for _, d := range rt.Router.Digests {
		digestNames = append(digestNames, d.Name)
	}
	targetNames := rt.TargetNames()
	e := c.Expect
	whyRoutes := map[string]bool{}
	whyDigests := map[string]bool{}
	whyTargets := map[string]bool{} // used when the routes diff does not already explain
	targetsDiffer := false
	if e.Routes != nil {
		if d, ok := diffLists("routes", *e.Routes, routes, true, known(routeNames), "route"); !ok {
			res.Diffs = append(res.Diffs, d)
			for _, n := range append(slices.Clone(d.Missing), d.Unexpected...) {
				whyRoutes[n] = true
			}
		}
	}
	targetDiff := func(key string, want *[]string, got []string) {
		if want == nil {
			return
		}
		d, ok := diffLists(key, *want, got, false, known(targetNames), "target")
		if ok {
			return
		}
		res.Diffs = append(res.Diffs, d)
		if key != "targets" {
			return
		}
		targetsDiffer = true
		// The routes that name a target in the diff say why it is (not) there: for a target
		// that is there unexpectedly, the matching routes naming it; for a missing one, every
		// route naming it.
		for _, n := range d.Missing {
			for _, r := range rt.Router.Routes {
				if slices.Contains(r.Targets, n) {
					whyTargets[r.Name] = true
				}
			}
		}
		for _, n := range d.Unexpected {
			for _, r := range rt.Router.Routes {
				if slices.Contains(r.Targets, n) && slices.Contains(routes, r.Name) {
					whyTargets[r.Name] = true
				}
			}
		}
	}
	targetDiff("targets", e.Targets, sent)
	targetDiff("skipped", e.Skipped, skipped)
	if e.Digests != nil {
		if d, ok := diffLists("digests", *e.Digests, digests, false, known(digestNames), "digest"); !ok {
			res.Diffs = append(res.Diffs, d)
			for _, n := range append(slices.Clone(d.Missing), d.Unexpected...) {
				whyDigests[n] = true
			}
		}
	}
	names := make([]string, 0, len(e.Messages))
	for n := range e.Messages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if d, ok := checkMessage(rt, targets[name], name, from, ev, e.Messages[name]); !ok {
			res.Diffs = append(res.Diffs, d)
		}
	}
	res.OK = len(res.Diffs) == 0
	if !res.OK {
		if len(whyRoutes) == 0 {
			whyRoutes = whyTargets
		}
		var why strings.Builder
		for _, v := range verdicts {
			if whyRoutes[v.Route.Name] {
				writeRouteVerdict(&why, v, "")
			}
		}
		for _, d := range rt.Router.Digests {
			if whyDigests[d.Name] {
				writeDigestVerdict(&why, d, ev, "")
			}
		}
		if targetsDiffer {
			for _, r := range rt.Router.Routes {
				if whyRoutes[r.Name] && len(r.Targets) > 0 {
					fmt.Fprintf(&why, "route %s sends to: %s\n", r.Name, strings.Join(r.Targets, ", "))
				}
			}
		}
		res.Why = why.String()
	}
	return res
}

// diffLists compares want and got, in order when ordered, else as sets. ok is true when they
// agree; known reports whether a name exists in the config.
func diffLists(key string, want, got []string, ordered bool, known func(string) bool, kind string) (d caseDiff, ok bool) {
	want, got = orEmpty(want), orEmpty(got)
	d = caseDiff{Key: key, Want: &want, Got: &got}
	for _, w := range want {
		if !slices.Contains(got, w) {
			d.Missing = append(d.Missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			d.Unexpected = append(d.Unexpected, g)
		}
	}
	var unknown []string
	for _, w := range want {
		if !known(w) {
			unknown = append(unknown, w)
		}
	}
	switch {
	case len(unknown) > 0:
		d.Note = fmt.Sprintf("the config has no %s named %s", kind, strings.Join(unknown, ", "))
	case ordered && len(d.Missing) == 0 && len(d.Unexpected) == 0 && !slices.Equal(want, got):
		d.Note = "same " + key + ", in another order (routes are evaluated in config order)"
	case len(d.Missing) == 0 && len(d.Unexpected) == 0:
		return d, true
	}
	return d, false
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// checkMessage renders the message target gets for ev (from the first route that names it) and
// checks the snippets.
func checkMessage(rt *config.Runtime, t *core.Target, name string, from map[string]core.Assignment, ev *event.Event, want textExpects) (caseDiff, bool) {
	d := caseDiff{Key: "messages." + name}
	a, ok := from[name]
	switch {
	case t == nil:
		d.Note = fmt.Sprintf("the config has no target named %s", name)
		return d, false
	case !ok:
		d.Note = "this target gets no delivery for this event, so no message"
		return d, false
	}
	msg := core.SampleMessage(ev, t, a.Route)
	if err := rt.Renderer.Render(msg, t, a.Route); err != nil {
		d.Note = "template error: " + err.Error()
		return d, false
	}
	hay := messageText(t, msg)
	for _, s := range want.Contains {
		if !containsAny(hay, s) {
			d.Missing = append(d.Missing, s)
		}
	}
	for _, s := range want.NotContains {
		if containsAny(hay, s) {
			d.Unexpected = append(d.Unexpected, s)
		}
	}
	if len(d.Missing)+len(d.Unexpected) == 0 {
		return d, true
	}
	d.Note = fmt.Sprintf("the %s message from route %s", t.Type, a.Route.Name)
	var b bytes.Buffer
	printMessage(&b, t, msg)
	d.Message = strings.ReplaceAll(strings.TrimPrefix(b.String(), "    "), "\n    ", "\n") // printMessage indents by 4
	return d, false
}

// messageText is what contains/not_contains look in: the subject, the body as sent (the event
// itself when the target sends it unchanged), the HTML part, and for a JSON body every string in
// it, decoded (so a snippet with quotes or non-ASCII text matches however JSON escaped it).
func messageText(t *core.Target, msg *notify.Message) []string {
	body := msg.Body
	if body == nil {
		body = msg.Event.Raw
	}
	hay := []string{msg.Subject, string(body), msg.HTML}
	var v any
	if json.Unmarshal(body, &v) == nil {
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				hay = append(hay, x)
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
	}
	return hay
}

func containsAny(hay []string, s string) bool {
	for _, h := range hay {
		if strings.Contains(h, s) {
			return true
		}
	}
	return false
}

func firstLineOf(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// writeRuleTestsText prints one line per case, a diff under each failing one, and a summary.
func writeRuleTestsText(out io.Writer, results []*caseResult) {
	failed := 0
	file := ""
	for _, r := range results {
		if r.File != file {
			file = r.File
			fmt.Fprintf(out, "%s (config %s)\n", r.File, r.Config)
		}
		if r.OK {
			fmt.Fprintf(out, "ok    %s\n", r.Name)
		} else {
			failed++
			fmt.Fprintf(out, "FAIL  %s  (%s:%d)\n", r.Name, r.File, r.Line)
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(out, "        warning: %s\n", w)
		}
		if r.OK {
			continue
		}
		for _, d := range r.Diffs {
			writeDiff(out, d)
		}
		if r.Why != "" {
			fmt.Fprintln(out, "        why:")
			writeIndented(out, r.Why, "          ", 0)
		}
	}
	if failed == 0 {
		fmt.Fprintf(out, "PASS: %d %s\n", len(results), plural(len(results), "case", "cases"))
		return
	}
	fmt.Fprintf(out, "FAIL: %d of %d cases failed (- expected but missing, + present but not expected)\n", failed, len(results))
}

func writeDiff(out io.Writer, d caseDiff) {
	const pad = "        "
	if d.Note != "" {
		fmt.Fprintf(out, "%s%s: %s\n", pad, d.Key, d.Note)
	} else {
		fmt.Fprintf(out, "%s%s:\n", pad, d.Key)
	}
	if d.Want != nil {
		fmt.Fprintf(out, "%s  want %s\n", pad, brackets(*d.Want))
		fmt.Fprintf(out, "%s  got  %s\n", pad, brackets(*d.Got))
		for _, m := range d.Missing {
			fmt.Fprintf(out, "%s  - %s\n", pad, m)
		}
		for _, u := range d.Unexpected {
			fmt.Fprintf(out, "%s  + %s\n", pad, u)
		}
		return
	}
	for _, m := range d.Missing {
		fmt.Fprintf(out, "%s  - contains %q\n", pad, m)
	}
	for _, u := range d.Unexpected {
		fmt.Fprintf(out, "%s  + not_contains %q\n", pad, u)
	}
	if d.Message != "" {
		fmt.Fprintf(out, "%s  message:\n", pad)
		writeIndented(out, d.Message, pad+"    ", 30)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func brackets(names []string) string { return "[" + strings.Join(names, " ") + "]" }

// writeIndented prints text with prefix on every line, at most max lines (0: all).
func writeIndented(out io.Writer, text, prefix string, max int) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if max > 0 && i == max {
			fmt.Fprintf(out, "%s… (%d more lines)\n", prefix, len(lines)-max)
			return
		}
		fmt.Fprintf(out, "%s%s\n", prefix, l)
	}
}

func writeRuleTestsJSON(out io.Writer, results []*caseResult) error {
	report := struct {
		Passed int           `json:"passed"`
		Failed int           `json:"failed"`
		Cases  []*caseResult `json:"cases"`
	}{Cases: results}
	for _, r := range results {
		if r.OK {
			report.Passed++
		} else {
			report.Failed++
		}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(report)
}
