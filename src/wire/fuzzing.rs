//! Fuzz harnesses for the wire parsers, shared by the cargo-fuzz targets in `fuzz/` and by the
//! `cargo test` replay below (like `ike::v2::fuzzing`). Not an API: `#[doc(hidden)] pub` only so
//! that the fuzz crate can call in. Each harness takes arbitrary bytes and must never panic.

use super::ikev2::{
    Header, HeaderRepr, MessageWriter, Payload, PayloadRepr, PayloadType, Payloads, RawPayload,
};
use super::ip::IpPacket;
use super::tcp_mss;
use super::udp_encap::{classify, Encapsulated, NAT_KEEPALIVE, NON_ESP_MARKER};

/// IKEv2 header, payload chain and every payload parser on arbitrary bytes (target
/// `ikev2_message`); what parses is emitted again and must parse back equal.
pub fn ikev2_message(data: &[u8]) {
    if let Ok(h) = Header::new_checked(data) {
        let header = HeaderRepr::parse(&h);
        if let Ok(raws) = Payloads::collect_all(h.body(), h.next_payload()) {
            re_emit(&header, &raws);
        }
    }
    // The same bytes as the body of every payload type, SA first in a chain.
    let _ = Payload::parse_chain(data, PayloadType::SA);
    for kind in 0..=u8::MAX {
        let raw = RawPayload {
            kind: PayloadType(kind),
            next: PayloadType::NO_NEXT,
            critical: false,
            body: data,
            offset: 0,
        };
        if let Ok(p) = Payload::parse(&raw) {
            round_trip(&raw, &p);
        }
    }
}

/// Rebuilds a parsed plain chain with the writer and checks the bodies come back unchanged.
fn re_emit(header: &HeaderRepr, raws: &[RawPayload<'_>]) {
    if raws.iter().any(|r| r.kind.is_encrypted()) {
        return;
    }
    let mut buf = Vec::new();
    let Ok(mut w) = MessageWriter::new(&mut buf, header) else {
        return;
    };
    for r in raws {
        w.raw(r.kind, r.critical, r.body)
            .expect("a parsed payload fits again");
    }
    let range = w.finish_plain();
    let h = Header::new_checked(&buf[range]).expect("writer output has a valid header");
    let again = Payloads::collect_all(h.body(), h.next_payload()).expect("writer output walks");
    assert_eq!(again.len(), raws.len());
    for (a, b) in again.iter().zip(raws) {
        assert_eq!((a.kind, a.critical, a.body), (b.kind, b.critical, b.body));
    }
}

/// Emits a parsed payload's Repr and parses it again.
fn round_trip(raw: &RawPayload<'_>, p: &Payload<'_>) {
    let repr: &dyn PayloadRepr = match p {
        Payload::Sa(x) => x,
        Payload::Ke(x) => x,
        Payload::Id(x) => x,
        Payload::Cert(x) => x,
        Payload::Auth(x) => x,
        Payload::Nonce(x) => x,
        Payload::Notify(x) => x,
        Payload::Delete(x) => x,
        Payload::VendorId(x) => x,
        Payload::Ts(x) => x,
        Payload::Cp(x) => x,
        Payload::Eap(x) => x,
        Payload::Sk { .. } | Payload::Skf { .. } | Payload::Unknown(_) => return,
    };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut out).expect("a parsed payload emits");
    let again = RawPayload { body: &out, ..*raw };
    assert_eq!(Payload::parse(&again).as_ref(), Ok(p));
}

