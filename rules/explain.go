package rules

import (
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// Explanation says how a rule decided for one event: the result Match gives, and the value of
// each operand of its &&, || and not combinations in evaluation order.
type Explanation struct {
	Rule    string // the rule's source, as given to Compile
	Matched bool   // what Match returns for the event
	Err     error  // Match's run-time error (the rule then counts as not matched)
	Root    *Step  // the rule's boolean structure; a single leaf when it has none
}

// Step is one node of a rule's boolean structure: a combination (`a && b && c`, `a || b`,
// `not a`) with its operands, or a leaf, any other subexpression (`score < 70`,
// `severity_at_least(severity, "high")`), evaluated on its own with Match's nil semantics.
type Step struct {
	Expr      string  // the subexpression, as expr prints it (the root: the rule as written)
	Op        string  // "&&", "||" or "!" for a combination; "" for a leaf
	Evaluated bool    // false when an earlier operand decided the combination (short-circuit)
	Value     bool    // the result when Evaluated and Err is nil; nil reads as false, as in Match
	Err       error   // a run-time error in this step (evaluation stopped there)
	Decided   bool    // this operand's value is its combination's value
	Operands  []*Step // a combination's operands; a chain a && b && c has three
}

// Explain evaluates the rule for ev as Match does and returns, beside Match's result, the value
// of every operand of its &&/||/not combinations in evaluation order, marking the operand that
// decided each one: for &&, the first false operand (or the last one); for ||, the first true one
// (or the last one); operands after it are not evaluated. Nested combinations are explained
// recursively. Any other node is a leaf, compiled on its own with Compile, so it has the same
// nil-safe semantics as in the whole rule. Closures, predicates, `?:` and `let` are not looked
// into; a combination whose operands cannot be compiled on their own (they use a `let`
// variable) is shown as one leaf. The tree always agrees with Match: if it did not, Root would be
// the whole rule as one leaf. Explain is meant for dry runs; it compiles the operands on the
// first call.
func (r *Rule) Explain(ev *event.Event) *Explanation {
	e := &Explanation{Rule: r.src}
	e.Matched, e.Err = r.Match(ev)
	whole := &Step{Expr: strings.TrimSpace(r.src), Evaluated: true, Value: e.Matched, Err: e.Err}
	if ev == nil {
		e.Root = whole
		return e
	}
	r.explainOnce.Do(func() { r.explainPlan = r.plan() })
	root := r.explainPlan.eval(ev)
	switch {
	case root.Err != nil && e.Err == nil, root.Err == nil && e.Err != nil,
		root.Err == nil && root.Value != e.Matched:
		// expr's optimiser may fold an operand away (`… || true` is true), so Match never runs
		// an operand that fails on its own: show the whole rule rather than a wrong tree.
		root = whole
	}
	e.Root = root
	return e
}

// node is one node of a rule's explain plan: a combination of operands or a compiled leaf.
type node struct {
	expr     string
	op       string // "&&", "||", "!" or "" for a leaf
	operands []*node
	leaf     *Rule
}

// explainState is the part of Rule that Explain fills in lazily.
type explainState struct {
	explainOnce sync.Once
	explainPlan *node
}

// plan parses the rule again (unpatched, unchecked: Compile's program is the nil-safe rewrite)
// and builds its explain plan.
func (r *Rule) plan() *node {
	whole := &node{expr: strings.TrimSpace(r.src), leaf: r}
	tree, err := parser.Parse(r.src)
	if err != nil {
		return whole
	}
	p := build(tree.Node)
	if p == nil || p.op == "" {
		return whole // a leaf: the rule itself
	}
	p.expr = whole.expr
	return p
}

// build returns the plan for n, or nil when n (a leaf) does not compile on its own.
func build(n ast.Node) *node {
	if op := combination(n); op != "" {
		p := &node{expr: n.String(), op: op}
		var kids []ast.Node
		if op == "!" {
			kids = []ast.Node{n.(*ast.UnaryNode).Node}
		} else {
			kids = flatten(n, op, nil)
		}
		for _, k := range kids {
			c := build(k)
			if c == nil {
				return leaf(n)
			}
			p.operands = append(p.operands, c)
		}
		return p
	}
	return leaf(n)
}

// leaf compiles n on its own; nil when it does not compile (a `let` variable, a closure's #).
func leaf(n ast.Node) *node {
	src := leafString(n)
	r, err := Compile(src)
	if err != nil {
		return nil
	}
	return &node{expr: src, leaf: r}
}

// leafString prints n as expr does, except that a negated operator reads as written,
// `event not in ["a"]`, rather than as expr prints it, `not (event in ["a"])`.
func leafString(n ast.Node) string {
	u, ok := n.(*ast.UnaryNode)
	if !ok || (u.Operator != "!" && u.Operator != "not") || combination(n) != "" {
		return n.String()
	}
	b := u.Node.(*ast.BinaryNode) // combination says so
	full, lhs := b.String(), b.Left.String()
	if !strings.HasPrefix(full, lhs+" "+b.Operator+" ") {
		lhs = "(" + lhs + ")"
	}
	if !strings.HasPrefix(full, lhs+" "+b.Operator+" ") {
		return n.String()
	}
	return lhs + " not " + full[len(lhs)+1:]
}

// combination returns "&&", "||" or "!" when n is such a combination, else "". `a not in b`
// (and `not matches`, …) is a negated operator, not a `not` the user wrote: the parser gives it
// the location of the `not` token, which follows the left operand.
func combination(n ast.Node) string {
	switch x := n.(type) {
	case *ast.BinaryNode:
		switch x.Operator {
		case "&&", "and":
			return "&&"
		case "||", "or":
			return "||"
		}
	case *ast.UnaryNode:
		if x.Operator != "!" && x.Operator != "not" {
			return ""
		}
		if b, ok := x.Node.(*ast.BinaryNode); ok && b.Left != nil && x.Location().From > b.Left.Location().From {
			return ""
		}
		return "!"
	}
	return ""
}

// flatten appends the operands of the chain of op combinations rooted at n to out: `a && b && c`
// gives a, b, c (the parser nests it as (a && b) && c; && and || are associative, short-circuit
// included).
func flatten(n ast.Node, op string, out []ast.Node) []ast.Node {
	if combination(n) != op || op == "!" {
		return append(out, n)
	}
	b := n.(*ast.BinaryNode)
	return flatten(b.Right, op, flatten(b.Left, op, out))
}

// eval evaluates the plan for ev the way expr does: left to right, stopping at the operand that
// decides an && or ||, and at the first error.
func (p *node) eval(ev *event.Event) *Step {
	s := &Step{Expr: p.expr, Op: p.op, Evaluated: true}
	if p.op == "" {
		s.Value, s.Err = p.leaf.Match(ev)
		return s
	}
	decided := false
	for i, o := range p.operands {
		if decided || s.Err != nil {
			s.Operands = append(s.Operands, &Step{Expr: o.expr, Op: o.op})
			continue
		}
		c := o.eval(ev)
		s.Operands = append(s.Operands, c)
		switch {
		case c.Err != nil:
			s.Err = c.Err
		case p.op == "!":
			c.Decided, s.Value, decided = true, !c.Value, true
		case (p.op == "&&" && !c.Value) || (p.op == "||" && c.Value) || i == len(p.operands)-1:
			c.Decided, s.Value, decided = true, c.Value, true
		}
	}
	return s
}

// Text renders the explanation as a tree, one line per step, each line prefixed by indent:
//
//	event == "scan.completed" && score < 70
//	├─ event == "scan.completed" → true
//	└─ score < 70 → false   ← decided
//
// The first line is the rule as written. A rule without && / || / not is that line alone, with
// its result; an operand an earlier one decided shows "not evaluated"; an error shows its first
// line.
func (e *Explanation) Text(indent string) string {
	var b strings.Builder
	b.WriteString(indent)
	b.WriteString(e.Root.Expr)
	if len(e.Root.Operands) == 0 {
		b.WriteString(" → ")
		b.WriteString(e.Root.result())
	}
	b.WriteByte('\n')
	e.Root.writeOperands(&b, indent)
	return b.String()
}

func (s *Step) writeOperands(b *strings.Builder, prefix string) {
	for i, o := range s.Operands {
		branch, more := "├─ ", "│  "
		if i == len(s.Operands)-1 {
			branch, more = "└─ ", "   "
		}
		b.WriteString(prefix)
		b.WriteString(branch)
		b.WriteString(o.Expr)
		b.WriteString(" → ")
		b.WriteString(o.result())
		if o.Decided && len(s.Operands) > 1 {
			b.WriteString("   ← decided")
		}
		b.WriteByte('\n')
		if o.Evaluated {
			o.writeOperands(b, prefix+more)
		}
	}
}

// result is the step's value as shown: true, false, not evaluated or the error's first line.
func (s *Step) result() string {
	switch {
	case !s.Evaluated:
		return "not evaluated"
	case s.Err != nil:
		return "error: " + firstLine(s.Err)
	case s.Value:
		return "true"
	}
	return "false"
}

func firstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// RouteVerdict is what routing did with one route for an event, with the explanation of its
// rule.
type RouteVerdict struct {
	Route       *core.Route
	Explanation *Explanation // nil when the route was not evaluated (StoppedBy)
	Matched     bool
	StoppedBy   string // an earlier matching route with stop: true; this one was not evaluated
}

// ExplainRoutes evaluates every route of router for ev the way core.Router.Match does (in
// order, a rule that fails at run time does not match, a matching route with stop ends the
// evaluation), with the explanation of each rule evaluated. Nothing is counted or logged.
func ExplainRoutes(router *core.Router, ev *event.Event) []RouteVerdict {
	out := make([]RouteVerdict, 0, len(router.Routes))
	stoppedBy := ""
	for _, r := range router.Routes {
		v := RouteVerdict{Route: r, StoppedBy: stoppedBy}
		if stoppedBy == "" {
			v.Explanation = ExplainMatcher(r.When, ev)
			v.Matched = v.Explanation.Matched
			if v.Matched && r.Stop {
				stoppedBy = r.Name
			}
		}
		out = append(out, v)
	}
	return out
}

// ExplainMatcher explains m for ev: a *Rule with its operands, any other Matcher as one value.
func ExplainMatcher(m core.Matcher, ev *event.Event) *Explanation {
	if r, ok := m.(*Rule); ok {
		return r.Explain(ev)
	}
	matched, err := m.Match(ev)
	return &Explanation{Rule: fmt.Sprint(m), Matched: matched, Err: err,
		Root: &Step{Expr: fmt.Sprint(m), Evaluated: true, Value: matched, Err: err}}
}
