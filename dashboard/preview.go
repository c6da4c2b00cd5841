package dashboard

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"regexp"
	"strings"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// The previews show a rendered message approximately as its platform would: Slack blocks and
// attachments, a Discord embed, an email's HTML (in a sandboxed frame). The markup is built
// here from escaped text only: every string of the payload is HTML-escaped before the few
// formatting rules (bold, italic, code, links with http(s) or mailto URLs) add tags.

// preview is one target's message in a dry run.
type preview struct {
	Target  targetRef
	Already bool   // an earlier route already sends the event to this target
	Error   string // the template failed
	Kind    string // slack, discord, email, json, file
	Note    string
	JSON    string // the payload, indented (slack, discord, json, file)
	Slack   *slackView
	Discord *discordView
	Email   *emailView
}

type emailView struct {
	Subject string
	Text    string
	// HTML is shown in <iframe sandbox="allow-same-origin" srcdoc>: no script runs in it (no
	// allow-scripts, and the page's CSP is inherited), no form is sent, no remote image loads.
	// Same-origin only lets the frame render in the page's process (headless Chromium leaves
	// an opaque-origin srcdoc frame blank in screenshots).
	HTML string
}

type slackView struct {
	Text        template.HTML // the notification text (shown when there are no blocks)
	Blocks      []slackBlock
	Attachments []slackAttachment
}

type slackAttachment struct {
	Color  string // a CSS colour, validated
	Blocks []slackBlock
	Text   template.HTML
}

type slackBlock struct {
	Type     string // header, section, context, divider, actions, image, other
	Text     template.HTML
	Fields   []template.HTML
	Elements []template.HTML
}

type discordView struct {
	Content template.HTML
	Embeds  []discordEmbed
}

type discordEmbed struct {
	Color       string
	Author      string
	Title       template.HTML
	URL         string
	Description template.HTML
	Fields      []discordField
	Footer      string
	Timestamp   string
}

type discordField struct {
	Name   template.HTML
	Value  template.HTML
	Inline bool
}

var hexColor = regexp.MustCompile(`^#?[0-9a-fA-F]{6}$`)

func cssColor(c string) string {
	if !hexColor.MatchString(c) {
		return ""
	}
	return "#" + strings.TrimPrefix(c, "#")
}

// safeURL returns u when it is an absolute http(s) or mailto URL, else "".
func safeURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https" && p.Scheme != "mailto") {
		return ""
	}
	return p.String()
}

func link(href, label string) string {
	if href = safeURL(href); href == "" {
		return label
	}
	return `<a href="` + html.EscapeString(href) + `" rel="noopener noreferrer nofollow" target="_blank">` + label + `</a>`
}

