package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
)

// guardedV4 has one address (often two: a range's first and last) for every guarded IPv4
// range; the IPv6 spellings of each (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are derived.
var guardedV4 = map[string][]string{
	"0.0.0.0/8 this network":          {"0.0.0.0", "0.255.255.255"},
	"10.0.0.0/8 private":              {"10.0.0.1", "10.255.255.255"},
	"100.64.0.0/10 CGNAT":             {"100.64.0.1", "100.127.255.254"},
	"127.0.0.0/8 loopback":            {"127.0.0.1", "127.255.255.254"},
	"169.254.0.0/16 link-local":       {"169.254.169.254", "169.254.0.1"},
	"172.16.0.0/12 private":           {"172.16.0.1", "172.31.255.254"},
	"192.0.0.0/24 IETF":               {"192.0.0.8", "192.0.0.170"},
	"192.0.2.0/24 TEST-NET-1":         {"192.0.2.1", "192.0.2.255"},
	"192.88.99.0/24 6to4 relay":       {"192.88.99.1"},
	"192.168.0.0/16 private":          {"192.168.0.1", "192.168.255.255"},
	"198.18.0.0/15 benchmarking":      {"198.18.0.1", "198.19.255.254"},
	"198.51.100.0/24 TEST-NET-2":      {"198.51.100.7"},
	"203.0.113.0/24 TEST-NET-3":       {"203.0.113.9"},
	"224.0.0.0/4 multicast":           {"224.0.0.1", "239.255.255.250"},
	"240.0.0.0/4 reserved, broadcast": {"240.0.0.1", "255.255.255.255"},
}

// guardedV6 has addresses of every guarded IPv6 range that is not a spelling of IPv4.
var guardedV6 = map[string][]string{
	"::/128 unspecified":                 {"::"},
	"::1/128 loopback":                   {"::1"},
	"::/96 IPv4-compatible":              {"::a9fe:a9fe", "::127.0.0.1", "::8.8.8.8"},
	"64:ff9b:1::/48 local NAT64":         {"64:ff9b:1::1", "64:ff9b:1:ffff::8.8.8.8"},
	"100::/64 discard":                   {"100::1", "100::ffff:ffff:ffff:ffff"},
	"2001::/32 Teredo":                   {"2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
	"2001:db8::/32 documentation":        {"2001:db8::1", "2001:db8:ffff::1"},
	"fc00::/7 unique local":              {"fc00::1", "fdff:ffff::1"},
	"fe80::/10 link-local":               {"fe80::1", "febf::1", "fe80::1%eth0"},
	"fec0::/10 site-local":               {"fec0::1", "feff::1"},
	"ff00::/8 multicast":                 {"ff02::1", "ff0e::1"},
	"6to4 of a guarded IPv4 (2002::/16)": {"2002:7f00:1::1", "2002:a9fe:a9fe::", "2002:c0a8:101:1::1"},
}

// allowedAddrs are public addresses, many just outside a guarded range: the guard must not
// refuse them.
var allowedAddrs = []string{
	"93.184.216.34", "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
	"192.0.1.1", "192.0.3.1", "192.88.98.1", "198.17.255.255", "198.20.0.0", "198.51.99.1", "203.0.112.1",
	"223.255.255.255", "11.0.0.1", "126.255.255.255", "128.0.0.1", "169.253.255.255", "169.255.0.1",
	"2606:2800:220:1:248:1893:25c8:1946", "2a00:1450:4001::1", "::ffff:93.184.216.34", "64:ff9b::5db8:d822",
	"2002:5db8:d822::1", "2001:1::1", "2001:db9::1", "fbff::1", "2000::1",
}

// addrCase is an address the guard must refuse and why.
type addrCase struct{ row, addr string }

// guardedCases lists every guarded address of the table, with the IPv6 spellings of each
// guarded IPv4 address.
func guardedCases() []addrCase {
	var out []addrCase
	for row, addrs := range guardedV4 {
		for _, a := range addrs {
			v4 := netip.MustParseAddr(a).As4()
			out = append(out,
				addrCase{row, a},
				addrCase{row + " as IPv4-mapped", "::ffff:" + a},
				addrCase{row + " as IPv4-mapped hex", fmt.Sprintf("::ffff:%x:%x", uint16(v4[0])<<8|uint16(v4[1]), uint16(v4[2])<<8|uint16(v4[3]))},
				addrCase{row + " as IPv4-compatible", "::" + a},
				addrCase{row + " as NAT64", "64:ff9b::" + a},
				addrCase{row + " as 6to4", fmt.Sprintf("2002:%02x%02x:%02x%02x::1", v4[0], v4[1], v4[2], v4[3])},
			)
		}
	}
	for row, addrs := range guardedV6 {
		for _, a := range addrs {
			out = append(out, addrCase{row, a})
		}
	}
	return out
}

// urlHost writes addr as a URL host.
func urlHost(addr string) string {
	if strings.Contains(addr, ":") {
		return "[" + strings.Replace(addr, "%", "%25", 1) + "]"
	}
	return addr
}

// answer is a resolver that answers every name with addr.
type answer string

func (a answer) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr(string(a))}, nil
}

