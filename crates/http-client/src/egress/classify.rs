//! Classification of IP addresses into the ranges the egress policy cares about.
//!
//! The classifier is total: every address gets exactly one [`AddressClass`], so the
//! policy can decide with one `match`. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is
//! canonicalised to IPv4 first: `Ipv6Addr::is_loopback` is false for
//! `::ffff:127.0.0.1`, so classifying the raw address would let it through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The range an address belongs to, as far as outbound calls are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// A globally routable unicast address: allowed by default.
    Global,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), unique-local `fc00::/7` and the
    /// deprecated site-local `fec0::/10`.
    Private,
    /// `169.254.0.0/16` (cloud metadata at `169.254.169.254`) and `fe80::/10`.
    LinkLocal,
    /// Carrier-grade NAT, `100.64.0.0/10`.
    SharedCgnat,
    /// `0.0.0.0` and `::`: connecting to them reaches the local host.
    Unspecified,
    /// `0.0.0.0/8` other than `0.0.0.0` ("this network").
    ThisNetwork,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `240.0.0.0/4`, `192.0.0.0/24`, `192.88.99.0/24`, `100::/64` and other special-purpose
    /// ranges that are not globally reachable.
    Reserved,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// NAT64 `64:ff9b::/96` and the local-use `64:ff9b:1::/48`: the IPv4 address is embedded.
    Nat64,
    /// 6to4 `2002::/16`: the IPv4 address is embedded.
    SixToFour,
    /// Teredo `2001::/32`: IPv4 addresses are embedded.
    Teredo,
    /// Deprecated IPv4-compatible IPv6 `::a.b.c.d`.
    Ipv4Compatible,
}

impl AddressClass {
    /// Whether the class is globally routable unicast.
    pub fn is_global(self) -> bool {
        matches!(self, AddressClass::Global)
    }

    /// Whether the class is link-local, which `allow_private_networks` never opens.
    pub fn is_link_local(self) -> bool {
        matches!(self, AddressClass::LinkLocal)
    }
}

