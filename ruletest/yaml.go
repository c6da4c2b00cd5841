package ruletest

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

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
			case strings.HasPrefix(typ, "map["), strings.HasPrefix(typ, "ruletest."):
				m = m[:j] + " into a mapping"
			case typ == "string":
				m = m[:j] + " into a string"
			}
		}
		out[i] = keyProblem{l, m}
	}
	return out
}
