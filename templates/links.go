package templates

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Links. Event fields are attacker-influenced: a repository URL or a file path may be built so
// that a message's link label reads like one place while the link goes to another
// ("https://evil.example/p|github.com/acme/payments" in Slack's <url|label>), or may not be a
// web address at all ("javascript:…"). Every built-in template makes links with the functions
// below, and only with them:
//
//   - LinkURL turns a value into a link destination, or refuses it: only an absolute http(s) URL
//     with a host and no user name or password; the host in ASCII (an IDN host in punycode, so a
//     lookalike shows as xn--…); every byte outside a small safe set percent-encoded, so no
//     delimiter of Slack mrkdwn, markdown, HTML or JSON survives in it.
//   - LinkLabel derives a label from a URL that shows its real host ("github.com/acme/payments").
//   - SlackLink, MarkdownLink and TextLink write a link in one syntax; a value that is not a
//     link is written as escaped text, never as a link.
//   - FileURL builds the "open file" address on GitHub, GitLab or Bitbucket at a commit.

// MaxLinkURLBytes bounds a link destination, in bytes after encoding: a longer URL is not made a
// link. Browsers handle far longer ones, but no repository or file address needs more, and the
// bound keeps each link well inside every platform's field limits (the smallest that holds a
// link is a Discord embed field value, 1 024 characters: adapters/discord/limits.go).
const MaxLinkURLBytes = 1000

// linkSafe reports whether b may stay as is in an encoded URL's path, query or fragment: RFC
// 3986 unreserved characters and the delimiters URLs need (/ : = + , ; & ?). Everything else
// is percent-encoded: space, controls, | < > ( ) [ ] { } " ' ` \ ^ * ! $ and non-ASCII bytes are
// each a delimiter or formatting character of some target syntax (Slack <url|label>, markdown
// [label](url), HTML attributes, plain text line breaks), and @ starts a mention in Mattermost
// and Rocket.Chat. & stays: each syntax escapes it (Slack &amp;, HTML &amp;) or needs nothing
// (markdown, JSON).
func linkSafe(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-._~/:=+,;&?", b) >= 0
}

// encodeLink percent-encodes s (an already encoded URL component) so that only linkSafe bytes
// and %XX escapes remain; an existing valid escape is kept (upper-cased), a stray % is encoded.
func encodeLink(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte('%')
			b.WriteByte(upperHex(s[i+1]))
			b.WriteByte(upperHex(s[i+2]))
			i += 2
		case linkSafe(c):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// linkHost returns host (the URL's host without port) in lowercase ASCII: an IDN host as
// punycode A-labels, an IPv4 address as itself. ok is false for anything else: an invalid
// IDN, a host with characters no DNS name has (%, \, _, spaces…), and IPv6 literals, whose
// brackets are delimiters of markdown.
func linkHost(host string) (string, bool) {
	if !utf8.ValidString(host) || strings.ContainsRune(host, utf8.RuneError) {
		return "", false
	}
	a, err := idna.Lookup.ToASCII(host)
	if err != nil || len(a) > 253 {
		return "", false
	}
	if again, err := idna.Lookup.ToASCII(a); err != nil || again != a {
		return "", false // an A-label that does not decode to a valid name
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(a, "."), ".") {
		if label == "" || len(label) > 63 {
			return "", false
		}
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return "", false
		}
	}
	return a, true
}

