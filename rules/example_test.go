package rules_test

import (
	"fmt"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/rules"
)

func ExampleCompile() {
	r, err := rules.Compile(`event == "issue.critical" && severity_at_least(severity, "high")`)
	fmt.Println(r, err)

	_, err = rules.Compile(`score >= "7"`)
	fmt.Println(err)
	// Output:
	// event == "issue.critical" && severity_at_least(severity, "high") <nil>
	// rules: invalid operation: >= (mismatched types float64 and string) (1:7)
	//  | score >= "7"
	//  | ......^
}

func ExampleRule_Match() {
	ev, err := event.Parse([]byte(`{"event":"issue.critical","id":"evt_1","timestamp":"2024-01-01T12:05:00Z",
		"data":{"scan_id":"scan_1","issue_id":"issue_1","severity":"critical","title":"SQL Injection","file":"api/user.js","line":42}}`))
	if err != nil {
		panic(err)
	}
	for _, src := range []string{
		`event == "issue.critical" && severity_at_least(severity, "high")`,
		`score < 70`,        // the event has no score: false, not an error
		`(score ?? 0) < 70`, // unless the rule gives a default
		`data.labels["k8s.ns"] contains "prod"`,
		`file startsWith "api/" && line >= 40`,
	} {
		r, err := rules.Compile(src)
		if err != nil {
			panic(err)
		}
		matched, err := r.Match(ev)
		fmt.Println(matched, err, "\t", r)
	}
	// Output:
	// true <nil> 	 event == "issue.critical" && severity_at_least(severity, "high")
	// false <nil> 	 score < 70
	// true <nil> 	 (score ?? 0) < 70
	// false <nil> 	 data.labels["k8s.ns"] contains "prod"
	// true <nil> 	 file startsWith "api/" && line >= 40
}
