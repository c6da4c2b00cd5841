package templates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	ttemplate "text/template"
	"text/template/parse"
	"time"
	"unsafe"
)

// Limits bound one render (body, subject block and HTML part together). text/template has no
// cancellation of its own, so the engine meters every render itself: each template function
// call (sprig's, ours and the printing builtins), each range iteration and each template
// invocation is a step that first checks the render's context and the step budget, and every
// byte written goes through a writer that fails past MaxOutputBytes. Without these, a custom
// template ranging and appending over a 130 000-element list never finished and ignored
// delivery.timeout and the drain.
type Limits struct {
	// MaxOutputBytes is the most bytes one render may write, in bytes: body, subject, HTML and
	// the output of every include. 0 means DefaultMaxOutputBytes.
	MaxOutputBytes int64
	// MaxSteps is the render's work budget, in steps: one per function call, range iteration
	// and template invocation, plus one per byte of a string and per element of a list or map
	// a function returns (a value passed through unchanged costs nothing more), plus the known
	// cost of functions whose work is not visible in their result (uniq is quadratic; repeat,
	// until, untilStep, seq, indent and the rand* functions allocate from a number, charged
	// before they run). prepend in a loop, which copies the list every time, costs what it
	// does: quadratic; append is amortised O(1) (see appendFuncs) and costs one step, plus the
	// elements it copies when it must. Templates also nest at most maxDepth deep. 0 means
	// DefaultMaxSteps.
	MaxSteps int64
	// MaxRenderTime bounds every render, also those without a deadline of their own (dry
	// runs, previews, load-time checks); a delivery's render also ends with its attempt
	// (delivery.timeout, the drain). 0 means DefaultMaxRenderTime.
	MaxRenderTime time.Duration
}

// Defaults of Limits. A built-in template renders a 16 000-event group in under 2 000 000
// steps and 1 MiB (the platforms' own limits are far below that), in about half a second.
const (
	DefaultMaxOutputBytes = 4 << 20
	DefaultMaxSteps       = 10_000_000
	DefaultMaxRenderTime  = 10 * time.Second
)

// ErrOutputLimit and ErrStepLimit are the errors (wrapped in *Error, naming the template) of a
// render that exceeded Limits; a render whose context ended fails with the context's error
// (context.Canceled, context.DeadlineExceeded) wrapped the same way.
var (
	ErrOutputLimit = errors.New("output limit exceeded")
	ErrStepLimit   = errors.New("render step budget exceeded")
)

func (l Limits) withDefaults() Limits {
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.MaxRenderTime <= 0 {
		l.MaxRenderTime = DefaultMaxRenderTime
	}
	return l
}

// meter is the state of one render, shared by the wrapped functions of one template instance.
// An instance renders one message at a time, so the meter needs no lock.
type meter struct {
	ctx     context.Context
	limits  Limits
	steps   int64
	written int64
	ends    map[*any]int // see appendFuncs
	depth   int          // template invocations open (see instrument)
	// deadline is the earlier of ctx's deadline and MaxRenderTime from the start; clockAt is
	// the step count when check last read the clock.
	deadline time.Time
	clockAt  int64
}

func (m *meter) reset(ctx context.Context, l Limits) {
	m.ctx, m.limits, m.steps, m.written, m.clockAt, m.depth = ctx, l, 0, 0, 0, 0
	m.deadline = time.Now().Add(l.MaxRenderTime)
	if d, ok := ctx.Deadline(); ok && d.Before(m.deadline) {
		m.deadline = d
	}
	clear(m.ends)
}

// check returns the error that ends the render, or nil. The clock is read every 256 steps
// (a step is at least a few hundred nanoseconds): the context's own timer alone fired seconds
// late on a busy machine while a render kept the CPU.
func (m *meter) check() error {
	if err := m.ctx.Err(); err != nil {
		return fmt.Errorf("render stopped: %w", context.Cause(m.ctx))
	}
	if m.steps > m.limits.MaxSteps {
		return fmt.Errorf("%w: more than %d steps (templates.max_render_steps): nested loops over too much data, or a list or string rebuilt in a loop (prepend, cat, printf)",
			ErrStepLimit, m.limits.MaxSteps)
	}
	if m.steps-m.clockAt >= 256 {
		m.clockAt = m.steps
		if time.Now().After(m.deadline) {
			return fmt.Errorf("render stopped: %w: it ran past its deadline (templates.max_render_time %v, or the delivery's timeout)",
				context.DeadlineExceeded, m.limits.MaxRenderTime)
		}
	}
	return nil
}

// limitError is a bound's error as the function that found it returned it, so include can
// pass it up unwrapped.
type limitError struct{ error }

func (e *limitError) Unwrap() error { return e.error }

