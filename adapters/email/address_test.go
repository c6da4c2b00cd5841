package email

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// headerBlock is a received message's header lines, up to the blank line.
func headerBlock(data []byte) []byte {
	h, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	return h
}

// TestInternationalAddresses: Unicode domains travel as A-labels in MAIL FROM, RCPT TO and the
// headers, whatever the server offers; SMTPUTF8 is asked for only when a local part needs it
// and the server offers it; otherwise nothing is sent and the error names the address.
func TestInternationalAddresses(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		smtputf8 bool // the server offers SMTPUTF8
		edit     func(*Config)
		// what the server received; empty: nothing (the refusal path)
		wantFrom string
		wantRcpt []string
		wantUTF8 bool              // MAIL carried SMTPUTF8
		wantHdr  map[string]string // raw header values
		wantErr  string
	}{
		"unicode domains, server without SMTPUTF8": {
			edit: func(c *Config) {
				c.From = "Bücherei <alerts@bücher.example>"
				c.To = []string{"secops@bücher.example", "Ops <ops@BÜCHER.example>"}
				c.CC = []string{"kansa@例え.テスト"}
				c.BCC = []string{"audit@straße.example"}
				c.ReplyTo = "help@bücher.example"
			},
			wantFrom: "alerts@xn--bcher-kva.example",
			wantRcpt: []string{"secops@xn--bcher-kva.example", "ops@xn--bcher-kva.example", "kansa@xn--r8jz45g.xn--zckzah", "audit@xn--strae-oqa.example"},
			wantHdr: map[string]string{
				"From":     "=?utf-8?q?B=C3=BCcherei?= <alerts@xn--bcher-kva.example>",
				"To":       `<secops@xn--bcher-kva.example>, "Ops" <ops@xn--bcher-kva.example>`,
				"Cc":       "<kansa@xn--r8jz45g.xn--zckzah>",
				"Reply-To": "<help@xn--bcher-kva.example>",
			},
		},
		"unicode domain, server with SMTPUTF8: not asked for": {
			smtputf8: true,
			edit:     func(c *Config) { c.To = []string{"secops@bücher.example"} },
			wantFrom: "alerts@example.com",
			wantRcpt: []string{"secops@xn--bcher-kva.example"},
			wantHdr:  map[string]string{"To": "<secops@xn--bcher-kva.example>"},
		},
		"ascii, server with SMTPUTF8: not asked for": {
			smtputf8: true,
			edit:     func(*Config) {},
			wantFrom: "alerts@example.com",
			wantRcpt: []string{"ops@example.com"},
		},
		"unicode local part, server with SMTPUTF8": {
			smtputf8: true,
			edit: func(c *Config) {
				c.From = "Jörg <jörg@bücher.example>"
				c.To = []string{"secops@bücher.example", "δοκιμή@example.com"}
			},
			wantFrom: "jörg@xn--bcher-kva.example",
			wantRcpt: []string{"secops@xn--bcher-kva.example", "δοκιμή@example.com"},
			wantUTF8: true,
			wantHdr: map[string]string{ // RFC 6532: UTF-8 in the address, the name still encoded
				"From": "=?utf-8?q?J=C3=B6rg?= <jörg@xn--bcher-kva.example>",
				"To":   "<secops@xn--bcher-kva.example>, <δοκιμή@example.com>",
			},
		},
		"unicode local part, server without SMTPUTF8": {
			edit:    func(c *Config) { c.To = []string{"ops@example.com", "jörg@bücher.example"} },
			wantErr: "does not offer SMTPUTF8, which jörg@xn--bcher-kva.example needs",
		},
		"unicode local part in bcc only, server without SMTPUTF8": {
			edit:    func(c *Config) { c.BCC = []string{"jörg@example.com"} },
			wantErr: "jörg@example.com needs",
		},
		"unicode local part in reply_to only, server without SMTPUTF8": {
			edit:    func(c *Config) { c.ReplyTo = "jörg@example.com" },
			wantErr: "jörg@example.com needs",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverOpts{SMTPUTF8: tc.smtputf8}, TLSNone, tc.edit)
			err := b.n.Notify(context.Background(), plainMessage(t, "Grüße", "text", ""))
			if tc.wantErr != "" {
				var de *notify.DeliveryError
				require.True(t, errors.As(err, &de), "%v", err)
				require.Equal(t, notify.ReasonConfig, de.Reason)
				require.False(t, de.Retryable)
				require.ErrorContains(t, err, tc.wantErr)
				require.Empty(t, b.srv.received())
				for _, ev := range b.srv.allEvents() {
					require.NotEqual(t, "MAIL", ev.What, "nothing may be sent")
				}
				return
			}
			require.NoError(t, err)
			got := b.srv.received()
			require.Len(t, got, 1)
			require.Equal(t, tc.wantFrom, got[0].From)
			require.Equal(t, tc.wantRcpt, got[0].To)
			require.Equal(t, tc.wantUTF8, got[0].UTF8)
			hdr := headerBlock(got[0].Data)
			if !tc.wantUTF8 {
				require.True(t, isASCII(string(hdr)), "headers without SMTPUTF8 must be ASCII:\n%s", hdr)
			}
			m, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
			require.NoError(t, err)
			for k, v := range tc.wantHdr {
				require.Equal(t, v, m.Header.Get(k), k)
			}
			require.Empty(t, m.Header.Get("Bcc"))
			id := m.Header.Get("Message-Id")
			require.True(t, isASCII(id), id)
		})
	}
}

