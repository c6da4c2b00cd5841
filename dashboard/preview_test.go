package dashboard

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

func TestMrkdwn(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ in, want string }{
		"formatting":    {"*Scan* _done_ ~old~ `api/user.js:42`", "<strong>Scan</strong> <em>done</em> <s>old</s> <code>api/user.js:42</code>"},
		"link":          {"see <https://example.com/a?b=1&amp;c=2|the scan>", `see <a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">the scan</a>`},
		"date fallback": {"at <!date^1704110700^{date_short_pretty}|2024-01-01 12:05 UTC>", "at 2024-01-01 12:05 UTC"},
		"slack escapes": {"a &lt;b&gt; &amp; c", "a &lt;b&gt; &amp; c"},
		"raw html":      {"<script>alert(1)</script>", `<a href="" rel="noopener noreferrer nofollow" target="_blank">script</a>alert(1)/script&gt;`},
		"js link":       {"<javascript:alert(1)|click>", "click"},
		"quote":         {"&gt; quoted\nnext", `<span class="sl-quote">quoted</span><br>next`},
		"mention":       {"<!here> <@U123>", `@here <span class="sl-mention">@U123</span>`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := string(mrkdwn(tc.in))
			if name == "raw html" {
				require.NotContains(t, got, "<script", "never raw markup")
				return
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDiscordMarkdown(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ in, want string }{
		"formatting": {"**bold** *it* __under__ ~~gone~~ `x<y`", "<strong>bold</strong> <em>it</em> <u>under</u> <s>gone</s> <code>x&lt;y</code>"},
		"escapes":    {`scan\_abc\_123 \*not\* \> x`, "scan_abc_123 *not* &gt; x"},
		"link":       {"[repo](https://github.com/acme/api)", `<a href="https://github.com/acme/api" rel="noopener noreferrer nofollow" target="_blank">repo</a>`},
		"js link":    {"[x](javascript:alert(1))", "x)"}, // the link ends at the first ), as on Discord
		"html":       {`<img src=x onerror=alert(1)>`, "&lt;img src=x onerror=alert(1)&gt;"},
		"lines":      {"a\nb", "a<br>b"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, string(discordMarkdown(tc.in)))
		})
	}
}

func TestPreviewsOfPayloads(t *testing.T) {
	t.Parallel()
	s := slackPreview([]byte(`{"text":"fallback","attachments":[{"color":"#d0021b","blocks":[
		{"type":"header","text":{"type":"plain_text","text":"<b>CRITICAL</b>"}},
		{"type":"section","fields":[{"type":"mrkdwn","text":"*Scan*\nscan_1"}]},
		{"type":"context","elements":[{"type":"mrkdwn","text":"issue.critical"}]},
		{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Open"},"url":"https://example.com"}]},
		{"type":"rich_text"}]}]}`))
	require.NotNil(t, s)
	require.Len(t, s.Attachments, 1)
	a := s.Attachments[0]
	require.Equal(t, "#d0021b", a.Color)
	require.Equal(t, "&lt;b&gt;CRITICAL&lt;/b&gt;", string(a.Blocks[0].Text), "plain text is escaped")
	require.Equal(t, "<strong>Scan</strong><br>scan_1", string(a.Blocks[1].Fields[0]))
	require.Equal(t, "issue.critical", string(a.Blocks[2].Elements[0]))
	require.Contains(t, string(a.Blocks[3].Elements[0]), `href="https://example.com"`)
	require.Equal(t, "other", a.Blocks[4].Type)
	require.Equal(t, "", cssColor("red;background:url(x)"), "only #rrggbb colours reach a style attribute")

	d := discordPreview([]byte(`{"embeds":[{"title":"🚨 **x**","url":"javascript:alert(1)","color":13632027,
		"fields":[{"name":"Scan","value":"scan\\_1","inline":true}],"footer":{"text":"f"},"timestamp":"2024-01-01T12:05:00Z"}]}`))
	require.NotNil(t, d)
	e := d.Embeds[0]
	require.Equal(t, "#d0021b", e.Color)
	require.Empty(t, e.URL, "no javascript: links")
	require.Equal(t, "🚨 <strong>x</strong>", string(e.Title))
	require.Equal(t, "scan_1", string(e.Fields[0].Value))
	require.Nil(t, slackPreview([]byte(`not json`)))
}