// parseLink parses v as a link: see LinkURL. It returns the parsed URL with Host in ASCII and
// the encoded form.
func parseLink(v any) (*url.URL, string, bool) {
	s := strings.TrimSpace(str(v))
	if s == "" || len(s) > 4*MaxLinkURLBytes || strings.ContainsFunc(s, func(r rune) bool {
		return r == utf8.RuneError || unicode.IsControl(r) || r == '\\'
	}) {
		return nil, "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" || strings.Contains(u.Host, "%") {
		return nil, "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return nil, "", false
	}
	host, ok := linkHost(u.Hostname())
	if !ok {
		return nil, "", false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, "", false
		}
		host += ":" + strconv.Itoa(n)
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, "", false
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	encodeLink(&b, u.EscapedPath())
	if u.ForceQuery || u.RawQuery != "" {
		b.WriteByte('?')
		encodeLink(&b, u.RawQuery)
	}
	if u.Fragment != "" {
		b.WriteByte('#')
		encodeLink(&b, u.EscapedFragment())
	}
	if b.Len() > MaxLinkURLBytes {
		return nil, "", false
	}
	u.Scheme, u.Host = scheme, host
	return u, b.String(), true
}

// LinkURL returns v as a link destination, or "" when v must not be a link. A link is an
// absolute http or https URL (scheme in any case) with a host, no user name or password
// ("https://github.com@evil.example" is refused), a DNS name or IPv4 address as host (not an
// IPv6 literal: its brackets are markdown delimiters), no backslash, control character or invalid
// UTF-8 anywhere, and at most MaxLinkURLBytes once encoded; "javascript:", "data:", relative
// and scheme-less ("//evil.example") values are refused. The result has the scheme and host in
// lowercase, an IDN host in punycode, and every byte of path, query and fragment outside
// A–Z a–z 0–9 - . _ ~ / : = + , ; & ? percent-encoded (existing %XX escapes kept). Template
// use: {{ link_url .Raw.repo_url }}.
func LinkURL(v any) string {
	_, s, ok := parseLink(v)
	if !ok {
		return ""
	}
	return s
}

// LinkLabel returns the label a link to v shows: its real host (punycode for an IDN host) and
// path, without a trailing slash or ".git", percent-encoded like LinkURL
// ("github.com/acme/payments"; "evil.example/p%7Cgithub.com/acme/payments"); "" when v is not a
// link (LinkURL).
func LinkLabel(v any) string {
	u, _, ok := parseLink(v)
	if !ok {
		return ""
	}
	var b strings.Builder
	b.WriteString(u.Host)
	encodeLink(&b, strings.TrimSuffix(strings.TrimRight(u.EscapedPath(), "/"), ".git"))
	return b.String()
}

// SlackLink writes a Slack mrkdwn link <url|label> to v (https://api.slack.com/reference/surfaces/formatting#linking-urls).
// The label is label, or LinkLabel(v) when label is empty; it is escaped for mrkdwn (& < >),
// so it ends at the link's closing >. When v is not a link (LinkURL) the result is the label, or
// v itself, as escaped text. Template use: {{ slack_link .Raw.repo_url "" }}.
func SlackLink(v any, label any) string {
	u, text := linkParts(v, label)
	if u == "" {
		return SlackEscape(text)
	}
	return "<" + SlackEscape(u) + "|" + SlackEscape(text) + ">"
}

// MarkdownLink writes a markdown link [label](url) to v, as Discord, Mattermost, Rocket.Chat
// and Microsoft Teams render it. The label is label, or LinkLabel(v) when label is empty, with
// markdown characters backslash-escaped (DiscordEscape plus parentheses), so the label cannot
// close the link or start another; the URL has no space, parenthesis, bracket or < > left
// (LinkURL). When v is not a link the result is the label, or v, as escaped text.
func MarkdownLink(v any, label any) string {
	u, text := linkParts(v, label)
	if u == "" {
		return MarkdownEscape(text)
	}
	return "[" + MarkdownEscape(text) + "](" + u + ")"
}

// linkParts is what a link function writes for v and label, unescaped: u is LinkURL(v) and text
// the label (label, or LinkLabel(v) when label is empty) on one line; when v is not a link, u is
// empty and text is what to show instead (linkText).
func linkParts(v, label any) (u, text string) {
	u = LinkURL(v)
	l := str(label)
	if u == "" {
		return "", linkText(l, v)
	}
	if l == "" {
		l = LinkLabel(v)
	}
	return u, oneLine(l)
}

var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, ">", `\>`, "<", `\<`, "#", `\#`,
	"[", `\[`, "]", `\]`, "(", `\(`, ")", `\)`,
)

// MarkdownEscape backslash-escapes markdown's formatting and link characters
// (\ * _ ~ ` | > < # [ ] ( )) so s shows as written inside or outside a link label. Nil gives "".
func MarkdownEscape(s any) string { return markdownEscaper.Replace(str(s)) }

// TextLink writes v for plain text (an email's text part): the link (LinkURL) when v is one;
// otherwise v on one line with control characters shown as escapes and "://" written as
// "[:]//", so a mail client does not make a link of it.
func TextLink(v any) string {
	if u := LinkURL(v); u != "" {
		return u
	}
	return linkText("", v)
}

