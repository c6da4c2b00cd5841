package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs(args)
	err = execute(context.Background(), root, &errOut)
	return out.String(), errOut.String(), err
}

func TestValidateShippedConfig(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, "validate", "--config", "../../config.yaml")
	require.NoError(t, err)
	require.Contains(t, out, "is valid: 6 targets (1 enabled), 7 routes")
	require.Contains(t, out, "warning: target security-slack (slack) is disabled")
}

// TestValidateListsEveryProblem: a typo'd key, a rule that does not compile, a template with a
// missing key and a route naming an unknown target are each reported with their key path.
func TestValidateListsEveryProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "templates", "webhook"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", "webhook", "team.tmpl"), []byte(`{{ .Data.labels.team | toJson }}`), 0o644))
	cfg := `
ingest: {secrets: [s3cret-value]}
templates: {dir: templates}
targets:
  - {name: hook, type: webhook, url: "https://example.com/h", secret: x, retries: 3}
routes:
  - {name: bad-rule, when: 'score >= "7"', targets: [hook]}
  - {name: unknown-target, when: 'true', targets: [nope]}
`
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	_, stderr, err := run(t, "validate", "--config", path)
	require.Error(t, err)
	require.Contains(t, stderr, `line 5: targets[0].retries: unknown key`)

	cfg = `
ingest: {secrets: [s3cret-value]}
templates: {dir: templates}
targets:
  - {name: hook, type: webhook, url: "https://example.com/h", secret: x}
routes:
  - {name: bad-rule, when: 'score >= "7"', targets: [hook]}
  - {name: unknown-target, when: 'true', targets: [nope]}
`
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	_, stderr, err = run(t, "validate", "--config", path)
	require.Error(t, err)
	require.Contains(t, stderr, `routes[0].when: route "bad-rule"`)
	require.Contains(t, stderr, `routes[1].targets[0]: no target named "nope"`)

	cfg = `
ingest: {secrets: [s3cret-value]}
templates: {dir: templates}
targets:
  - {name: hook, type: webhook, url: "https://example.com/h", secret: x}
routes:
  - {name: team, when: 'true', targets: [hook], template: team}
`
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	_, stderr, err = run(t, "validate", "--config", path)
	require.Error(t, err)
	require.Contains(t, stderr, `routes[0] (team) → target hook`)
	require.Contains(t, stderr, filepath.Join("templates", "webhook", "team.tmpl"))
	require.Contains(t, stderr, `map has no entry for key "labels"`)
}

func TestSign(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "body.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"b":1, "a":"x"}`), 0o600))
	out, _, err := run(t, "sign", "--secret", "test-secret", path)
	require.NoError(t, err)
	require.Equal(t, "sha256=8fd339f7cd6fdffcc01f1e8daec1b6aad237f1977323116fd53be931c723f306\n", out)
	_, _, err = run(t, "sign", path)
	require.ErrorContains(t, err, "secret")
}

func TestRouteDryRun(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, "route", "--config", "../../config.yaml", "--sample", "scan.failed")
	require.NoError(t, err)
	require.Contains(t, out, "route failures")
	require.Contains(t, out, "security-slack (slack) — skipped, target disabled")
	require.Contains(t, out, `"text": "Scan failed on user/other-repo"`)
	require.Contains(t, out, "route everything-to-audit")
	// The exact bytes: the audit file's line, as the file target would append it.
	require.Regexp(t, `(?m)^    sends \d+ bytes \(application/x-ndjson\), exactly:\n\{"received_at":"[^\n]*,"route":"everything-to-audit","target":"audit","delivery_id":"dry-run"\}\n`, out)
	_, _, err = run(t, "route", "--config", "../../config.yaml")
	require.ErrorContains(t, err, "--sample")
}

