package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cortexbridge/cortex-bridge/adapters"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// KeyError is one problem in the config, named by its key path ("targets[2].webhook_url") and,
// when known, its line.
type KeyError struct {
	Path string
	Line int
	Msg  string
}

func (e *KeyError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Path, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

// Options tune Parse; zero values use the process environment and the working directory.
type Options struct {
	LookupEnv func(string) (string, bool) // for ${VAR}; default os.LookupEnv
	Dir       string                      // base for relative *_file paths and templates.dir
}

// Load reads, parses and validates the config file at path. The returned error lists every
// problem (errors.Join of *KeyError), each with its key path and line. See Parse for the
// Config returned with an error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, Options{Dir: filepath.Dir(path)})
}

// Parse decodes and validates data. See Load. When data is YAML, the Config is returned even
// with an error (decoded as far as possible, with defaults), so Build can add the template
// problems to the list; such a Config must not be served.
func Parse(data []byte, opts Options) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c := &Config{}
	if len(root.Content) == 0 {
		c.WithDefaults()
		c.resolvePaths(opts.Dir)
		return c, c.Validate()
	}
	doc := root.Content[0]
	expandEnv(doc, opts.LookupEnv, false)
	w := &walker{lines: map[string]int{}, typed: map[int]bool{}}
	w.check(doc, reflect.TypeFor[Config](), "")
	if err := doc.Decode(c); err != nil {
		w.typeErrors(err)
	}
	c.lines = w.lines
	// Keep going after unknown keys and type errors, so one run lists every problem (docs/configuration.md):
	// what did decode is still resolved, defaulted and validated.
	errs := w.errs
	for _, s := range c.secretRefs() {
		if err := s.resolve(opts.Dir); err != nil {
			errs = append(errs, c.keyError(s.path, err.Error()))
		}
	}
	if c.Ingest.SecretsFile != "" {
		b, err := os.ReadFile(resolvePath(opts.Dir, c.Ingest.SecretsFile))
		if err != nil {
			errs = append(errs, c.keyError("ingest.secrets_file", err.Error()))
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				c.Ingest.Secrets = append(c.Ingest.Secrets, notify.Secret(l))
			}
		}
	}
	c.problems = errs
	c.WithDefaults()
	c.resolvePaths(opts.Dir)
	if err := c.Validate(); err != nil {
		errs = append(errs, flatten(err)...)
	}
	return c, errors.Join(errs...)
}

