package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbridge/cortex-bridge/ruletest"
	"github.com/stretchr/testify/require"
)

// TestTestRulesShippedConfig: the shipped rules_test.yaml passes on the shipped config.yaml,
// offline (its Slack, Discord, email and SIEM targets are disabled).
func TestTestRulesShippedConfig(t *testing.T) {
	t.Parallel()
	out, stderr, err := run(t, "test-rules", "../../rules_test.yaml")
	require.NoError(t, err, "%s\n%s", out, stderr)
	require.Contains(t, out, "../../rules_test.yaml (config ../../config.yaml)\n")
	require.Contains(t, out, "ok    critical finding pages security, dev, compliance and the SIEM\n")
	require.Contains(t, out, "ok    unknown severity counts as critical, so a misspelt one still pages\n")
	require.Contains(t, out, "ok    a completed scan without a score is not a low score\n")
	require.NotContains(t, out, "FAIL")
	require.Regexp(t, `PASS: \d+ cases\n$`, out)
}

// TestTestRulesShippedCasesCoverTheConfig: every route and digest of the shipped config is
// expected to match by some case and expected not to match by another, and every sample event
// is used.
func TestTestRulesShippedCasesCoverTheConfig(t *testing.T) {
	t.Parallel()
	suite, err := ruletest.Load("../../rules_test.yaml")
	require.NoError(t, err)
	rt, err := loadRuntime(suite.ConfigPath(""))
	require.NoError(t, err)
	matched, unmatched, samplesUsed := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range suite.Cases {
		samplesUsed[c.Event.Sample] = true
		if c.Expect.Routes != nil {
			for _, r := range rt.Router.Routes {
				if contains(*c.Expect.Routes, r.Name) {
					matched[r.Name] = true
				} else {
					unmatched[r.Name] = true
				}
			}
		}
		if c.Expect.Digests != nil {
			for _, d := range rt.Router.Digests {
				if contains(*c.Expect.Digests, d.Name) {
					matched["digest "+d.Name] = true
				} else {
					unmatched["digest "+d.Name] = true
				}
			}
		}
	}
	for _, r := range rt.Router.Routes {
		require.True(t, matched[r.Name], "no case expects route %s to match", r.Name)
		if r.When.(interface{ String() string }).String() != "true" {
			require.True(t, unmatched[r.Name], "no case expects route %s not to match", r.Name)
		}
	}
	for _, d := range rt.Router.Digests {
		require.True(t, matched["digest "+d.Name], "no case expects digest %s", d.Name)
		require.True(t, unmatched["digest "+d.Name], "no case expects digest %s not to collect", d.Name)
	}
	for _, typ := range []string{"scan.started", "scan.progress", "scan.completed", "scan.failed", "scan.timeout", "issue.critical"} {
		require.True(t, samplesUsed[typ], "no case uses sample %s", typ)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestTestRulesFailsWhenARuleChanges: a copy of config.yaml with two rules changed fails the
// shipped tests, with a diff per failing case and the explanation of the changed rule.
func TestTestRulesFailsWhenARuleChanges(t *testing.T) {
	t.Parallel()
	cfg, err := os.ReadFile("../../config.yaml")
	require.NoError(t, err)
	changed := strings.Replace(string(cfg), `'event == "scan.completed" && score < 70'`, `'event == "scan.completed" && score < 60'`, 1)
	changed = strings.Replace(changed, `'event == "issue.critical" && severity_at_least(severity, "high")'`,
		`'event == "issue.critical" && severity_at_least(severity, "critical")'`, 1)
	require.NotEqual(t, string(cfg), changed)
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(changed), 0o600))

	out, stderr, err := run(t, "test-rules", "--config", path, "../../rules_test.yaml")
	require.ErrorIs(t, err, errSilent)
	require.Empty(t, stderr)
	require.Contains(t, out, "ok    critical finding pages security, dev, compliance and the SIEM\n")
	require.Contains(t, out, `FAIL  a score just under 70 is low  (../../rules_test.yaml:`)
	require.Contains(t, out, `
        routes:
          want [siem low-scores everything-to-audit]
          got  [siem everything-to-audit]
          - low-scores
        why:
          route low-scores: not matched
            event == "scan.completed" && score < 60
            ├─ event == "scan.completed" → true
            └─ score < 60 → false   ← decided
`)
	require.Contains(t, out, `FAIL  high finding is paged too  (../../rules_test.yaml:`)
	require.Contains(t, out, `
        targets:
          want [security-slack dev-discord compliance-mail siem audit]
          got  [siem audit]
          - security-slack
          - dev-discord
          - compliance-mail
        why:
          route critical-issues: not matched
            event == "issue.critical" && severity_at_least(severity, "critical")
            ├─ event == "issue.critical" → true
            └─ severity_at_least(severity, "critical") → false   ← decided
          route critical-issues sends to: security-slack, dev-discord, compliance-mail
`)
	require.Regexp(t, `FAIL: 3 of \d+ cases failed \(- expected but missing, \+ present but not expected\)\n$`, out)

	// The same as JSON, for CI tools.
	out, _, err = run(t, "test-rules", "--config", path, "--format", "json", "--run", "^a score just under 70", "../../rules_test.yaml")
	require.ErrorIs(t, err, errSilent)
	var report struct {
		Passed, Failed int
		Cases          []ruletest.Result
	}
	require.NoError(t, json.Unmarshal([]byte(out), &report))
	require.Equal(t, 0, report.Passed)
	require.Equal(t, 1, report.Failed)
	require.Len(t, report.Cases, 1)
	c := report.Cases[0]
	require.False(t, c.OK)
	require.Equal(t, "a score just under 70 is low", c.Name)
	require.Equal(t, path, c.Config)
	require.Len(t, c.Diffs, 1)
	require.Equal(t, "routes", c.Diffs[0].Key)
	require.Equal(t, []string{"siem", "low-scores", "everything-to-audit"}, *c.Diffs[0].Want)
	require.Equal(t, []string{"siem", "everything-to-audit"}, *c.Diffs[0].Got)
	require.Equal(t, []string{"low-scores"}, c.Diffs[0].Missing)
	require.Contains(t, c.Why, "└─ score < 60 → false   ← decided")
}