// charge adds n steps and panics with the error that ends the render, if any: text/template
// turns a panic in a function into that function's error and stops.
func (m *meter) charge(n int64) {
	m.steps += n
	if err := m.check(); err != nil {
		panic(err)
	}
}

// write accounts for n bytes about to be written.
func (m *meter) write(n int) error {
	m.written += int64(n)
	if m.written > m.limits.MaxOutputBytes {
		return fmt.Errorf("%w: more than %d bytes (templates.max_output_bytes)", ErrOutputLimit, m.limits.MaxOutputBytes)
	}
	return m.check()
}

// limitWriter writes through m's output limit.
type limitWriter struct {
	w io.Writer
	m *meter
}

func (l limitWriter) Write(p []byte) (int, error) {
	if err := l.m.write(len(p)); err != nil {
		return 0, err
	}
	return l.w.Write(p)
}

// stepFunc is the function the engine adds to every range body and template root (see
// instrument); it is not callable by name from templates, which cannot spell it.
const stepFunc = "_cortex_bridge_step"

// stepVar receives stepFunc's result: an assignment prints nothing and html/template leaves it
// alone.
const stepVar = "$_cortex_bridge_step"

// maxDepth is the deepest nesting of template invocations ({{ template }}, include) a render
// may reach. text/template's own limit, 100 000, lets a recursive template hold hundreds of
// MB of stack; real templates nest a few levels.
const maxDepth = 1000

// Names of the functions that open and close a template invocation (see instrument).
const (
	enterFunc = "_cortex_bridge_enter"
	leaveFunc = "_cortex_bridge_leave"
)

// instrument makes tree charge one step at the start of every range iteration, and one at its
// start (each template invocation), so loops and recursion that call no function are metered;
// its start and end also count the nesting depth of invocations. An invocation that fails
// never reaches its end, but then the render is over.
func instrument(tree *parse.Tree) {
	if tree == nil || tree.Root == nil {
		return
	}
	instrumentList(tree.Root)
	end := tree.Root.Position()
	if n := len(tree.Root.Nodes); n > 0 {
		end = tree.Root.Nodes[n-1].Position()
	}
	nodes := append([]parse.Node{callNode(tree.Root.Pos, enterFunc)}, tree.Root.Nodes...)
	tree.Root.Nodes = append(nodes, callNode(end, leaveFunc))
}

func instrumentList(l *parse.ListNode) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch x := n.(type) {
		case *parse.RangeNode:
			instrumentList(x.List)
			instrumentList(x.ElseList)
			x.List.Nodes = append([]parse.Node{stepNode(x.Pos)}, x.List.Nodes...)
		case *parse.IfNode:
			instrumentList(x.List)
			instrumentList(x.ElseList)
		case *parse.WithNode:
			instrumentList(x.List)
			instrumentList(x.ElseList)
		case *parse.ListNode:
			instrumentList(x)
		}
	}
}

// stepNode is {{ $_cortex_bridge_step := _cortex_bridge_step }} at pos (so an error points at
// the range it meters).
func stepNode(pos parse.Pos) *parse.ActionNode { return callNode(pos, stepFunc) }

// callNode is {{ $_cortex_bridge_step := fn }} at pos.
func callNode(pos parse.Pos, fn string) *parse.ActionNode {
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{parse.NewIdentifier(fn).SetPos(pos)}}
	v := &parse.VariableNode{NodeType: parse.NodeVariable, Pos: pos, Ident: []string{stepVar}}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Decl: []*parse.VariableNode{v}, Cmds: []*parse.CommandNode{cmd}}
	return &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Pipe: pipe}
}

// removedFuncs are sprig functions templates do not get: env, expandenv and getHostByName
// read the process environment (which holds secrets) or the network; the key, certificate
// and password functions cost seconds of CPU or tens of MB each (RSA key generation, bcrypt,
// scrypt in derivePassword) and have no use in a message.
var removedFuncs = []string{
	"env", "expandenv", "getHostByName",
	"genPrivateKey", "derivePassword", "bcrypt", "htpasswd", "buildCustomCert", "genCA", "genCAWithKey",
	"genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey",
}

// builtinFuncs are text/template builtins whose result can be larger than their input
// (printf's width), replaced by metered copies so a loop cannot grow a variable unmetered. The
// others (and, or, not, len, index, eq, …) return an operand or a bool.
var builtinFuncs = map[string]any{
	"print":   fmt.Sprint,
	"printf":  fmt.Sprintf,
	"println": fmt.Sprintln,
}

// textBuiltinFuncs are the escaping builtins, metered in text templates only: html/template
// treats html and urlquery specially and escapes by itself.
var textBuiltinFuncs = map[string]any{
	"html":     ttemplate.HTMLEscaper,
	"js":       ttemplate.JSEscaper,
	"urlquery": ttemplate.URLQueryEscaper,
}

