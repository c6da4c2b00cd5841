package templates

import (
	"fmt"
	htemplate "html/template"
	"math"
	"strconv"
	"strings"
	ttemplate "text/template"
	"unicode/utf8"

	"github.com/Masterminds/sprig/v3"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Funcs returns the template functions: sprig's minus removedFuncs (environment, network, key
// and password generation), plus slack_escape, discord_escape, md_escape, severity_color,
// color_int, truncate, humanize_duration and the link functions of links.go (link_url,
// link_label, slack_link, md_link, text_link, file_url, no_links, event_url). Text templates also have include ({{ include "block" . }}
// returns a {{define}}d block as a string). At render time each is metered (see Limits).
func Funcs() map[string]any {
	m := make(map[string]any, len(funcs))
	for k, v := range funcs {
		m[k] = v
	}
	return m
}

// funcs is Funcs' map, built once.
var funcs = func() map[string]any {
	m := sprig.GenericFuncMap()
	for _, name := range removedFuncs {
		delete(m, name)
	}
	m["slack_escape"] = SlackEscape
	m["discord_escape"] = DiscordEscape
	m["severity_color"] = SeverityColor
	m["truncate"] = Truncate
	m["humanize_duration"] = HumanizeDuration
	m["color_int"] = ColorInt
	m["md_escape"] = MarkdownEscape
	m["link_url"] = LinkURL
	m["link_label"] = LinkLabel
	m["slack_link"] = SlackLink
	m["md_link"] = MarkdownLink
	m["text_link"] = TextLink
	m["file_url"] = FileURL
	m["no_links"] = NoLinks
	m["event_url"] = EventURL
	return m
}()

// textFuncs adds a placeholder "include" so templates parse; each parsed template then binds it
// to itself (see include).
func textFuncs() ttemplate.FuncMap {
	m := ttemplate.FuncMap(Funcs())
	m["include"] = func(string, any) (string, error) { return "", nil }
	return m
}
func htmlFuncs() htemplate.FuncMap { return htemplate.FuncMap(Funcs()) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackEscape escapes s for Slack mrkdwn: only &, < and > (Slack's formatting doc,
// https://api.slack.com/reference/surfaces/formatting#escaping), so "<!channel>" in an event
// shows as text and never pings or links. Nil gives "".
func SlackEscape(s any) string { return slackEscaper.Replace(str(s)) }

var discordEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, ">", `\>`, "#", `\#`, "[", `\[`, "]", `\]`,
)

// DiscordEscape backslash-escapes Discord markdown (* _ ~ ` | > # [ ]) so event text shows as
// written. Mentions are defused separately by allowed_mentions {"parse":[]}. Nil gives "".
func DiscordEscape(s any) string { return discordEscaper.Replace(str(s)) }

// SeverityColor maps a severity (info, low, medium, high, critical; any case) or an event type
// ("scan.failed", …) to a "#rrggbb" colour; anything else is grey.
func SeverityColor(v any) string {
	switch strings.ToLower(str(v)) {
	case "critical", "issue.critical", "scan.failed":
		return "#d0021b"
	case "high", "scan.timeout":
		return "#f5a623"
	case "medium":
		return "#f8e71c"
	case "low", "scan.started", "scan.progress":
		return "#4a90e2"
	case "scan.completed":
		return "#7ed321"
	}
	return "#9b9b9b"
}

// ColorInt turns "#rrggbb" into the integer Discord embeds take (0 when malformed).
func ColorInt(hex string) int {
	v, err := strconv.ParseInt(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil {
		return 0
	}
	return int(v)
}

// Truncate shortens s to at most n runes, ending with "…" when it cut (so the result is n runes
// long, never a broken UTF-8 sequence). Used as {{ .title | truncate 256 }}.
func Truncate(n int, s any) string {
	v := str(s)
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(v) <= n {
		return v
	}
	r := []rune(v)
	return string(r[:n-1]) + "…"
}

// HumanizeDuration formats a number of seconds as "45s", "2m 5s", "1h 30m" or "2d 3h"; nil or a
// non-number gives "".
func HumanizeDuration(v any) string {
	var secs float64
	switch x := v.(type) {
	case int:
		secs = float64(x)
	case int64:
		secs = float64(x)
	case float64:
		secs = x
	default:
		return ""
	}
	if secs < 60 {
		if secs == math.Trunc(secs) {
			return fmt.Sprintf("%.0fs", secs)
		}
		return fmt.Sprintf("%.1fs", secs)
	}
	s := int64(math.Round(secs))
	d, h, m, sec := s/86400, s%86400/3600, s%3600/60, s%60
	switch {
	case d > 0:
		return fmt.Sprintf("%dd %dh", d, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case sec > 0:
		return fmt.Sprintf("%dm %ds", m, sec)
	}
	return fmt.Sprintf("%dm", m)
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// EventURL is event_url: the address of the event id's page under publicURL
// (server.public_url), id path-escaped (notify.EventURL); "" when either is empty.
func EventURL(publicURL, id any) string {
	p, i := str(publicURL), str(id)
	if p == "" || i == "" {
		return ""
	}
	return notify.EventURL(p, i)
}