const testRulesConfig = `
ingest: {secrets: [s3cret-value]}
targets:
  - {name: hook, type: webhook, url: "https://example.com/h", secret: x}
  - {name: chat, type: slack, webhook_url: ""}
  - {name: log, type: file, path: audit.jsonl}
routes:
  - {name: findings, when: 'event == "issue.critical" && (severity_at_least(severity, "high") || file startsWith "auth/")', targets: [chat, hook]}
  - {name: tagged, when: 'data.tags[0] == "urgent"', targets: [hook]}
  - {name: scans, when: 'event startsWith "scan."', targets: [hook, log], stop: true}
  - {name: all, when: 'true', targets: [log, hook]}
digests:
  - {name: weekly, schedule: "0 8 * * MON", timezone: UTC, when: 'event == "scan.completed"', target: hook}
`

func writeTestRules(t *testing.T, tests string) (dir string) {
	t.Helper()
	dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(testRulesConfig), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tests.yaml"), []byte(tests), 0o600))
	return dir
}

// TestTestRulesEventsAndChecks: inline events (timestamp and id filled in), file events
// relative to the tests file, set/unset, skipped (disabled) targets, one delivery per target,
// stop, digests and message snippets.
func TestTestRulesEventsAndChecks(t *testing.T) {
	t.Parallel()
	dir := writeTestRules(t, `
config: config.yaml
cases:
  - name: high finding
    event: {sample: issue.critical}
    set: {data.severity: high}
    expect:
      routes: [findings, all]
      targets: [hook, log, chat]     # any order; each once although two routes name hook
      skipped: [chat]                # chat has no webhook_url here
      digests: []
      messages:
        chat: {contains: ["HIGH: SQL Injection Vulnerability"], not_contains: ["<!channel>"]}
  - name: low finding in auth/ still matches through the ||
    event:
      inline:
        event: issue.critical
        data: {scan_id: s1, issue_id: i1, severity: low, title: "Weak hash", file: auth/pw.go, line: 3}
    expect:
      routes: [findings, all]
  - name: scans stop after their route
    event: {file: events/completed.json}
    unset: [data.score]
    expect:
      routes: [scans]
      targets: [hook, log]
      digests: [weekly]
`)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "events"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "events", "completed.json"),
		[]byte(`{"event":"scan.completed","id":"e1","timestamp":"2024-01-01T12:00:00Z","data":{"scan_id":"s","score":50}}`), 0o600))
	out, stderr, err := run(t, "test-rules", filepath.Join(dir, "tests.yaml"))
	require.NoError(t, err, "%s\n%s", out, stderr)
	require.Contains(t, out, "ok    high finding\n")
	require.Contains(t, out, "ok    low finding in auth/ still matches through the ||\n")
	require.Contains(t, out, "ok    scans stop after their route\n")
	require.Contains(t, out, "PASS: 3 cases\n")
}

