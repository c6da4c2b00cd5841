// Package rules compiles and evaluates the boolean routing rules described in README.md (Rules), written in
// expr-lang/expr, against Cortex events.
//
// Environment: event (string, the event type), id (string), timestamp (time.Time), data
// (map[string]any, every data field including unknown ones), delivery (string, the
// X-Cortex-Delivery header, "" if none); every known data field of event.ShortcutFields at top
// level with its Go type (scan_id, severity, title, … string; score, progress, duration_seconds,
// … float64; issues_count, line int64); repo (string, "owner/name" from repo_url); the helpers
// severity_at_least(severity, "high") (info < low < medium < high < critical, case-insensitive)
// and glob(s, pattern) (path.Match); and expr's builtins.
//
// Nil semantics: a field the event lacks is nil (`score ?? 0` gives 0). An ordering comparison
// (<, >, <=, >=), `in`, contains, startsWith, endsWith or matches with a nil operand is false,
// not an error, also when the nil sits inside arithmetic or a string builtin (`score * 2 > 100`,
// `lower(severity) == "high"`); `==`/`!=` compare nil as expr does (nil != "x"); member access
// into data is optional chaining (`data.labels["k8s.ns"]` is nil when labels is missing); a nil
// used as a boolean is false; a missing list given to all, any, filter, count, … is empty.
// Negation is plain boolean negation: `not (score < 70)` is true when score is missing.
// Type errors are still caught when the rule compiles.
package rules

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/cortexbridge/cortex-bridge/event"
)

// Rule is a rule compiled by Compile. It is safe for concurrent use by many goroutines.
type Rule struct {
	src     string
	program *vm.Program // nil-safe program, compiled against runEnv
	vars    []envVar    // the environment variables the rule reads; Match sets only these
	envs    sync.Pool   // of map[string]any with room for vars, cleared between uses

	explainState // Explain's plan, built by its first call (explain.go)
}

// Compile compiles the boolean rule src once (at config load). It returns an error (a
// *file.Error from expr, wrapped, with line, column and a caret under the offending token) for a
// syntax error, an unknown name (`scroe < 70`), a type mismatch (`score >= "7"`,
// `severity_at_least(score, "high")`), a wrong number of arguments, a result that is not
// boolean (`score`), an unknown literal severity in severity_at_least, a malformed literal
// glob pattern, and an empty src. Every error text starts with "rules: "; the caller adds the
// route's name.
func Compile(src string) (*Rule, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("rules: empty rule")
	}
	program, err := compile(src, true)
	if err != nil {
		return nil, err
	}
	r := &Rule{src: src, program: program, vars: usedVars(program.Node())}
	r.envs.New = func() any { return make(map[string]any, len(r.vars)) }
	return r, nil
}

// Uses reports whether the rule reads the environment variable name (README.md, Rules), e.g.
// "finding_status", which ingest then computes for it; also true when the rule reads $env.
func (r *Rule) Uses(name string) bool {
	for _, v := range r.vars {
		if v.name == name {
			return true
		}
	}
	return false
}

// compile type-checks src (as a boolean rule when asBool) and returns its nil-safe program.
func compile(src string, asBool bool) (*vm.Program, error) {
	// Type-check the source as written, against the fields' real types. The nil-safe
	// rewriting below replaces operators by guarded forms the checker cannot see through, so it
	// must not be what decides whether a rule is well-typed.
	opts := append([]expr.Option{expr.Env(strictEnv), expr.MaxNodes(MaxNodes)}, helpers...)
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	strict, err := expr.Compile(src, opts...)
	if err != nil && strings.Contains(err.Error(), "exceeds maximum allowed nodes") {
		return nil, nodeLimitError()
	}
	if err != nil {
		var fe *file.Error
		if !errors.As(err, &fe) { // e.g. "expected bool, but got float64" carries no snippet
			return nil, fmt.Errorf("rules: %q: %w", src, err)
		}
		return nil, fmt.Errorf("rules: %w", err)
	}
	if err := checkLiterals(strict.Node(), strict.Source()); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	// The result type is not enforced here (no AsBool): strict has proved it is bool or unknown,
	// and Match reads a nil result (data.flag on an event without flag) as false.
	program, err := expr.Compile(src, append([]expr.Option{expr.Env(runEnv), expr.MaxNodes(MaxNodes),
		expr.Patch(nilSafe{}), expr.Patch(budgetCheck{}), budgetFunc}, helpers...)...)
	if err != nil {
		return nil, fmt.Errorf("rules: internal error compiling the nil-safe form: %w", err)
	}
	return program, nil
}