// preCosts are the steps a function costs before it runs, beyond one, for functions whose work
// shows in no result the meter sees or that allocate from a number: charged first, so
// `repeat 1000000000 "x"` fails before allocating.
var preCosts = map[string]func(args []reflect.Value) int64{
	"repeat":             func(a []reflect.Value) int64 { return absInt(a[0]) * int64(lenOf(a[1])) },
	"until":              func(a []reflect.Value) int64 { return absInt(a[0]) },
	"untilStep":          func(a []reflect.Value) int64 { return absInt(a[0]) + absInt(a[1]) },
	"seq":                sumAbsVariadic,
	"indent":             func(a []reflect.Value) int64 { return absInt(a[0]) * int64(1+lenOf(a[1])) },
	"nindent":            func(a []reflect.Value) int64 { return absInt(a[0]) * int64(1+lenOf(a[1])) },
	"randAlphaNum":       func(a []reflect.Value) int64 { return absInt(a[0]) },
	"randAlpha":          func(a []reflect.Value) int64 { return absInt(a[0]) },
	"randAscii":          func(a []reflect.Value) int64 { return absInt(a[0]) },
	"randNumeric":        func(a []reflect.Value) int64 { return absInt(a[0]) },
	"randBytes":          func(a []reflect.Value) int64 { return absInt(a[0]) },
	"uniq":               func(a []reflect.Value) int64 { n := int64(lenOf(a[0])); return n * n },
	"mustUniq":           func(a []reflect.Value) int64 { n := int64(lenOf(a[0])); return n * n },
	"without":            func(a []reflect.Value) int64 { return int64(lenOf(a[0]) * (1 + lenOf(a[1]))) },
	"mustWithout":        func(a []reflect.Value) int64 { return int64(lenOf(a[0]) * (1 + lenOf(a[1]))) },
	"has":                func(a []reflect.Value) int64 { return int64(lenOf(a[1])) },
	"mustHas":            func(a []reflect.Value) int64 { return int64(lenOf(a[1])) },
	"deepCopy":           func(a []reflect.Value) int64 { return int64(lenOf(a[0])) },
	"mustDeepCopy":       func(a []reflect.Value) int64 { return int64(lenOf(a[0])) },
	"deepEqual":          func(a []reflect.Value) int64 { return int64(lenOf(a[0]) + lenOf(a[1])) },
	"compact":            func(a []reflect.Value) int64 { return int64(lenOf(a[0])) },
	"mustCompact":        func(a []reflect.Value) int64 { return int64(lenOf(a[0])) },
	"sortAlpha":          func(a []reflect.Value) int64 { return int64(lenOf(a[0])) },
	"merge":              sumLenVariadic,
	"mergeOverwrite":     sumLenVariadic,
	"mustMerge":          sumLenVariadic,
	"mustMergeOverwrite": sumLenVariadic,
}

// meteredFuncs returns every template function wrapped to charge m: the cost first (one step,
// plus preCosts), then the size of its result.
func meteredFuncs(m *meter, text bool) map[string]any {
	out := make(map[string]any, len(funcs)+len(builtinFuncs)+len(textBuiltinFuncs)+1)
	for name, fn := range funcs {
		out[name] = meterFunc(m, name, fn)
	}
	for name, fn := range builtinFuncs {
		out[name] = meterFunc(m, name, fn)
	}
	if text {
		for name, fn := range textBuiltinFuncs {
			out[name] = meterFunc(m, name, fn)
		}
	}
	for name, fn := range appendFuncs(m) {
		out[name] = fn
	}
	out[stepFunc] = func() string { m.charge(1); return "" }
	out[enterFunc] = func() (string, error) {
		m.charge(1)
		if m.depth++; m.depth > maxDepth {
			return "", &limitError{fmt.Errorf("%w: templates nested more than %d deep (recursion?)", ErrStepLimit, maxDepth)}
		}
		return "", nil
	}
	out[leaveFunc] = func() string { m.depth--; return "" }
	return out
}

// meterFunc wraps fn, a function of any signature, in one of the same signature that charges m.
func meterFunc(m *meter, name string, fn any) any {
	v := reflect.ValueOf(fn)
	t := v.Type()
	pre := preCosts[name]
	call := v.Call
	if t.IsVariadic() {
		call = v.CallSlice
	}
	return reflect.MakeFunc(t, func(args []reflect.Value) []reflect.Value {
		cost := int64(1)
		if pre != nil {
			cost += max(pre(args), 0)
		}
		m.charge(cost)
		out := call(args)
		if len(out) > 0 {
			if n := resultSize(out[0], args); n > 0 {
				m.charge(n)
			}
		}
		return out
	}).Interface()
}

