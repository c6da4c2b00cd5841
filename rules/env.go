package rules

import (
	"strings"
	"time"

	"github.com/expr-lang/expr/types"

	"github.com/cortexbridge/cortex-bridge/event"
)

// source says where an environment variable's value comes from.
type source uint8

const (
	srcType          source = iota // ev.Type
	srcID                          // ev.ID
	srcTimestamp                   // ev.Timestamp
	srcData                        // ev.Data, the whole map
	srcDelivery                    // ev.Delivery
	srcRepo                        // event.Repo(data.repo_url)
	srcString                      // a KindString data field
	srcNumber                      // a KindNumber data field, as float64
	srcInt                         // a KindInt data field, as int64
	srcDeadline                    // now + EvalTimeout (budget.go), for programs with predicates
	srcFindingStatus               // ev.FindingStatus: issue.critical at ingest (docs/events.md, Findings)
	srcFingerprint                 // ev.Fingerprint, else a finding.* event's data.fingerprint
)

// envVar is one top-level name of the rule environment (README.md, Rules).
type envVar struct {
	name     string
	src      source
	nullable bool // absent when the event lacks it, so nil at run time
}

var (
	// envVars lists the environment in a stable order: envelope first, then repo and the
	// shortcut fields of event.ShortcutFields.
	envVars = buildEnvVars()
	// envIndex maps a name to its position in envVars.
	envIndex = func() map[string]int {
		m := make(map[string]int, len(envVars))
		for i, v := range envVars {
			m[v.name] = i
		}
		return m
	}()
	// strictEnv types every variable as the Go type it has when present. Rules are checked
	// against it, so `score >= "7"` is a compile error.
	strictEnv = envTypes(false)
	// runEnv types the nullable variables as unknown, which is what they are at run time
	// (the value or nil). The nil-safe program is compiled against it, so expr never uses a
	// string- or int-specialised opcode on a value that may be nil.
	runEnv = func() types.Map {
		m := envTypes(true)
		m[deadlineVar] = types.TypeOf(time.Time{})
		return m
	}()
)

func buildEnvVars() []envVar {
	vars := []envVar{
		{name: "event", src: srcType},
		{name: "id", src: srcID},
		{name: "timestamp", src: srcTimestamp},
		{name: "data", src: srcData},
		{name: "delivery", src: srcDelivery},
		{name: "repo", src: srcRepo, nullable: true},
		{name: "finding_status", src: srcFindingStatus, nullable: true},
		{name: "fingerprint", src: srcFingerprint, nullable: true},
	}
	for _, f := range event.ShortcutFields() {
		v := envVar{name: f.Name, src: srcString, nullable: true}
		switch f.Kind {
		case event.KindNumber:
			v.src = srcNumber
		case event.KindInt:
			v.src = srcInt
		}
		vars = append(vars, v)
	}
	return vars
}

func envTypes(nullableAsAny bool) types.Map {
	m := make(types.Map, len(envVars))
	for _, v := range envVars {
		var t types.Type
		switch v.src {
		case srcTimestamp:
			t = types.TypeOf(time.Time{})
		case srcData:
			t = types.TypeOf(map[string]any{})
		case srcNumber:
			t = types.Float64
		case srcInt:
			t = types.Int64
		default:
			t = types.String
		}
		if nullableAsAny && v.nullable {
			t = types.Any
		}
		m[v.name] = t
	}
	return m
}

// value returns v's value for ev, and false when ev lacks it. A data field whose value does not
// have the field's kind (possible for event types core does not validate) counts as absent, so
// the types the rule was checked against hold at run time.
func (v envVar) value(ev *event.Event) (any, bool) {
	switch v.src {
	case srcType:
		return ev.Type, true
	case srcID:
		return ev.ID, true
	case srcTimestamp:
		return ev.Timestamp, true
	case srcData:
		return ev.Data, true // a nil map reads like an empty one
	case srcDelivery:
		return ev.Delivery, true
	case srcFindingStatus:
		if ev.FindingStatus != "" {
			return ev.FindingStatus, true
		}
	case srcFingerprint:
		if ev.Fingerprint != "" {
			return ev.Fingerprint, true
		}
		// A derived finding event loaded from storage (a dry run, a replay) carries its own.
		if strings.HasPrefix(ev.Type, event.FindingPrefix) {
			x := ev.Data["fingerprint"]
			if s, ok := x.(string); ok && s != "" {
				return x, true
			}
		}
	case srcDeadline:
		return time.Now().Add(EvalTimeout), true
	case srcRepo:
		u, _ := ev.Data["repo_url"].(string)
		if r := event.Repo(u); r != "" {
			return r, true
		}
	case srcString:
		// Return the stored interface value itself where it already has the right type:
		// boxing a fresh copy would allocate.
		x := ev.Data[v.name]
		_, ok := x.(string)
		return x, ok
	case srcNumber:
		switch x := ev.Data[v.name]; y := x.(type) {
		case float64:
			return x, true
		case int64:
			return float64(y), true
		case int:
			return float64(y), true
		}
	case srcInt:
		switch x := ev.Data[v.name]; y := x.(type) {
		case int64:
			return x, true
		case int:
			return int64(y), true
		case float64:
			if i := int64(y); float64(i) == y {
				return i, true
			}
		}
	}
	return nil, false
}