// failing is a resolver that cannot answer.
type failing struct{}

func (failing) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return nil, errors.New("server misbehaving")
}

// TestGuardAddressTable: every guarded address is refused at registration (as a literal and
// as a name's DNS answer), at dial time (the DNS answer of a name that passed registration),
// and after a reload tightens a client built while everything was allowed. Public addresses
// pass registration.
func TestGuardAddressTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range guardedCases() {
		t.Run(c.row+"/"+c.addr, func(t *testing.T) {
			t.Parallel()
			g := webhook.Guard{Resolver: answer(c.addr)}
			require.Falsef(t, g.Allowed(netip.MustParseAddr(c.addr)), "Allowed(%s)", c.addr)
			err := g.CheckURL(ctx, "https://"+urlHost(c.addr)+"/hook", true)
			require.ErrorIs(t, err, webhook.ErrForbiddenAddress, "registration of the literal")
			err = g.CheckURL(ctx, "https://hooks.example.com/hook", true)
			require.ErrorIs(t, err, webhook.ErrForbiddenAddress, "registration of a name answering it")

			resp, err := g.Client().Get("http://hooks.example.com:9/hook")
			if resp != nil {
				resp.Body.Close()
			}
			require.ErrorIs(t, err, webhook.ErrForbiddenAddress, "dial of a name answering it")

			live := webhook.NewLive(webhook.Guard{AllowPrivate: true, Resolver: answer(c.addr)})
			client := live.Client()
			require.NoError(t, live.CheckURL(ctx, "https://hooks.example.com/hook", true), "allowed before the reload")
			live.Set(webhook.Guard{Resolver: answer(c.addr)})
			resp, err = client.Get("http://hooks.example.com:9/hook")
			if resp != nil {
				resp.Body.Close()
			}
			require.ErrorIs(t, err, webhook.ErrForbiddenAddress, "dial after the reload, by a client built before it")
			require.ErrorIs(t, live.CheckURL(ctx, "https://hooks.example.com/hook", true), webhook.ErrForbiddenAddress)
		})
	}
	for _, a := range allowedAddrs {
		t.Run("allowed/"+a, func(t *testing.T) {
			t.Parallel()
			g := webhook.Guard{Resolver: answer(a)}
			require.True(t, g.Allowed(netip.MustParseAddr(a)))
			require.NoError(t, g.CheckURL(ctx, "https://"+urlHost(a)+"/hook", true))
			require.NoError(t, g.CheckURL(ctx, "https://hooks.example.com/hook", true))
		})
	}
}

// TestGuardHostForms: spellings of a host that URL parsers or resolvers read as a guarded
// address are refused at registration, even when DNS (here answering a public address for
// every name) would let them through.
func TestGuardHostForms(t *testing.T) {
	t.Parallel()
	g := webhook.Guard{Resolver: answer("93.184.216.34")}
	tests := map[string]string{
		"https://2130706433/h":                "dotted decimal", // 127.0.0.1 as one decimal number
		"https://017700000001/h":              "dotted decimal", // octal
		"https://0x7f000001/h":                "dotted decimal", // hex
		"https://0x7F.1/h":                    "dotted decimal",
		"https://0177.0.0.1/h":                "dotted decimal",
		"https://127.1/h":                     "dotted decimal",
		"https://127.0.0.1./h":                "not allowed: 127.0.0.1 is",
		"https://169.254.169.254./latest":     "not allowed: 169.254.169.254 is",
		"https://localhost/h":                 "localhost",
		"https://LOCALHOST./h":                "localhost",
		"https://api.localhost/h":             "localhost",
		"https://[::1]:8443/h":                "not allowed: ::1 is",
		"https://[0:0:0:0:0:ffff:7f00:1]/h":   "not allowed: 127.0.0.1 is",
		"https://[::ffff:127.0.0.1]/h":        "not allowed: 127.0.0.1 is",
		"https://[fe80::1%25eth0]/h":          "not allowed: fe80::1 is",
		"https://hooks.example.com../h":       "not a valid host name",
		"https://hooks.example.com./h":        "",
		"https://hooks.example.com:8443/h":    "",
		"https://localhost.example.com/h":     "",
		"https://10.example.com/h":            "",
		"https://0x.example.com/h":            "",
		"https://hooks.example.com/127.0.0.1": "",
	}
	for raw, want := range tests {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			err := g.CheckURL(context.Background(), raw, true)
			if want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, want)
		})
	}
}

