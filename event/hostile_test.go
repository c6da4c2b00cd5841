package event_test

import (
	"bytes"
	"fmt"
	"strings"
)

// hostileBodies are event bodies of at most limit bytes built to be expensive to parse: deep
// nesting, many keys, long arrays and strings, many numbers out of range. Each is complete JSON
// with a valid envelope, so only the parser's bounds stand between it and the rest of the bridge.
func hostileBodies(limit int) map[string][]byte {
	env := func(data string) []byte {
		return []byte(`{"event":"scan.completed","id":"evt_hostile","timestamp":"2024-01-01T12:00:00Z","data":` + data + `}`)
	}
	fill := func(unit string, overhead int) int { return (limit - overhead - 120) / len(unit) }
	deep := func(open, close string) []byte {
		n := fill(open+close, 0)
		return env(`{"scan_id":"s","x":` + strings.Repeat(open, n) + strings.Repeat(close, n) + `}`)
	}
	var keys bytes.Buffer
	keys.WriteString(`{"scan_id":"s"`)
	for i := 0; keys.Len() < limit-140; i++ {
		fmt.Fprintf(&keys, `,"%x":0`, i)
	}
	keys.WriteString(`}`)
	extra := func(v string) []byte {
		return []byte(`{"event":"scan.completed","id":"evt_hostile","timestamp":"2024-01-01T12:00:00Z","data":{"scan_id":"s"},"extra":` + v + `}`)
	}
	var keysOut bytes.Buffer
	keysOut.WriteString(`{"k":0`)
	for i := 0; keysOut.Len() < limit-140; i++ {
		fmt.Fprintf(&keysOut, `,"%x":0`, i)
	}
	keysOut.WriteString(`}`)
	return map[string][]byte{
		"many keys outside data": extra(keysOut.String()),
		"objects outside data":   extra(`[` + strings.Repeat(`{},`, fill(`{},`, 0)) + `{}]`),
		"deep objects":           deep(`{"aaaaaaaaaaaaaa":`, `}`),
		"deep arrays":            deep(`[`, `]`),
		"many keys":              env(keys.String()),
		"long array":             env(`{"scan_id":"s","l":[` + strings.Repeat(`0,`, fill(`0,`, 0)) + `0]}`),
		"array of objects":       env(`{"scan_id":"s","l":[` + strings.Repeat(`{},`, fill(`{},`, 0)) + `{}]}`),
		"long string":            env(`{"scan_id":"` + strings.Repeat(`\u00e9`, fill(`\u00e9`, 0)) + `"}`),
		"numbers over range":     env(`{"scan_id":"s","l":[` + strings.Repeat(`1e999,`, fill(`1e999,`, 0)) + `1]}`),
	}
}