// String returns the rule's source, as given to Compile.
func (r *Rule) String() string { return r.src }

// vmPool recycles expr VMs: a VM's stack and scope pool survive between runs, which saves
// allocations on every Match.
var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// Match reports whether the rule matches ev, which it does not modify. A rule that fails at run
// time returns (false, err), with expr's position info in err; only values the checker could not
// type can cause that: data's contents (`data.x > 1` with x a string, `data.tags[0]` on an empty
// list) and nil given to a helper or builtin the rewriting does not guard. The caller counts
// such a rule as not matched. Match never panics; a nil ev is an error.
func (r *Rule) Match(ev *event.Event) (matched bool, err error) {
	if ev == nil {
		return false, errors.New("rules: nil event")
	}
	defer func() {
		if p := recover(); p != nil {
			matched, err = false, fmt.Errorf("rules: %q panicked: %v", r.src, p)
		}
	}()

	out, err := run(r.program, r.vars, &r.envs, ev)
	if err != nil {
		return false, err
	}
	switch b := out.(type) {
	case bool:
		return b, nil
	case nil:
		return false, nil
	default:
		return false, fmt.Errorf("rules: %q returned %T, want bool", r.src, out)
	}
}

// run evaluates program for ev with the variables vars set, from a map of envs.
func run(program *vm.Program, vars []envVar, envs *sync.Pool, ev *event.Event) (any, error) {
	env := envs.Get().(map[string]any)
	for _, v := range vars {
		if x, ok := v.value(ev); ok {
			env[v.name] = x
		}
	}
	m := vmPool.Get().(*vm.VM)
	m.MemoryBudget = MemoryBudget
	out, err := m.Run(program, env)
	// Drop references to the event before pooling, so the pools do not keep it alive.
	clear(m.Stack[:cap(m.Stack)])
	clear(m.Variables)
	vmPool.Put(m)
	clear(env)
	envs.Put(env)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return out, nil
}

// usedVars returns the environment variables the program reads: every variable named in it, or
// all of them when it uses $env.
func usedVars(root ast.Node) []envVar {
	used := make([]bool, len(envVars))
	all, deadline := false, false
	ast.Find(root, func(n ast.Node) bool {
		if id, ok := n.(*ast.IdentifierNode); ok {
			if i, ok := envIndex[id.Value]; ok {
				used[i] = true
			}
			all = all || id.Value == "$env"
			deadline = deadline || id.Value == deadlineVar
		}
		return false
	})
	var vars []envVar
	for i, v := range envVars {
		if all || used[i] {
			vars = append(vars, v)
		}
	}
	if deadline {
		vars = append(vars, envVar{name: deadlineVar, src: srcDeadline})
	}
	return vars
}

// checkLiterals rejects calls whose literal arguments can never work: an unknown severity name
// in severity_at_least and a malformed pattern in glob.
func checkLiterals(root ast.Node, src file.Source) error {
	var bad *file.Error
	ast.Find(root, func(n ast.Node) bool {
		call, ok := n.(*ast.CallNode)
		if !ok || bad != nil {
			return false
		}
		callee, ok := call.Callee.(*ast.IdentifierNode)
		if !ok {
			return false
		}
		for i, arg := range call.Arguments {
			lit, ok := arg.(*ast.StringNode)
			if !ok {
				continue
			}
			var msg string
			switch {
			case callee.Value == fnSeverityAtLeast && severityRank(lit.Value) == 0:
				msg = fmt.Sprintf("%s: unknown severity %q (want one of %s)", fnSeverityAtLeast, lit.Value,
					strings.Join(severities[:], ", "))
			case callee.Value == fnGlob && i == 1 && !validPattern(lit.Value):
				msg = fmt.Sprintf("%s: malformed pattern %q", fnGlob, lit.Value)
			default:
				continue
			}
			bad = &file.Error{Location: arg.Location(), Message: msg}
			return true
		}
		return false
	})
	if bad != nil {
		return bad.Bind(src)
	}
	return nil
}
