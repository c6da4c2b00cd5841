package discord

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
)

// Discord's limits on an execute-webhook payload. Discord counts characters (Unicode code
// points), so these are runes, not bytes.
const (
	// https://discord.com/developers/docs/resources/webhook#execute-webhook-jsonform-params
	maxContentRunes = 2000
	maxEmbeds       = 10
	// https://discord.com/developers/docs/resources/webhook#create-webhook-json-params (name 1–80)
	maxUsernameRunes = 80

	// https://discord.com/developers/docs/resources/message#embed-object-embed-limits
	maxTitleRunes       = 256
	maxDescriptionRunes = 4096
	maxFields           = 25
	maxFieldNameRunes   = 256
	maxFieldValueRunes  = 1024
	maxFooterRunes      = 2048
	maxAuthorRunes      = 256
	// maxTotalRunes bounds the sum of every title, description, field name and value, footer
	// text and author name across all embeds of one message.
	maxTotalRunes = 6000
)

// blank stands in for an empty field name or value, which Discord refuses.
const blank = "\u200b"

// moreNote matches the "…and N more" field that says what was left out (written by this
// package or by the built-in group template), so dropping it keeps the count.
var moreNote = regexp.MustCompile(`^…and (\d+) more\b`)

// truncate shortens s to at most n runes, ending with "…" when it cut (like the templates'
// truncate), never splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// fit makes p acceptable to Discord: every text is truncated to its limit; embeds over 10 and
// fields over 25 are dropped; when the embeds' combined text is still over 6 000, trailing embeds,
// then trailing fields are dropped, and whatever was dropped is counted in one "…and N more"
// field, before the description, footer and title are shortened. Empty field texts become a
// zero-width space, malformed URLs and timestamps are removed. It returns what it cut, with the
// limits (for the log); an error means p cannot be sent (an empty message).
func fit(p *discordgo.WebhookParams) ([]string, error) {
	f := &fitting{}
	p.Content = f.cut(p.Content, maxContentRunes, "content")
	p.Username = f.cut(p.Username, maxUsernameRunes, "username")
	if p.AvatarURL != "" && !isHTTPURL(p.AvatarURL) {
		p.AvatarURL = ""
	}
	var embeds []*discordgo.MessageEmbed
	for _, e := range p.Embeds {
		if e != nil {
			embeds = append(embeds, e)
		}
	}
	more := 0
	if len(embeds) > maxEmbeds {
		more = len(embeds) - maxEmbeds
		embeds = embeds[:maxEmbeds]
		f.note("%d embeds over Discord's %d dropped and counted in \"…and N more\"", more, maxEmbeds)
	}
	for _, e := range embeds {
		f.fitEmbed(e)
	}
	p.Embeds = embeds
	if len(embeds) > 0 {
		f.fitTotal(p, more)
	}
	if strings.TrimSpace(p.Content) == "" && len(p.Embeds) == 0 && len(p.Files) == 0 && len(p.Components) == 0 {
		return f.notes, errors.New("the message is empty: no content and no embeds")
	}
	return f.notes, check(p)
}

// fitting collects what fit changed.
type fitting struct{ notes []string }

func (f *fitting) note(format string, args ...any) {
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

// cut truncates s to n runes, noting it when it does.
func (f *fitting) cut(s string, n int, what string) string {
	if r := runes(s); r > n {
		f.note("%s cut from %d to Discord's %d characters", what, r, n)
		return truncate(s, n)
	}
	return s
}

func (f *fitting) fitEmbed(e *discordgo.MessageEmbed) {
	e.Title = f.cut(e.Title, maxTitleRunes, "embed title")
	e.Description = f.cut(e.Description, maxDescriptionRunes, "embed description")
	e.URL = cleanURL(e.URL, false)
	if e.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339Nano, e.Timestamp); err != nil {
			e.Timestamp = ""
		}
	}
	if e.Color < 0 || e.Color > 0xFFFFFF {
		e.Color = 0
	}
	if e.Footer != nil {
		e.Footer.Text = f.cut(e.Footer.Text, maxFooterRunes, "embed footer")
		e.Footer.IconURL = cleanURL(e.Footer.IconURL, true)
		if strings.TrimSpace(e.Footer.Text) == "" {
			e.Footer = nil // text is required
		}
	}
	if e.Author != nil {
		e.Author.Name = f.cut(e.Author.Name, maxAuthorRunes, "embed author")
		e.Author.URL = cleanURL(e.Author.URL, false)
		e.Author.IconURL = cleanURL(e.Author.IconURL, true)
		if strings.TrimSpace(e.Author.Name) == "" {
			e.Author = nil // name is required
		}
	}
	if e.Image != nil {
		if e.Image.URL = cleanURL(e.Image.URL, true); e.Image.URL == "" {
			e.Image = nil
		}
	}
	if e.Thumbnail != nil {
		if e.Thumbnail.URL = cleanURL(e.Thumbnail.URL, true); e.Thumbnail.URL == "" {
			e.Thumbnail = nil
		}
	}
	var fields []*discordgo.MessageEmbedField
	for _, fd := range e.Fields {
		if fd == nil {
			continue
		}
		fd.Name = nonBlank(f.cut(fd.Name, maxFieldNameRunes, "field name"))
		fd.Value = nonBlank(f.cut(fd.Value, maxFieldValueRunes, "field value"))
		fields = append(fields, fd)
	}
	if len(fields) > maxFields {
		n := items(fields[maxFields-1:])
		f.note("%d fields over Discord's %d per embed counted in \"…and %d more\"", len(fields)-maxFields+1, maxFields, n)
		fields = append(fields[:maxFields-1], note(n))
	}
	e.Fields = fields
}

