// Package netguard decides which network addresses deliveries may connect
// to. The check runs on the resolved address at connect time, so a DNS name
// cannot point a webhook at the service's own network. It imports only the
// standard library.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrBlocked is wrapped by every refusal.
var ErrBlocked = errors.New("destination address is not allowed")

// Policy says which otherwise blocked addresses are allowed.
type Policy struct {
	AllowLoopback bool           // the all-in-one dev mode
	Allow         []netip.Prefix // operator-listed CIDRs
	// Resolver looks names up; nil means the system's. Tests point it at
	// a DNS server they control.
	Resolver *net.Resolver
}

// blocked are the non-public ranges refused by default, with why.
var blocked = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified / this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
}

// embedded returns the IPv4 address carried inside IPv4-mapped, NAT64 and
// 6to4 IPv6 addresses, so each is judged by the address it reaches.
func embedded(ip netip.Addr) (netip.Addr, bool) {
	if ip.Is4In6() {
		return ip.Unmap(), true
	}
	b := ip.As16()
	switch {
	case netip.MustParsePrefix("64:ff9b::/96").Contains(ip), netip.MustParsePrefix("64:ff9b:1::/48").Contains(ip):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case netip.MustParsePrefix("2002::/16").Contains(ip):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// Check returns nil if ip may be connected to, or an error wrapping
// ErrBlocked that says why not.
func (p Policy) Check(ip netip.Addr) error {
	ip = ip.WithZone("")
	for _, a := range p.Allow {
		if a.Contains(ip) {
			return nil
		}
	}
	if inner, ok := embedded(ip); ok {
		if err := p.Check(inner); err != nil {
			return fmt.Errorf("%s embeds %s: %w", ip, inner, err)
		}
		return nil
	}
	for _, b := range blocked {
		if !b.prefix.Contains(ip) {
			continue
		}
		if b.why == "loopback" && p.AllowLoopback {
			return nil
		}
		return fmt.Errorf("%s is %s: %w", ip, b.why, ErrBlocked)
	}
	return nil
}

// DialContext returns a dial function that refuses blocked addresses after
// resolution, before any packet is sent.
func (p Policy) DialContext(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{
		Resolver:  p.Resolver,
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("parse dial address %q: %w", address, err)
			}
			return p.Check(ap.Addr())
		},
	}
	return d.DialContext
}
