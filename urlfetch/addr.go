package urlfetch

import (
	"context"
	"net/netip"
	"syscall"
)

// refusedError reports a dial refused by checkDial. It names the address,
// so it is kept out of messages shown to clients.
type refusedError struct {
	address string
	reason  string
}

func (e *refusedError) Error() string {
	return "dial " + e.address + " refused: " + e.reason + " address"
}

// checkDial is the dialer's Control hook: it runs once the address has been
// resolved and the socket created, before connecting, for every address
// tried, including those reached through redirects.
func (f *Fetcher) checkDial(_ context.Context, _, address string, _ syscall.RawConn) error {
	if f.allowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedError{address: address, reason: "unparsable"}
	}
	ip := ap.Addr().WithZone("")
	if f.isExempt(ip) {
		return nil
	}
	if reason := blockedReason(ip); reason != "" {
		return &refusedError{address: address, reason: reason}
	}
	return nil
}

func (f *Fetcher) isExempt(ip netip.Addr) bool {
	for _, p := range f.exempt {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// special lists non-public ranges not covered by netip.Addr's predicates,
// and single addresses named for a clearer reason.
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"}, // AWS, GCP, Azure, OpenStack
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},  // AWS over IPv6
	{netip.MustParsePrefix("100.100.100.200/32"), "cloud metadata"}, // Alibaba
	{netip.MustParsePrefix("192.0.0.192/32"), "cloud metadata"},     // Oracle
	{netip.MustParsePrefix("168.63.129.16/32"), "cloud metadata"},   // Azure host agent, a public address
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},             // "this network"; Linux dials 0.0.0.0 as loopback
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved"}, // benchmarking, used inside some clouds
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},   // includes broadcast 255.255.255.255
	{netip.MustParsePrefix("fec0::/10"), "site-local"},   // deprecated, still routed on some networks
	{netip.MustParsePrefix("64:ff9b:1::/48"), "private"}, // local-use NAT64
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// blockedReason returns why ip may not be dialled, or "" if it is public.
func blockedReason(ip netip.Addr) string {
	ip = ip.Unmap()
	if v4, ok := embeddedIPv4(ip); ok {
		ip = v4
	}
	for _, s := range special {
		if s.prefix.Contains(ip) {
			return s.reason
		}
	}
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	case ip.IsUnspecified():
		return "unspecified"
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address inside a NAT64 or 6to4 address,
// where a gateway would deliver the connection.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case !ip.Is6():
		return netip.Addr{}, false
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