/// Classifies an address, after turning IPv4-mapped IPv6 into IPv4.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip.to_canonical() {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// The IPv4 addresses an IPv6 address carries inside it (NAT64, 6to4, Teredo,
/// IPv4-compatible, IPv4-mapped), so a policy can refuse, say, the NAT64 spelling
/// of the metadata address even when it opens private ranges.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let o = ip.octets();
    let last32 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return vec![v4];
    }
    match classify_v6(ip) {
        AddressClass::Nat64 | AddressClass::Ipv4Compatible => vec![last32],
        AddressClass::SixToFour => vec![Ipv4Addr::new(o[2], o[3], o[4], o[5])],
        AddressClass::Teredo => {
            let server = Ipv4Addr::new(o[4], o[5], o[6], o[7]);
            let client = Ipv4Addr::from(!u32::from(last32));
            vec![server, client]
        }
        _ => Vec::new(),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if a == 0 {
        AddressClass::ThisNetwork
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() {
        AddressClass::Private
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if a == 100 && (b & 0xc0) == 64 {
        AddressClass::SharedCgnat
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if a >= 240 {
        AddressClass::Reserved
    } else if ip.is_documentation() {
        AddressClass::Documentation
    } else if a == 198 && (b & 0xfe) == 18 {
        AddressClass::Benchmarking
    } else if (a == 192 && b == 0 && c == 0) || (a == 192 && b == 88 && c == 99) {
        AddressClass::Reserved
    } else {
        AddressClass::Global
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let s = ip.segments();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if ip.is_unicast_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_unique_local() || (s[0] & 0xffc0) == 0xfec0 {
        AddressClass::Private
    } else if s[..6] == [0, 0, 0, 0, 0, 0] {
        // `::/96` minus `::` and `::1` handled above.
        AddressClass::Ipv4Compatible
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1] {
        AddressClass::Nat64
    } else if s[0] == 0x2002 {
        AddressClass::SixToFour
    } else if s[0] == 0x2001 && s[1] == 0 {
        AddressClass::Teredo
    } else if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] & 0xfff0) == 0x3ff0 {
        AddressClass::Documentation
    } else if s[0] == 0x2001 && s[1] == 2 && s[2] == 0 {
        AddressClass::Benchmarking
    } else if s[..4] == [0x100, 0, 0, 0] || (s[0] == 0x2001 && s[1] < 0x200) {
        // Discard-only `100::/64`, and the IETF protocol assignments `2001::/23`
        // (Teredo and benchmarking, matched above, are inside it).
        AddressClass::Reserved
    } else if (s[0] & 0xe000) != 0x2000 {
        // Outside `2000::/3`, the only block allocated for global unicast.
        AddressClass::Reserved
    } else {
        AddressClass::Global
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges() {
        assert_eq!(class("8.8.8.8"), AddressClass::Global);
        assert_eq!(class("127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("127.255.255.255"), AddressClass::Loopback);
        assert_eq!(class("10.0.0.1"), AddressClass::Private);
        assert_eq!(class("172.16.0.1"), AddressClass::Private);
        assert_eq!(class("172.32.0.1"), AddressClass::Global);
        assert_eq!(class("192.168.0.1"), AddressClass::Private);
        assert_eq!(class("169.254.169.254"), AddressClass::LinkLocal);
        assert_eq!(class("100.64.0.1"), AddressClass::SharedCgnat);
        assert_eq!(class("100.127.255.254"), AddressClass::SharedCgnat);
        assert_eq!(class("100.128.0.1"), AddressClass::Global);
        assert_eq!(class("0.0.0.0"), AddressClass::Unspecified);
        assert_eq!(class("0.1.2.3"), AddressClass::ThisNetwork);
        assert_eq!(class("224.0.0.1"), AddressClass::Multicast);
        assert_eq!(class("255.255.255.255"), AddressClass::Broadcast);
        assert_eq!(class("240.0.0.1"), AddressClass::Reserved);
        assert_eq!(class("192.0.0.8"), AddressClass::Reserved);
        assert_eq!(class("192.0.2.1"), AddressClass::Documentation);
        assert_eq!(class("198.51.100.1"), AddressClass::Documentation);
        assert_eq!(class("203.0.113.1"), AddressClass::Documentation);
        assert_eq!(class("198.18.0.1"), AddressClass::Benchmarking);
        assert_eq!(class("198.19.255.255"), AddressClass::Benchmarking);
        assert_eq!(class("198.20.0.1"), AddressClass::Global);
    }

    #[test]
    fn ipv6_ranges() {
        assert_eq!(class("2606:4700::1111"), AddressClass::Global);
        assert_eq!(class("::"), AddressClass::Unspecified);
        assert_eq!(class("::1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:7f00:1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:8.8.8.8"), AddressClass::Global);
        assert_eq!(class("::127.0.0.1"), AddressClass::Ipv4Compatible);
        assert_eq!(class("64:ff9b::a9fe:a9fe"), AddressClass::Nat64);
        assert_eq!(class("64:ff9b:1::1"), AddressClass::Nat64);
        assert_eq!(class("2002:a9fe:a9fe::1"), AddressClass::SixToFour);
        assert_eq!(
            class("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            AddressClass::Teredo
        );
        assert_eq!(class("2001:db8::1"), AddressClass::Documentation);
        assert_eq!(class("3fff::1"), AddressClass::Documentation);
        assert_eq!(class("2001:2::1"), AddressClass::Benchmarking);
        assert_eq!(class("fe80::1"), AddressClass::LinkLocal);
        assert_eq!(class("fd00::1"), AddressClass::Private);
        assert_eq!(class("fc00::1"), AddressClass::Private);
        assert_eq!(class("fec0::1"), AddressClass::Private);
        assert_eq!(class("ff02::2"), AddressClass::Multicast);
        assert_eq!(class("100::1"), AddressClass::Reserved);
        assert_eq!(class("4000::1"), AddressClass::Reserved);
    }

    #[test]
    fn embedded_addresses_are_extracted() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        let v4 = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            embedded_ipv4(v6("64:ff9b::a9fe:a9fe")),
            vec![v4("169.254.169.254")]
        );
        assert_eq!(
            embedded_ipv4(v6("2002:a9fe:a9fe::1")),
            vec![v4("169.254.169.254")]
        );
        assert_eq!(embedded_ipv4(v6("::127.0.0.1")), vec![v4("127.0.0.1")]);
        assert_eq!(
            embedded_ipv4(v6("2001:0:4136:e378:8000:63bf:3fff:fdd2")),
            vec![v4("65.54.227.120"), v4("192.0.2.45")]
        );
        assert!(embedded_ipv4(v6("2606:4700::1111")).is_empty());
    }
}
