package templates_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// TestBuiltinFindingGolden renders the derived finding events (finding.*) with each chat and
// email target's built-in "finding" template; go test ./templates -update rewrites the golden
// files.
func TestBuiltinFindingGolden(t *testing.T) {
	t.Parallel()
	require.ElementsMatch(t, core.FindingEventTypes, samples.FindingTypes(), "every finding event type has a sample")
	goldenEach(t, samples.FindingTypes())
}

// TestFindingTemplatesEscape: a finding's text comes from Cortex events (attacker-influenced):
// it cannot add markup, mentions or JSON structure in any target's message, and each names
// what happened and where.
func TestFindingTemplatesEscape(t *testing.T) {
	t.Parallel()
	hostile := map[string]any{
		"repo_url": "https://evil.example/p|github.com/acme/payments", "branch": "main <!channel>", "scan_id": "s2", "previous_scan_id": "<@U123> s1",
		"fingerprint": "*bold* @everyone", "title": "<script>x</script> <!here> @everyone [a](https://evil.example)",
		"file": "a`b|c>.js", "line": int64(3), "severity": "critical", "first_seen": "2024-01-01T00:00:00Z", "last_seen": "2024-01-02T00:00:00Z",
	}
	body, err := json.Marshal(map[string]any{"event": "finding.regressed", "id": "finding.regressed:x", "timestamp": "2024-01-02T00:00:00Z", "data": hostile})
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	for _, tgt := range builtinTargets {
		t.Run(tgt.Type, func(t *testing.T) {
			t.Parallel()
			msg := render(t, tgt, ev)
			out := string(msg.Body) + msg.Subject + msg.HTML
			require.Contains(t, out, "Regressed")
			switch tgt.Type {
			case "slack":
				require.True(t, json.Valid(msg.Body))
				require.NotContains(t, out, "<!channel>")
				require.NotContains(t, out, "<!here>")
				require.NotContains(t, out, "<@U123>")
				require.NotContains(t, out, "|github.com/acme/payments>", "a link's label shows its real host")
			case "discord":
				require.True(t, json.Valid(msg.Body))
				require.Contains(t, out, `"allowed_mentions":{"parse":[]}`)
			case "email":
				require.NotContains(t, msg.HTML, "<script>")
				require.False(t, strings.ContainsAny(msg.Subject, "\r\n"))
			}
		})
	}
}

// TestWebhookPresetsRenderFindings: every webhook preset's template renders each finding
// event as valid JSON naming the finding.
func TestWebhookPresetsRenderFindings(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(filepath.Join("builtin", "webhook"))
	require.NoError(t, err)
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".tmpl")
		if name == "compliance-digest" {
			continue
		}
		for _, typ := range samples.FindingTypes() {
			t.Run(name+"/"+typ, func(t *testing.T) {
				t.Parallel()
				body, err := samples.Get(typ)
				require.NoError(t, err)
				ev, err := event.Parse(body)
				require.NoError(t, err)
				tgt := &core.Target{Name: "hook", Type: "webhook", Template: name, Format: notify.FormatJSON}
				msg := render(t, tgt, ev)
				require.True(t, json.Valid(msg.Body), "%s", msg.Body)
				require.Contains(t, string(msg.Body), "SQL Injection vulnerability")
			})
		}
	}
}

