package slack

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Slack's message limits. A payload over them is refused (invalid_blocks / msg_too_long), so
// Notify fits every message into them first: text is cut by runes with "…", and items that do
// not fit become "…and N more".
const (
	// https://docs.slack.dev/reference/methods/chat.postMessage#truncating-content
	maxTextRunes = 40000
	// https://docs.slack.dev/reference/block-kit/blocks ("up to 50 blocks in each message")
	maxBlocks = 50
	// https://docs.slack.dev/reference/block-kit/blocks/section-block
	maxSectionTextRunes = 3000
	maxSectionFields    = 10
	maxFieldRunes       = 2000
	// https://docs.slack.dev/reference/block-kit/blocks/header-block
	maxHeaderRunes = 150
	// https://docs.slack.dev/reference/block-kit/blocks/context-block
	maxContextElements = 10
)

// truncate cuts s to at most n runes, ending with "…" when it cut. A cut never splits an HTML
// entity (&amp; &lt; &gt;) that escaping produced.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	out := string(r)
	if amp := strings.LastIndexByte(out, '&'); amp >= 0 && !strings.Contains(out[amp:], ";") {
		out = out[:amp]
	}
	return out + "…"
}

func more(n int) string { return fmt.Sprintf("…and %d more", n) }

// fit makes msg satisfy Slack's limits in place and reports what it changed (for the attempt
// log). It never drops a message: what does not fit is summarised.
func fit(msg *slack.WebhookMessage) []string {
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	if n := utf8.RuneCountInString(msg.Text); n > maxTextRunes {
		msg.Text = truncate(msg.Text, maxTextRunes)
		note("text cut from %d to %d characters", n, maxTextRunes)
	}
	sets := []*[]slack.Block{}
	if msg.Blocks != nil {
		sets = append(sets, &msg.Blocks.BlockSet)
	}
	for i := range msg.Attachments {
		sets = append(sets, &msg.Attachments[i].Blocks.BlockSet)
	}
	total := 0
	for _, set := range sets {
		for _, b := range *set {
			fitBlock(b, note)
		}
		total += len(*set)
	}
	if total > maxBlocks {
		// Drop blocks from the end of the largest set (the list of items) and say how many.
		largest := sets[0]
		for _, set := range sets {
			if len(*set) > len(*largest) {
				largest = set
			}
		}
		drop := total - (maxBlocks - 1)
		if drop > len(*largest) {
			drop = len(*largest)
		}
		keep := len(*largest) - drop
		*largest = append((*largest)[:keep:keep], slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, more(drop), false, false)))
		note("%d blocks over the limit of %d summarised", drop, maxBlocks)
	}
	return notes
}

func fitBlock(b slack.Block, note func(string, ...any)) {
	switch blk := b.(type) {
	case *slack.SectionBlock:
		if blk.Text != nil && utf8.RuneCountInString(blk.Text.Text) > maxSectionTextRunes {
			blk.Text.Text = truncate(blk.Text.Text, maxSectionTextRunes)
			note("section text cut to %d characters", maxSectionTextRunes)
		}
		if len(blk.Fields) > maxSectionFields {
			dropped := len(blk.Fields) - (maxSectionFields - 1)
			blk.Fields = append(blk.Fields[:maxSectionFields-1:maxSectionFields-1], slack.NewTextBlockObject(slack.MarkdownType, more(dropped), false, false))
			note("%d section fields over the limit of %d summarised", dropped, maxSectionFields)
		}
		for _, f := range blk.Fields {
			if f != nil && utf8.RuneCountInString(f.Text) > maxFieldRunes {
				f.Text = truncate(f.Text, maxFieldRunes)
				note("section field cut to %d characters", maxFieldRunes)
			}
		}
	case *slack.HeaderBlock:
		if blk.Text != nil && utf8.RuneCountInString(blk.Text.Text) > maxHeaderRunes {
			blk.Text.Text = truncate(blk.Text.Text, maxHeaderRunes)
			note("header cut to %d characters", maxHeaderRunes)
		}
	case *slack.ContextBlock:
		if els := blk.ContextElements.Elements; len(els) > maxContextElements {
			dropped := len(els) - (maxContextElements - 1)
			blk.ContextElements.Elements = append(els[:maxContextElements-1:maxContextElements-1],
				slack.NewTextBlockObject(slack.MarkdownType, more(dropped), false, false))
			note("%d context elements over the limit of %d summarised", dropped, maxContextElements)
		}
	}
}
