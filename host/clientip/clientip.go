// Package clientip finds the address of the client behind a request: the
// peer's own address, or, when the peer is a trusted reverse proxy, the
// address that proxy reports in X-Forwarded-For or X-Real-IP. Forwarding
// headers from any other peer are never believed, since any client can
// send them.
//
// X-Forwarded-For is read from the right: each proxy appends the address
// it got the request from, so the right-most address that is not a
// trusted proxy is the first one no trusted party vouches for beyond, and
// is taken as the client. Values to its left were sent by the client and
// may be anything.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies is a set of trusted reverse proxies, by address or CIDR. The
// zero value trusts no one.
type Proxies struct {
	prefixes []netip.Prefix
}

// New returns the set of proxies in prefixes.
func New(prefixes ...netip.Prefix) Proxies {
	return Proxies{prefixes: append([]netip.Prefix(nil), prefixes...)}
}

// Parse reads a list of addresses and CIDRs separated by commas or spaces
// ("10.0.0.1, 192.168.0.0/16 ::1"). An empty list trusts no one.
func Parse(list string) (Proxies, error) {
	var prefixes []netip.Prefix
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return Proxies{}, fmt.Errorf("trusted proxy %q: not an address or CIDR", f)
			}
			prefixes = append(prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return Proxies{}, fmt.Errorf("trusted proxy %q: not an address or CIDR", f)
		}
		a = a.Unmap()
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return Proxies{prefixes: prefixes}, nil
}

// Prefixes returns the trusted addresses and ranges.
func (p Proxies) Prefixes() []netip.Prefix { return append([]netip.Prefix(nil), p.prefixes...) }

// String lists the trusted proxies, comma separated.
func (p Proxies) String() string {
	s := make([]string, len(p.prefixes))
	for i, pf := range p.prefixes {
		s[i] = pf.String()
	}
	return strings.Join(s, ",")
}

// Trusts reports whether a is a trusted proxy.
func (p Proxies) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pf := range p.prefixes {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns r's client address: the peer (RemoteAddr), unless the
// peer is trusted, then the right-most untrusted address of
// X-Forwarded-For, or else X-Real-IP. ok is false only when RemoteAddr is
// not an IP address (a unix socket).
func (p Proxies) Client(r *http.Request) (addr netip.Addr, ok bool) {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if !p.Trusts(peer) {
		return peer, true
	}
	if hops := forwardedFor(r); len(hops) > 0 {
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseAddr(hops[i])
			if !ok {
				return peer, true // a hop the proxies wrote is unreadable: believe none
			}
			if !p.Trusts(a) || i == 0 {
				return a, true
			}
		}
	}
	if a, ok := parseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); ok {
		return a, true
	}
	return peer, true
}

// proxyHeaders are the forwarding headers proxies and CDNs commonly set.
var proxyHeaders = []string{"X-Forwarded-For", "X-Real-IP", "Forwarded", "CF-Connecting-IP", "Fly-Client-IP", "True-Client-IP"}

// UntrustedHeader returns the name of a forwarding header r carries although
// its peer is not a trusted proxy, or "" when there is none (or the peer is
// trusted). Seen on every request, it tells an operator that the app runs
// behind a proxy that is not set as trusted.
func (p Proxies) UntrustedHeader(r *http.Request) string {
	if peer, ok := parseAddr(r.RemoteAddr); ok && p.Trusts(peer) {
		return ""
	}
	for _, h := range proxyHeaders {
		if r.Header.Get(h) != "" {
			return h
		}
	}
	return ""
}

// forwardedFor returns the hops of every X-Forwarded-For header line, in
// order.
func forwardedFor(r *http.Request) []string {
	var hops []string
	for _, line := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(line, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// parseAddr parses "ip", "ip:port" or "[ipv6]:port", unmapped and without
// zone.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
