package templates_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/templates"
)

// hostileLinks are values an attacker can put in repo_url (or any URL field), with what each
// link function must make of them. Empty url: not a link, shown as text.
var hostileLinks = []struct {
	name, in   string
	url, label string // LinkURL, LinkLabel
	slack, md  string // SlackLink(in, ""), MarkdownLink(in, "")
	text       string // TextLink(in)
}{
	{"plain GitHub repository", "https://github.com/acme/payments",
		"https://github.com/acme/payments", "github.com/acme/payments",
		"<https://github.com/acme/payments|github.com/acme/payments>", "[github.com/acme/payments](https://github.com/acme/payments)",
		"https://github.com/acme/payments"},
	{"pipe: label reads like GitHub, link goes elsewhere", "https://evil.example/p|github.com/acme/payments",
		"https://evil.example/p%7Cgithub.com/acme/payments", "evil.example/p%7Cgithub.com/acme/payments",
		"<https://evil.example/p%7Cgithub.com/acme/payments|evil.example/p%7Cgithub.com/acme/payments>",
		"[evil.example/p%7Cgithub.com/acme/payments](https://evil.example/p%7Cgithub.com/acme/payments)",
		"https://evil.example/p%7Cgithub.com/acme/payments"},
	{"closing > and a second link", "https://evil.example/x>|<https://github.com/a|github",
		"https://evil.example/x%3E%7C%3Chttps://github.com/a%7Cgithub", "evil.example/x%3E%7C%3Chttps://github.com/a%7Cgithub",
		"<https://evil.example/x%3E%7C%3Chttps://github.com/a%7Cgithub|evil.example/x%3E%7C%3Chttps://github.com/a%7Cgithub>",
		"[evil.example/x%3E%7C%3Chttps://github.com/a%7Cgithub](https://evil.example/x%3E%7C%3Chttps://github.com/a%7Cgithub)",
		"https://evil.example/x%3E%7C%3Chttps://github.com/a%7Cgithub"},
	{"markdown delimiters in the path", "https://evil.example/a](https://github.com/b) c",
		"https://evil.example/a%5D%28https://github.com/b%29%20c", "evil.example/a%5D%28https://github.com/b%29%20c",
		"<https://evil.example/a%5D%28https://github.com/b%29%20c|evil.example/a%5D%28https://github.com/b%29%20c>",
		"[evil.example/a%5D%28https://github.com/b%29%20c](https://evil.example/a%5D%28https://github.com/b%29%20c)",
		"https://evil.example/a%5D%28https://github.com/b%29%20c"},
	{"quotes and backticks", "https://x.example/\"onmouseover='a'`*_~",
		"https://x.example/%22onmouseover=%27a%27%60%2A_~", "x.example/%22onmouseover=%27a%27%60%2A_~",
		"<https://x.example/%22onmouseover=%27a%27%60%2A_~|x.example/%22onmouseover=%27a%27%60%2A_~>",
		`[x.example/%22onmouseover=%27a%27%60%2A\_\~](https://x.example/%22onmouseover=%27a%27%60%2A_~)`,
		"https://x.example/%22onmouseover=%27a%27%60%2A_~"},
	{"query and fragment", "https://x.example/a?b=1&c=<2>#f g",
		"https://x.example/a?b=1&c=%3C2%3E#f%20g", "x.example/a",
		"<https://x.example/a?b=1&amp;c=%3C2%3E#f%20g|x.example/a>", "[x.example/a](https://x.example/a?b=1&c=%3C2%3E#f%20g)",
		"https://x.example/a?b=1&c=%3C2%3E#f%20g"},
	{"scheme and host in capitals, .git and trailing slash", "HTTPS://GitHub.COM/Acme/Pay.git/",
		"https://github.com/Acme/Pay.git/", "github.com/Acme/Pay",
		"<https://github.com/Acme/Pay.git/|github.com/Acme/Pay>", "[github.com/Acme/Pay](https://github.com/Acme/Pay.git/)",
		"https://github.com/Acme/Pay.git/"},
	{"port kept", "http://git.internal:8443/a", "http://git.internal:8443/a", "git.internal:8443/a",
		"<http://git.internal:8443/a|git.internal:8443/a>", "[git.internal:8443/a](http://git.internal:8443/a)", "http://git.internal:8443/a"},
	{"IPv4 host", "https://10.0.0.1/r", "https://10.0.0.1/r", "10.0.0.1/r",
		"<https://10.0.0.1/r|10.0.0.1/r>", "[10.0.0.1/r](https://10.0.0.1/r)", "https://10.0.0.1/r"},
	{"dotless-i lookalike host shown as punycode", "https://gıthub.com/acme/payments",
		"https://xn--gthub-n4a.com/acme/payments", "xn--gthub-n4a.com/acme/payments",
		"<https://xn--gthub-n4a.com/acme/payments|xn--gthub-n4a.com/acme/payments>",
		"[xn--gthub-n4a.com/acme/payments](https://xn--gthub-n4a.com/acme/payments)",
		"https://xn--gthub-n4a.com/acme/payments"},
	{"Cyrillic lookalike host", "https://раураl.com/login", "https://xn--l-7sba6dbr.com/login", "xn--l-7sba6dbr.com/login",
		"<https://xn--l-7sba6dbr.com/login|xn--l-7sba6dbr.com/login>", "[xn--l-7sba6dbr.com/login](https://xn--l-7sba6dbr.com/login)",
		"https://xn--l-7sba6dbr.com/login"},
	{"fullwidth letters fold to ASCII", "https://ｇｉｔｈｕｂ.com/a", "https://github.com/a", "github.com/a",
		"<https://github.com/a|github.com/a>", "[github.com/a](https://github.com/a)", "https://github.com/a"},
	{"bidi override in the path", "https://github.com/\u202egnp.exe", "https://github.com/%E2%80%AEgnp.exe", "github.com/%E2%80%AEgnp.exe",
		"<https://github.com/%E2%80%AEgnp.exe|github.com/%E2%80%AEgnp.exe>", "[github.com/%E2%80%AEgnp.exe](https://github.com/%E2%80%AEgnp.exe)",
		"https://github.com/%E2%80%AEgnp.exe"},
	{"surrounding spaces trimmed", "  https://github.com/a  ", "https://github.com/a", "github.com/a",
		"<https://github.com/a|github.com/a>", "[github.com/a](https://github.com/a)", "https://github.com/a"},

	{"userinfo that reads like the host", "https://github.com@evil.example/acme", "", "",
		"https[:]//github.com@evil.example/acme", "https\\[:\\]//github.com@evil.example/acme", "https[:]//github.com@evil.example/acme"},
	{"userinfo with password", "https://github.com:443@evil.example/", "", "",
		"https[:]//github.com:443@evil.example/", "https\\[:\\]//github.com:443@evil.example/", "https[:]//github.com:443@evil.example/"},
	{"encoded slash in userinfo", "http://evil.example%2f@github.com/", "", "",
		"http[:]//evil.example%2f@github.com/", "http\\[:\\]//evil.example%2f@github.com/", "http[:]//evil.example%2f@github.com/"},
	{"backslash (browsers read it as /)", `https://github.com\@evil.example`, "", "",
		`https[:]//github.com\@evil.example`, `https\[:\]//github.com\\@evil.example`, `https[:]//github.com\@evil.example`},
	{"javascript", "javascript:alert(document.cookie)", "", "",
		"javascript:alert(document.cookie)", `javascript:alert\(document.cookie\)`, "javascript:alert(document.cookie)"},
	{"JAVASCRIPT in capitals", "JAVASCRIPT:alert(1)//https://github.com", "", "",
		"JAVASCRIPT:alert(1)//https[:]//github.com", `JAVASCRIPT:alert\(1\)//https\[:\]//github.com`, "JAVASCRIPT:alert(1)//https[:]//github.com"},
	{"data URL", "data:text/html,<script>alert(1)</script>", "", "",
		"data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;", `data:text/html,\<script\>alert\(1\)\</script\>`, "data:text/html,<script>alert(1)</script>"},
	{"vbscript and file", "file:///etc/passwd", "", "", "file[:]///etc/passwd", "file\\[:\\]///etc/passwd", "file[:]///etc/passwd"},
	{"scheme-less", "//evil.example/x", "", "", "//evil.example/x", "//evil.example/x", "//evil.example/x"},
	{"relative", "/acme/payments", "", "", "/acme/payments", "/acme/payments", "/acme/payments"},
	{"host only, no scheme", "github.com/acme/payments", "", "", "github.com/acme/payments", "github.com/acme/payments", "github.com/acme/payments"},
	{"opaque http", "http:evil.example", "", "", "http:evil.example", "http:evil.example", "http:evil.example"},
	{"newline before a second link", "https://github.com/a\n<https://evil.example|x>", "", "",
		`https[:]//github.com/a\n&lt;https[:]//evil.example|x&gt;`, `https\[:\]//github.com/a\\n\<https\[:\]//evil.example\|x\>`,
		`https[:]//github.com/a\n<https[:]//evil.example|x>`},
	{"tab and NUL", "https://github.com/a\tb\x00", "", "", `https[:]//github.com/a\tb\x00`, `https\[:\]//github.com/a\\tb\\x00`, `https[:]//github.com/a\tb\x00`},
	{"space in host", "https://git hub.com/", "", "", "https[:]//git hub.com/", "https\\[:\\]//git hub.com/", "https[:]//git hub.com/"},
	{"underscore in host", "https://git_hub.com/", "", "", "https[:]//git_hub.com/", `https\[:\]//git\_hub.com/`, "https[:]//git_hub.com/"},
	{"IPv6 literal", "https://[::1]/x", "", "", "https[:]//[::1]/x", `https\[:\]//\[::1\]/x`, "https[:]//[::1]/x"},
	{"port out of range", "https://github.com:99999/", "", "", "https[:]//github.com:99999/", "https\\[:\\]//github.com:99999/", "https[:]//github.com:99999/"},
	{"broken escape", "https://github.com/a%zz", "", "", "https[:]//github.com/a%zz", "https\\[:\\]//github.com/a%zz", "https[:]//github.com/a%zz"},
	{"invalid IDN", "https://xn--.com/", "", "", "https[:]//xn--.com/", "https\\[:\\]//xn--.com/", "https[:]//xn--.com/"},
	{"percent-encoded host", "https://g%69thub.com/a", "", "", "https[:]//g%69thub.com/a", "https\\[:\\]//g%69thub.com/a", "https[:]//g%69thub.com/a"},
	{"percent-encoded invalid byte as host (found by FuzzLinks)", "http://%80", "", "", "http[:]//%80", "http\\[:\\]//%80", "http[:]//%80"},
	{"empty", "", "", "", "", "", ""},
}

