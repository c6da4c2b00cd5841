package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/cortexbridge/cortex-bridge/event"
)

// Key is a compiled key expression: the value a route groups or throttles events by
// (routes[].group.by, routes[].throttle.key), written in the same language and environment as
// rules (`scan_id`, `repo`, `data.labels.team`, `repo + "/" + branch`). It is safe for
// concurrent use.
type Key struct {
	src     string
	program *vm.Program
	vars    []envVar
	envs    sync.Pool
}

// CompileKey compiles the key expression src once (at config load). Errors are those of
// Compile, except that the result may be of any type.
func CompileKey(src string) (*Key, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("rules: empty key")
	}
	program, err := compile(src, false)
	if err != nil {
		return nil, err
	}
	k := &Key{src: src, program: program, vars: usedVars(program.Node())}
	k.envs.New = func() any { return make(map[string]any, len(k.vars)) }
	return k, nil
}

// String returns the key's source.
func (k *Key) String() string { return k.src }

// Value evaluates the key for ev as text: a string as is, numbers in their shortest form,
// times in RFC 3339, nil (a field the event lacks) as "". Errors are run-time failures, as for
// Rule.Match.
func (k *Key) Value(ev *event.Event) (s string, err error) {
	if ev == nil {
		return "", errors.New("rules: nil event")
	}
	defer func() {
		if p := recover(); p != nil {
			s, err = "", fmt.Errorf("rules: %q panicked: %v", k.src, p)
		}
	}()
	out, err := run(k.program, k.vars, &k.envs, ev)
	if err != nil {
		return "", err
	}
	switch v := out.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano), nil
	default:
		return fmt.Sprint(v), nil
	}
}