// fitTotal keeps the embeds' combined text within maxTotalRunes; more counts items already
// dropped (embeds over the limit).
func (f *fitting) fitTotal(p *discordgo.WebhookParams, more int) {
	before := total(p.Embeds)
	defer func() {
		if after := total(p.Embeds); before > maxTotalRunes {
			f.note("embeds' text cut from %d to %d characters (Discord's limit: %d)", before, after, maxTotalRunes)
		}
	}()
	for {
		last := p.Embeds[len(p.Embeds)-1]
		switch {
		case more > 0 && len(last.Fields) >= maxFields: // make room for the note
			more += items(last.Fields[len(last.Fields)-1:])
			last.Fields = last.Fields[:len(last.Fields)-1]
			continue
		case total(p.Embeds)+noteRunes(more) <= maxTotalRunes:
		case len(p.Embeds) > 1:
			more++
			p.Embeds = p.Embeds[:len(p.Embeds)-1]
			continue
		case len(last.Fields) > 0:
			more += items(last.Fields[len(last.Fields)-1:])
			last.Fields = last.Fields[:len(last.Fields)-1]
			continue
		}
		break
	}
	last := p.Embeds[len(p.Embeds)-1]
	if more > 0 {
		last.Fields = append(last.Fields, note(more))
	}
	// One embed without fields can still be over: 256 + 4 096 + 2 048 + 256 > 6 000.
	if over := total(p.Embeds) - maxTotalRunes; over > 0 {
		shorten := func(s *string) {
			if over > 0 && *s != "" {
				n := max(runes(*s)-over, 1)
				over -= runes(*s) - n
				*s = truncate(*s, n)
			}
		}
		shorten(&last.Description)
		if last.Footer != nil {
			shorten(&last.Footer.Text)
		}
		shorten(&last.Title)
		if last.Author != nil {
			shorten(&last.Author.Name)
		}
	}
}

// total is Discord's count of an embed list's text.
func total(embeds []*discordgo.MessageEmbed) int {
	n := 0
	for _, e := range embeds {
		n += runes(e.Title) + runes(e.Description)
		if e.Footer != nil {
			n += runes(e.Footer.Text)
		}
		if e.Author != nil {
			n += runes(e.Author.Name)
		}
		for _, f := range e.Fields {
			n += runes(f.Name) + runes(f.Value)
		}
	}
	return n
}

func note(n int) *discordgo.MessageEmbedField {
	return &discordgo.MessageEmbedField{Name: "…", Value: fmt.Sprintf("…and %d more", n)}
}

func noteRunes(n int) int {
	if n == 0 {
		return 0
	}
	f := note(n)
	return runes(f.Name) + runes(f.Value)
}

// items counts what fields stand for: one each, or N for an "…and N more" note.
func items(fields []*discordgo.MessageEmbedField) int {
	n := 0
	for _, f := range fields {
		if m := moreNote.FindStringSubmatch(f.Value); m != nil {
			if k, err := strconv.Atoi(m[1]); err == nil {
				n += k
				continue
			}
		}
		n++
	}
	return n
}

func nonBlank(s string) string {
	if strings.TrimSpace(s) == "" {
		return blank
	}
	return s
}

// cleanURL returns raw normalised when Discord would take it (absolute http(s), or attachment://
// for images), else "": a malformed link must not turn a whole alert into a 400.
func cleanURL(raw string, image bool) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || !u.IsAbs() {
		return ""
	}
	switch {
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
	case image && u.Scheme == "attachment":
	default:
		return ""
	}
	return u.String()
}

// check verifies p against every limit; fit guarantees it, so an error here is a bug that would
// otherwise become Discord's 400.
func check(p *discordgo.WebhookParams) error {
	var errs []error
	over := func(what string, n, limit int) {
		if n > limit {
			errs = append(errs, fmt.Errorf("%s: %d over the limit of %d", what, n, limit))
		}
	}
	over("content", runes(p.Content), maxContentRunes)
	over("embeds", len(p.Embeds), maxEmbeds)
	for i, e := range p.Embeds {
		over(fmt.Sprintf("embeds[%d].title", i), runes(e.Title), maxTitleRunes)
		over(fmt.Sprintf("embeds[%d].description", i), runes(e.Description), maxDescriptionRunes)
		over(fmt.Sprintf("embeds[%d].fields", i), len(e.Fields), maxFields)
		if e.Footer != nil {
			over(fmt.Sprintf("embeds[%d].footer.text", i), runes(e.Footer.Text), maxFooterRunes)
		}
		if e.Author != nil {
			over(fmt.Sprintf("embeds[%d].author.name", i), runes(e.Author.Name), maxAuthorRunes)
		}
		for j, f := range e.Fields {
			over(fmt.Sprintf("embeds[%d].fields[%d].name", i, j), runes(f.Name), maxFieldNameRunes)
			over(fmt.Sprintf("embeds[%d].fields[%d].value", i, j), runes(f.Value), maxFieldValueRunes)
		}
	}
	over("embeds (total text)", total(p.Embeds), maxTotalRunes)
	return errors.Join(errs...)
}