func TestLinkFunctions(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileLinks {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.url, templates.LinkURL(tc.in), "LinkURL")
			require.Equal(t, tc.label, templates.LinkLabel(tc.in), "LinkLabel")
			require.Equal(t, tc.slack, templates.SlackLink(tc.in, ""), "SlackLink")
			require.Equal(t, tc.md, templates.MarkdownLink(tc.in, ""), "MarkdownLink")
			require.Equal(t, tc.text, templates.TextLink(tc.in), "TextLink")
			checkLinkInvariants(t, tc.in)
		})
	}
}

func TestLinkLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, label, slack, md string
	}{
		{"given label", "https://github.com/a", "Open file", "<https://github.com/a|Open file>", "[Open file](https://github.com/a)"},
		{"label with delimiters", "https://github.com/a", "a|b>c]d(e)<f>",
			"<https://github.com/a|a|b&gt;c]d(e)&lt;f&gt;>", `[a\|b\>c\]d\(e\)\<f\>](https://github.com/a)`},
		{"label over two lines", "https://github.com/a", "x\n[y](https://evil.example)",
			`<https://github.com/a|x\n[y](https://evil.example)>`, `[x\\n\[y\]\(https://evil.example\)](https://github.com/a)`},
		{"not a link: the label alone, as text", "javascript:alert(1)", "Open <file>", "Open &lt;file&gt;", `Open \<file\>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.slack, templates.SlackLink(tc.url, tc.label))
			require.Equal(t, tc.md, templates.MarkdownLink(tc.url, tc.label))
		})
	}
}

func TestFileURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		repo, ref, file string
		line            any
		want            string
	}{
		{"at the scan's commit", "https://github.com/acme/payments", "9f2c1e7", "api/user.js", int64(42),
			"https://github.com/acme/payments/blob/9f2c1e7/api/user.js#L42"},
		{"a commit over the link bound: no link", "https://github.com/acme/payments", strings.Repeat("a", templates.MaxLinkURLBytes+1), "api/user.js", int64(42), ""},
		{"no commit known: HEAD", "https://github.com/acme/payments", "", "api/user.js", int64(42),
			"https://github.com/acme/payments/blob/HEAD/api/user.js#L42"},
		{"no line", "https://github.com/acme/payments.git/", "abc", "/src/a.go", nil,
			"https://github.com/acme/payments/blob/abc/src/a.go"},
		{"GitLab", "https://gitlab.com/g/sub/p", "main", "a b.py", int64(3), "https://gitlab.com/g/sub/p/-/blob/main/a%20b.py#L3"},
		{"Bitbucket", "https://bitbucket.org/w/r", "c0ffee", "x.go", int64(9), "https://bitbucket.org/w/r/src/c0ffee/x.go#lines-9"},
		{"segments encoded", "https://github.com/a/b", "feature/x?y#z", "dir/we|rd #1?.js", int64(1),
			"https://github.com/a/b/blob/feature%2Fx%3Fy%23z/dir/we%7Crd%20%231%3F.js#L1"},
		{"encoded dots stay literal", "https://github.com/a/b", "", "%2e%2e/%2e%2e/evil/x", int64(1),
			"https://github.com/a/b/blob/HEAD/%252e%252e/%252e%252e/evil/x#L1"},
		{"line as float or string", "https://github.com/a/b", "", "f", float64(7), "https://github.com/a/b/blob/HEAD/f#L7"},
		{"bad line ignored", "https://github.com/a/b", "", "f", int64(-1), "https://github.com/a/b/blob/HEAD/f"},
		{"dot-dot leaves the repository", "https://github.com/a/b", "", "../../evil/repo/blob/main/x", int64(1), ""},
		{"dot segment", "https://github.com/a/b", "", "./x", nil, ""},
		{"host only looks like GitHub", "https://github.com.evil.example/a/b", "", "x", nil, ""},
		{"userinfo", "https://github.com@evil.example/a/b", "", "x", nil, ""},
		{"pipe in the repository", "https://evil.example/p|github.com/acme/payments", "", "x", nil, ""},
		{"unknown host", "https://git.internal/a/b", "", "x", nil, ""},
		{"code host with a port (found by FuzzLinks)", "http://githuB.Com:1/a/b", "", "x", nil, ""},
		{"repository with a query", "https://github.com/a/b?x=1", "", "x", nil, ""},
		{"no file", "https://github.com/a/b", "", "", int64(1), ""},
		{"file is a URL", "https://github.com/a/b", "", "https://evil.example/x", nil, ""},
		{"control character in the file", "https://github.com/a/b", "", "a\u202e.js", nil, ""},
		{"javascript repository", "javascript:alert(1)", "", "x", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := templates.FileURL(tc.repo, tc.ref, tc.file, tc.line)
			require.Equal(t, tc.want, got)
			if got != "" {
				require.Equal(t, got, templates.LinkURL(got), "a file URL is a link as it is")
			}
		})
	}
}

var (
	slackLinkRE = regexp.MustCompile(`^<([^<>|\s]+)\|([^<>]*)>$`)
	mdLinkRE    = regexp.MustCompile(`^\[((?:[^\\\[\]()<>]|\\.)*)\]\(([^()\[\]<>\s]+)\)$`)
	// markdownSpecial are the characters MarkdownLink's text must show escaped.
	markdownSpecial = `[]()<>|*_~` + "`"
)

// checkLinkInvariants checks what must hold for any input: a link's URL is absolute http(s),
// holds only safe bytes and %XX, is stable under LinkURL and shows its host in the label; each
// syntax has exactly the shape of one link, or no link at all.
func checkLinkInvariants(t *testing.T, in string) {
	t.Helper()
	u := templates.LinkURL(in)
	slack, md, text := templates.SlackLink(in, ""), templates.MarkdownLink(in, ""), templates.TextLink(in)
	require.NotContains(t, text, "\n")
	require.NotContains(t, text, "\r")
	if u == "" {
		require.Empty(t, templates.LinkLabel(in))
		require.NotContains(t, slack, "<")
		require.NotContains(t, slack, ">")
		require.NotContains(t, slack, "://", "no bare URL a platform would link by itself")
		require.NotContains(t, text, "://")
		for i := 0; i < len(md); i++ {
			if md[i] == '\\' {
				i++
				continue
			}
			require.NotContains(t, markdownSpecial, string(md[i]), "unescaped %q in %q", md[i], md)
		}
		return
	}
	require.Regexp(t, `^https?://[a-z0-9.-]+(:[0-9]+)?(/|\?|#|$)`, u)
	require.Regexp(t, `^([A-Za-z0-9\-._~/:=+,;&?#]|%[0-9A-F]{2})*$`, u)
	require.Equal(t, u, templates.LinkURL(u), "LinkURL is stable")
	pu, err := url.Parse(u)
	require.NoError(t, err)
	require.Nil(t, pu.User)
	require.True(t, strings.HasPrefix(templates.LinkLabel(in), pu.Host), "the label starts with the real host")
	m := slackLinkRE.FindStringSubmatch(slack)
	require.NotNil(t, m, "one Slack link: %q", slack)
	require.Equal(t, strings.ReplaceAll(u, "&", "&amp;"), m[1])
	m = mdLinkRE.FindStringSubmatch(md)
	require.NotNil(t, m, "one markdown link: %q", md)
	require.Equal(t, u, m[2])
	require.Equal(t, u, text)
}

// FuzzLinks checks the link functions' invariants (checkLinkInvariants) on any input, and that
// a file URL built from it is a link to a known code host.
func FuzzLinks(f *testing.F) {
	for _, tc := range hostileLinks {
		f.Add(tc.in, "a/b.go")
	}
	f.Fuzz(func(t *testing.T, in, file string) {
		checkLinkInvariants(t, in)
		if u := templates.FileURL(in, file, file, int64(1)); u != "" {
			require.Equal(t, u, templates.LinkURL(u))
			require.Regexp(t, `^https?://(github\.com|gitlab\.com|bitbucket\.org)/`, u)
		}
	})
}

func TestNoLinks(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"[docs](https://evil.example)", "[docs]\u200b(https://evil.example)"},
		{"<https://evil.example|github.com>", "<\u200bhttps://evil.example|github.com>"},
		{"plain (text) [x] a<b <!here> <@U1>", "plain (text) [x] a<b <!here> <@U1>"},
		{"<JavaScript:alert(1)|x>", "<\u200bJavaScript:alert(1)|x>"},
		{"", ""},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, templates.NoLinks(tc.in))
		require.NotRegexp(t, mdLinkRE, templates.NoLinks(tc.in))
	}
	require.Empty(t, templates.NoLinks(nil))
}

// TestEventURL: the event page's address names exactly the event: the id is path-escaped, so
// "/", "?", "#", "+", "%" and spaces stay part of it (query escaping made a space "+", another id).
func TestEventURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		public, id any
		want       string
	}{
		{"plain", "https://bridge.example", "evt_1", "https://bridge.example/events/evt_1"},
		{"trailing slash", "https://bridge.example/", "evt_1", "https://bridge.example/events/evt_1"},
		{"delimiters in the id", "https://bridge.example", "a b/c?d#e+f%", "https://bridge.example/events/a%20b%2Fc%3Fd%23e+f%25"},
		{"no public url", "", "evt_1", ""},
		{"no id", "https://bridge.example", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := templates.EventURL(tt.public, tt.id)
			require.Equal(t, tt.want, got)
			if got != "" {
				u, err := url.Parse(got)
				require.NoError(t, err)
				require.Equal(t, "/events/"+tt.id.(string), u.Path, "the page's path names the id")
			}
		})
	}
}
