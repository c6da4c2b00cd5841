package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// Guard keeps registered webhooks (URLs that API users choose) away from the bridge's own
// network: loopback, private and link-local ranges, cloud metadata (169.254.169.254) and their
// IPv4-mapped, NAT64 and 6to4 spellings. It checks URLs when they are registered and, because
// DNS can change between then and a delivery (rebinding), again on every dial.
type Guard struct {
	AllowPrivate bool           // api.allow_private_urls: let everything through
	Allow        []netip.Prefix // ranges let through even though private (an intranet allowlist)
	Resolver     Resolver       // for CheckURL; nil: net.DefaultResolver
}

// Resolver looks a host name up (*net.Resolver does).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrForbiddenAddress is returned for a URL or dial that reaches a guarded address.
var ErrForbiddenAddress = errors.New("address not allowed")

// blockedPrefixes are the ranges a webhook may not reach besides what netip classifies
// (loopback, private, link-local, multicast, unspecified).
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and 255.255.255.255
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("100::/64"),       // discard-only
}

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4  = netip.MustParsePrefix("2002::/16")
	teredo  = netip.MustParsePrefix("2001::/32")
	v4InV6s = []netip.Prefix{nat64}
)

// Allowed reports whether ip may be reached.
func (g Guard) Allowed(ip netip.Addr) bool {
	if g.AllowPrivate {
		return true
	}
	for _, p := range g.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return !blocked(ip)
}

func blocked(ip netip.Addr) bool {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if ip.Is6() {
		b := ip.As16()
		for _, p := range v4InV6s {
			if p.Contains(ip) { // the last 32 bits are an IPv4 address
				return blocked(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
			}
		}
		if sixTo4.Contains(ip) { // 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD
			return blocked(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
		if teredo.Contains(ip) { // the client's address, inverted, in the last 32 bits
			return blocked(netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}))
		}
	}
	return false
}

// CheckURL validates a URL a user registers: absolute http(s) (https only when requireHTTPS),
// no user info, and a host whose every address is allowed. Errors describe the problem without
// echoing secrets.
func (g Guard) CheckURL(ctx context.Context, raw string, requireHTTPS bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return errors.New("must be an absolute URL")
	case u.Scheme != "https" && (requireHTTPS || u.Scheme != "http"):
		if requireHTTPS {
			return errors.New("must use https")
		}
		return errors.New("must use http or https")
	case u.User != nil:
		return errors.New("must not contain user info (put credentials in headers or the signing secret)")
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !g.Allowed(ip) {
			return fmt.Errorf("%w: %s is a private, loopback or reserved address", ErrForbiddenAddress, ip)
		}
		return nil
	}
	var resolver Resolver = net.DefaultResolver
	if g.Resolver != nil {
		resolver = g.Resolver
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := resolver.LookupNetIP(rctx, "ip", host)
	if err != nil {
		return fmt.Errorf("host %s does not resolve", host)
	}
	for _, ip := range addrs {
		if !g.Allowed(ip) {
			return fmt.Errorf("%w: %s resolves to %s, a private, loopback or reserved address", ErrForbiddenAddress, host, ip.Unmap())
		}
	}
	return nil
}

// Client returns an HTTP client for registered webhooks: core.NewHTTPClient's behaviour (no
// redirects, attempt-bounded) with a dialer that refuses guarded addresses at connect time, so
// a name that later resolves to 127.0.0.1 or 169.254.169.254 is still refused.
func (g Guard) Client() *http.Client {
	c := core.NewHTTPClient()
	tr := c.Transport.(*http.Transport)
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			if !g.Allowed(ap.Addr()) {
				return fmt.Errorf("%w: %s is a private, loopback or reserved address", ErrForbiddenAddress, ap.Addr().Unmap())
			}
			return nil
		}}
	tr.DialContext = dialer.DialContext
	tr.Proxy = nil // a proxy would dial for us, past the guard
	return c
}
