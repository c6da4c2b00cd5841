package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// Characters of 1, 2, 3 and 4 bytes: a cut must never split one.
var widths = map[string]string{"ascii": "a", "2-byte": "é", "3-byte": "中", "4-byte": "😀"}

// deliver posts msg with the preset's notifier to its fake (which checks the service's documented
// limits and refuses what is over them) and returns what the fake got.
func deliver(t *testing.T, pc presetCase, msg *notify.Message) (request, error) {
	t.Helper()
	f := newFake(t, pc.check)
	cfg := pc.config(f.srv.URL)
	n, err := webhook.New(&cfg, nil, "test")
	require.NoError(t, err)
	err = n.Notify(context.Background(), msg)
	return f.last(t), err
}

// rendered is the message the worker would send for ev with the preset's built-in template.
func rendered(t *testing.T, pc presetCase, ev *event.Event) *notify.Message {
	t.Helper()
	cfg := pc.config("http://127.0.0.1:1")
	return renderFor(t, &cfg, ev, "https://bridge.example.com")
}

// raw is a message whose body a user's template rendered as body.
func raw(t *testing.T, body any) *notify.Message {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return &notify.Message{DeliveryID: "d1", Event: issue(t, nil), Body: b}
}

// issue is an issue.critical event with data's fields over the required ones.
func issue(t *testing.T, data map[string]any) *event.Event {
	t.Helper()
	d := map[string]any{"scan_id": "s", "issue_id": "i", "severity": "critical", "title": "t"}
	for k, v := range data {
		d[k] = v
	}
	return eventWith(t, "issue.critical", d)
}

// requireSound: the body is valid UTF-8 and JSON, and no cut left a replacement character.
func requireSound(t *testing.T, body []byte) map[string]any {
	t.Helper()
	require.True(t, utf8.Valid(body), "the body is UTF-8")
	require.NotContains(t, string(body), "\uFFFD", "no rune was split")
	return decode(t, body)
}

func runes(v any) int { s, _ := v.(string); return utf8.RuneCountInString(s) }

func requireNote(t *testing.T, msg *notify.Message, preset, field string) {
	t.Helper()
	for _, n := range msg.Notes {
		if strings.HasPrefix(n, preset+": ") && strings.Contains(n, field) {
			return
		}
	}
	require.Failf(t, "no note names the field", "%s %q in %q", preset, field, msg.Notes)
}

