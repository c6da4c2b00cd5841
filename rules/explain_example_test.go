package rules_test

import (
	"fmt"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/rules"
)

func ExampleRule_Explain() {
	ev, err := event.Parse([]byte(`{"event":"scan.completed","id":"evt_1","timestamp":"2024-01-01T12:00:00Z",
		"data":{"scan_id":"scan_1","repo_url":"https://github.com/acme/api","score":85}}`))
	if err != nil {
		panic(err)
	}
	r, err := rules.Compile(`event == "scan.completed" && (score < 70 || repo == "acme/payments")`)
	if err != nil {
		panic(err)
	}
	e := r.Explain(ev)
	fmt.Println("matched:", e.Matched)
	fmt.Print(e.Text(""))
	// Output:
	// matched: false
	// event == "scan.completed" && (score < 70 || repo == "acme/payments")
	// ├─ event == "scan.completed" → true
	// └─ score < 70 || repo == "acme/payments" → false   ← decided
	//    ├─ score < 70 → false
	//    └─ repo == "acme/payments" → false   ← decided
}
