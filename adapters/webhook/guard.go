package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Guard keeps registered webhooks (URLs that API users choose) away from the bridge's own
// network: every range of guardedRanges (loopback, private, link-local and cloud metadata,
// shared, documentation, benchmarking, multicast, reserved) and the IPv6 spellings of them
// (embeddingRanges: IPv4-mapped, NAT64, 6to4). It checks URLs when they are registered and,
// because DNS can change between then and a delivery (rebinding), again on every dial. Use a
// Live to change the guard of clients already built (a config reload).
type Guard struct {
	AllowPrivate bool           // api.allow_private_urls: let everything through
	Allow        []netip.Prefix // ranges let through even though guarded (an intranet allowlist)
	Resolver     Resolver       // for CheckURL and dials; nil: net.DefaultResolver
}

// Resolver looks a host name up (*net.Resolver does).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrForbiddenAddress is returned for a URL or dial that reaches a guarded address, and for a
// host whose addresses cannot be known (it does not resolve).
var ErrForbiddenAddress = errors.New("address not allowed")

// guardedRanges are the ranges a webhook may not reach: the IANA IPv4 and IPv6 special-purpose
// address registries' ranges that are not globally reachable, and multicast. Nothing else
// decides (not netip's IsPrivate and friends), so a test for each row proves the row.
var guardedRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata (169.254.169.254)
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast (deprecated)
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast 255.255.255.255
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated), with :: and ::1
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),        // multicast
}

// embeddingRanges are IPv6 ranges whose addresses carry an IPv4 address (at byte offset at): an
// address there is guarded when its IPv4 address is.
var embeddingRanges = []struct {
	prefix netip.Prefix
	at     int
}{
	{netip.MustParsePrefix("::ffff:0:0/96"), 12}, // IPv4-mapped: ::ffff:127.0.0.1
	{netip.MustParsePrefix("64:ff9b::/96"), 12},  // NAT64: 64:ff9b::7f00:1
	{netip.MustParsePrefix("2002::/16"), 2},      // 6to4: 2002:7f00:1::/48
}

// Allowed reports whether ip may be reached.
func (g Guard) Allowed(ip netip.Addr) bool {
	if g.AllowPrivate {
		return true
	}
	ip = ip.WithZone("") // a prefix never contains a zoned address
	for _, p := range g.Allow {
		if p.Contains(ip) || p.Contains(ip.Unmap()) {
			return true
		}
	}
	return !blocked(ip)
}

func blocked(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	if ip.Is6() {
		b := ip.As16()
		for _, e := range embeddingRanges {
			if e.prefix.Contains(ip) {
				return blocked(netip.AddrFrom4([4]byte(b[e.at : e.at+4])))
			}
		}
	}
	for _, p := range guardedRanges {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURL validates a URL a user registers: absolute http(s) (https only when requireHTTPS),
// no user info, and a host whose every address is allowed. Errors describe the problem without
// echoing secrets; a guarded or unresolvable host's wraps ErrForbiddenAddress.
func (g Guard) CheckURL(ctx context.Context, raw string, requireHTTPS bool) error {
	// ifs, not a tagless switch: coverage profiles leave case expressions out, so their
	// mutants would count as not covered (docs/security.md, "Mutation testing").
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("must be an absolute URL")
	}
	if u.Scheme != "https" && (requireHTTPS || u.Scheme != "http") {
		if requireHTTPS {
			return errors.New("must use https")
		}
		return errors.New("must use http or https")
	}
	if u.User != nil {
		return errors.New("must not contain user info (put credentials in headers or the signing secret)")
	}
	_, err = g.addrs(ctx, u.Hostname())
	return err
}

// addrs returns host's addresses when every one of them is allowed. host is an IP address
// (IPv6 without brackets) or a name; a trailing dot is ignored. Names under localhost are
// refused without a lookup (RFC 6761), and so are IPv4 addresses in any form but dotted
// decimal (2130706433, 0x7f.1, 0177.0.0.1: resolvers disagree on what they mean).
func (g Guard) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if ip, err := netip.ParseAddr(name); err == nil {
		if !g.Allowed(ip) {
			return nil, fmt.Errorf("%w: %s is a private, loopback or reserved address", ErrForbiddenAddress, ip.WithZone("").Unmap())
		}
		return []netip.Addr{ip}, nil
	}
	if name == "" || strings.HasSuffix(name, ".") {
		return nil, fmt.Errorf("host %q is not a valid host name", host)
	}
	if !g.AllowPrivate && (name == "localhost" || strings.HasSuffix(name, ".localhost")) {
		return nil, fmt.Errorf("%w: %s names this machine (localhost)", ErrForbiddenAddress, host)
	}
	if numericLabel(name[strings.LastIndexByte(name, '.')+1:]) {
		return nil, fmt.Errorf("host %q is an IPv4 address in a form other than dotted decimal (write it as a.b.c.d)", host)
	}
	var resolver Resolver = net.DefaultResolver
	if g.Resolver != nil {
		resolver = g.Resolver
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := resolver.LookupNetIP(rctx, "ip", name)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("%w: host %s does not resolve", ErrForbiddenAddress, host)
	}
	for _, ip := range addrs {
		if !g.Allowed(ip) {
			return nil, fmt.Errorf("%w: %s resolves to %s, a private, loopback or reserved address", ErrForbiddenAddress, host, ip.WithZone("").Unmap())
		}
	}
	return addrs, nil
}