// TestPresetLimits: for every preset, an event (or a user template's body) over each limit of
// the service still reaches it as a request it accepts (its fake checks the documented limits),
// cut by runes with "…" whatever the width of the characters, and the cut is noted with the
// field it touched.
func TestPresetLimits(t *testing.T) {
	t.Parallel()
	type tc struct {
		preset string
		field  string // what the note names; "" for no note
		msg    func(t *testing.T, c string) *notify.Message
		check  func(t *testing.T, body map[string]any, c string)
	}
	details := func(t *testing.T, c string) *notify.Message {
		data := map[string]any{"scan_id": "s", "issue_id": "i", "severity": "critical", "title": "t"}
		for i := range 20 {
			data[fmt.Sprintf("field_%02d", i)] = strings.Repeat(c, 600)
		}
		return rendered(t, caseFor(t, webhook.PresetOpsgenie), eventWith(t, "issue.critical", data))
	}
	tests := map[string]tc{
		"opsgenie: 20 details of 600 characters": {webhook.PresetOpsgenie, "details", details, func(t *testing.T, b map[string]any, c string) {
			d := b["details"].(map[string]any)
			total := 0
			for k, v := range d {
				total += utf8.RuneCountInString(k) + runes(v)
			}
			require.LessOrEqual(t, total, 8000)
			require.Greater(t, total, 7800, "the budget is used, not wasted")
			for i := range 20 {
				v := d[fmt.Sprintf("field_%02d", i)].(string)
				require.True(t, strings.HasPrefix(v, c) && strings.HasSuffix(v, "…"), "every field kept, each cut: %q", v)
			}
			require.Equal(t, "issue.critical", d["event"], "short details stay whole")
		}},
		"opsgenie: user template over every field": {webhook.PresetOpsgenie, "tags", func(t *testing.T, c string) *notify.Message {
			tags := make([]string, 25)
			for i := range tags {
				tags[i] = strings.Repeat(c, 60)
			}
			return raw(t, map[string]any{"message": strings.Repeat(c, 200), "alias": strings.Repeat(c, 600), "description": strings.Repeat(c, 16000),
				"entity": strings.Repeat(c, 600), "source": strings.Repeat(c, 150), "priority": "P1", "tags": tags, "actions": tags[:12],
				"user": strings.Repeat(c, 101), "note": strings.Repeat(c, 25001),
				"responders": make([]any, 60), "visibleTo": make([]any, 51),
				"details": map[string]any{"n": 3, "nested": map[string]any{"a": strings.Repeat(c, 9000)}}})
		}, func(t *testing.T, b map[string]any, c string) {
			require.Equal(t, 130, runes(b["message"]))
			require.Equal(t, 512, runes(b["alias"]))
			require.Equal(t, 15000, runes(b["description"]))
			require.Equal(t, 512, runes(b["entity"]))
			require.Equal(t, 100, runes(b["source"]))
			require.Len(t, b["tags"], 20)
			require.Len(t, b["actions"], 10)
			require.Equal(t, 50, runes(b["tags"].([]any)[19]))
			require.Equal(t, 100, runes(b["user"]))
			require.Equal(t, 25000, runes(b["note"]))
			require.Len(t, b["responders"], 50)
			require.Len(t, b["visibleTo"], 50)
			require.Equal(t, "3", b["details"].(map[string]any)["n"], "values are strings")
		}},
		"opsgenie: more detail keys than fit": {webhook.PresetOpsgenie, "details over the limit", func(t *testing.T, c string) *notify.Message {
			d := map[string]any{"event": "issue.critical", strings.Repeat(c, 9000): "a key longer than the limit"}
			for i := range 600 {
				d[fmt.Sprintf("detail_key_number_%03d", i)] = c
			}
			return raw(t, map[string]any{"message": "m", "priority": "P1", "details": d})
		}, func(t *testing.T, b map[string]any, c string) {
			d := b["details"].(map[string]any)
			total := 0
			for k, v := range d {
				total += utf8.RuneCountInString(k) + runes(v)
			}
			require.LessOrEqual(t, total, 8000)
			require.Equal(t, "issue.critical", d["event"], "the event's own details are kept first")
			require.Contains(t, d, "detail_key_number_000")
			require.Greater(t, len(d), 150, "keys that fit are kept")
		}},
		"pagerduty: a 700 KB description": {webhook.PresetPagerDuty, "description", func(t *testing.T, c string) *notify.Message {
			return rendered(t, caseFor(t, webhook.PresetPagerDuty), issue(t, map[string]any{"issue_id": "i",
				"severity": "critical", "title": strings.Repeat(c, 2000), "description": strings.Repeat(c, 700_000/len(c))}))
		}, func(t *testing.T, b map[string]any, c string) {
			p := b["payload"].(map[string]any)
			require.Equal(t, 1024, runes(p["summary"]))
			d := p["custom_details"].(map[string]any)
			require.True(t, strings.HasSuffix(d["description"].(string), "…"))
			require.Greater(t, len(d["description"].(string)), 400_000, "only what is over is cut")
			require.Equal(t, "i", d["issue_id"])
		}},
		"pagerduty: too many details for the size": {webhook.PresetPagerDuty, "custom_details", func(t *testing.T, c string) *notify.Message {
			d := map[string]any{}
			for i := range 60_000 {
				d[fmt.Sprintf("key_%05d", i)] = c
			}
			return raw(t, map[string]any{"event_action": "trigger", "dedup_key": strings.Repeat(c, 300),
				"payload": map[string]any{"summary": "s", "source": "x", "severity": "critical", "custom_details": d}})
		}, func(t *testing.T, b map[string]any, c string) {
			require.LessOrEqual(t, len(b["dedup_key"].(string)), 255, "within 255 however counted")
			require.Greater(t, len(b["dedup_key"].(string)), 250)
			text := b["payload"].(map[string]any)["custom_details"].(map[string]any)["truncated_json"].(string)
			require.True(t, strings.HasPrefix(text, `{"key_00000":`) && strings.HasSuffix(text, "…"))
		}},
		"msteams: a 30 000-character file path": {webhook.PresetMSTeams, "value", func(t *testing.T, c string) *notify.Message {
			return rendered(t, caseFor(t, webhook.PresetMSTeams), issue(t, map[string]any{"issue_id": "i",
				"severity": "critical", "title": "t", "file": strings.Repeat(c, 30000), "rule_id": strings.Repeat(c, 30000)}))
		}, func(t *testing.T, b map[string]any, c string) {
			out, err := json.Marshal(b)
			require.NoError(t, err)
			require.LessOrEqual(t, len(out), 20_000)
			require.Contains(t, string(out), "https://bridge.example.com/events/evt_test_1", "URLs are never cut")
		}},
		"mattermost: user template text": {webhook.PresetMattermost, "text", func(t *testing.T, c string) *notify.Message {
			return raw(t, map[string]any{"text": strings.Repeat(c, 20000), "attachments": []any{map[string]any{"text": strings.Repeat(c, 20000),
				"fields": []any{map[string]any{"title": "F", "value": strings.Repeat(c, 5000)}}}}})
		}, func(t *testing.T, b map[string]any, c string) {
			require.Equal(t, 16383, runes(b["text"]))
			a := b["attachments"].([]any)[0].(map[string]any)
			require.LessOrEqual(t, runes(a["text"])+1+runes(a["fields"].([]any)[0].(map[string]any)["value"]), 16383)
			require.Equal(t, "F", a["fields"].([]any)[0].(map[string]any)["title"], "short texts stay whole")
		}},
		"rocketchat: user template text": {webhook.PresetRocketChat, "text", func(t *testing.T, c string) *notify.Message {
			return raw(t, map[string]any{"text": strings.Repeat(c, 6000), "attachments": []any{map[string]any{"text": strings.Repeat(c, 6000)}}})
		}, func(t *testing.T, b map[string]any, c string) {
			require.Equal(t, 5000, runes(b["text"]))
			require.Equal(t, 5000, runes(b["attachments"].([]any)[0].(map[string]any)["text"]))
		}},
		"github-dispatch: a 100 KB event": {webhook.PresetGitHubDispatch, "description", func(t *testing.T, c string) *notify.Message {
			return rendered(t, caseFor(t, webhook.PresetGitHubDispatch), issue(t, map[string]any{
				"description": strings.Repeat(c, 100_000/len(c))}))
		}, func(t *testing.T, b map[string]any, c string) {
			p, err := json.Marshal(b["client_payload"])
			require.NoError(t, err)
			require.LessOrEqual(t, len(p), 64_000)
			require.Equal(t, "s", b["client_payload"].(map[string]any)["data"].(map[string]any)["scan_id"])
		}},
		"github-dispatch: 12 top-level properties": {webhook.PresetGitHubDispatch, "client_payload", func(t *testing.T, c string) *notify.Message {
			p := map[string]any{}
			for i := range 12 {
				p[fmt.Sprintf("p%02d", i)] = c
			}
			return raw(t, map[string]any{"event_type": strings.Repeat(c, 120), "client_payload": p})
		}, func(t *testing.T, b map[string]any, c string) {
			require.Equal(t, 100, runes(b["event_type"]))
			p := b["client_payload"].(map[string]any)
			require.Len(t, p, 10)
			require.Equal(t, map[string]any{"p09": c, "p10": c, "p11": c}, p["more"], "nothing is lost")
		}},
		"gitlab-pipeline: a 300 KB description": {webhook.PresetGitLabPipeline, "CORTEX_DESCRIPTION, CORTEX_PAYLOAD", func(t *testing.T, c string) *notify.Message {
			return rendered(t, caseFor(t, webhook.PresetGitLabPipeline), issue(t, map[string]any{
				"description": strings.Repeat(c, 300_000/len(c))}))
		}, func(t *testing.T, b map[string]any, c string) {
			v := b["variables"].(map[string]any)
			require.LessOrEqual(t, len(v["CORTEX_DESCRIPTION"].(string)), 120*1024)
			require.LessOrEqual(t, len(v["CORTEX_PAYLOAD"].(string)), 120*1024)
			require.Equal(t, "s", v["CORTEX_SCAN_ID"])
		}},
		"gitlab-pipeline: 1 300 variables over 1 MiB": {webhook.PresetGitLabPipeline, "variables", func(t *testing.T, c string) *notify.Message {
			v := map[string]any{"CORTEX_EVENT": "issue.critical"}
			for i := range 1300 {
				v[fmt.Sprintf("V%04d", i)] = strings.Repeat(c, 2000/len(c))
			}
			v["NUMBER"] = 7
			return raw(t, map[string]any{"variables": v})
		}, func(t *testing.T, b map[string]any, c string) {
			v := b["variables"].(map[string]any)
			require.Len(t, v, 1200)
			require.Equal(t, "issue.critical", v["CORTEX_EVENT"], "the built-in variables are kept first")
			total := 0
			for k, x := range v {
				total += len(k) + len(x.(string))
			}
			require.LessOrEqual(t, total, 1024*1024)
		}},
		"gitlab-pipeline: keys GitLab refuses": {webhook.PresetGitLabPipeline, "renamed", func(t *testing.T, c string) *notify.Message {
			return raw(t, map[string]any{"variables": map[string]any{"my-var": c, "CORTEX_" + strings.Repeat("K", 300): c, "ok_KEY_1": c, c + c: "x"}})
		}, func(t *testing.T, b map[string]any, c string) {
			v := b["variables"].(map[string]any)
			require.Equal(t, c, v["my_var"])
			require.Equal(t, c, v["ok_KEY_1"])
			require.Equal(t, c, v["CORTEX_"+strings.Repeat("K", 248)])
			require.NotContains(t, v, "my-var")
		}},
		"cloudevents: a 100 KB event": {webhook.PresetCloudEvents, "description", func(t *testing.T, c string) *notify.Message {
			return rendered(t, caseFor(t, webhook.PresetCloudEvents), issue(t, map[string]any{
				"description": strings.Repeat(c, 100_000/len(c))}))
		}, func(t *testing.T, b map[string]any, c string) {
			out, err := json.Marshal(b)
			require.NoError(t, err)
			require.LessOrEqual(t, len(out), 64_000)
			require.Equal(t, "evt_test_1", b["id"], "context attributes are never cut")
		}},
		"cloudevents: a user template's escapes": {webhook.PresetCloudEvents, "", func(t *testing.T, c string) *notify.Message {
			// json.Marshal writes each < as \u003c: 72 000 bytes for 12 000 characters.
			return raw(t, map[string]any{"specversion": "1.0", "type": "t", "source": "s", "id": "i", "data": strings.Repeat("<", 12_000) + c})
		}, func(t *testing.T, b map[string]any, c string) {
			require.Equal(t, strings.Repeat("<", 12_000)+c, b["data"], "nothing cut: sent unescaped, within 64 KB")
		}},
		"cloudevents: attribute names": {webhook.PresetCloudEvents, "attribute", func(t *testing.T, c string) *notify.Message {
			return raw(t, map[string]any{"specversion": "1.0", "type": "t", "source": "s", "id": "i", "Trace_Parent": c, "a-very-long-extension-attribute": c, "!!!": c})
		}, func(t *testing.T, b map[string]any, c string) {
			require.Equal(t, c, b["traceparent"])
			require.Equal(t, c, b["averylongextensionat"])
			require.NotContains(t, b, "!!!")
		}},
	}
	for name, tt := range tests {
		for width, c := range widths {
			t.Run(name+"/"+width, func(t *testing.T) {
				t.Parallel()
				msg := tt.msg(t, c)
				r, err := deliver(t, caseFor(t, tt.preset), msg)
				require.NoError(t, err, "the service accepts it")
				tt.check(t, requireSound(t, r.Body), c)
				if tt.field != "" {
					requireNote(t, msg, tt.preset, tt.field)
				}
			})
		}
	}
}