// ---- Slack ------------------------------------------------------------------------------

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlockJSON struct {
	Type     string            `json:"type"`
	Text     *slackText        `json:"text"`
	Fields   []slackText       `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
	AltText  string            `json:"alt_text"`
}

type slackMessageJSON struct {
	Text        string           `json:"text"`
	Blocks      []slackBlockJSON `json:"blocks"`
	Attachments []struct {
		Color    string           `json:"color"`
		Blocks   []slackBlockJSON `json:"blocks"`
		Text     string           `json:"text"`
		Fallback string           `json:"fallback"`
	} `json:"attachments"`
}

// platformViews draw a payload the way its platform shows it, by payload schema
// (notify.TargetType.Payload); other JSON payloads show as JSON. The page template has one
// layout per Kind they set.
var platformViews = map[string]struct {
	kind string
	draw func(p *preview, body []byte)
}{
	notify.PayloadSlack:   {"slack", func(p *preview, body []byte) { p.Slack = slackPreview(body) }},
	notify.PayloadDiscord: {"discord", func(p *preview, body []byte) { p.Discord = discordPreview(body) }},
}

func slackPreview(body []byte) *slackView {
	var m slackMessageJSON
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	v := &slackView{Text: mrkdwn(m.Text), Blocks: slackBlocks(m.Blocks)}
	for _, a := range m.Attachments {
		v.Attachments = append(v.Attachments, slackAttachment{Color: cssColor(a.Color), Blocks: slackBlocks(a.Blocks), Text: mrkdwn(a.Text)})
	}
	return v
}

func slackTextHTML(t *slackText) template.HTML {
	if t == nil {
		return ""
	}
	if t.Type == "plain_text" {
		return template.HTML(slackEmoji.Replace(html.EscapeString(t.Text)))
	}
	return mrkdwn(t.Text)
}

func slackBlocks(in []slackBlockJSON) []slackBlock {
	var out []slackBlock
	for _, b := range in {
		sb := slackBlock{Type: b.Type, Text: slackTextHTML(b.Text)}
		switch b.Type {
		case "header", "section", "divider":
			for _, f := range b.Fields {
				sb.Fields = append(sb.Fields, slackTextHTML(&f))
			}
		case "context", "actions":
			for _, raw := range b.Elements {
				var el struct {
					Type    string `json:"type"`
					Text    any    `json:"text"`
					AltText string `json:"alt_text"`
					URL     string `json:"url"`
				}
				if json.Unmarshal(raw, &el) != nil {
					continue
				}
				switch t := el.Text.(type) {
				case string: // a context element: {type: mrkdwn|plain_text, text: "…"}
					sb.Elements = append(sb.Elements, slackTextHTML(&slackText{Type: el.Type, Text: t}))
				case map[string]any: // a button: {type: button, text: {type: plain_text, text: "…"}, url}
					label, _ := t["text"].(string)
					sb.Elements = append(sb.Elements, template.HTML(`<span class="sl-button">`+link(el.URL, html.EscapeString(label))+`</span>`))
				default:
					if el.AltText != "" {
						sb.Elements = append(sb.Elements, template.HTML(`<span class="muted">[image: `+html.EscapeString(el.AltText)+`]</span>`))
					}
				}
			}
		case "image":
			sb.Text = template.HTML(`<span class="muted">[image: ` + html.EscapeString(b.AltText) + `]</span>`)
		default:
			sb.Type, sb.Text = "other", template.HTML(`<span class="muted">[`+html.EscapeString(b.Type)+` block]</span>`)
		}
		out = append(out, sb)
	}
	return out
}

var (
	slackToken = regexp.MustCompile(`<([^<>]*)>`)
	codeBlock  = regexp.MustCompile("(?s)```(.+?)```")
	codeSpan   = regexp.MustCompile("`([^`\n]+)`")
	slackBold  = regexp.MustCompile(`(^|[\s(>_~])\*([^*\n]+)\*`)
	slackItal  = regexp.MustCompile(`(^|[\s(>*~])_([^_\n]+)_`)
	slackStrk  = regexp.MustCompile(`(^|[\s(>*_])~([^~\n]+)~`)
)

// mrkdwn renders Slack's mrkdwn approximately: <url|label> links, <!date^…|fallback>,
// <!here>, <@U…>, *bold*, _italic_, ~strike~, `code`, ```pre```, > quotes and line breaks. The
// source's &amp; &lt; &gt; (Slack's own escapes) stand for & < >.
func mrkdwn(s string) template.HTML {
	if s == "" {
		return ""
	}
	var b strings.Builder
	last := 0
	for _, m := range slackToken.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(mrkdwnText(s[last:m[0]]))
		inner := s[m[2]:m[3]]
		target, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "!date^"):
			b.WriteString(mrkdwnText(label))
		case strings.HasPrefix(target, "!"):
			b.WriteString(html.EscapeString("@" + strings.TrimPrefix(target, "!")))
		case strings.HasPrefix(target, "@") || strings.HasPrefix(target, "#"):
			b.WriteString(`<span class="sl-mention">` + html.EscapeString(target) + `</span>`)
		default:
			if !hasLabel {
				label = target
			}
			b.WriteString(link(slackUnescape(target), mrkdwnText(label)))
		}
		last = m[1]
	}
	b.WriteString(mrkdwnText(s[last:]))
	return template.HTML(b.String())
}

func slackUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(s)
}

// slackEmoji are the shortcodes the built-in Slack templates use, shown as Slack shows them.
var slackEmoji = strings.NewReplacer(":rotating_light:", "🚨", ":white_check_mark:", "✅", ":x:", "❌",
	":warning:", "⚠️", ":hourglass:", "⌛", ":mag:", "🔍", ":arrows_counterclockwise:", "🔄",
	":information_source:", "ℹ️", ":clipboard:", "📋")