// numericLabel reports whether a host name's last label makes the whole host an IPv4 address
// to URL parsers (WHATWG URL: decimal, 0x hex or octal digits).
func numericLabel(label string) bool {
	if h, ok := strings.CutPrefix(label, "0x"); ok {
		return strings.Trim(h, "0123456789abcdef") == ""
	}
	return label != "" && strings.Trim(label, "0123456789") == ""
}

// Client returns an HTTP client for registered webhooks that always uses g.
func (g Guard) Client() *http.Client { return NewLive(g).Client() }

// Live is the guard in force for every client it built: Set (a config reload that tightens
// api.allow_private_urls, say) applies at once to the webhooks already registered, whose
// clients stop reusing connections made under the old guard.
type Live struct {
	g   atomic.Pointer[Guard]
	gen atomic.Uint64 // bumped by Set
}

// NewLive returns a Live starting with g.
func NewLive(g Guard) *Live {
	l := &Live{}
	l.g.Store(&g)
	return l
}

// Set puts g in force for every client of l, from their next request.
func (l *Live) Set(g Guard) {
	l.g.Store(&g)
	l.gen.Add(1)
}

// Guard returns the guard in force.
func (l *Live) Guard() Guard { return *l.g.Load() }

// CheckURL is Guard().CheckURL.
func (l *Live) CheckURL(ctx context.Context, raw string, requireHTTPS bool) error {
	return l.Guard().CheckURL(ctx, raw, requireHTTPS)
}

// Client returns an HTTP client for registered webhooks: notify.NewHTTPClient's behaviour (no
// redirects, attempt-bounded) and no proxy (a proxy would dial for us, past the guard, so
// HTTP_PROXY and HTTPS_PROXY are ignored). Every dial resolves the host with the guard in
// force and refuses guarded addresses, so a name that later resolves to 127.0.0.1 or
// 169.254.169.254 is still refused; the connected address is checked again as the socket
// connects. After Set, the client's next request opens new connections.
func (l *Live) Client() *http.Client {
	c := notify.NewHTTPClient()
	c.Transport = &liveTransport{l: l, gen: l.gen.Load(), tr: l.transport()}
	return c
}

// transport is notify.NewHTTPClient's transport, dialing through l.
func (l *Live) transport() *http.Transport {
	tr := notify.NewHTTPClient().Transport.(*http.Transport)
	dialer := l.dialer()
	tr.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
		}
		addrs, err := l.Guard().addrs(ctx, host)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, ip := range addrs {
			conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
	tr.Proxy = nil
	return tr
}

// dialer connects to one address (10 s to connect, TCP keep-alive every 30 s) and checks it
// against the guard in force as the socket connects.
func (l *Live) dialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			if !l.Guard().Allowed(ap.Addr()) {
				return fmt.Errorf("%w: %s is a private, loopback or reserved address", ErrForbiddenAddress, ap.Addr().WithZone("").Unmap())
			}
			return nil
		}}
}

// liveTransport starts a new connection pool when the guard changed, so no request goes out
// over a connection the new guard would not have made.
type liveTransport struct {
	l   *Live
	mu  sync.Mutex
	gen uint64
	tr  *http.Transport
}

func (t *liveTransport) current() *http.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gen := t.l.gen.Load(); gen != t.gen {
		t.tr.CloseIdleConnections()
		t.gen, t.tr = gen, t.l.transport()
	}
	return t.tr
}

func (t *liveTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.current().RoundTrip(r)
}

// CloseIdleConnections closes the current pool's idle connections (http.Client's method).
func (t *liveTransport) CloseIdleConnections() { t.current().CloseIdleConnections() }
