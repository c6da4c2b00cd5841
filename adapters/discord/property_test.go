package discord_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/adaptertest"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// pieces random text is made of: mentions, markdown, multi-byte and combining characters,
// emoji (astral plane), JSON and HTML specials, whitespace.
var pieces = []string{
	"@everyone", "@here", "<@&112233445566778899>", "<@112233445566778899>", "<#1>", "<!channel>",
	"**", "__", "`", "```", "~~", "||", "> ", "# ", "[x](https://evil.example)", `\`,
	"é", "ü", "日本語", "e\u0301", "🚨", "👩‍💻", "🇺🇸", "\u200b", "\u202e",
	`"`, "<", ">", "&", "\n", "\t", " ", "   ",
	"x", "word", "SQL Injection", "a_b", "0123456789",
}

func randomText(r *rand.Rand, maxRunes int) string {
	var b strings.Builder
	n := r.IntN(maxRunes + 1)
	if r.IntN(8) == 0 {
		// a very long run of one character
		return strings.Repeat(pieces[r.IntN(len(pieces))], r.IntN(maxRunes+1))
	}
	for b.Len() < n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// TestProperty_PayloadsWithinLimits: for 500 random inputs — events with random titles,
// descriptions, files and errors rendered by the built-in templates (alone and grouped), and
// random raw payloads from a custom template (too many embeds and fields, over-long texts,
// hostile allowed_mentions) — the fake Discord, which refuses any payload over a limit or
// without "allowed_mentions":{"parse":[]}, accepts every one.
func TestProperty_PayloadsWithinLimits(t *testing.T) {
	t.Parallel()
	seed := uint64(20260101)
	r := rand.New(rand.NewPCG(seed, seed))
	f := newFake(t)
	n := newNotifier(t, f.URL())
	for i := range 500 {
		var msg *notify.Message
		switch i % 3 {
		case 0:
			msg = render(t, randomIssue(t, r))
		case 1:
			events := make([]*event.Event, 1+r.IntN(30))
			for j := range events {
				events[j] = randomIssue(t, r)
			}
			msg = render(t, events...)
		default:
			msg = adaptertest.Message(t)
			msg.Body = randomPayload(t, r)
		}
		err := n.Notify(context.Background(), msg)
		reqs := f.requests()
		require.NoError(t, err, "input %d (seed %d): %s", i, seed, reqs[len(reqs)-1].Problems)
		require.Empty(t, reqs[len(reqs)-1].Problems)
		require.Contains(t, string(reqs[len(reqs)-1].Body), `"allowed_mentions":{"parse":[]`)
	}
	require.Len(t, f.requests(), 500)
}

func randomIssue(t *testing.T, r *rand.Rand) *event.Event {
	t.Helper()
	data := map[string]any{
		"title":       "T" + randomText(r, 400),
		"description": randomText(r, 4500),
		"file":        randomText(r, 300),
		"rule_id":     randomText(r, 50),
		"cwe":         randomText(r, 20),
		"severity":    []string{"critical", "high", "medium", "low", "info", "S" + randomText(r, 30)}[r.IntN(6)],
		"scan_id":     "s" + randomText(r, 80),
	}
	if r.IntN(2) == 0 {
		data["repo_url"] = "https://github.com/" + randomText(r, 60)
	}
	return issue(t, data)
}

func randomPayload(t *testing.T, r *rand.Rand) []byte {
	t.Helper()
	var embeds []any
	for range r.IntN(12) {
		e := map[string]any{
			"title":       randomText(r, 300),
			"description": randomText(r, 5000),
			"color":       r.IntN(0x2000000) - 0x100,
			"url":         []string{"https://example.com/x", "not a url", "javascript:alert(1)", ""}[r.IntN(4)],
			"timestamp":   []string{"2026-01-01T00:00:00Z", "yesterday", ""}[r.IntN(3)],
		}
		if r.IntN(2) == 0 {
			e["footer"] = map[string]any{"text": randomText(r, 2200)}
		}
		if r.IntN(3) == 0 {
			e["author"] = map[string]any{"name": randomText(r, 300), "url": "https://example.com"}
		}
		var fields []any
		for range r.IntN(30) {
			fields = append(fields, map[string]any{"name": randomText(r, 300), "value": randomText(r, 1100), "inline": r.IntN(2) == 0})
		}
		e["fields"] = fields
		embeds = append(embeds, e)
	}
	p := map[string]any{
		"content":          randomText(r, 2500) + "x", // never empty, so a message without embeds is still valid
		"embeds":           embeds,
		"username":         []string{"", "Cortex", strings.Repeat("n", 100)}[r.IntN(3)],
		"allowed_mentions": []any{nil, map[string]any{"parse": []string{"everyone", "roles"}}, map[string]any{"parse": nil}}[r.IntN(3)],
	}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	return b
}
