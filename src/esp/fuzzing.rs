//! Fuzz harness for ESP transport mode, shared by the cargo-fuzz target `esp_transport` and by
//! the `cargo test` replay below. Not an API: `#[doc(hidden)] pub` for the fuzz crate only.
//!
//! The input is a packet as the TUN would hand it over (any bytes): [`outbound_payload`] must
//! refuse or split it without panicking; a packet it accepts is sealed in transport mode with a
//! fixed SA, opened again, given its header back by [`rebuild_header`], and must come out as
//! one well-formed IP packet with the same payload, protocol and addresses.

use crate::crypto::{EncAlg, EspKeys, IntegAlg};
use crate::wire::ip::IpPacket;

use super::transform::EspTransform;
use super::transport::{outbound_payload, rebuild_header};

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

#[cfg(test)]
mod tests {
    use super::*;

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