// resultSize is what a function's result costs: its bytes or elements, unless it is one of
// the arguments passed through (set returns its map, default its value, trim an untouched
// string), or 0 for anything else.
func resultSize(r reflect.Value, args []reflect.Value) int64 {
	for r.Kind() == reflect.Interface && !r.IsNil() {
		r = r.Elem()
	}
	switch r.Kind() {
	case reflect.String, reflect.Slice, reflect.Map:
	default:
		return 0
	}
	if r.Len() == 0 {
		return 0
	}
	for _, a := range args {
		if samePlace(r, a) {
			return 0
		}
		if a.Kind() == reflect.Slice && a.Type().Elem().Kind() == reflect.Interface { // variadic ...any
			for i := range a.Len() {
				if samePlace(r, a.Index(i)) {
					return 0
				}
			}
		}
	}
	return int64(r.Len())
}

// samePlace reports whether a holds the very string, slice or map r is (same memory, same length).
func samePlace(r, a reflect.Value) bool {
	for a.Kind() == reflect.Interface && !a.IsNil() {
		a = a.Elem()
	}
	if a.Kind() != r.Kind() || a.Len() != r.Len() {
		return false
	}
	switch r.Kind() {
	case reflect.String:
		return unsafe.StringData(r.String()) == unsafe.StringData(a.String())
	default:
		return r.UnsafePointer() == a.UnsafePointer()
	}
}

func absInt(v reflect.Value) int64 {
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	var n int64
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n = v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n = int64(min(v.Uint(), 1<<62))
	case reflect.Float32, reflect.Float64:
		n = int64(max(min(v.Float(), 1<<62), -(1 << 62)))
	}
	if n < 0 {
		return -n
	}
	return n
}

func lenOf(v reflect.Value) int {
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return v.Len()
	}
	return 0
}

// sumAbsVariadic charges seq by its numbers (an over-estimate of the list it builds).
func sumAbsVariadic(a []reflect.Value) int64 {
	var n int64
	for _, s := range a {
		for i := range lenOf(s) {
			n += absInt(s.Index(i))
		}
	}
	return n
}

// sumLenVariadic charges merge by the maps it reads.
func sumLenVariadic(a []reflect.Value) int64 {
	n := int64(lenOf(a[0]))
	if len(a) > 1 {
		for i := range lenOf(a[1]) {
			n += int64(lenOf(a[1].Index(i)))
		}
	}
	return n
}

// appendFuncs are sprig's append/push and mustAppend/mustPush, made amortised O(1): sprig copies
// the whole list on every call, so `{{ $l = append $l x }}` in a loop was quadratic (130 000
// elements never finished). The copy is needed only when the list's spare capacity may already
// hold an element of another list; the meter records, for each backing array it allocated, the
// longest list handed out, and appends in place only to that list. A list from anywhere else
// (the data, list, a sub-slice) is copied into a new array with room to grow.
func appendFuncs(m *meter) map[string]any {
	push := func(list, v any) ([]any, error) {
		m.charge(1)
		l, ok := list.([]any)
		if !ok {
			rv := reflect.ValueOf(list)
			if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
				return nil, fmt.Errorf("cannot append to %T", list)
			}
			m.charge(int64(rv.Len()))
			l = make([]any, rv.Len(), max(2*rv.Len(), 4))
			for i := range l {
				l[i] = rv.Index(i).Interface()
			}
			m.appended(l)
		}
		n := len(l)
		if n < cap(l) && m.ownsEnd(l) {
			l = l[:n+1]
			l[n] = v
			m.appended(l)
			return l, nil
		}
		m.charge(int64(n))
		nl := make([]any, n+1, max(2*n, 4))
		copy(nl, l)
		nl[n] = v
		m.appended(nl)
		return nl, nil
	}
	return map[string]any{
		"append":     func(list, v any) []any { l, err := push(list, v); must(err); return l },
		"push":       func(list, v any) []any { l, err := push(list, v); must(err); return l },
		"mustAppend": push,
		"mustPush":   push,
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// backing identifies l's backing array (l has cap > 0).
func backing(l []any) *any { return &l[:cap(l)][0] }

// ownsEnd reports whether l is the longest list handed out of its backing array, so the slot
// after it is free.
func (m *meter) ownsEnd(l []any) bool {
	end, ok := m.ends[backing(l)]
	return ok && end == len(l)
}

// appended records l as the longest list handed out of its backing array.
func (m *meter) appended(l []any) {
	if cap(l) == 0 {
		return
	}
	if m.ends == nil {
		m.ends = map[*any]int{}
	}
	m.ends[backing(l)] = len(l)
}
