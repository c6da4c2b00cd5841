package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkFitBody: the cost of fitting a preset's body, for a typical alert (nothing to cut:
// one decode, no encode) and for the largest event ingest takes (a 700 KB description sent to
// PagerDuty, cut to 512 000 bytes by a binary search over the common length).
func BenchmarkFitBody(b *testing.B) {
	details := map[string]any{"scan_id": "scan_abc123", "issue_id": "issue_xyz789", "severity": "critical", "title": "SQL Injection Vulnerability",
		"file": "src/db/query.go", "line": 42, "repo_url": "https://github.com/acme/payments"}
	typical, err := json.Marshal(map[string]any{"event_action": "trigger", "dedup_key": "cortex/issue/issue_xyz789",
		"payload": map[string]any{"summary": "CRITICAL: SQL Injection Vulnerability", "source": "acme/payments", "severity": "critical", "custom_details": details}})
	if err != nil {
		b.Fatal(err)
	}
	huge := map[string]any{"description": strings.Repeat("é", 350_000)}
	for i := range 20 {
		huge[fmt.Sprintf("field_%02d", i)] = strings.Repeat("ж", 600)
	}
	large, err := json.Marshal(map[string]any{"event_action": "trigger", "dedup_key": "cortex/issue/i",
		"payload": map[string]any{"summary": "s", "source": "x", "severity": "critical", "custom_details": huge}})
	if err != nil {
		b.Fatal(err)
	}
	for name, body := range map[string][]byte{"typical": typical, "700KB": large} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, err := fitBody(PresetPagerDuty, fitPagerDuty, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
