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

// BlockedError is a refusal: the address, and the kind of range it is in
// ("private (RFC 1918)", "loopback", …). Reason names no address, so it may
// be shown to whoever chose the destination; Error is for operators.
type BlockedError struct {
	Addr   netip.Addr
	Reason string
	detail string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%s: %s", e.detail, ErrBlocked)
}

func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

func blockedBy(ip netip.Addr, reason, detail string) *BlockedError {
	return &BlockedError{Addr: ip, Reason: reason, detail: detail}
}

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
	{netip.MustParsePrefix("127.0.0.0/8"), loopback},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast (deprecated)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), loopback},
	// Forms that carry an IPv4 address the kernel or a relay may reach,
	// but that no public endpoint uses: refused outright.
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"},
	{netip.MustParsePrefix("2001::/32"), "Teredo tunnelling"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking"},
	{netip.MustParsePrefix("2001:10::/28"), "ORCHID"},
	{netip.MustParsePrefix("2001:20::/28"), "ORCHIDv2"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

const loopback = "loopback"

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
)

// translated returns the IPv4 address that a NAT64 or 6to4 address
// reaches through a translator or relay.
func translated(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64.Contains(ip), nat64Local.Contains(ip):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// Check returns nil if ip may be connected to, or an error wrapping
// ErrBlocked that says why not.
//
// An address that carries an IPv4 address is judged by that address
// first: IPv4-mapped (::ffff:a.b.c.d, which the kernel connects to
// a.b.c.d), NAT64 and 6to4; so an allow list of IPv6 ranges cannot let a
// private IPv4 address through. Allowing loopback allows 127.0.0.0/8, ::1
// and the IPv4-mapped form only; loopback reached through a translator
// is never allowed. An allow-list entry opens a blocked range only where it lies
// inside that range: 10.1.0.0/16 opens part of 10.0.0.0/8, while 2000::/3
// does not open Teredo's 2001::/32.
func (p Policy) Check(ip netip.Addr) error {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		var inner *BlockedError
		if err := p.Check(ip.Unmap()); errors.As(err, &inner) {
			return blockedBy(ip, inner.Reason, fmt.Sprintf("%s maps %s", ip, inner.detail))
		}
		return nil
	}
	if inner, ok := translated(ip); ok {
		// Loopback through a translator is the translator's own.
		if inner.IsLoopback() {
			return blockedBy(ip, "loopback through a translator", fmt.Sprintf("%s embeds %s, loopback through a translator", ip, inner))
		}
		var why *BlockedError
		if err := p.Check(inner); errors.As(err, &why) {
			return blockedBy(ip, why.Reason, fmt.Sprintf("%s embeds %s", ip, why.detail))
		}
		return nil
	}
	for _, b := range blocked {
		if !b.prefix.Contains(ip) {
			continue
		}
		if b.why == loopback && p.AllowLoopback {
			return nil
		}
		for _, a := range p.Allow {
			if a.Contains(ip) && a.Bits() >= b.prefix.Bits() && a.Addr().Is4() == ip.Is4() {
				return nil
			}
		}
		return blockedBy(ip, b.why, fmt.Sprintf("%s is %s", ip, b.why))
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