// mrkdwnText formats a stretch of mrkdwn without links.
func mrkdwnText(s string) string {
	s = slackEmoji.Replace(html.EscapeString(slackUnescape(s)))
	s = codeBlock.ReplaceAllString(s, "<pre>$1</pre>")
	s = codeSpan.ReplaceAllString(s, "<code>$1</code>")
	s = slackBold.ReplaceAllString(s, "$1<strong>$2</strong>")
	s = slackItal.ReplaceAllString(s, "$1<em>$2</em>")
	s = slackStrk.ReplaceAllString(s, "$1<s>$2</s>")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if q, ok := strings.CutPrefix(l, "&gt; "); ok {
			lines[i] = `<span class="sl-quote">` + q + `</span>`
		}
	}
	return strings.Join(lines, "<br>")
}

// ---- Discord ----------------------------------------------------------------------------

type discordMessageJSON struct {
	Content string `json:"content"`
	Embeds  []struct {
		Title       string `json:"title"`
		URL         string `json:"url"`
		Description string `json:"description"`
		Color       int    `json:"color"`
		Timestamp   string `json:"timestamp"`
		Author      *struct {
			Name string `json:"name"`
		} `json:"author"`
		Footer *struct {
			Text string `json:"text"`
		} `json:"footer"`
		Fields []struct {
			Name   string `json:"name"`
			Value  string `json:"value"`
			Inline bool   `json:"inline"`
		} `json:"fields"`
	} `json:"embeds"`
}

func discordPreview(body []byte) *discordView {
	var m discordMessageJSON
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	v := &discordView{Content: discordMarkdown(m.Content)}
	for _, e := range m.Embeds {
		de := discordEmbed{Title: discordMarkdown(e.Title), URL: safeURL(e.URL), Description: discordMarkdown(e.Description),
			Timestamp: e.Timestamp}
		if e.Color > 0 {
			de.Color = fmt.Sprintf("#%06x", e.Color&0xffffff)
		}
		if e.Author != nil {
			de.Author = e.Author.Name
		}
		if e.Footer != nil {
			de.Footer = e.Footer.Text
		}
		for _, f := range e.Fields {
			de.Fields = append(de.Fields, discordField{Name: discordMarkdown(f.Name), Value: discordMarkdown(f.Value), Inline: f.Inline})
		}
		v.Embeds = append(v.Embeds, de)
	}
	return v
}

var (
	mdEscape = regexp.MustCompile(`\\([\\*_~` + "`" + `|>\[\]()#-])`)
	mdLink   = regexp.MustCompile(`\[([^\]\n]+)\]\(([^)\s]+)\)`)
	mdBold   = regexp.MustCompile(`\*\*([^*\n]+)\*\*`)
	mdUnder  = regexp.MustCompile(`__([^_\n]+)__`)
	mdItalic = regexp.MustCompile(`(^|[^\w*])[*_]([^*_\n]+)[*_]`)
	mdStrike = regexp.MustCompile(`~~([^~\n]+)~~`)
)

// discordMarkdown renders Discord's markdown approximately: \-escapes, [label](url), **bold**,
// __underline__, *italic*, ~~strike~~, `code`, ```pre``` and line breaks.
func discordMarkdown(s string) template.HTML {
	if s == "" {
		return ""
	}
	// Escaped characters become private-use runes while the formatting rules run.
	s = mdEscape.ReplaceAllStringFunc(s, func(m string) string { return string(rune(0xE000 + int(m[1]))) })
	s = html.EscapeString(s)
	s = codeBlock.ReplaceAllString(s, "<pre>$1</pre>")
	s = codeSpan.ReplaceAllString(s, "<code>$1</code>")
	s = mdLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := mdLink.FindStringSubmatch(m)
		return link(html.UnescapeString(sub[2]), sub[1])
	})
	s = mdBold.ReplaceAllString(s, "<strong>$1</strong>")
	s = mdUnder.ReplaceAllString(s, "<u>$1</u>")
	s = mdItalic.ReplaceAllString(s, "$1<em>$2</em>")
	s = mdStrike.ReplaceAllString(s, "<s>$1</s>")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0xE000 && r < 0xE080:
			b.WriteString(html.EscapeString(string(r - 0xE000)))
		case r == '\n':
			b.WriteString("<br>")
		default:
			b.WriteRune(r)
		}
	}
	return template.HTML(b.String())
}
