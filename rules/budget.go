package rules

import (
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// Budgets of one rule. A rule runs inside the ingest request for every event, so its cost must
// not grow faster than the event: these bound what a large or hostile event can make a rule do.
const (
	// MaxNodes is the most syntax-tree nodes (names, literals, operators, calls) a rule or a
	// group key may have. Compile refuses a larger one: rules are written by hand, and one this
	// large is a generated or pasted mistake whose cost is paid on every event.
	MaxNodes = 1000

	// MemoryBudget is the expr VM's run-time memory budget for one evaluation, in its units:
	// one per element of an array, map or range the rule builds (`1..n`, `[a, b]`, `{k: v}`,
	// map(...), filter(...)) and per element it sorts. A rule that exceeds it fails with
	// "memory budget exceeded" before the allocation (`len(1..1000000000)`). 1 000 000 is
	// expr's default, stated here so it is a documented promise: more than the largest array
	// an ingest body can hold.
	MemoryBudget = 1_000_000

	// EvalTimeout is the most time one evaluation may spend iterating: every step of a
	// predicate (all, any, none, one, filter, map, count, sum, find…, groupBy, sortBy, reduce),
	// nested ones included, checks it first, so a rule that is quadratic over a large array
	// (`all(data.a, # in data.a)`) stops with ErrTimeout after about this long. Without a
	// predicate a rule does work linear in its size and the event's, and needs no clock. One
	// pass over a 10 000-element array takes about 10 ms (100 ms under the race detector), so
	// the bound leaves room for a loaded machine without letting one event hold ingest for
	// seconds.
	EvalTimeout = 500 * time.Millisecond
)

// ErrTimeout is the run-time error of a rule that iterated for longer than EvalTimeout
// (returned wrapped, with the position of the predicate in the rule).
var ErrTimeout = errors.New("evaluation time budget exceeded")

// Names the budget check adds to the run-time program; user rules cannot name them (the type
// check runs against strictEnv, which lacks them).
const (
	fnBudget    = "__budget"
	deadlineVar = "__deadline"
)

// budgetFunc is the expr function every predicate step calls first: it fails the evaluation
// once the deadline has passed.
var budgetFunc = expr.Function(fnBudget, func(args ...any) (any, error) {
	if deadline, ok := args[0].(time.Time); ok && time.Now().After(deadline) {
		return nil, fmt.Errorf("%w (%v): the rule iterates too much for this event", ErrTimeout, EvalTimeout)
	}
	return true, nil
}, new(func(time.Time) bool))

// budgetCheck is the expr.Patch visitor that makes every predicate body start with
// __budget(__deadline), so iteration, the only way a rule's cost can grow faster than its
// event, is checked against the clock at every step.
type budgetCheck struct{}

func (budgetCheck) Visit(node *ast.Node) {
	p, ok := (*node).(*ast.PredicateNode)
	if !ok {
		return
	}
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: fnBudget}, Arguments: []ast.Node{&ast.IdentifierNode{Value: deadlineVar}}}
	call.SetLocation(p.Location())
	call.Callee.SetLocation(p.Location())
	call.Arguments[0].SetLocation(p.Location())
	seq := &ast.SequenceNode{Nodes: []ast.Node{call, p.Node}}
	seq.SetLocation(p.Node.Location())
	p.Node = seq
}

// nodeLimitError turns expr's node-limit error into one naming the limit.
// expr's error quotes the whole rule, which is long by definition, so it is not kept.
func nodeLimitError() error {
	return fmt.Errorf("rules: the rule has more than %d nodes (names, literals, operators), the limit: split it or simplify it", MaxNodes)
}