// TestDigestShowsFindings: the compliance digest counts the period's finding events per
// repository and branch and lists the open findings' age from the run (core.FillDigest), in
// every target type's built-in (Slack, Discord, email, webhook); go test ./templates -update
// rewrites the golden files (testdata/digest/*-findings.golden).
func TestDigestShowsFindings(t *testing.T) {
	t.Parallel()
	from, to := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)
	var evs []*event.Event
	for _, x := range []struct{ typ, repo, branch string }{
		{"finding.new", "https://github.com/acme/payments", "main"},
		{"finding.new", "https://github.com/acme/payments", "main"},
		{"finding.fixed", "https://github.com/acme/payments", "main"},
		{"finding.regressed", "https://github.com/acme/web", "dev"},
	} {
		body, err := samples.Get(x.typ)
		require.NoError(t, err)
		var env map[string]any
		require.NoError(t, json.Unmarshal(body, &env))
		env["id"] = fmt.Sprintf("%s-%d", x.typ, len(evs))
		data := env["data"].(map[string]any)
		data["repo_url"], data["branch"] = x.repo, x.branch
		body, err = json.Marshal(env)
		require.NoError(t, err)
		ev, err := event.Parse(body)
		require.NoError(t, err)
		evs = append(evs, ev)
	}
	run := core.DigestRun{Digest: "weekly", Template: "compliance-digest", From: from, To: to, OpenFindings: []notify.OpenFindings{
		{RepoURL: "https://github.com/acme/payments", Branch: "main", Open: 3, Oldest: to.Add(-45 * 24 * time.Hour)},
	}}
	dg := notify.NewDigest("weekly", from, to, evs, 70)
	require.Equal(t, []notify.RepoFindings{
		{RepoURL: "https://github.com/acme/payments", Repo: "acme/payments", Branch: "main", New: 2, Fixed: 1},
		{RepoURL: "https://github.com/acme/web", Repo: "acme/web", Branch: "dev", Regressed: 1},
	}, dg.Findings)
	e, err := templates.New("")
	require.NoError(t, err)
	r := &core.Renderer{Engine: e}
	targets := append(append([]*core.Target{}, builtinTargets...), &core.Target{Name: "siem", Type: "webhook", Format: notify.FormatJSON})
	for _, tgt := range targets {
		t.Run(tgt.Type, func(t *testing.T) {
			t.Parallel()
			digestEv, err := core.NewDigestEvent("digest_weekly", run, to)
			require.NoError(t, err)
			msg := core.SampleMessage(digestEv, tgt, nil)
			core.FillDigest(msg, run, evs, 70)
			require.Equal(t, 45, msg.Digest.OpenFindings[0].AgeDays)
			require.NoError(t, r.Render(msg, tgt, nil))
			var got bytes.Buffer
			if tgt.Format == notify.FormatJSON {
				require.NoError(t, json.Indent(&got, msg.Body, "", "  "))
			} else {
				got.WriteString("Subject: " + msg.Subject + "\n\n" + string(msg.Body) + "\n\n--- html ---\n" + msg.HTML)
			}
			golden := filepath.Join("testdata", "digest", tgt.Type+"-findings.golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./templates -update to create it")
			require.Equal(t, string(want), got.String())

			out := string(msg.Body) + msg.HTML
			for _, want := range []string{"acme/payments", "acme/web"} {
				require.Contains(t, out, want)
			}
			switch tgt.Type {
			case "email":
				require.Contains(t, string(msg.Body), "acme/payments (main)                        2    1    0")
				require.Contains(t, string(msg.Body), "acme/web (dev)                              0    0    1")
				require.Contains(t, out, "45 days")
			case "webhook":
				var body struct {
					Findings []struct {
						Repo, Branch          string
						New, Fixed, Regressed int
					}
					OpenFindings []struct {
						RepoURL string `json:"repo_url"`
						Open    int
						AgeDays int `json:"age_days"`
					} `json:"open_findings"`
				}
				require.NoError(t, json.Unmarshal(msg.Body, &body))
				require.Len(t, body.Findings, 2)
				require.Equal(t, "acme/payments", body.Findings[0].Repo)
				require.Equal(t, [3]int{2, 1, 0}, [3]int{body.Findings[0].New, body.Findings[0].Fixed, body.Findings[0].Regressed})
				require.Equal(t, [3]int{0, 0, 1}, [3]int{body.Findings[1].New, body.Findings[1].Fixed, body.Findings[1].Regressed})
				require.Len(t, body.OpenFindings, 1)
				require.Equal(t, 3, body.OpenFindings[0].Open)
				require.Equal(t, 45, body.OpenFindings[0].AgeDays)
			default: // slack, discord
				require.Contains(t, out, "2 new, 1 fixed, 0 regressed")
				require.Contains(t, out, "3 open, the oldest for 45 days")
			}
		})
	}
}