// linkText is what is shown instead of a link: the label, else the value with "://" written as
// "[:]//", so the platform does not make a link of it by itself (Slack, Discord and mail clients
// link bare URLs).
func linkText(label string, v any) string {
	if label != "" {
		return oneLine(label)
	}
	return strings.ReplaceAll(oneLine(str(v)), "://", "[:]//")
}

// oneLine shows control characters (line breaks included) and Unicode format characters (bidi
// overrides, zero-width) as Go escapes (\n, \u202e), so a label keeps its order and its line.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, hiddenRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if hiddenRune(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hiddenRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}

// fileHosts are the hosts whose file pages FileURL knows: the path after the repository that
// shows a file at a commit, and how a line is addressed.
var fileHosts = map[string]struct{ blob, line string }{
	"github.com":    {"/blob/", "#L"},
	"gitlab.com":    {"/-/blob/", "#L"},
	"bitbucket.org": {"/src/", "#lines-"},
}

// FileURL returns the address of file at ref in the repository repoURL, at line when it is a
// positive integer: https://github.com/o/r/blob/REF/a/b.go#L42 (GitLab: /-/blob/, Bitbucket:
// /src/ and #lines-). ref is the scan's commit; "" gives HEAD (the default branch). It returns
// "" when repoURL is not a link (LinkURL) on github.com, gitlab.com or bitbucket.org (no port), or file
// is empty, absolute-looking with a scheme, or has a "." or ".." segment (which would leave the
// repository). Each segment of ref and file is percent-encoded, so "/", "?" and "#" inside them
// cannot change which page opens.
func FileURL(repoURL, ref, file, line any) string {
	u, base, ok := parseLink(repoURL)
	if !ok || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	host, ok := fileHosts[u.Host] // the code host itself: no port
	f := strings.Trim(str(file), "/")
	if !ok || f == "" || len(f) > MaxLinkURLBytes || strings.Contains(f, "://") {
		return ""
	}
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(strings.TrimRight(base, "/"), ".git"))
	b.WriteString(host.blob)
	r := str(ref)
	if r == "" {
		r = "HEAD"
	} else if len(r) > MaxLinkURLBytes {
		return "" // bounded before it is encoded, like file
	}
	b.WriteString(pathSegment(r))
	for seg := range strings.SplitSeq(f, "/") {
		if seg == "." || seg == ".." || strings.ContainsFunc(seg, hiddenRune) {
			return ""
		}
		if seg != "" {
			b.WriteByte('/')
			b.WriteString(pathSegment(seg))
		}
	}
	if n, ok := lineNumber(line); ok {
		b.WriteString(host.line)
		b.WriteString(strconv.FormatInt(n, 10))
	}
	if b.Len() > MaxLinkURLBytes {
		return ""
	}
	return b.String()
}

// pathSegment percent-encodes s as one path segment: / ? # % and every byte LinkURL would
// encode.
func pathSegment(s string) string {
	var b strings.Builder
	encodeLink(&b, segmentEscaper.Replace(s))
	return b.String()
}

var segmentEscaper = strings.NewReplacer("%", "%25", "/", "%2F", "?", "%3F", "#", "%23")

// lineNumber returns v as a positive line number (event fields decode integers as int64).
func lineNumber(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, x > 0
	case int:
		return int64(x), x > 0
	case float64:
		return int64(x), x >= 1 && x == float64(int64(x))
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil && n > 0
	}
	return 0, false
}

// NoLinks keeps text from making links in markups that parse links in any text (Mattermost,
// Rocket.Chat, Microsoft Teams facts) and have no escape for them that all of them honour: a
// zero-width space (U+200B) goes between "]" and "(" of a markdown link and after the "<" of
// a Slack-style <scheme:…|label> link, so "[docs](https://evil.example)" shows as written
// instead of as a link labelled "docs". Other text, "<!here>" included, is unchanged. Nil gives
// "".
func NoLinks(s any) string {
	return slackStyleLink.ReplaceAllString(strings.ReplaceAll(str(s), "](", "]\u200b("), "<\u200b$1")
}

// slackStyleLink is the start of a <scheme:…> link.
var slackStyleLink = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9+.-]*:)`)
