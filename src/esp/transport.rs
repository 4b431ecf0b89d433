//! ESP transport mode (RFC 4303 §3.1.1) between two hosts: the ESP payload is the packet's own
//! payload (TCP, UDP, ICMP …) and the outer header is the hosts' own.
//!
//! Outbound, a packet the host sent into the TUN keeps its payload: [`outbound_payload`] says
//! where it starts and which protocol it is (the ESP next header). Inbound, the opened payload
//! gets an IP header again: [`rebuild_header`] writes it from the SA's two addresses, the next
//! header, and the length. Addresses are unchanged end to end (no NAT: transport mode refuses
//! selectors other than the two hosts'), so TCP/UDP checksums stay valid (RFC 3948 §3.1.2 only
//! asks for a fix when a NAT rewrote an address).

use std::net::IpAddr;

use crate::wire::ip::IpPacket;
use crate::wire::outer_frame::ipv4_header_checksum as ipv4_checksum;

/// The two ends of a transport-mode SA, seen from our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hosts {
    /// Our outer address.
    pub local: IpAddr,
    /// The peer's outer address.
    pub remote: IpAddr,
}

/// Why a packet from the TUN cannot be sent in transport mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// Not one well-formed IP packet.
    Malformed,
    /// An IPv4 fragment: transport mode protects whole datagrams (RFC 4303 §3.1.1), and the
    /// fragment fields would be lost with the header.
    Fragment,
}

/// Where the ESP payload of `pkt` (an IP packet from the TUN) starts, and its protocol (the ESP
/// next header). IPv6 extension headers stay in the payload, so the next header is the fixed
/// header's.
pub fn outbound_payload(pkt: &[u8]) -> Result<(usize, u8), TransportError> {
    let ip = IpPacket::new_checked(pkt).map_err(|_| TransportError::Malformed)?;
    if ip.version() == 4 {
        // Flags and fragment offset: MF set or an offset means a fragment.
        let frag = u16::from_be_bytes([pkt[6], pkt[7]]);
        if frag & 0x3fff != 0 {
            return Err(TransportError::Fragment);
        }
    }
    Ok((ip.header_len(), ip.protocol()))
}

/// An IPv4 or IPv6 header rebuilt for an inbound transport-mode payload (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuiltHeader {
    bytes: [u8; 40],
    len: u8,
}