func TestTestRulesReportsEachKindOfDifference(t *testing.T) {
	t.Parallel()
	dir := writeTestRules(t, `
config: config.yaml
cases:
  - name: everything wrong
    event: {sample: issue.critical}
    set: {data.severity: high}
    expect:
      routes: [all, findings]
      targets: [hook, log]
      skipped: []
      digests: [weekly]
      messages:
        chat: {contains: ["SQL Injection", "Score"], not_contains: ["HIGH"]}
        log: {contains: ["evt_1234567891"]}
  - name: unknown names
    event: {sample: scan.started}
    expect:
      routes: [scan]
      messages:
        nope: {contains: [x]}
        chat: {contains: [x]}
  - name: a rule that fails at run time
    event: {inline: {event: custom.thing, data: {tags: []}}}
    expect: {routes: [tagged, all]}
`)
	out, _, err := run(t, "test-rules", filepath.Join(dir, "tests.yaml"))
	require.ErrorIs(t, err, errSilent)
	for _, want := range []string{
		`FAIL  everything wrong  (` + filepath.Join(dir, "tests.yaml") + `:4)`,
		`
        routes: same routes, in another order (routes are evaluated in config order)
          want [all findings]
          got  [findings all]
`, `
        targets:
          want [hook log]
          got  [chat hook log]
          + chat
`, `
        skipped:
          want []
          got  [chat]
          + chat
`, `
        digests:
          want [weekly]
          got  []
          - weekly
`, `
        messages.chat: the slack message from route findings
          - contains "Score"
          + not_contains "HIGH"
          message:
            {
`,
		`          digest weekly: does not collect this event
            event == "scan.completed" → false
`,
		`          route findings: matched
            event == "issue.critical" && (severity_at_least(severity, "high") || file startsWith "auth/")
            ├─ event == "issue.critical" → true
            └─ severity_at_least(severity, "high") || file startsWith "auth/" → true   ← decided
               ├─ severity_at_least(severity, "high") → true   ← decided
               └─ file startsWith "auth/" → not evaluated
          digest weekly: does not collect this event
`,
		"          route findings sends to: chat, hook\n",
		`FAIL  unknown names  (`, `
        routes: the config has no route named scan
          want [scan]
          got  [scans]
          - scan
          + scans
`, `
        messages.chat: this target gets no delivery for this event, so no message
        messages.nope: the config has no target named nope
`,
		`FAIL  a rule that fails at run time  (`,
		`        warning: route tagged: the rule failed at run time and counts as not matched: rules: index out of range: 0 (array length is 0) (1:10)
        routes:
          want [tagged all]
          got  [all]
          - tagged
        why:
          route tagged: not matched (the rule failed at run time)
            data.tags[0] == "urgent" → error: rules: index out of range: 0 (array length is 0) (1:10)
`,
		"FAIL: 3 of 3 cases failed",
	} {
		require.Contains(t, out, want)
	}
	// The log target's message is the event itself, so the snippet matches.
	require.NotContains(t, out, "messages.log")
}

func TestTestRulesRejectsABadFile(t *testing.T) {
	t.Parallel()
	dir := writeTestRules(t, `
config: config.yaml
extra: 1
cases:
  - name: typo
    event: {sample: issue.critical}
    expect: {route: [all], messages: {chat: {contain: [x]}}}
  - name: two events
    event: {sample: issue.critical, inline: {event: x}}
    expect: {routes: []}
  - name: no sample
    event: {sample: scan.nope}
    expect: {routes: []}
  - name: invalid event
    event: {sample: scan.completed}
    set: {data.score: "85"}
    expect: {routes: []}
  - name: wrong type
    event: {sample: scan.completed}
    expect: {routes: all}
  - event: {sample: scan.completed}
    expect: {}
  - name: typo
    event: {sample: scan.completed}
    expect: {targets: [log, log]}
`)
	tests := filepath.Join(dir, "tests.yaml")
	_, stderr, err := run(t, "test-rules", tests)
	require.Error(t, err)
	for _, want := range []string{
		tests + ` is invalid:`,
		tests + `:3: extra: unknown key (known: config, cases)`,
		tests + `:7: case "typo": expect.route: unknown key (known: routes, targets, skipped, digests, messages)`,
		tests + `:7: case "typo": expect.messages.chat.contain: unknown key (known: contains, not_contains)`,
		tests + `:8: case "two events": event: want exactly one of sample, file or inline`,
		tests + `:11: case "no sample": event: no sample for event "scan.nope" (have: issue.critical, scan.completed, scan.failed, scan.progress, scan.started, scan.timeout)`,
		tests + `:14: case "invalid event": event: invalid event: data.score: must be a number`,
		tests + `:20: case "wrong type": cannot unmarshal !!str ` + "`all`" + ` into a list of strings`,
		tests + `:21: cases[5]: name: required`,
		tests + `:21: cases[5]: expect: required, with at least one of routes, targets, skipped, digests, messages`,
		tests + `:23: case "typo": name: the case at line 5 has the same name`,
		tests + `:23: case "typo": expect.targets: log is listed twice`,
	} {
		require.Contains(t, stderr, want)
	}

	_, _, err = run(t, "test-rules", filepath.Join(dir, "missing.yaml"))
	require.ErrorContains(t, err, "missing.yaml: no such file")
	_, _, err = run(t, "test-rules", "--format", "xml", tests)
	require.ErrorContains(t, err, "--format")
}

