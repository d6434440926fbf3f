package netguard_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/tidysupport/tidyhooks/netguard"
)

func TestCheck(t *testing.T) {
	blocked := []string{
		"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
		"::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:0a00:0001::1",
	}
	for _, s := range blocked {
		if err := (netguard.Policy{}).Check(netip.MustParseAddr(s)); !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("Check(%s) = %v, want blocked", s, err)
		}
	}
	public := []string{"93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "172.32.0.1"}
	for _, s := range public {
		if err := (netguard.Policy{}).Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("Check(%s) = %v, want allowed", s, err)
		}
	}
	loop := netguard.Policy{AllowLoopback: true}
	for _, s := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"} {
		if err := loop.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("with loopback allowed, Check(%s) = %v", s, err)
		}
	}
	if err := loop.Check(netip.MustParseAddr("10.0.0.1")); err == nil {
		t.Error("allowing loopback allowed 10.0.0.1")
	}
	listed := netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}
	if err := listed.Check(netip.MustParseAddr("10.20.3.4")); err != nil {
		t.Errorf("listed CIDR refused: %v", err)
	}
	if err := listed.Check(netip.MustParseAddr("10.21.3.4")); err == nil {
		t.Error("address outside the listed CIDR allowed")
	}
}