func TestChartAndTimes(t *testing.T) {
	t.Parallel()
	for v, want := range map[int]int{0: 2, 1: 2, 3: 4, 7: 8, 10: 10, 11: 20, 45: 60, 150: 200} {
		require.Equal(t, want, niceCeil(v), "niceCeil(%d)", v)
	}
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	var buckets []core.ActivityBucket
	for i := range 24 {
		buckets = append(buckets, core.ActivityBucket{Start: now.Add(time.Duration(i-24) * time.Hour), Events: i, FailedAttempts: i % 3, Attempts: i})
	}
	svg, rows := activityChart(buckets, now)
	require.Len(t, rows, 24)
	require.True(t, now.Equal(rows[23].To))
	require.Equal(t, 23, strings.Count(string(svg), `class="bar-events"`), "no bar for the empty hour")
	require.Contains(t, string(svg), "276 events received and 24 failed attempts")
	require.Contains(t, string(svg), ">now</text>")
	for d, want := range map[time.Duration]string{2 * time.Second: "just now", 30 * time.Second: "30 s ago",
		5 * time.Minute: "5 min ago", 3 * time.Hour: "3 h ago", 72 * time.Hour: "3 days ago", -2 * time.Hour: "in 2 h"} {
		require.Equal(t, want, ago(now, now.Add(-d)))
	}
	require.Equal(t, "never", ago(now, time.Time{}))
}

// nextCases are sign-in "next" values: the ones that must send the browser home ("/") and the
// on-site ones kept (re-serialised).
var nextCases = map[string]string{
	"/ui/deliveries?status=dead": "/ui/deliveries?status=dead",
	"/ui/webhooks/wh_1#top":      "/ui/webhooks/wh_1#top",
	"/ui/a%20b":                  "/ui/a%20b",
	"/":                          "/",
	"":                           "/",
	"//evil.example":             "/",
	"///evil.example":            "/",
	"/\t/evil.example":           "/",
	"/\t\t/evil.example":         "/",
	"\t//evil.example":           "/",
	"/\n/evil.example":           "/",
	"/\r/evil.example":           "/",
	"/\r\n/evil.example":         "/",
	"/ok\r\nSet-Cookie: x":       "/",
	`/\evil.example`:             "/%5Cevil.example",
	`\\evil.example`:             "/",
	`\/evil.example`:             "/",
	`/\/evil.example`:            "/%5C/evil.example",
	"/ui\\..\\\\evil.example":    "/ui%5C..%5C%5Cevil.example",
	"https://evil.example":       "/",
	"https://evil.example/ui/":   "/",
	"http:evil.example":          "/",
	"https:evil.example":         "/",
	"https:/evil.example":        "/",
	"https:\\evil.example":       "/",
	"HTTPS://evil.example":       "/",
	"//user@evil.example":        "/",
	"/@evil.example":             "/@evil.example",
	"javascript:alert(1)":        "/",
	"JavaScript:alert(1)":        "/",
	" javascript:alert(1)":       "/",
	"data:text/html,<script>":    "/",
	"ui/relative":                "/",
	"./ui":                       "/",
	"%2F%2Fevil.example":         "/",
	"/%2F/evil.example":          "/%2F/evil.example",
	"/%5C/evil.example":          "/%5C/evil.example",
	"/%09/evil.example":          "/%09/evil.example",
	"/%0d%0aSet-Cookie:x":        "/%0d%0aSet-Cookie:x",
	"/ui/x?next=//evil.example":  "/ui/x?next=%2F%2Fevil.example",
	"/ui/x?a=\\evil":             "/ui/x?a=%5Cevil",
	"/\u00a0/evil.example":       "/%C2%A0/evil.example",
	"/\uff0f/evil.example":       "/%EF%BC%8F/evil.example",
	"/..//evil.example":          "/..//evil.example",
}

// browserResolve is how a browser reads a Location header on this site: it drops tabs and line
// breaks anywhere, reads "\\" as "/", then resolves the reference against the page.
func browserResolve(t *testing.T, loc string) *url.URL {
	t.Helper()
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(strings.TrimSpace(loc))
	ref, err := url.Parse(loc)
	require.NoError(t, err, loc)
	return nextBase.ResolveReference(ref)
}

// TestSafeNext: every tricky form of "next" either stays on this site (re-serialised) or sends
// the browser home, and what a browser makes of the answer is this origin.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range nextCases {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			got := safeNext(in)
			require.Equal(t, want, got)
			require.True(t, strings.HasPrefix(got, "/"))
			require.NotContains(t, []byte{'/', '\\'}, append([]byte(got), 0)[1], "no protocol-relative start")
			for _, c := range []byte(got) {
				require.True(t, c > ' ' && c < 0x7f && c != '\\', "only printable ASCII, no backslash: %q", got)
			}
			r := browserResolve(t, got)
			require.Equal(t, nextBase.Host, r.Host)
			require.Equal(t, nextBase.Scheme, r.Scheme)
		})
	}
}
