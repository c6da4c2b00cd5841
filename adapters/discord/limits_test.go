package discord

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
	"github.com/stretchr/testify/require"
)

func fields(n int, value string) []*discordgo.MessageEmbedField {
	out := make([]*discordgo.MessageEmbedField, n)
	for i := range out {
		out[i] = &discordgo.MessageEmbedField{Name: fmt.Sprintf("f%d", i), Value: value}
	}
	return out
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{strings.Repeat("é", 300), 256, strings.Repeat("é", 255) + "…"},
		{"🚨🚨🚨", 2, "🚨…"},
		{"abc", 0, ""},
	}
	for _, tc := range tests {
		got := truncate(tc.in, tc.n)
		require.Equal(t, tc.want, got)
		require.True(t, utf8.ValidString(got))
	}
}

func TestFit(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in    discordgo.WebhookParams
		check func(t *testing.T, p *discordgo.WebhookParams)
	}{
		"texts cut by runes": {
			in: discordgo.WebhookParams{Content: strings.Repeat("ü", 2001), Username: strings.Repeat("u", 81), Embeds: []*discordgo.MessageEmbed{{
				Title: strings.Repeat("é", 300), Description: strings.Repeat("x", 5000),
				Fields: []*discordgo.MessageEmbedField{{Name: strings.Repeat("n", 300), Value: strings.Repeat("v", 1100)}},
			}}},
			check: func(t *testing.T, p *discordgo.WebhookParams) {
				require.Equal(t, 2000, utf8.RuneCountInString(p.Content))
				require.Equal(t, 80, utf8.RuneCountInString(p.Username))
				e := p.Embeds[0]
				require.Equal(t, strings.Repeat("é", 255)+"…", e.Title)
				require.Equal(t, 4096, utf8.RuneCountInString(e.Description))
				require.Equal(t, 256, utf8.RuneCountInString(e.Fields[0].Name))
				require.Equal(t, 1024, utf8.RuneCountInString(e.Fields[0].Value))
			},
		},
		"more than 10 embeds": {
			in: discordgo.WebhookParams{Embeds: func() []*discordgo.MessageEmbed {
				var out []*discordgo.MessageEmbed
				for i := range 13 {
					out = append(out, &discordgo.MessageEmbed{Title: fmt.Sprint(i)})
				}
				return out
			}()},
			check: func(t *testing.T, p *discordgo.WebhookParams) {
				require.Len(t, p.Embeds, 10)
				require.Equal(t, "…and 3 more", p.Embeds[9].Fields[0].Value)
			},
		},
		"more than 25 fields": {
			in: discordgo.WebhookParams{Embeds: []*discordgo.MessageEmbed{{Title: "t", Fields: fields(40, "v")}}},
			check: func(t *testing.T, p *discordgo.WebhookParams) {
				f := p.Embeds[0].Fields
				require.Len(t, f, 25)
				require.Equal(t, "f23", f[23].Name)
				require.Equal(t, "…and 16 more", f[24].Value)
			},
		},
		"a template's note keeps its count": {
			in: discordgo.WebhookParams{Embeds: []*discordgo.MessageEmbed{{Title: "t",
				Fields: append(fields(24, strings.Repeat("v", 1000)), &discordgo.MessageEmbedField{Name: "…", Value: "…and 36 more"})}}},
			check: func(t *testing.T, p *discordgo.WebhookParams) {
				f := p.Embeds[0].Fields
				require.Equal(t, fmt.Sprintf("…and %d more", 60-(len(f)-1)), f[len(f)-1].Value)
				require.LessOrEqual(t, total(p.Embeds), maxTotalRunes)
			},
		},
		"over 6000 drops trailing embeds first": {
			in: discordgo.WebhookParams{Embeds: []*discordgo.MessageEmbed{
				{Title: "first", Description: strings.Repeat("a", 4000)},
				{Title: "second", Description: strings.Repeat("b", 4000)},
			}},
			check: func(t *testing.T, p *discordgo.WebhookParams) {
				require.Len(t, p.Embeds, 1)
				require.Equal(t, "first", p.Embeds[0].Title)
				require.Equal(t, "…and 1 more", p.Embeds[0].Fields[0].Value)
			},
		},
		"one embed over 6000 without fields": {
			in: discordgo.WebhookParams{Embeds: []*discordgo.MessageEmbed{{
				Title: strings.Repeat("t", 256), Description: strings.Repeat("d", 4096),
				Footer: &discordgo.MessageEmbedFooter{Text: strings.Repeat("f", 2048)}, Author: &discordgo.MessageEmbedAuthor{Name: strings.Repeat("a", 256)},
			}}},
			check: func(t *testing.T, p *discordgo.WebhookParams) {
				e := p.Embeds[0]
				require.Equal(t, maxTotalRunes, total(p.Embeds))
				require.Equal(t, 256, utf8.RuneCountInString(e.Title), "the description gives way first")
				require.True(t, strings.HasSuffix(e.Description, "…"))
			},
		},
		"blank fields, bad urls and timestamps": {
			in: discordgo.WebhookParams{AvatarURL: "not a url", Embeds: []*discordgo.MessageEmbed{{
				Title: "t", URL: "javascript:alert(1)", Timestamp: "yesterday", Color: -1,
				Fields:    []*discordgo.MessageEmbedField{{Name: "", Value: "  "}, nil},
				Footer:    &discordgo.MessageEmbedFooter{Text: " "},
				Author:    &discordgo.MessageEmbedAuthor{Name: "a", URL: "/relative"},
				Image:     &discordgo.MessageEmbedImage{URL: "ftp://x/y.png"},
				Thumbnail: &discordgo.MessageEmbedThumbnail{URL: "attachment://a.png"},
			}, nil}},
			check: func(t *testing.T, p *discordgo.WebhookParams) {
				require.Empty(t, p.AvatarURL)
				require.Len(t, p.Embeds, 1)
				e := p.Embeds[0]
				require.Empty(t, e.URL)
				require.Empty(t, e.Timestamp)
				require.Zero(t, e.Color)
				require.Len(t, e.Fields, 1)
				require.Equal(t, blank, e.Fields[0].Name)
				require.Equal(t, blank, e.Fields[0].Value)
				require.Nil(t, e.Footer)
				require.Empty(t, e.Author.URL)
				require.Nil(t, e.Image)
				require.Equal(t, "attachment://a.png", e.Thumbnail.URL)
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := tc.in
			_, err := fit(&p)
			require.NoError(t, err)
			require.NoError(t, check(&p))
			tc.check(t, &p)
		})
	}
	var many []*discordgo.MessageEmbedField
	for i := range 30 {
		many = append(many, &discordgo.MessageEmbedField{Name: fmt.Sprint("f", i), Value: "v"})
	}
	p := discordgo.WebhookParams{Embeds: []*discordgo.MessageEmbed{{Title: strings.Repeat("t", 300), Fields: many}}}
	notes, err := fit(&p)
	require.NoError(t, err)
	require.Equal(t, []string{
		"embed title cut from 300 to Discord's 256 characters",
		`6 fields over Discord's 25 per embed counted in "…and 6 more"`,
	}, notes, "what was cut is reported with the limit, for the log")
	empty := discordgo.WebhookParams{Content: " "}
	_, err = fit(&empty)
	require.ErrorContains(t, err, "empty")
}

func TestParseWebhookURL(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ base, id, token string }{
		"https://discord.com/api/webhooks/123/tok-EN_1":             {"https://discord.com/api", "123", "tok-EN_1"},
		"https://discord.com/api/v10/webhooks/123/tok/":             {"https://discord.com/api/v10", "123", "tok"},
		"http://127.0.0.1:8080/proxy/api/webhooks/1/t?thread_id=42": {"http://127.0.0.1:8080/proxy/api?thread_id=42", "1", "t"},
	}
	for raw, want := range tests {
		ep, err := parseWebhookURL(raw)
		require.NoError(t, err, raw)
		require.Equal(t, want.base, ep.base.String())
		require.Equal(t, want.id, ep.id)
		require.Equal(t, want.token, ep.token)
	}
}
