package rules

import "testing"

// BenchmarkMatch measures one rule against one event, the work done at ingest for every route
// of every event.
func BenchmarkMatch(b *testing.B) {
	events := setup(b)
	benchmarks := []struct {
		name, rule, event string
	}{
		{"critical/issue.critical", `event == "issue.critical" && severity_at_least(severity, "high")`, "issue.critical"},
		{"critical/scan.completed", `event == "issue.critical" && severity_at_least(severity, "high")`, "scan.completed"},
		{"low-score/scan.completed", `score < 70`, "scan.completed"},
		{"low-score/issue.critical(nil)", `score < 70`, "issue.critical"},
		{"labels/issue.critical(nil)", `data.labels["k8s.ns"] contains "prod"`, "issue.critical"},
		{"repo-glob/scan.completed", `glob(repo, "user/*")`, "scan.completed"},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			r := mustCompile(b, bm.rule)
			ev := events[bm.event]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Match(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