impl RebuiltHeader {
    /// The header bytes (20 for IPv4, 40 for IPv6).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Hop limit of rebuilt headers: the packet has arrived, so it only has to reach the host's
/// own stack.
const TTL: u8 = 64;

/// The IP header of an inbound transport-mode packet from `src` to `dst` whose payload is
/// `payload_len` bytes of `protocol`; `None` if the addresses are of different families or the
/// packet would exceed the IP length field.
pub fn rebuild_header(
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    payload_len: usize,
) -> Option<RebuiltHeader> {
    let mut b = [0u8; 40];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(payload_len + 20).ok()?;
            b[0] = 0x45;
            b[2..4].copy_from_slice(&total.to_be_bytes());
            // Identification 0 and DF: a whole datagram, never to be fragmented again.
            b[6] = 0x40;
            b[8] = TTL;
            b[9] = protocol;
            b[12..16].copy_from_slice(&s.octets());
            b[16..20].copy_from_slice(&d.octets());
            let sum = ipv4_checksum(&b[..20]);
            b[10..12].copy_from_slice(&sum.to_be_bytes());
            Some(RebuiltHeader { bytes: b, len: 20 })
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let plen = u16::try_from(payload_len).ok()?;
            b[0] = 0x60;
            b[4..6].copy_from_slice(&plen.to_be_bytes());
            b[6] = protocol;
            b[7] = TTL;
            b[8..24].copy_from_slice(&s.octets());
            b[24..40].copy_from_slice(&d.octets());
            Some(RebuiltHeader { bytes: b, len: 40 })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esp::transform::EspTransform;
    use crate::wire::ip::{PROTO_TCP, PROTO_UDP};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const ICMP: u8 = 1;
    const ICMPV6: u8 = 58;

    /// An IPv4 echo request 192.0.2.1 → 192.0.2.2 as Linux sends it (DF, TTL 64).
    fn ipv4_ping() -> Vec<u8> {
        let payload = [8u8, 0, 0xf7, 0xfd, 0, 1, 0, 1];
        let mut p = vec![
            0x45, 0, 0, 28, 0x12, 0x34, 0x40, 0, 64, ICMP, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        let sum = ipv4_checksum(&p);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(&payload);
        p
    }

    #[test]
    fn outbound_payload_skips_the_header_and_names_the_protocol() {
        let p = ipv4_ping();
        assert_eq!(outbound_payload(&p), Ok((20, ICMP)));
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, PROTO_UDP, 64];
        v6.extend_from_slice(&[0; 32]);
        v6.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0, 8, 0, 0]);
        assert_eq!(outbound_payload(&v6), Ok((40, PROTO_UDP)));
    }

    #[test]
    fn fragments_and_garbage_are_refused() {
        let mut more = ipv4_ping();
        more[6] = 0x20; // MF
        assert_eq!(outbound_payload(&more), Err(TransportError::Fragment));
        let mut later = ipv4_ping();
        later[7] = 1; // offset 8
        assert_eq!(outbound_payload(&later), Err(TransportError::Fragment));
        assert_eq!(outbound_payload(&[0x45, 0]), Err(TransportError::Malformed));
        let mut short = ipv4_ping();
        short.pop();
        assert_eq!(outbound_payload(&short), Err(TransportError::Malformed));
    }

    #[test]
    fn ipv4_header_is_rebuilt_with_a_valid_checksum() {
        let (s, d) = (Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(192, 0, 2, 1));
        let h = rebuild_header(s.into(), d.into(), PROTO_TCP, 1000).unwrap();
        let b = h.as_bytes();
        assert_eq!(b.len(), 20);
        assert_eq!(ipv4_checksum(b), 0);
        let mut pkt = b.to_vec();
        pkt.resize(1020, 0);
        let ip = IpPacket::new_checked(&pkt).unwrap();
        assert_eq!((ip.src(), ip.dst()), (IpAddr::V4(s), IpAddr::V4(d)));
        assert_eq!(ip.protocol(), PROTO_TCP);
        assert_eq!(
            outbound_payload(&pkt),
            Ok((20, PROTO_TCP)),
            "DF only, no fragment"
        );
    }

    #[test]
    fn ipv6_header_is_rebuilt() {
        let (s, d): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::2".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        );
        let h = rebuild_header(s.into(), d.into(), ICMPV6, 64).unwrap();
        let mut pkt = h.as_bytes().to_vec();
        assert_eq!(pkt.len(), 40);
        pkt.resize(104, 0);
        let ip = IpPacket::new_checked(&pkt).unwrap();
        assert_eq!(
            (ip.src(), ip.dst(), ip.protocol()),
            (s.into(), d.into(), ICMPV6)
        );
    }

    #[test]
    fn oversize_and_mixed_families_are_refused() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert!(rebuild_header(v4, v6, ICMP, 10).is_none());
        assert!(rebuild_header(v4, v4, ICMP, 65_516).is_none());
        assert!(rebuild_header(v4, v4, ICMP, 65_515).is_some());
        assert!(rebuild_header(v6, v6, ICMPV6, 65_536).is_none());
    }

    /// The whole path: a ping leaves as ESP with next header 1 (ICMP) carrying only the ICMP
    /// message, and comes back as the same packet with the rebuilt header.
    #[test]
    fn ipv4_round_trip_through_esp() {
        use crate::crypto::{EncAlg, EspKeys, IntegAlg};
        let keys = EspKeys {
            spi: 0x1000,
            enc: EncAlg::Aes128Cbc,
            enc_key: zeroize::Zeroizing::new(vec![7; 16]),
            integ: IntegAlg::HmacSha1_96,
            integ_key: zeroize::Zeroizing::new(vec![9; 20]),
        };
        let t = EspTransform::new(&keys, [1; 16]).unwrap();
        let ping = ipv4_ping();
        let mut buf = vec![0u8; 64 + ping.len() + 64];
        buf[64..64 + ping.len()].copy_from_slice(&ping);
        let (hl, nh) = outbound_payload(&ping).unwrap();
        let r = t
            .seal(0x1000, 1, &mut buf, 64 + hl..64 + ping.len(), nh)
            .unwrap();
        let mut esp = buf[r].to_vec();
        assert!(
            !esp.windows(8).any(|w| w == &ping[20..]),
            "the ICMP message is encrypted"
        );
        let opened = t.open(&mut esp).unwrap();
        assert_eq!(opened.next_header, ICMP);
        let payload = &esp[opened.payload.clone()];
        assert_eq!(payload, &ping[20..]);
        let h = rebuild_header(
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            opened.next_header,
            payload.len(),
        )
        .unwrap();
        let mut back = h.as_bytes().to_vec();
        back.extend_from_slice(payload);
        // Same packet except identification (0) and the checksum over it.
        let mut want = ping.clone();
        want[4..6].copy_from_slice(&[0, 0]);
        want[10..12].copy_from_slice(&[0, 0]);
        let sum = ipv4_checksum(&want[..20]);
        want[10..12].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(back, want);
    }
}
