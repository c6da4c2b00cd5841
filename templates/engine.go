// Package templates renders messages from Go templates: the built-in ones embedded from this
// folder and a user's override folder laid out the same way. A template is the file
// <type>/<name>.tmpl (text/template), optionally with <type>/<name>.html.tmpl (html/template,
// used for email bodies); a file directly in the folder, <name>.tmpl, serves every target type.
// Templates are parsed once at load and rendered many times.
package templates

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	ttemplate "text/template"
)

//go:embed all:builtin
var builtin embed.FS

const (
	textExt = ".tmpl"
	htmlExt = ".html.tmpl"
	// SubjectBlock is the name of the optional {{define}} block that gives an email subject.
	SubjectBlock = "subject"
)

// noValue is what text/template prints for a nil value; it must never reach a message.
const noValue = "<no value>"

// Engine holds parsed templates by key "<type>/<name>" (or "<name>" for type-less files).
type Engine struct {
	// text and html are the parsed templates, never executed: each render runs a clone (an
	// instance) whose functions are metered for that render.
	text   map[string]*ttemplate.Template
	html   map[string]*htemplate.Template
	origin map[string]string // key → "builtin:<path>" or the override file path
	limits Limits
	pools  map[string]*instancePool
}

// instance is a clone of one template (and its HTML twin) whose functions charge st; it
// renders one message at a time and is reused.
type instance struct {
	text *ttemplate.Template
	html *htemplate.Template // nil when the template has no .html.tmpl
	m    *meter
}

// instancePool keeps idle instances of one key.
type instancePool struct {
	mu   sync.Mutex
	free []*instance
}

// maxIdleInstances is how many idle instances a key keeps: about the renders that run at once.
const maxIdleInstances = 32

// Output is one rendered template: Body from the main template, Subject from its "subject"
// block (one line, trimmed) and HTML from the companion .html.tmpl, when those exist.
type Output struct {
	Body    []byte
	Subject string
	HTML    string
}

