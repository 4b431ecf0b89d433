//! Fuzz harness for the transcript decoders (target `transcript` in `fuzz/`), shared with the
//! `cargo test` replay in `tests.rs`. Not an API.
//!
//! The first input byte picks how the rest is used: as a datagram received and sent (header and
//! unencrypted payloads of either version, by its version byte), or as a decrypted inner chain
//! of IKEv1 or IKEv2 starting with a payload type from the second byte, staged for an encrypted
//! datagram built around it. It asserts that every text stays within its bounds and that the
//! ring never holds more than [`super::MAX_EXCHANGES`] exchanges of [`super::MAX_MESSAGES`]
//! messages, nor more than [`super::MAX_BYTES`] (unless one exchange alone is larger), and that
//! every decoded tree comes back unchanged from the ring's packed form.

use std::time::{Duration, Instant};

use super::{packed, Node, Transcript, MAX_BYTES, MAX_EXCHANGES, MAX_MESSAGES, MAX_TEXT};

/// Runs one input (see the module comment).
pub fn transcript(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut t = Transcript::default();
    match mode % 3 {
        0 => {
            t.inbound_begin(now, rest);
            t.inbound_end(rest, mode % 2 == 0);
            t.inbound_begin(now, rest);
            t.inbound_end(rest, false);
            t.outbound(now, rest);
            t.fail("diagnostic");
        }
        1 => {
            let (first, chain) = rest.split_first().unwrap_or((&1, &[]));
            let nodes = super::decode_v1::chain(*first, chain);
            nodes.iter().for_each(|n| check(n, 0));
            assert_eq!(packed::unpack(&packed::pack(nodes.clone())), nodes);
        }
        _ => {
            let (first, chain) = rest.split_first().unwrap_or((&33, &[]));
            let nodes = super::decode_v2::chain(*first, chain);
            nodes.iter().for_each(|n| check(n, 0));
            assert_eq!(packed::unpack(&packed::pack(nodes.clone())), nodes);
        }
    }
    // The same bytes many times: the ring stays bounded.
    for i in 0..(MAX_EXCHANGES as u32 + 2) {
        let mut d = rest.to_vec();
        if let Some(b) = d.get_mut(20..24) {
            b.copy_from_slice(&i.to_be_bytes());
        }
        t.outbound(now, &d);
    }
    let held: usize = t.exchanges.iter().map(super::ring::Filed::heap_bytes).sum();
    assert!(
        held <= MAX_BYTES || t.exchanges.len() == 1,
        "{held} bytes held"
    );
    let snap = t.snapshot(now, Duration::from_secs(1_700_000_000));
    assert!(snap.len() <= MAX_EXCHANGES);
    for e in &snap {
        assert!(e.messages.len() <= MAX_MESSAGES);
        for m in &e.messages {
            m.payloads.iter().for_each(|n| check(n, 0));
        }
    }
}

/// No text is longer than what the decoders allow (hex of at most MAX_TEXT/2 bytes, plus the
/// words around it), and trees stay shallow.
fn check(n: &Node, depth: usize) {
    assert!(depth < 4, "tree too deep");
    assert!(
        n.text.chars().count() <= 16 * MAX_TEXT,
        "text too long: {}",
        n.text.len()
    );
    for c in &n.children {
        check(c, depth + 1);
    }
}