// TestDisplayNameInjection: a display name whose encoded words decode to CR LF and a header
// stays one encoded name: no header, no recipient is added.
func TestDisplayNameInjection(t *testing.T) {
	t.Parallel()
	evil := "=?utf-8?q?Ops=0D=0ABcc=3A_evil=40example=2Ecom=0D=0A?="
	b := setup(t, serverOpts{}, TLSNone, func(c *Config) {
		c.From = evil + " <alerts@bücher.example>"
		c.To = []string{evil + " <secops@bücher.example>"}
		c.ReplyTo = `"Help\" <x@evil.example>" <help@example.com>`
	})
	require.NoError(t, b.n.Notify(context.Background(), plainMessage(t, "s", "text", "")))
	got := b.srv.received()[0]
	require.Equal(t, []string{"secops@xn--bcher-kva.example"}, got.To)
	m, err := mail.ReadMessage(bytes.NewReader(got.Data))
	require.NoError(t, err)
	require.Empty(t, m.Header.Get("Bcc"))
	for _, line := range strings.Split(string(headerBlock(got.Data)), "\r\n") {
		require.False(t, strings.HasPrefix(strings.ToLower(line), "bcc:"), line)
	}
	from, err := mail.ParseAddress(m.Header.Get("From"))
	require.NoError(t, err)
	require.Equal(t, "Ops\r\nBcc: evil@example.com\r\n", from.Name)
	require.Equal(t, "alerts@xn--bcher-kva.example", from.Address)
	replyTo, err := mail.ParseAddress(m.Header.Get("Reply-To"))
	require.NoError(t, err)
	require.Equal(t, `Help" <x@evil.example>`, replyTo.Name)
	require.Equal(t, "help@example.com", replyTo.Address)
}

// TestAddressValidate: invalid international domains are errors naming the key; a Unicode
// local part is valid but warned about, by key.
func TestAddressValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		edit      func(*Config)
		wantErr   string // "" = valid
		wantWarns []string
	}{
		"unicode domain":           {edit: func(c *Config) { c.To = []string{"secops@bücher.example"} }},
		"a-label domain":           {edit: func(c *Config) { c.To = []string{"secops@xn--bcher-kva.example"} }},
		"address literal":          {edit: func(c *Config) { c.To = []string{"secops@[192.0.2.1]"} }},
		"ascii domain kept as is":  {edit: func(c *Config) { c.To = []string{"a@Mail_Relay.local"} }},
		"underscore in idn":        {edit: func(c *Config) { c.To = []string{"a@bü_cher.example"} }, wantErr: `to[0]: "a@bü_cher.example": the domain "bü_cher.example" is not a valid international domain name`},
		"leading hyphen in idn":    {edit: func(c *Config) { c.CC = []string{"ok@example.com", "a@-bücher.example"} }, wantErr: "cc[1]: "},
		"bad a-label":              {edit: func(c *Config) { c.BCC = []string{"a@xn--a.example"} }, wantErr: "bcc[0]: "},
		"idn label too long":       {edit: func(c *Config) { c.ReplyTo = "a@" + strings.Repeat("ü", 60) + ".example" }, wantErr: "reply_to: "},
		"bidi rule":                {edit: func(c *Config) { c.From = "a@\u05d0a.example" }, wantErr: "from: "},
		"unicode local part in to": {edit: func(c *Config) { c.To = []string{"ops@example.com", "jörg@bücher.example"} }, wantWarns: []string{`to[1]: "jörg@bücher.example" has a non-ASCII local part`}},
		"unicode local part in all": {edit: func(c *Config) {
			c.From = "Ä <ä@example.com>"
			c.BCC = []string{"é@example.com"}
			c.ReplyTo = "ü@example.com"
		}, wantWarns: []string{"from: ", "bcc[0]: ", "reply_to: "}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := Config{SMTP: SMTP{Host: "smtp.example.com"}, From: "Cortex <a@example.com>", To: []string{"b@example.com"}}
			c.WithDefaults()
			tc.edit(&c)
			err := c.Validate()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			warns := c.Warnings()
			require.Len(t, warns, len(tc.wantWarns), "%q", warns)
			for i, w := range tc.wantWarns {
				require.True(t, strings.HasPrefix(warns[i], w), "%q does not start with %q", warns[i], w)
				require.Contains(t, warns[i], "SMTPUTF8")
			}
		})
	}
}