// TestCloudEventsLeavesOtherBodiesAlone: a digest's JSON sent to a cloudevents target is not a
// CloudEvent; its keys (below_threshold) are not attribute names to rename.
func TestCloudEventsLeavesOtherBodiesAlone(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(request) (int, string) { return 202, "" })
	cfg := caseFor(t, webhook.PresetCloudEvents).config(f.srv.URL)
	n, err := webhook.New(&cfg, nil, "test")
	require.NoError(t, err)
	msg := raw(t, map[string]any{"digest": "weekly", "below_threshold": []any{}, "critical_issues": []any{"x"}})
	body := msg.Body
	require.NoError(t, n.Notify(context.Background(), msg))
	require.Equal(t, string(body), string(f.last(t).Body))
	require.Empty(t, msg.Notes)
}

// TestPreviewShowsTheFittedBody: the dry run's preview is the body as fitted, with the notes.
func TestPreviewShowsTheFittedBody(t *testing.T) {
	t.Parallel()
	pc := caseFor(t, webhook.PresetPagerDuty)
	cfg := pc.config("http://127.0.0.1:1")
	n, err := webhook.New(&cfg, nil, "test")
	require.NoError(t, err)
	msg := rendered(t, pc, issue(t, map[string]any{"description": strings.Repeat("é", 350_000)}))
	p, err := n.Preview(context.Background(), msg)
	require.NoError(t, err)
	require.LessOrEqual(t, len(p.Body), 512_000)
	require.NotContains(t, string(p.Body), pdKey)
	requireSound(t, p.Body)
	requireNote(t, msg, webhook.PresetPagerDuty, "description")
}

// TestEscapingTemplatesTakeAnyField: the Mattermost and Rocket.Chat templates escape event text
// (& < > as entities, mentions broken): a 1 MB description of "<" became 4 MB of "&lt;" and
// failed the render's output limit, so the alert was never sent. They cut before escaping.
func TestEscapingTemplatesTakeAnyField(t *testing.T) {
	t.Parallel()
	for _, preset := range []string{webhook.PresetMattermost, webhook.PresetRocketChat} {
		t.Run(preset, func(t *testing.T) {
			t.Parallel()
			pc := caseFor(t, preset)
			ev := issue(t, map[string]any{"description": strings.Repeat("<", 1_000_000), "title": strings.Repeat("@all <b>", 100_000)})
			r, err := deliver(t, pc, rendered(t, pc, ev))
			require.NoError(t, err)
			body := requireSound(t, r.Body)
			require.Equal(t, 4000, runes(body["text"]), "the headline, cut after escaping")
			require.NotContains(t, body["text"], "@all", "mentions stay broken")
		})
	}
}