func TestSendRejectsMissingInput(t *testing.T) {
	t.Parallel()
	_, _, err := run(t, "send", "--url", "http://127.0.0.1:1/x", "--secret", "s")
	require.ErrorContains(t, err, "--file or --sample")
	_, _, err = run(t, "send", "--url", "http://127.0.0.1:1/x", "--secret", "s", "--sample", "scan.nope")
	require.ErrorContains(t, err, "no sample for event")

	file := filepath.Join(t.TempDir(), "events.jsonl")
	require.NoError(t, os.WriteFile(file, []byte("{\"event\":\"scan.started\"}\n\n  {\"event\": x}\n"), 0o600))
	_, _, err = run(t, "send", "--url", "http://127.0.0.1:1/x", "--secret", "s", "--file", file)
	require.ErrorContains(t, err, file+":3: event 2 is not JSON: invalid character 'x'")
}

// TestTestCommand sends one sample through a configured target for real.
func TestTestCommand(t *testing.T) {
	t.Parallel()
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		if strings.Contains(r.URL.Path, "archived") {
			http.Error(w, "channel_is_archived", http.StatusGone)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`
ingest: {secrets: [s3cret-value]}
targets:
  - {name: chat, type: slack, webhook_url: %q}
  - {name: old, type: slack, webhook_url: %q}
  - {name: off, type: slack, webhook_url: ""}
routes:
  - {name: all, when: 'true', targets: [chat, old, off]}
`, srv.URL+"/services/T/B/ok", srv.URL+"/services/T/B/archived")), 0o600))

	out, _, err := run(t, "test", "--config", path, "--target", "chat", "--sample", "scan.failed")
	require.NoError(t, err)
	require.Contains(t, out, "sent scan.failed to chat (slack)")
	require.Contains(t, out, "delivered")
	require.Contains(t, got[0], "Scan failed on user/other-repo")

	out, _, err = run(t, "test", "--config", path, "--target", "old")
	require.Error(t, err)
	require.Contains(t, out, "client_error (status 410)")
	require.Contains(t, out, "answer: channel_is_archived")
	require.Contains(t, out, "would not retry")
	require.NotContains(t, out, "/services/T/B/archived")

	_, _, err = run(t, "test", "--config", path, "--target", "off")
	require.ErrorContains(t, err, "disabled")
	_, _, err = run(t, "test", "--config", path, "--target", "nope")
	require.ErrorContains(t, err, `no target named "nope"`)
}

// TestUsageErrorsArePrinted: an unknown command or flag, or a missing value, says what is wrong.
func TestUsageErrorsArePrinted(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"bogus"}, {"--bogus"}, {"send", "--bogus"}, {"route", "--sample"}, {"validate", "extra"}, {"sign"}} {
		_, stderr, err := run(t, args...)
		require.Error(t, err, "%v", args)
		require.True(t, strings.HasPrefix(stderr, "error: "), "%v: %q", args, stderr)
	}
}

// TestValidateKeepsWarningsWithErrors: an invalid config's report still lists the warnings
// (a disabled target), in text (stderr) and in --format json.
func TestValidateKeepsWarningsWithErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := `
ingest: {secrets: [s3cret-value]}
targets:
  - {name: chat, type: slack, webhook_url: "${CORTEX_BRIDGE_TEST_UNSET_WEBHOOK}"}
  - {name: hook2, type: webhook, url: "https://example.com/h2", secret: x}
routes:
  - {name: bad-rule, when: 'score >= "7"', targets: [hook2]}
`
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	_, stderr, err := run(t, "validate", "--config", path)
	require.Error(t, err)
	require.Contains(t, stderr, "warning: target chat (slack) is disabled")
	require.Contains(t, stderr, `routes[0].when: route "bad-rule"`)

	out, _, err := run(t, "validate", "--config", path, "--format", "json")
	require.Error(t, err)
	var report struct {
		Valid    bool
		Warnings []string
		Errors   []struct{ Path, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &report), out)
	require.False(t, report.Valid)
	require.Len(t, report.Warnings, 1)
	require.Contains(t, report.Warnings[0], "target chat (slack) is disabled")
	require.NotEmpty(t, report.Errors)
	require.Equal(t, "routes[0].when", report.Errors[0].Path)
}
