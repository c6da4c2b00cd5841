package rules

import (
	"fmt"
	"path"
	"strings"

	"github.com/expr-lang/expr"
)

// severities is the order severity_at_least compares by, lowest first (README.md, Rules).
var severities = [...]string{"info", "low", "medium", "high", "critical"}

// severityRank returns 1 for info … 5 for critical, case-insensitively, and 0 for anything else.
func severityRank(s string) int {
	for i, name := range severities {
		if strings.EqualFold(s, name) {
			return i + 1
		}
	}
	return 0
}

// Helper function names, as written in rules.
const (
	fnSeverityAtLeast = "severity_at_least"
	fnGlob            = "glob"
)

// helpers are the functions rules may call besides expr's builtins. The declared Go types
// (string, string) are what the checker enforces, so severity_at_least(score, "high") is a
// compile error; the implementations still accept nil (a missing field), which is false.
var helpers = []expr.Option{
	expr.Function(fnSeverityAtLeast, severityAtLeast, new(func(severity, threshold string) bool)),
	expr.Function(fnGlob, glob, new(func(s, pattern string) bool)),
}

// severityAtLeast implements severity_at_least(severity, threshold): whether severity ranks at
// least threshold on info < low < medium < high < critical (case and surrounding spaces
// ignored). A nil or empty severity is false. A severity the scale does not know ("crit",
// "urgent") counts as critical: for a security alert, a misspelt severity must not hide a
// finding, so it errs towards notifying.
func severityAtLeast(args ...any) (any, error) {
	sev, thr, ok, err := twoStrings(fnSeverityAtLeast, args)
	if !ok || err != nil {
		return false, err
	}
	sev = strings.TrimSpace(sev)
	r, t := severityRank(sev), severityRank(thr)
	if r == 0 && sev != "" {
		r = len(severities)
	}
	return r != 0 && t != 0 && r >= t, nil
}

// glob implements glob(s, pattern) with path.Match semantics ("*" stops at "/"). Nil s or
// pattern, and a malformed pattern, are false.
func glob(args ...any) (any, error) {
	s, pattern, ok, err := twoStrings(fnGlob, args)
	if !ok || err != nil {
		return false, err
	}
	matched, err := path.Match(pattern, s)
	return err == nil && matched, nil
}

// twoStrings unpacks a helper's two string arguments. ok is false when either is nil; err is set
// when one has another type (only possible for values the checker could not type, such as
// data.x).
func twoStrings(fn string, args []any) (a, b string, ok bool, err error) {
	if len(args) != 2 {
		return "", "", false, fmt.Errorf("%s: want 2 arguments, got %d", fn, len(args))
	}
	if args[0] == nil || args[1] == nil {
		return "", "", false, nil
	}
	a, okA := args[0].(string)
	b, okB := args[1].(string)
	switch {
	case !okA:
		return "", "", false, fmt.Errorf("%s: argument 1 is %T, want a string", fn, args[0])
	case !okB:
		return "", "", false, fmt.Errorf("%s: argument 2 is %T, want a string", fn, args[1])
	}
	return a, b, true, nil
}

// validPattern reports whether pattern is well-formed for path.Match, which checks the whole
// pattern even when the name does not match.
func validPattern(pattern string) bool {
	_, err := path.Match(pattern, "")
	return err == nil
}
