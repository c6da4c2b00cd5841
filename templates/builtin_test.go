package templates_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/discord"
	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var builtinTargets = []*core.Target{
	{Name: "security-slack", Type: "slack", Format: notify.FormatJSON, Escape: slack.Type.Escape},
	{Name: "dev-discord", Type: "discord", Format: notify.FormatJSON, Escape: discord.Type.Escape},
	{Name: "compliance-mail", Type: "email", Format: notify.FormatEmail},
}

func render(t *testing.T, tgt *core.Target, ev *event.Event) *notify.Message {
	t.Helper()
	e, err := templates.New("")
	require.NoError(t, err)
	r := &core.Renderer{Engine: e, PublicURL: ""}
	route := &core.Route{Name: "critical-issues"}
	msg := core.SampleMessage(ev, tgt, route)
	require.NoError(t, r.Render(msg, tgt, route))
	return msg
}

// TestBuiltinGolden renders every built-in template against every sample; a template change
// shows up as a reviewable diff of testdata/ (go test ./templates -update rewrites it).
func TestBuiltinGolden(t *testing.T) {
	t.Parallel()
	goldenEach(t, samples.Types())
}

func issue(t *testing.T, title string) *event.Event {
	t.Helper()
	b, err := json.Marshal(map[string]any{"event": "issue.critical", "id": "evt_1", "timestamp": "2026-01-01T00:00:00Z",
		"data": map[string]any{"scan_id": "scan_1", "issue_id": "i", "severity": "critical", "title": title,
			"description": title, "file": "a<b>.go", "line": 7, "repo_url": "https://github.com/o/r"}})
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return ev
}

// TestCase_C03_MentionInjection: no event text can ping in Slack or Discord.
func TestCase_C03_MentionInjection(t *testing.T) {
	t.Parallel()
	title := "user=@everyone role=<@&112233445566778899> @here <!channel>"
	ev := issue(t, title)

	slack := render(t, builtinTargets[0], ev)
	require.Contains(t, string(slack.Body), "&lt;!channel&gt;")
	require.Contains(t, string(slack.Body), "&lt;@&amp;112233445566778899&gt;")
	require.NotContains(t, string(slack.Body), "<!channel>")
	require.NotContains(t, string(slack.Body), "<@&")

	discord := render(t, builtinTargets[1], ev)
	var payload struct {
		AllowedMentions *struct {
			Parse []string `json:"parse"`
		} `json:"allowed_mentions"`
		Embeds []struct {
			Title string `json:"title"`
		} `json:"embeds"`
	}
	require.NoError(t, json.Unmarshal(discord.Body, &payload))
	require.NotNil(t, payload.AllowedMentions)
	require.NotNil(t, payload.AllowedMentions.Parse, `"parse" must be [], never null`)
	require.Empty(t, payload.AllowedMentions.Parse)
	require.Contains(t, string(discord.Body), `"allowed_mentions":{"parse":[]}`)
	require.Contains(t, payload.Embeds[0].Title, "@everyone", "the text is shown, only the ping is off")
}

// TestCase_C13_Escaping: JSON payloads stay valid and round-trip; Slack escapes only & < >;
// email HTML escapes markup; the subject keeps O'Brien.
func TestCase_C13_Escaping(t *testing.T) {
	t.Parallel()
	for _, title := range []string{"disk \"full\"\nnext", "a<b & c>", "<script>alert(1)</script>", "O'Brien"} {
		ev := issue(t, title)
		slack := render(t, builtinTargets[0], ev)
		var sp struct {
			Text string `json:"text"`
		}
		require.NoError(t, json.Unmarshal(slack.Body, &sp), "valid JSON for %q", title)
		want := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(title)
		require.Contains(t, sp.Text, want, "Slack escapes only & < >")

		discord := render(t, builtinTargets[1], ev)
		var dp struct {
			Embeds []struct {
				Description string `json:"description"`
			} `json:"embeds"`
		}
		require.NoError(t, json.Unmarshal(discord.Body, &dp))
		require.Equal(t, templates.DiscordEscape(title), dp.Embeds[0].Description, "round-trips through JSON exactly")

		mail := render(t, builtinTargets[2], ev)
		require.Contains(t, mail.Subject, strings.Join(strings.Fields(title), " "), "subject unchanged (one line)")
		require.NotContains(t, mail.HTML, "<script>")
		if strings.Contains(title, "script") {
			require.Contains(t, mail.HTML, "&lt;script&gt;")
		}
	}
}

// goldenEach renders the sample of each of types with every built-in target's template and
// compares the message with its golden file in testdata/ (rewritten with -update).
func goldenEach(t *testing.T, types []string) {
	t.Helper()
	for _, tgt := range builtinTargets {
		for _, typ := range types {
			t.Run(tgt.Type+"/"+typ, func(t *testing.T) {
				t.Parallel()
				body, err := samples.Get(typ)
				require.NoError(t, err)
				ev, err := event.Parse(body)
				require.NoError(t, err)
				msg := render(t, tgt, ev)
				requireGolden(t, tgt.Format, msg, filepath.Join("testdata", tgt.Type, typ+".golden"))
			})
		}
	}
}

// requireGolden compares msg, rendered in format, with the golden file at path (rewritten with
// -update): a JSON body indented, any other as its subject, body and HTML.
func requireGolden(t *testing.T, format notify.Format, msg *notify.Message, path string) {
	t.Helper()
	var got bytes.Buffer
	if format == notify.FormatJSON {
		require.NoError(t, json.Indent(&got, msg.Body, "", "  "))
	} else {
		got.WriteString("Subject: " + msg.Subject + "\n\n" + string(msg.Body) + "\n\n--- html ---\n" + msg.HTML)
	}
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./templates -update to create it")
	require.Equal(t, string(want), got.String())
}
