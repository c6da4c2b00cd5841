package bridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/event"
)

const issuesToChat = `
ingest: {secrets: ["{{.Secret}}"]}
delivery: {timeout: 2s, max_attempts: 2, backoff: {initial: 20ms, max: 50ms}}
targets:
  - {name: chat, type: slack, webhook_url: "{{.Slack}}/services/T/B/X"}
  - {name: dev, type: discord, webhook_url: "{{.Discord}}/api/webhooks/1/tok"}
routes:
  - {name: issues, when: 'event == "issue.critical"', targets: [chat, dev]}
`

// TestSampleIssueGetsItsScansRepository: Cortex's own sample issue.critical names no
// repository; scan.started of the same scan did. The Slack and Discord messages about the issue
// link the repository (labelled with its host) and open the file at the scan's commit, Discord
// shows the severity, and its body has no "components": null.
func TestSampleIssueGetsItsScansRepository(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, issuesToChat)
	_, res := b.SendSample(event.ScanStarted)
	require.Equal(t, "accepted", res.Status)
	_, res = b.SendSample(event.IssueCritical)
	require.Equal(t, "accepted", res.Status)

	// Slack's client encodes < and > as \u003c and \u003e.
	slack := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(string(b.Slack.Wait(t, 1, 10*time.Second)[0].Body))
	require.Contains(t, slack, `<https://github.com/user/repo|github.com/user/repo>`)
	require.Contains(t, slack, `<https://github.com/user/repo/blob/9f2c1e7/api/user.js#L42|Open file>`)
	require.Contains(t, slack, "main @ `9f2c1e7`")

	discord := string(b.Discord.Wait(t, 1, 10*time.Second)[0].Body)
	require.Contains(t, discord, `[api/user.js:42](https://github.com/user/repo/blob/9f2c1e7/api/user.js#L42)`)
	require.Contains(t, discord, `"name":"Severity","value":"CRITICAL"`)
	require.NotContains(t, discord, "components")
	require.NotContains(t, discord, "null")
}
