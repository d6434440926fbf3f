package netguard_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/tidysupport/tidyhooks/netguard"
)

func TestCheck(t *testing.T) {
	none := netguard.Policy{}
	loop := netguard.Policy{AllowLoopback: true}
	allow := func(cidrs ...string) netguard.Policy {
		var p netguard.Policy
		for _, c := range cidrs {
			p.Allow = append(p.Allow, netip.MustParsePrefix(c))
		}
		return p
	}
	tests := []struct {
		name    string
		policy  netguard.Policy
		addr    string
		allowed bool
	}{
		// IPv4 ranges.
		{"loopback", none, "127.0.0.1", false},
		{"loopback, high", none, "127.255.0.9", false},
		{"private 10/8", none, "10.1.2.3", false},
		{"private 172.16/12", none, "172.16.0.1", false},
		{"private 172.16/12, top", none, "172.31.255.255", false},
		{"private 192.168/16", none, "192.168.1.1", false},
		{"link-local metadata", none, "169.254.169.254", false},
		{"carrier-grade NAT", none, "100.64.0.1", false},
		{"this network", none, "0.0.0.0", false},
		{"multicast", none, "224.0.0.1", false},
		{"broadcast", none, "255.255.255.255", false},
		{"6to4 relay anycast", none, "192.88.99.1", false},
		{"benchmarking", none, "198.18.0.1", false},
		{"public", none, "93.184.216.34", true},
		{"public next to 172.16/12", none, "172.32.0.1", true},
		// IPv6 ranges.
		{"v6 loopback", none, "::1", false},
		{"v6 unspecified", none, "::", false},
		{"unique local", none, "fd12:3456::1", false},
		{"unique local fc", none, "fc00::1", false},
		{"v6 link-local", none, "fe80::1", false},
		{"v6 link-local with zone", none, "fe80::1%eth0", false},
		{"v6 multicast", none, "ff02::1", false},
		{"site-local", none, "fec0::1", false},
		{"discard-only", none, "100::1", false},
		{"Teredo", none, "2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
		{"ORCHIDv2", none, "2001:20::1", false},
		{"v6 documentation", none, "2001:db8::1", false},
		{"v6 public", none, "2606:4700::1111", true},
		// Forms that carry IPv4.
		{"mapped loopback", none, "::ffff:127.0.0.1", false},
		{"mapped metadata", none, "::ffff:169.254.169.254", false},
		{"mapped public", none, "::ffff:8.8.8.8", true},
		{"compatible loopback", none, "::127.0.0.1", false},
		{"compatible private", none, "::10.0.0.1", false},
		{"compatible public", none, "::8.8.8.8", false},
		{"translated private", none, "::ffff:0:10.0.0.1", false},
		{"translated public", none, "::ffff:0:8.8.8.8", false},
		{"NAT64 metadata", none, "64:ff9b::a9fe:a9fe", false},
		{"NAT64 public", none, "64:ff9b::808:808", true},
		{"local NAT64 private", none, "64:ff9b:1::a00:1", false},
		{"6to4 private", none, "2002:0a00:0001::1", false},
		{"6to4 metadata", none, "2002:a9fe:a9fe::1", false},
		{"6to4 public", none, "2002:0808:0808::1", true},
		// Allowing loopback.
		{"loopback allowed", loop, "127.0.0.1", true},
		{"v6 loopback allowed", loop, "::1", true},
		{"mapped loopback allowed", loop, "::ffff:127.0.0.1", true},
		{"loopback allowed, private still not", loop, "10.0.0.1", false},
		{"loopback allowed, NAT64 loopback not", loop, "64:ff9b::7f00:1", false},
		{"loopback allowed, 6to4 loopback not", loop, "2002:7f00:0001::1", false},
		{"loopback allowed, compatible loopback not", loop, "::127.0.0.1", false},
		// Allow lists.
		{"listed CIDR", allow("10.20.0.0/16"), "10.20.3.4", true},
		{"outside the listed CIDR", allow("10.20.0.0/16"), "10.21.3.4", false},
		{"listed CIDR, mapped form", allow("10.20.0.0/16"), "::ffff:10.20.3.4", true},
		{"listed CIDR, through 6to4", allow("10.20.0.0/16"), "2002:0a14:0304::1", true},
		{"v6 global listed, 6to4 metadata not", allow("2000::/3"), "2002:a9fe:a9fe::1", false},
		{"v6 global listed, Teredo not", allow("2000::/3"), "2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
		{"v6 global listed, documentation not", allow("2000::/3"), "2001:db8::1", false},
		{"v6 everything listed, NAT64 private not", allow("::/0"), "64:ff9b::a00:1", false},
		{"v4 everything listed, private not", allow("0.0.0.0/0"), "10.0.0.1", false},
		{"unique local subnet listed", allow("fd12:3456::/32"), "fd12:3456::1", true},
		{"listed loopback", allow("127.0.0.0/8"), "127.0.0.1", true},
		{"listed loopback, NAT64 loopback not", allow("127.0.0.0/8"), "64:ff9b::7f00:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(netip.MustParseAddr(tt.addr))
			switch {
			case tt.allowed && err != nil:
				t.Errorf("Check(%s) = %v, want allowed", tt.addr, err)
			case !tt.allowed && !errors.Is(err, netguard.ErrBlocked):
				t.Errorf("Check(%s) = %v, want blocked", tt.addr, err)
			}
		})
	}
}

// FuzzCheck holds the classifier to what the standard library knows of
// addresses, and to judging every form of an IPv4 address alike. Fuzz it
// longer with go test ./netguard -run '^$' -fuzz FuzzCheck -fuzztime 5m.
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{"127.0.0.1", "10.1.2.3", "8.8.8.8", "169.254.169.254", "::1", "fe80::1", "2002:a9fe:a9fe::1", "64:ff9b::a00:1", "2606:4700::1111", "::ffff:0:a00:1"} {
		a := netip.MustParseAddr(seed).As16()
		f.Add(a[:], false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, loopback bool) {
		if len(raw) != 16 && len(raw) != 4 {
			return
		}
		ip, _ := netip.AddrFromSlice(raw)
		p := netguard.Policy{AllowLoopback: loopback}
		err := p.Check(ip)
		plain := ip.Unmap()
		nonPublic := plain.IsPrivate() || plain.IsLinkLocalUnicast() || plain.IsLinkLocalMulticast() ||
			plain.IsMulticast() || plain.IsUnspecified() || plain.IsInterfaceLocalMulticast() || (plain.IsLoopback() && !loopback)
		if nonPublic && err == nil {
			t.Fatalf("Check(%s) allowed a non-public address", ip)
		}
		if err != nil && !errors.Is(err, netguard.ErrBlocked) {
			t.Fatalf("Check(%s) = %v, not a refusal", ip, err)
		}
		if plain.Is4() {
			v4 := plain.As4()
			nat64 := netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 10: 0, 11: 0, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]})
			sixToFour := netip.AddrFrom16([16]byte{0x20, 0x02, v4[0], v4[1], v4[2], v4[3], 15: 1})
			strict := netguard.Policy{}
			base := strict.Check(plain)
			for _, form := range []netip.Addr{netip.AddrFrom16(plain.As16()), nat64, sixToFour} {
				if got := strict.Check(form); (got == nil) != (base == nil) {
					t.Fatalf("%s is judged %v but its form %s %v", plain, base, form, got)
				}
			}
		}
	})
}
