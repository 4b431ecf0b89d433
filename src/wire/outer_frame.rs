//! The Ethernet II header and outer IP header in front of an ESP packet sent through a packet
//! socket, where the kernel writes neither (RFC 894 framing, RFC 791 / RFC 8200 headers).

use std::net::IpAddr;

use super::ip::PROTO_ESP;

/// Bytes of an Ethernet II header (destination MAC, source MAC, EtherType).
pub const ETHER_HEADER_LEN: usize = 14;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Hop limit / TTL of the outer header (Linux's default for both families).
pub const OUTER_HOP_LIMIT: u8 = 64;

/// Everything that stays the same in the headers of the ESP packets from one local address to
/// one peer through one next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OuterFrame {
    /// The next hop's MAC (the peer's, or its gateway's).
    pub dst_mac: [u8; 6],
    /// The sending interface's MAC.
    pub src_mac: [u8; 6],
    /// Our outer address.
    pub src: IpAddr,
    /// The peer's outer address.
    pub dst: IpAddr,
}

impl OuterFrame {
    /// Bytes of the headers in front of the ESP packet: 34 (IPv4) or 54 (IPv6). Mixed families
    /// are refused by [`Self::emit`].
    pub fn header_len(&self) -> usize {
        ETHER_HEADER_LEN + if self.src.is_ipv4() { 20 } else { 40 }
    }

    /// Writes the Ethernet and IP headers for an ESP packet of `esp_len` bytes into
    /// `out[..self.header_len()]` (`ident` is the IPv4 identification; IPv6 has none). `None`,
    /// writing nothing, when `out` is shorter than the headers, the ESP packet does not fit an
    /// IP length field, or the two addresses are of different families.
    pub fn emit(&self, out: &mut [u8], esp_len: usize, ident: u16) -> Option<usize> {
        let hlen = self.header_len();
        let out = out.get_mut(..hlen)?;
        let (eth, ip) = out.split_at_mut(ETHER_HEADER_LEN);
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = u16::try_from(esp_len + 20).ok()?;
                self.emit_ether(eth, ETHERTYPE_IPV4);
                ip[0] = 0x45;
                ip[1] = 0;
                ip[2..4].copy_from_slice(&total.to_be_bytes());
                ip[4..6].copy_from_slice(&ident.to_be_bytes());
                // Don't Fragment, as Linux sends raw sockets' packets with path-MTU discovery on.
                ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
                ip[8] = OUTER_HOP_LIMIT;
                ip[9] = PROTO_ESP;
                ip[10..12].fill(0);
                ip[12..16].copy_from_slice(&s.octets());
                ip[16..20].copy_from_slice(&d.octets());
                let sum = ipv4_header_checksum(ip);
                ip[10..12].copy_from_slice(&sum.to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let payload = u16::try_from(esp_len).ok()?;
                self.emit_ether(eth, ETHERTYPE_IPV6);
                ip[0..4].copy_from_slice(&0x6000_0000u32.to_be_bytes());
                ip[4..6].copy_from_slice(&payload.to_be_bytes());
                ip[6] = PROTO_ESP;
                ip[7] = OUTER_HOP_LIMIT;
                ip[8..24].copy_from_slice(&s.octets());
                ip[24..40].copy_from_slice(&d.octets());
            }
            _ => return None,
        }
        Some(hlen)
    }

    fn emit_ether(&self, eth: &mut [u8], ethertype: u16) {
        eth[0..6].copy_from_slice(&self.dst_mac);
        eth[6..12].copy_from_slice(&self.src_mac);
        eth[12..14].copy_from_slice(&ethertype.to_be_bytes());
    }
}

/// The RFC 791 header checksum of `header` (its checksum field zero, or the result is 0 when
/// the field already holds a correct sum).
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xbb];

    fn v4() -> OuterFrame {
        OuterFrame {
            dst_mac: B,
            src_mac: A,
            src: Ipv4Addr::new(10, 9, 0, 1).into(),
            dst: Ipv4Addr::new(10, 9, 0, 2).into(),
        }
    }

    #[test]
    fn ipv4_header_is_what_the_kernel_would_write() {
        let mut out = [0xeeu8; 40];
        assert_eq!(v4().emit(&mut out, 100, 0x1234), Some(34));
        assert_eq!(
            &out[..14],
            &[2, 0, 0, 0, 0, 0xbb, 2, 0, 0, 0, 0, 0xaa, 0x08, 0x00]
        );
        let ip = &out[14..34];
        assert_eq!(ip[0], 0x45);
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 120);
        assert_eq!(&ip[4..8], &[0x12, 0x34, 0x40, 0x00]);
        assert_eq!((ip[8], ip[9]), (64, 50));
        assert_eq!(&ip[12..20], &[10, 9, 0, 1, 10, 9, 0, 2]);
        // A header with its checksum in place sums to zero.
        assert_eq!(ipv4_header_checksum(ip), 0);
        assert_eq!(out[34], 0xee, "nothing written past the headers");
    }

    #[test]
    fn known_header_checksum() {
        // The widely quoted IPv4 header example (UDP, 192.168.0.1 → 192.168.0.199): 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_header_checksum(&h), 0xb861);
        let mut with = h;
        with[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(
            ipv4_header_checksum(&with),
            0,
            "a header with its checksum sums to zero"
        );
    }

    #[test]
    fn ipv6_header() {
        let f = OuterFrame {
            src: Ipv6Addr::LOCALHOST.into(),
            dst: "2001:db8::2".parse::<Ipv6Addr>().unwrap().into(),
            ..v4()
        };
        let mut out = [0u8; 54];
        assert_eq!(f.emit(&mut out, 1400, 7), Some(54));
        assert_eq!(&out[12..14], &[0x86, 0xdd]);
        assert_eq!(&out[14..18], &[0x60, 0, 0, 0]);
        assert_eq!(u16::from_be_bytes([out[18], out[19]]), 1400);
        assert_eq!((out[20], out[21]), (50, 64));
        assert_eq!(out[53], 2);
    }

    #[test]
    fn refuses_short_buffers_oversized_payloads_and_mixed_families() {
        let mut out = [0u8; 33];
        assert_eq!(v4().emit(&mut out, 10, 0), None);
        let mut out = [0u8; 64];
        assert_eq!(v4().emit(&mut out, 65_516, 0), None);
        let mixed = OuterFrame {
            dst: Ipv6Addr::LOCALHOST.into(),
            ..v4()
        };
        assert_eq!(mixed.emit(&mut out, 10, 0), None);
        assert_eq!(out, [0u8; 64], "nothing written when refused");
    }
}