// TestGuardHostFormsAtDialTime: a client of the guard never connects to the loopback server
// through any spelling of its address, with the system's resolver.
func TestGuardHostFormsAtDialTime(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	client := webhook.Guard{}.Client()
	for _, host := range []string{"127.0.0.1", "127.0.0.1.", "localhost", "localhost.", "LocalHost", "2130706433", "0x7f000001",
		"0177.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[::127.0.0.1]"} {
		resp, err := client.Get("http://" + host + ":" + port + "/")
		if resp != nil {
			resp.Body.Close()
		}
		require.Error(t, err, host)
	}
	require.Zero(t, hits.Load(), "the loopback server was reached")
}

// TestGuardRefusesWhatItCannotResolve: a name whose lookup fails (or answers nothing) is
// refused at registration and at dial time: an unknown address is not an allowed one.
func TestGuardRefusesWhatItCannotResolve(t *testing.T) {
	t.Parallel()
	for name, r := range map[string]webhook.Resolver{"error": failing{}, "no answer": fakeResolver{}} {
		g := webhook.Guard{Resolver: r}
		require.ErrorIs(t, g.CheckURL(context.Background(), "https://hooks.example.com/h", true), webhook.ErrForbiddenAddress, name)
		resp, err := g.Client().Get("http://hooks.example.com:9/h")
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, webhook.ErrForbiddenAddress, name)
	}
}

// TestGuardRefusesRedirects: a registered webhook that answers with a redirect to a guarded
// address does not get the request there: the client does not follow redirects, and a client
// that did would be refused at the dial.
func TestGuardRefusesRedirects(t *testing.T) {
	t.Parallel()
	var internal atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err)
	inside := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { internal.Add(1) }))
	inside.Listener = ln
	inside.Start()
	t.Cleanup(inside.Close)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL+"/metadata", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(hook.Close)
	// The webhook's own address is allowed (an intranet allowlist); the redirect's is not.
	g := webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

	client := g.Client()
	resp, err := client.Post(hook.URL, "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode, "the redirect is the answer")

	following := g.Client()
	following.CheckRedirect = nil
	resp, err = following.Post(hook.URL, "application/json", strings.NewReader(`{}`))
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, webhook.ErrForbiddenAddress, "a followed redirect is dialed through the guard")
	require.Zero(t, internal.Load())
}

// TestGuardReloadDropsConnections: a client that reached a private server while
// api.allow_private_urls was on is refused after a reload turns it off, although it holds an
// idle keep-alive connection to that server.
func TestGuardReloadDropsConnections(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	live := webhook.NewLive(webhook.Guard{AllowPrivate: true})
	client := live.Client()
	for range 2 {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		resp.Body.Close()
	}
	require.Equal(t, int32(2), hits.Load())
	live.Set(webhook.Guard{})
	resp, err := client.Get(srv.URL)
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, webhook.ErrForbiddenAddress)
	require.Equal(t, int32(2), hits.Load())
}

// TestGuardReloadWhileInFlight: a connection that was carrying a request when a reload
// tightened the guard is not used again afterwards (it returns to a pool no request draws
// from).
func TestGuardReloadWhileInFlight(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		if hits.Add(1) == 1 {
			close(entered)
			<-release
		}
	}))
	t.Cleanup(srv.Close)
	live := webhook.NewLive(webhook.Guard{AllowPrivate: true})
	client := live.Client()
	done := make(chan error, 1)
	go func() {
		resp, err := client.Get(srv.URL)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	select { // a guard that refuses the first request fails the test rather than hanging it
	case <-entered:
	case err := <-done:
		require.FailNow(t, "the first request did not reach the server", "%v", err)
	}
	live.Set(webhook.Guard{})
	resp, err := client.Get(srv.URL)
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, webhook.ErrForbiddenAddress, "a request started after the reload")
	close(release)
	require.NoError(t, <-done)
	for range 50 { // the first request's connection goes back to its pool meanwhile
		resp, err := client.Get(srv.URL)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, webhook.ErrForbiddenAddress)
		time.Sleep(5 * time.Millisecond)
	}
	require.Equal(t, int32(1), hits.Load())
}

