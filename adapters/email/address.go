package email

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// International addresses (docs/configuration.md, email): a domain written in Unicode
// ("bücher.example") is sent as A-labels ("xn--bcher-kva.example", RFC 5891) in the envelope
// (MAIL FROM, RCPT TO) and in the headers, so any server takes it. A local part written in
// Unicode ("jörg@…") can only travel with SMTPUTF8 (RFC 6531, headers per RFC 6532): the target
// asks for it only then, and refuses to send, naming the address, when the server does not
// offer it.

// idnaProfile converts a domain to A-labels: UTS #46 mapping for lookup (case and width
// folded), non-transitional (ß stays ß), STD3 rules, hyphen, joiner and bidi checks (RFC 5891
// §5.4, RFC 5893), and DNS lengths (a label at most 63 octets, the name at most 253).
var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.Transitional(false))

// address is a configured address ready to send: its domain in A-labels.
type address struct {
	*mail.Address
	// utf8Local is set when the local part has non-ASCII characters: it needs SMTPUTF8.
	utf8Local bool
}

// parseAddress parses one RFC 5322 address ("Name <local@domain>" or "local@domain") and
// turns a Unicode domain, or one with an A-label ("xn--…"), into checked A-labels. Domains in
// plain ASCII and address literals ("[192.0.2.1]") are kept as written. Errors say what is
// wrong: not an address, or not a valid international domain name.
func parseAddress(s string) (address, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return address{}, fmt.Errorf("%q is not an address: %v", s, err)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 0 { // net/mail requires one; kept for safety
		return address{}, fmt.Errorf("%q is not an address: no @", s)
	}
	local, domain := a.Address[:at], a.Address[at+1:]
	if needsIDNA(domain) {
		ascii, err := idnaProfile.ToASCII(domain)
		if err != nil {
			return address{}, fmt.Errorf("%q: the domain %q is not a valid international domain name: %v", s, domain, err)
		}
		a.Address = local + "@" + ascii
	}
	return address{Address: a, utf8Local: !isASCII(local)}, nil
}

// needsIDNA reports whether domain must go through IDNA: it has non-ASCII characters or a
// label that claims to be an A-label. Address literals never do.
func needsIDNA(domain string) bool {
	if strings.HasPrefix(domain, "[") {
		return false
	}
	if !isASCII(domain) {
		return true
	}
	for label := range strings.SplitSeq(strings.ToLower(domain), ".") {
		if strings.HasPrefix(label, "xn--") {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// addressKey is one address-holding key of Config and its values.
type addressKey struct {
	key    string   // "from", "to", "cc", "bcc", "reply_to"
	list   bool     // the key holds a list: values are named key[j]
	values []string // as configured
}

// addressKeys lists the configured addresses by key, in a fixed order.
func (c *Config) addressKeys() []addressKey {
	keys := []addressKey{{key: "from", values: []string{c.From}}, {key: "to", list: true, values: c.To},
		{key: "cc", list: true, values: c.CC}, {key: "bcc", list: true, values: c.BCC}}
	if c.ReplyTo != "" {
		keys = append(keys, addressKey{key: "reply_to", values: []string{c.ReplyTo}})
	}
	return keys
}

// name is the key path of the j-th value, relative to the target ("to[1]", "from").
func (k addressKey) name(j int) string {
	if k.list {
		return fmt.Sprintf("%s[%d]", k.key, j)
	}
	return k.key
}

// Warnings names each address that not every server can take: one whose local part is not
// ASCII needs a server offering SMTPUTF8 (RFC 6531). Each warning starts with its key relative
// to the target ("to[0]: …"). Invalid addresses are Validate's.
func (c *Config) Warnings() []string {
	var out []string
	for _, k := range c.addressKeys() {
		for j, v := range k.values {
			if a, err := parseAddress(v); err == nil && a.utf8Local {
				out = append(out, fmt.Sprintf("%s: %q has a non-ASCII local part: it can only be sent to an SMTP server that offers SMTPUTF8 (RFC 6531); others are refused without sending", k.name(j), v))
			}
		}
	}
	return out
}