/// The UDP 4500 demultiplexer (RFC 3948 §2) on a datagram (target `udp_encap`): exactly one
/// class, and the class agrees with the first bytes; an IKE message behind the marker goes on
/// to the IKE version check and the IKEv2 header parser, as the daemon does.
pub fn udp_encap(data: &[u8]) {
    match classify(data) {
        Encapsulated::Keepalive => assert_eq!(data, NAT_KEEPALIVE),
        Encapsulated::Ike(rest) => {
            assert_eq!(&data[..4], NON_ESP_MARKER);
            assert_eq!(rest, &data[4..]);
            if crate::ike::endpoint::major_version(rest) == Some(2) {
                let _ = Header::new_checked(rest).map(|h| HeaderRepr::parse(&h));
            }
        }
        Encapsulated::Esp(esp) => {
            assert!(esp.len() >= 8 && esp[..4] != NON_ESP_MARKER);
        }
        Encapsulated::Malformed => {
            assert!(data.len() < 8 && data != NAT_KEEPALIVE);
        }
    }
}

/// The inner-packet checks (target `inner_packet`): `IpPacket::new_checked` and `new_prefix`
/// with every accessor, and TCP MSS clamping with MSS limits from the first four bytes. A
/// packet that parses keeps its length; clamping never changes the length, touches only the MSS
/// option and the TCP checksum, and clamping twice changes nothing more.
pub fn inner_packet(data: &[u8]) {
    let (v4, v6, pkt) = match data {
        [a, b, c, d, rest @ ..] => (
            u16::from_be_bytes([*a, *b]),
            u16::from_be_bytes([*c, *d]),
            rest,
        ),
        _ => return,
    };
    for p in [IpPacket::new_checked(pkt), IpPacket::new_prefix(pkt)]
        .into_iter()
        .flatten()
    {
        assert!(p.header_len() <= p.as_bytes().len());
        let _ = (p.version(), p.tunnel_next_header(), p.protocol());
        let _ = (p.src(), p.dst(), p.is_fragment(), p.payload().len());
    }
    let mut buf = pkt.to_vec();
    if tcp_mss::clamp(&mut buf, v4, v6) {
        assert_eq!(buf.len(), pkt.len());
        assert!(IpPacket::new_checked(&buf).is_ok(), "clamped a non-packet");
        let changed = buf.iter().zip(pkt).filter(|(a, b)| a != b).count();
        assert!(changed <= 4, "clamping changed {changed} bytes");
        let once = buf.clone();
        assert!(!tcp_mss::clamp(&mut buf, v4, v6), "clamping twice");
        assert_eq!(buf, once);
    } else {
        assert_eq!(buf, pkt, "an unclamped packet changed");
    }
    let _ = (
        tcp_mss::mss_for_mtu(v4, false),
        tcp_mss::mss_for_mtu(v6, true),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::v2::fuzzing::tests::{random_inputs, seeds};

    #[test]
    fn ikev2_message_survives_seeds_and_random_inputs() {
        for s in seeds("ikev2_message") {
            ikev2_message(&s);
        }
        for s in random_inputs(21, 2000, 600) {
            ikev2_message(&s);
        }
    }

    #[test]
    fn udp_encap_survives_seeds_and_random_inputs() {
        for s in seeds("udp_encap") {
            udp_encap(&s);
        }
        for s in random_inputs(22, 3000, 64) {
            udp_encap(&s);
        }
        for short in [&[][..], &[0xff], &[0, 0, 0, 0], &[1, 2, 3, 4, 5, 6, 7]] {
            udp_encap(short);
        }
    }

    #[test]
    fn inner_packet_survives_seeds_and_random_inputs() {
        for s in seeds("inner_packet") {
            inner_packet(&s);
        }
        for s in random_inputs(23, 3000, 200) {
            inner_packet(&s);
        }
    }

    /// The `tcp-syn-mss` seed is a real IPv4 TCP SYN whose MSS 1460 is clamped: the fuzzer
    /// starts on the clamping path.
    #[test]
    fn inner_packet_seed_reaches_clamping() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/seeds/inner_packet/tcp-syn-mss"
        );
        let syn = std::fs::read(path).expect("the tcp-syn-mss seed");
        let mut buf = syn[4..].to_vec();
        assert!(tcp_mss::clamp(&mut buf, 1360, 1340));
    }
}
