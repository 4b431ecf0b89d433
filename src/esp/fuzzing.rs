//! Fuzz harness for ESP transport mode, shared by the cargo-fuzz target `esp_transport` and by
//! the `cargo test` replay below. Not an API: `#[doc(hidden)] pub` for the fuzz crate only.
//!
//! The input is a packet as the TUN would hand it over (any bytes): [`outbound_payload`] must
//! refuse or split it without panicking; a packet it accepts is sealed in transport mode with a
//! fixed SA, opened again, given its header back by [`rebuild_header`], and must come out as
//! one well-formed IP packet with the same payload, protocol and addresses.

use crate::crypto::{EncAlg, EspKeys, IntegAlg};
use crate::wire::ip::IpPacket;

use super::sa::{Encap, InboundSa, OutboundSa};
use super::transform::EspTransform;
use super::transport::{outbound_payload, rebuild_header};
use crate::ike::v2::fuzzing::Cursor;

/// Room before and after the packet for the ESP header and trailer.
const ROOM: usize = 64;

/// Splits, seals, opens and rebuilds one packet; panics only on a bug.
pub fn transport(data: &[u8]) {
    let Ok((hl, nh)) = outbound_payload(data) else {
        return;
    };
    assert!(hl <= data.len(), "payload offset past the packet");
    let Ok(ip) = IpPacket::new_checked(data) else {
        panic!("outbound_payload accepted what IpPacket refuses");
    };
    let keys = EspKeys {
        spi: 0x100,
        enc: EncAlg::Aes128Gcm16,
        enc_key: zeroize::Zeroizing::new(vec![3; 20]),
        integ: IntegAlg::None,
        integ_key: zeroize::Zeroizing::new(Vec::new()),
    };
    let Ok(t) = EspTransform::new(&keys, [5; 16]) else {
        return;
    };
    let mut buf = vec![0u8; ROOM + data.len() + ROOM];
    buf[ROOM..ROOM + data.len()].copy_from_slice(data);
    let Ok(r) = t.seal(0x100, 1, &mut buf, ROOM + hl..ROOM + data.len(), nh) else {
        panic!("sealing a checked packet failed");
    };
    let mut esp = buf[r].to_vec();
    let Ok(opened) = t.open(&mut esp) else {
        panic!("our own ESP packet did not open");
    };
    assert_eq!(opened.next_header, nh);
    let payload = &esp[opened.payload.clone()];
    assert_eq!(payload, &data[hl..]);
    let Some(h) = rebuild_header(ip.src(), ip.dst(), nh, payload.len()) else {
        panic!("no header for a packet that had one");
    };
    let mut back = h.as_bytes().to_vec();
    back.extend_from_slice(payload);
    let Ok(again) = IpPacket::new_checked(&back) else {
        panic!("the rebuilt packet does not parse");
    };
    assert_eq!((again.src(), again.dst()), (ip.src(), ip.dst()));
    // IPv4 options and IPv6 extension headers stay where they were: in the payload (IPv6) or
    // dropped with the header (IPv4 options, which are the header's).
    assert_eq!(again.protocol(), nh);
}

/// Most packets one `open` input delivers.
const MAX_PACKETS: usize = 32;

/// The suites `open` picks from (first input byte): the AEADs, CBC with each HMAC, NULL.
const SUITES: [(EncAlg, IntegAlg); 6] = [
    (EncAlg::Aes128Gcm16, IntegAlg::None),
    (EncAlg::ChaCha20Poly1305, IntegAlg::None),
    (EncAlg::Aes256Cbc, IntegAlg::HmacSha256_128),
    (EncAlg::Aes128Cbc, IntegAlg::HmacSha1_96),
    (EncAlg::TripleDesCbc, IntegAlg::HmacSha384_192),
    (EncAlg::Null, IntegAlg::HmacSha256_128),
];