func TestRouteExplain(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, "route", "--config", "../../config.yaml", "--sample", "scan.completed", "--explain")
	require.NoError(t, err)
	require.Contains(t, out, `event evt_1234567890 (scan.completed): 1 of 7 routes match

route siem: not matched
  event == "issue.critical" && severity_at_least(severity, "high") || event in ["scan.failed", "scan.timeout"] || event == "scan.completed" && score < 70
  ├─ event == "issue.critical" && severity_at_least(severity, "high") → false
  │  ├─ event == "issue.critical" → false   ← decided
  │  └─ severity_at_least(severity, "high") → not evaluated
  ├─ event in ["scan.failed", "scan.timeout"] → false
  └─ event == "scan.completed" && score < 70 → false   ← decided
     ├─ event == "scan.completed" → true
     └─ score < 70 → false   ← decided

route critical-issues: not matched
  event == "issue.critical" && severity_at_least(severity, "high")
  ├─ event == "issue.critical" → false   ← decided
  └─ severity_at_least(severity, "high") → not evaluated

route failures: not matched
  event in ["scan.failed", "scan.timeout"] → false

route low-scores: not matched
  event == "scan.completed" && score < 70
  ├─ event == "scan.completed" → true
  └─ score < 70 → false   ← decided

route what-changed: not matched
  event in ["finding.new", "finding.regressed"] → false

route bridge-alerts: not matched
  event startsWith "bridge." → false

route everything-to-audit: matched
  true → true
  → audit (file)
`)
	require.Contains(t, out, `
digest weekly-compliance: collects this event
  event in ["scan.completed", "scan.failed", "scan.timeout", "issue.critical", "finding.new", "finding.fixed", "finding.regressed"] → true
`)

	// stop: the routes after a matching route with stop are shown as not evaluated.
	dir := writeTestRules(t, "cases: []")
	out, _, err = run(t, "route", "--config", filepath.Join(dir, "config.yaml"), "--sample", "scan.failed", "--explain")
	require.NoError(t, err)
	require.Contains(t, out, `
route scans: matched (stop: true, later routes are not evaluated)
  event startsWith "scan." → true
  → hook (webhook)
`)
	require.Contains(t, out, `
route all: not evaluated (route scans above matched and has stop: true)
  when: true
`)
	require.Contains(t, out, `
digest weekly: does not collect this event
  event == "scan.completed" → false
`)

	// Without --explain the output is as before: matched routes only.
	out, _, err = run(t, "route", "--config", "../../config.yaml", "--sample", "scan.completed")
	require.NoError(t, err)
	require.NotContains(t, out, "critical-issues")
	require.Contains(t, out, "route everything-to-audit  (when: true)")
}

// TestTestRulesFindingStatus: a case gives an issue.critical the finding_status ingest would,
// so a route on it can be tested; a bad value or another event type is refused.
func TestTestRulesFindingStatus(t *testing.T) {
	t.Parallel()
	dir := writeTestRules(t, `
config: config.yaml
cases:
  - name: a recurring issue is not paged again
    event: {sample: issue.critical}
    finding_status: recurring
    expect: {routes: [audit]}
  - name: a regressed one is
    event: {sample: issue.critical}
    finding_status: regressed
    expect: {routes: [page, audit]}
  - name: without a status (a dry run) it is nil
    event: {sample: issue.critical}
    expect: {routes: [page, audit]}
`)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(`
ingest: {secrets: [s]}
targets:
  - {name: log, type: file, path: audit.jsonl}
routes:
  - {name: page, when: 'event == "issue.critical" && finding_status != "recurring"', targets: [log]}
  - {name: audit, when: 'true', targets: [log]}
`), 0o600))
	out, stderr, err := run(t, "test-rules", filepath.Join(dir, "tests.yaml"))
	require.NoError(t, err, "%s\n%s", out, stderr)
	require.Contains(t, out, "PASS: 3 cases\n")

	dir = writeTestRules(t, `
config: config.yaml
cases:
  - name: bad value
    event: {sample: issue.critical}
    finding_status: old
    expect: {routes: []}
  - name: not an issue
    event: {sample: scan.completed}
    finding_status: new
    expect: {routes: []}
`)
	_, stderr, err = run(t, "test-rules", filepath.Join(dir, "tests.yaml"))
	require.Error(t, err)
	require.Contains(t, stderr+err.Error(), `finding_status: want new, recurring, regressed or unknown, got "old"`)
	require.Contains(t, stderr+err.Error(), "finding_status: only issue.critical events have one (this is scan.completed)")
}