// TestGuardAllowListCoversIPv6Spellings: an allowlisted IPv4 range lets its IPv4-mapped
// spelling through too (the address is the same host), and an IPv6 range its own addresses;
// neither lets anything else through.
func TestGuardAllowListCoversIPv6Spellings(t *testing.T) {
	t.Parallel()
	g := webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	tests := map[string]bool{
		"10.0.0.5":           true,
		"::ffff:10.0.0.5":    true, // only the unmapped address is in 10.0.0.0/8
		"::ffff:a00:5":       true,
		"fd00::1":            true,
		"::ffff:192.168.0.1": false,
		"192.168.0.1":        false,
		"fc00::1":            false,
		"64:ff9b::a00:5":     false, // NAT64 is not the same host: not allowlisted
	}
	for addr, want := range tests {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, g.Allowed(netip.MustParseAddr(addr)))
			err := g.CheckURL(context.Background(), "https://"+urlHost(addr)+"/hook", true)
			if want {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, webhook.ErrForbiddenAddress)
		})
	}
}

// TestGuardURLShapes: what CheckURL asks of a URL before it looks at the host, with
// require_https on and off.
func TestGuardURLShapes(t *testing.T) {
	t.Parallel()
	g := webhook.Guard{Resolver: answer("93.184.216.34")}
	tests := []struct {
		name, url    string
		requireHTTPS bool
		want         string // "" when it passes
	}{
		{"https, required", "https://hooks.example.com/h", true, ""},
		{"https, not required", "https://hooks.example.com/h", false, ""},
		{"http, not required", "http://hooks.example.com/h", false, ""},
		{"http, required", "http://hooks.example.com/h", true, "must use https"},
		{"ftp, required", "ftp://hooks.example.com/h", true, "must use https"},
		{"ftp, not required", "ftp://hooks.example.com/h", false, "must use http or https"},
		{"unparsable", "https://[::1/h", true, "must be an absolute URL"},
		{"relative", "/relative", true, "must be an absolute URL"},
		{"scheme-relative", "//hooks.example.com/h", false, "must be an absolute URL"},
		{"absolute without a host", "https:opaque", true, "must be an absolute URL"},
		{"empty host", "https:///h", true, "must be an absolute URL"},
		{"user info", "https://user@hooks.example.com/h", true, "must not contain user info"},
		{"user and password", "https://user:hunter2@hooks.example.com/h", false, "must not contain user info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := g.CheckURL(context.Background(), tt.url, tt.requireHTTPS)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "hunter2", "credentials are never echoed")
		})
	}
}

// slowResolver answers addr after delay, or fails when its context ends first (as
// *net.Resolver does); it records the deadline it was given.
type slowResolver struct {
	addr     string
	delay    time.Duration
	deadline chan time.Time
}

func (r slowResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	d, _ := ctx.Deadline()
	r.deadline <- d
	select {
	case <-time.After(r.delay):
		return []netip.Addr{netip.MustParseAddr(r.addr)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestGuardLookupDeadline: a lookup gets 5 s, so a slow DNS server still answers and a dead
// one does not hold a registration or a dial for longer.
func TestGuardLookupDeadline(t *testing.T) {
	t.Parallel()
	tests := map[string]func(g webhook.Guard) error{
		"registration": func(g webhook.Guard) error {
			return g.CheckURL(context.Background(), "https://hooks.example.com/h", true)
		},
		"dial": func(g webhook.Guard) error {
			resp, err := g.Client().Get("http://hooks.example.com:9/h")
			if resp != nil {
				resp.Body.Close()
			}
			return err
		},
	}
	for name, check := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := slowResolver{addr: "10.0.0.1", delay: 50 * time.Millisecond, deadline: make(chan time.Time, 1)}
			start := time.Now()
			err := check(webhook.Guard{Resolver: r})
			require.ErrorContains(t, err, "resolves to 10.0.0.1", "the slow answer arrived and was judged")
			deadline := <-r.deadline
			require.WithinRange(t, deadline, start.Add(4*time.Second), time.Now().Add(5*time.Second))
		})
	}
}
