package rules

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// nilSafe is the expr.Patch visitor that gives rules their nil semantics (README.md, Rules): a field the event
// lacks is nil, and an ordering comparison, `in` or string operator involving nil is false
// instead of a run-time error. It runs on the program that is executed, compiled against
// runEnv (nullable fields typed unknown); the type check that rejects `score >= "7"` is done
// first, on the unpatched source against strictEnv, so the rewriting never hides a type error.
//
// Rewrites, applied bottom-up by ast.Walk:
//
//   - member and index access (data.x, m["k"], x[0]) on a map or an unknown value becomes
//     optional chaining, as if written data?.x: nil instead of "cannot fetch k from <nil>";
//   - `a < b`, `>`, `<=`, `>=` become `a != nil && b != nil && a < b` for each side that may be
//     nil; `x in coll` guards x the same way;
//   - any operator also guards the nullable operands of arithmetic and of nil-intolerant
//     builtins inside it (`score * 2 > 100`, `lower(severity) == "high"`); for `!=` the guard
//     is `a == nil || …`, so nil != "x" stays true as in expr;
//   - operands of `&&`, `||`, `!` and `?:` conditions that may be nil become `x ?? false`;
//   - the collection of all, any, filter, count, sum, … becomes `coll ?? []` when it may be nil.
//
// `==`/`!=` on a nil operand and `contains`, `startsWith`, `endsWith`, `matches` are nil-safe in
// expr v1.17.8 itself (false), so they need no rewrite beyond the guards above.
type nilSafe struct{}

// arithmetic operators fail on nil; their operands are guarded by the enclosing comparison.
var arithmetic = map[string]bool{"+": true, "-": true, "*": true, "/": true, "%": true, "**": true, "^": true}

// nilIntolerant builtins fail on a nil argument; the enclosing comparison guards their arguments.
var nilIntolerant = map[string]bool{
	"len": true, "lower": true, "upper": true, "trim": true, "trimPrefix": true, "trimSuffix": true,
	"abs": true, "ceil": true, "floor": true, "round": true, "int": true, "float": true,
}

// iterating builtins fail on a nil collection; a missing list is read as an empty one.
var iterating = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "count": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "groupBy": true,
	"sortBy": true, "reduce": true, "sum": true, "mean": true, "median": true,
}

var (
	boolType  = reflect.TypeOf(true)
	arrayType = reflect.TypeOf([]any{})
)

func (nilSafe) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if n.Method || isEnvIdent(n.Node) {
			return
		}
		if k := n.Node.Type().Kind(); k != reflect.Map && k != reflect.Interface {
			return // struct fields and methods (timestamp.Year()) cannot meet nil
		}
		n.Optional = true
		chain := &ast.ChainNode{Node: n}
		chain.SetNature(*n.Nature())
		ast.Patch(node, chain)

	case *ast.BinaryNode:
		switch n.Operator {
		case "<", ">", "<=", ">=":
			guard(node, n, append(nilLeaves(n.Left, true, nil), nilLeaves(n.Right, true, nil)...), false)
		case "in":
			// runtime.In(x, nil) is already false; a nil needle is not (nil in {"": …} is true).
			guard(node, n, append(nilLeaves(n.Left, true, nil), nilLeaves(n.Right, false, nil)...), false)
		case "==", "contains", "startsWith", "endsWith", "matches":
			guard(node, n, append(nilLeaves(n.Left, false, nil), nilLeaves(n.Right, false, nil)...), false)
		case "!=":
			guard(node, n, append(nilLeaves(n.Left, false, nil), nilLeaves(n.Right, false, nil)...), true)
		case "&&", "||", "and", "or":
			n.Left = orFalse(n.Left)
			n.Right = orFalse(n.Right)
		}

	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			n.Node = orFalse(n.Node)
		}

	case *ast.ConditionalNode:
		n.Cond = orFalse(n.Cond)

	case *ast.BuiltinNode:
		if iterating[n.Name] && len(n.Arguments) > 0 && mayBeNil(n.Arguments[0]) {
			n.Arguments[0] = orEmpty(n.Arguments[0])
		}
	}
}

// guard replaces *node (the comparison n) by `l1 != nil && … && n`, or with negate by
// `l1 == nil || … || n`, for the nullable leaves ls. Leaves are evaluated twice; they are pure.
func guard(node *ast.Node, n *ast.BinaryNode, ls []ast.Node, negate bool) {
	if len(ls) == 0 {
		return
	}
	cmpOp, joinOp := "!=", "&&"
	if negate {
		cmpOp, joinOp = "==", "||"
	}
	var cond ast.Node
	for _, l := range ls {
		c := boolNode(&ast.BinaryNode{Operator: cmpOp, Left: l, Right: &ast.NilNode{}}, n)
		if cond == nil {
			cond = c
		} else {
			cond = boolNode(&ast.BinaryNode{Operator: joinOp, Left: cond, Right: c}, n)
		}
	}
	ast.Patch(node, boolNode(&ast.BinaryNode{Operator: joinOp, Left: cond, Right: n}, n))
}

// nilLeaves appends to out the operands within n that may be nil and would make n fail:
// n itself when self is true, and the nullable operands of arithmetic and nil-intolerant
// builtins n is built from, however deep.
func nilLeaves(n ast.Node, self bool, out []ast.Node) []ast.Node {
	switch x := n.(type) {
	case *ast.BinaryNode:
		if arithmetic[x.Operator] {
			return nilLeaves(x.Right, true, nilLeaves(x.Left, true, out))
		}
	case *ast.UnaryNode:
		if x.Operator == "-" || x.Operator == "+" {
			return nilLeaves(x.Node, true, out)
		}
	case *ast.BuiltinNode:
		if nilIntolerant[x.Name] {
			for _, a := range x.Arguments {
				out = nilLeaves(a, true, out)
			}
			return out
		}
	}
	if self && mayBeNil(n) {
		out = append(out, n)
	}
	return out
}

// mayBeNil reports whether n can evaluate to nil: literals cannot; `a ?? b` can when b can;
// anything the checker typed as unknown, an interface or a pointer can (runEnv types the
// nullable fields unknown; data.x is unknown).
func mayBeNil(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.NilNode:
		return true
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode, *ast.BytesNode,
		*ast.ArrayNode, *ast.MapNode:
		return false
	case *ast.ConstantNode:
		return x.Value == nil
	case *ast.BinaryNode:
		if x.Operator == "??" {
			return mayBeNil(x.Right)
		}
	}
	if n.Nature().Nil {
		return true
	}
	switch n.Type().Kind() { // Type is interface{} when the nature is unknown
	case reflect.Interface, reflect.Pointer:
		return true
	}
	return false
}

// orFalse returns `n ?? false` when n may be nil, else n.
func orFalse(n ast.Node) ast.Node {
	if !mayBeNil(n) {
		return n
	}
	return boolNode(&ast.BinaryNode{Operator: "??", Left: n, Right: &ast.BoolNode{Value: false}}, n)
}

// orEmpty returns `n ?? []`.
func orEmpty(n ast.Node) ast.Node {
	empty := &ast.ArrayNode{}
	empty.SetType(arrayType)
	or := &ast.BinaryNode{Operator: "??", Left: n, Right: empty}
	or.SetLocation(n.Location())
	return or
}

// boolNode types n as bool (so later visits know it is never nil) and gives it at's location
// (so run-time errors point into the rule).
func boolNode(n ast.Node, at ast.Node) ast.Node {
	n.SetType(boolType)
	n.SetLocation(at.Location())
	return n
}

func isEnvIdent(n ast.Node) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == "$env"
}