/// ESP inbound processing with a fixed SA (target `esp_open`): the first byte picks the suite,
/// then each step is a raw ESP packet from the input, or an inner packet from the input sealed
/// by the matching outbound SA, with one byte flipped or not. `InboundSa::open` (replay
/// window, ICV, decryption, padding) must refuse every changed packet and give back every
/// unchanged one byte for byte; what opens goes through the inner-packet checks the data plane
/// runs (IP header, selectors).
pub fn open(data: &[u8]) {
    let mut c = Cursor(data);
    let (enc, integ) = SUITES[usize::from(c.u8()) % SUITES.len()];
    let keys = EspKeys {
        spi: 0x100,
        enc,
        enc_key: zeroize::Zeroizing::new(vec![3; enc.keymat_len()]),
        integ,
        integ_key: zeroize::Zeroizing::new(vec![4; integ.key_len()]),
    };
    let peer = std::net::IpAddr::from([10, 88, 0, 1]);
    let (Ok(inbound), Ok(outbound)) = (
        InboundSa::new(&keys, 0),
        OutboundSa::new(&keys, Encap::Raw(peer), [5; 16]),
    ) else {
        panic!("a fixed SA with keys of the right length is refused");
    };
    for _ in 0..MAX_PACKETS {
        if c.is_empty() {
            break;
        }
        if c.u8() % 3 == 0 {
            let mut esp = c.chunk().to_vec();
            if let Ok(o) = inbound.open(&mut esp) {
                inner_checks(&inbound, &esp[o.payload]);
            }
            continue;
        }
        let (next_header, flip) = (c.u8(), c.u16());
        let inner = c.chunk();
        let mut buf = vec![0u8; ROOM + inner.len() + ROOM];
        buf[ROOM..ROOM + inner.len()].copy_from_slice(inner);
        let Some(Ok(r)) = outbound.seal(&mut buf, ROOM..ROOM + inner.len(), next_header) else {
            panic!("sealing {} bytes failed", inner.len());
        };
        let mut esp = buf[r].to_vec();
        let changed = flip >> 8 != 0;
        if changed {
            let at = usize::from(flip) % esp.len();
            esp[at] ^= (flip >> 8) as u8;
        }
        match inbound.open(&mut esp) {
            Ok(o) => {
                assert!(!changed, "a changed ESP packet opened ({enc:?}/{integ:?})");
                assert_eq!(
                    (&esp[o.payload.clone()], o.next_header),
                    (inner, next_header)
                );
                inner_checks(&inbound, &esp[o.payload]);
            }
            Err(e) => assert!(changed, "our own fresh ESP packet refused: {e:?}"),
        }
    }
}

/// What the data plane asks of an opened inner packet.
fn inner_checks(sa: &InboundSa, inner: &[u8]) {
    if let Ok(ip) = IpPacket::new_checked(inner) {
        let _ = sa.admits(ip.src(), ip.dst());
        let _ = (ip.protocol(), ip.is_fragment(), ip.payload().len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds in `fuzz/seeds/esp_open` and random scripts, replayed without nightly.
    #[test]
    fn open_survives_seeds_and_random_scripts() {
        use crate::ike::v2::fuzzing::tests::{random_inputs, seeds};
        for s in seeds("esp_open") {
            open(&s);
        }
        for s in random_inputs(31, 1500, 700) {
            open(&s);
        }
    }

    /// The seeds in `fuzz/seeds/esp_transport` plus random packets with sane IPv4 and IPv6
    /// headers (so most reach the round trip), replayed without nightly.
    #[test]
    fn transport_survives_seeds_and_random_packets() {
        let dir = format!("{}/fuzz/seeds/esp_transport", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            transport(&std::fs::read(f).unwrap());
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..2000 {
            let len = (next() % 200) as usize;
            let mut p: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if i % 2 == 0 && len >= 20 {
                p[0] = 0x45;
                p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                p[6] &= 0x40;
                p[7] = 0;
            } else if len >= 40 {
                p[0] = 0x60;
                p[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
            }
            transport(&p);
        }
    }
}