// Error is a template that failed to parse or render; it names the template and its file.
type Error struct {
	Key    string // "<type>/<name>"
	Origin string // file it came from
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("template %s (%s): %v", e.Key, e.Origin, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// New parses the built-in templates, then the files of overrideDir, which replace built-ins of
// the same key. An empty or missing overrideDir means no overrides. Every parse error is
// returned, joined.
func New(overrideDir string) (*Engine, error) {
	return NewWithLimits(overrideDir, Limits{})
}

// NewWithLimits is New with the render limits l (zero fields take the defaults).
func NewWithLimits(overrideDir string, l Limits) (*Engine, error) {
	e := &Engine{text: map[string]*ttemplate.Template{}, html: map[string]*htemplate.Template{}, origin: map[string]string{},
		limits: l.withDefaults(), pools: map[string]*instancePool{}}
	sub, _ := fs.Sub(builtin, "builtin")
	errs := []error{e.load(sub, "builtin:")}
	if overrideDir != "" {
		st, err := os.Stat(overrideDir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			errs = append(errs, fmt.Errorf("templates.dir: %w", err))
		case !st.IsDir():
			errs = append(errs, fmt.Errorf("templates.dir: %s is not a directory", overrideDir))
		default:
			errs = append(errs, e.load(os.DirFS(overrideDir), overrideDir+string(os.PathSeparator)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for key, t := range e.text {
		for _, tt := range t.Templates() {
			instrument(tt.Tree)
		}
		if h := e.html[key]; h != nil {
			for _, ht := range h.Templates() {
				instrument(ht.Tree)
			}
		}
		e.pools[key] = &instancePool{}
	}
	return e, nil
}

// Limits returns the engine's render limits, defaults filled in.
func (e *Engine) Limits() Limits { return e.limits }

// get returns an idle instance of key, or a new one.
func (e *Engine) get(key string) (*instance, error) {
	p := e.pools[key]
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		in := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return in, nil
	}
	p.mu.Unlock()
	in := &instance{m: &meter{}}
	t, err := e.text[key].Clone()
	if err != nil {
		return nil, err
	}
	in.text = t.Funcs(meteredFuncs(in.m, true))
	in.text.Funcs(ttemplate.FuncMap{"include": include(in.text, in.m)})
	if h := e.html[key]; h != nil {
		hc, err := h.Clone()
		if err != nil {
			return nil, err
		}
		in.html = hc.Funcs(meteredFuncs(in.m, false))
	}
	return in, nil
}

// put returns in to its pool, unless the pool is full.
func (e *Engine) put(key string, in *instance) {
	in.m.ctx = nil // do not keep the render's context or data alive
	clear(in.m.ends)
	p := e.pools[key]
	p.mu.Lock()
	if len(p.free) < maxIdleInstances {
		p.free = append(p.free, in)
	}
	p.mu.Unlock()
}

// load parses every *.tmpl file of fsys at the top level or one folder deep.
func (e *Engine) load(fsys fs.FS, prefix string) error {
	var errs []error
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.Count(p, "/") >= 1 {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, textExt) {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		origin := prefix + p
		if strings.HasSuffix(p, htmlExt) {
			key := strings.TrimSuffix(p, htmlExt)
			t, err := htemplate.New(path.Base(p)).Option("missingkey=error").Funcs(htmlFuncs()).Parse(string(src))
			if err != nil {
				errs = append(errs, &Error{Key: key, Origin: origin, Err: err})
				return nil
			}
			e.html[key] = t
			return nil
		}
		key := strings.TrimSuffix(p, textExt)
		t, err := ttemplate.New(path.Base(p)).Option("missingkey=error").Funcs(textFuncs()).Parse(string(src))
		if err != nil {
			errs = append(errs, &Error{Key: key, Origin: origin, Err: err})
			return nil
		}
		e.text[key] = t
		e.origin[key] = origin
		return nil
	})
	return errors.Join(append(errs, err)...)
}

// include returns the "include" function for t: {{ include "name" data }} renders a {{define}}d
// block of the same file and returns it as a string, so it can be piped (Helm's include). What
// it writes counts against the render's output limit.
func include(t *ttemplate.Template, m *meter) func(string, any) (string, error) {
	return func(name string, data any) (string, error) {
		m.charge(1)
		var b strings.Builder
		if err := t.ExecuteTemplate(limitWriter{&b, m}, name, data); err != nil {
			if bound := m.check(); bound != nil {
				return "", bound // not wrapped once per level of a recursive include
			}
			var lim *limitError
			if errors.As(err, &lim) {
				return "", lim
			}
			return "", err
		}
		return b.String(), nil
	}
}

// Lookup returns the key to render for a target type and template name: "<type>/<name>" when
// it exists, else the type-less "<name>"; ok is false when neither exists.
func (e *Engine) Lookup(targetType, name string) (key string, ok bool) {
	if k := targetType + "/" + name; e.text[k] != nil {
		return k, true
	}
	if e.text[name] != nil {
		return name, true
	}
	return "", false
}

// Keys lists every text template key, sorted.
func (e *Engine) Keys() []string {
	out := make([]string, 0, len(e.text))
	for k := range e.text {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Origin names the file a template came from.
func (e *Engine) Origin(key string) string { return e.origin[key] }

// Render is RenderContext without a context of its own: the Limits bound it.
func (e *Engine) Render(key string, data any) (*Output, error) {
	return e.RenderContext(context.Background(), key, data)
}

// RenderContext executes template key with data, within ctx and the engine's Limits. A missing
// map key or a failing function is an *Error naming the template; so is a render that exceeded
// a limit (wrapping ErrStepLimit or ErrOutputLimit) or outlived ctx (wrapping ctx's error),
// stopped at its next function call, range iteration or write. A "<no value>" in the output (a
// nil printed) is an *Error wrapping ErrNoValue, returned together with the output.
func (e *Engine) RenderContext(ctx context.Context, key string, data any) (*Output, error) {
	if e.text[key] == nil {
		return nil, &Error{Key: key, Origin: "-", Err: errors.New("no such template")}
	}
	fail := func(err error) (*Output, error) { return nil, &Error{Key: key, Origin: e.origin[key], Err: err} }
	in, err := e.get(key)
	if err != nil {
		return fail(err)
	}
	defer e.put(key, in)
	defer func() {
		if os.Getenv("DEBUG_STEPS") != "" {
			fmt.Fprintln(os.Stderr, "STEPS", key, in.m.steps, in.m.written)
		}
	}()
	in.m.reset(ctx, e.limits)
	if err := in.m.check(); err != nil {
		return fail(err)
	}
	t := in.text
	var buf bytes.Buffer
	if err := t.Execute(limitWriter{&buf, in.m}, data); err != nil {
		return fail(err)
	}
	out := &Output{Body: buf.Bytes()}
	if t.Lookup(SubjectBlock) != nil {
		var sb strings.Builder
		if err := t.ExecuteTemplate(limitWriter{&sb, in.m}, SubjectBlock, data); err != nil {
			return fail(err)
		}
		out.Subject = strings.Join(strings.Fields(sb.String()), " ")
	}
	if h := in.html; h != nil {
		var hb strings.Builder
		if err := h.Execute(limitWriter{&hb, in.m}, data); err != nil {
			return fail(fmt.Errorf("html: %w", err))
		}
		out.HTML = hb.String()
	}
	if m := out.NilMarker(); m != "" {
		return out, &Error{Key: key, Origin: e.origin[key], Err: fmt.Errorf("%w: the output contains %q", ErrNoValue, m)}
	}
	return out, nil
}

// NilMarkers are what templates print for a nil or missing field: text/template's "<no value>",
// fmt's "<nil>" (toString, printf "%v") and a fmt verb error ("%!s(<nil>)", "%!d(string=x)").
var NilMarkers = []string{noValue, "<nil>", "%!"}

// NilMarker returns the first of NilMarkers found in the output (the HTML part escaped), or "".
func (o *Output) NilMarker() string {
	for _, m := range NilMarkers {
		if bytes.Contains(o.Body, []byte(m)) || strings.Contains(o.Subject, m) || strings.Contains(o.HTML, htemplate.HTMLEscapeString(m)) {
			return m
		}
	}
	return ""
}

// ErrNoValue is returned (wrapped in *Error, with the output) when the output shows a nil or
// missing field (one of NilMarkers). The caller may accept the output when the input itself
// contains that text.
var ErrNoValue = errors.New(`a field is nil or missing here; guard it with {{ with }} or default`)