// envRef is ${NAME} or ${NAME:-default}; $${ stays a literal ${.
var envRef = regexp.MustCompile(`\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default} in scalar values (never in keys) of the parsed
// tree, so a value containing YAML syntax cannot change the document's structure. An unset
// variable is empty. A plain scalar that was expanded is re-typed from its new text (so
// port: ${PORT:-587} is a number); an empty result counts as unset, except as a list item
// (item), which stays an empty string: yaml drops null items from a list of strings silently,
// so `secrets: [${UNSET}]` would pass validation and later items would be misnumbered.
func expandEnv(n *yaml.Node, lookup func(string) (string, bool), item bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			expandEnv(n.Content[i], lookup, false)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			expandEnv(c, lookup, n.Kind == yaml.SequenceNode)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		expanded := false
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			if strings.HasPrefix(m, "$$") {
				return m[1:]
			}
			expanded = true
			sub := envRef.FindStringSubmatch(m)
			if v, ok := lookup(sub[1]); ok && v != "" {
				return v
			}
			return sub[2]
		})
		if expanded && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			switch n.Value {
			case "":
				n.Tag = "!!null"
				if item {
					n.Tag = "!!str"
				}
			case "~", "null", "Null", "NULL":
				n.Tag = "!!str"
			default:
				n.Tag = ""
			}
		}
	}
}

// legacyUnmarshaler is the yaml.v2-style Unmarshaler, which yaml.v3 still honours.
var legacyUnmarshaler = reflect.TypeFor[interface {
	UnmarshalYAML(unmarshal func(any) error) error
}]()

// walker checks mapping keys against the Go types' yaml tags (unknown keys are errors, like
// yaml's KnownFields, but reported with key paths) and records each key path's line.
type walker struct {
	errs  []error
	lines map[string]int
	typed map[int]bool // lines of the type errors check found, which Decode reports again
}

func (w *walker) check(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(legacyUnmarshaler) {
		// A type that decodes itself (Alertmanager's time ranges): its keys are its own. Its
		// error would stop the whole Decode, so the value is blanked once reported.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.leafError(path, n.Line, err)
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: n.Line, Column: n.Column}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode || t == reflect.TypeFor[time.Time]() {
			return // a type error that Decode reports
		}
		fields := yamlFields(t)
		if t == reflect.TypeFor[Target]() {
			if ot := targetOptions(n); ot != nil {
				for k, v := range yamlFields(ot) {
					fields[k] = v
				}
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			w.lines[p] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				w.errs = append(w.errs, &KeyError{Path: p, Line: k.Line, Msg: "unknown key" + suggest(k.Value, fields)})
				continue
			}
			w.check(v, ft, p)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = c.Line
			w.check(c, t.Elem(), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(path, n.Content[i].Value)
			w.lines[p] = n.Content[i].Line
			w.check(n.Content[i+1], t.Elem(), p)
		}
	default:
		// Decode each leaf on its own, so that a type error names its own key even when several
		// keys share a line (backoff: {initial: 5s, max: soon}); Decode's errors only give lines.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.leafError(path, n.Line, err)
		}
	}
}

// leafError records a type error of the value at path.
func (w *walker) leafError(path string, line int, err error) {
	w.typed[line] = true
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		w.errs = append(w.errs, &KeyError{Path: path, Line: line, Msg: err.Error()})
		return
	}
	for _, msg := range te.Errors {
		w.errs = append(w.errs, &KeyError{Path: path, Line: line, Msg: lineRef.ReplaceAllString(msg, "")})
	}
}

var lineRef = regexp.MustCompile(`^line (\d+): `)

// typeErrors turns yaml's "line N: cannot unmarshal …" into KeyErrors naming the key at line N,
// except on the lines whose errors check has already reported by key.
func (w *walker) typeErrors(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		w.errs = append(w.errs, err)
		return
	}
	byLine := map[int]string{}
	for p, l := range w.lines {
		if cur, ok := byLine[l]; !ok || len(p) > len(cur) {
			byLine[l] = p
		}
	}
	for _, msg := range te.Errors {
		m := lineRef.FindStringSubmatch(msg)
		if m == nil {
			w.errs = append(w.errs, errors.New(msg))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		if w.typed[line] {
			continue
		}
		rest := strings.TrimPrefix(msg, m[0])
		w.errs = append(w.errs, &KeyError{Path: byLine[line], Line: line, Msg: rest})
	}
}

// targetOptions returns the adapter Config type for a target node's "type", or nil.
func targetOptions(n *yaml.Node) reflect.Type {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" {
			if kind := adapters.Lookup(n.Content[i+1].Value); kind != nil {
				return reflect.TypeOf(kind.NewConfig()).Elem()
			}
		}
	}
	return nil
}

// UnmarshalYAML decodes the common keys, then the type-specific ones into the adapter's Config.
func (t *Target) UnmarshalYAML(n *yaml.Node) error {
	type common Target
	if err := n.Decode((*common)(t)); err != nil {
		return err
	}
	kind := t.kind()
	if kind == nil {
		return nil // Validate names the unknown type
	}
	t.Adapter = kind.NewConfig()
	return n.Decode(t.Adapter)
}

// yamlFields maps a struct's yaml keys to field types, following ",inline".
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opt, _ := strings.Cut(tag, ",")
		switch {
		case name == "-":
		case opt == "inline":
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFields(ft) {
				out[k] = v
			}
		case name == "":
			out[strings.ToLower(f.Name)] = f.Type
		default:
			out[name] = f.Type
		}
	}
	return out
}

// suggest proposes the closest known key for a typo.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if d := distance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return " (known: " + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolvePaths makes every relative file path of the config relative to its folder dir (as
// Alertmanager does), so the bridge reads and writes the same files whatever the working
// directory: templates.dir, the SQLite file, TLS files and file targets' paths.
func (c *Config) resolvePaths(dir string) {
	c.Templates.Dir = resolvePath(dir, c.Templates.Dir)
	if c.Storage.Driver == "sqlite" {
		c.Storage.DSN = resolvePath(dir, c.Storage.DSN)
	}
	c.Server.TLS.CertFile = resolvePath(dir, c.Server.TLS.CertFile)
	c.Server.TLS.KeyFile = resolvePath(dir, c.Server.TLS.KeyFile)
	for _, t := range c.Targets {
		if r, ok := t.Adapter.(notify.PathResolver); ok {
			for _, p := range r.Paths() {
				*p = resolvePath(dir, *p)
			}
		}
	}
}

func resolvePath(dir, p string) string {
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// secretRef is a secret key with its <key>_file sibling.
type secretRef struct {
	path  string // key path of the secret, e.g. targets[1].secret
	value *notify.Secret
	file  string
}

func (s secretRef) resolve(dir string) error {
	if s.file == "" {
		return nil
	}
	if *s.value != "" {
		return errors.New("set either the value or " + s.path[strings.LastIndex(s.path, ".")+1:] + "_file, not both")
	}
	b, err := os.ReadFile(resolvePath(dir, s.file))
	if err != nil {
		return fmt.Errorf("reading %s_file: %w", s.path[strings.LastIndex(s.path, ".")+1:], err)
	}
	*s.value = notify.Secret(strings.TrimRight(string(b), "\r\n"))
	return nil
}

// secretRefs lists every secret that accepts a *_file form.
func (c *Config) secretRefs() []secretRef {
	var out []secretRef
	for i := range c.Targets {
		t := &c.Targets[i]
		if s, ok := t.Adapter.(notify.SecretFiler); ok {
			for _, f := range s.SecretFiles() {
				out = append(out, secretRef{fmt.Sprintf("targets[%d].%s", i, f.Key), f.Value, f.File})
			}
		}
	}
	for i := range c.API.Keys {
		k := &c.API.Keys[i]
		out = append(out, secretRef{fmt.Sprintf("api.keys[%d].key", i), &k.Key, k.KeyFile})
	}
	return out
}
