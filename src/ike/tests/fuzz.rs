//! Hostile input: random bytes and mutated genuine messages must never panic, and must be
//! counted as dropped or answered.

use std::net::SocketAddr;
use std::time::Instant;

use proptest::prelude::*;

use super::pair::*;
use crate::ike::{Engine, SeededRandom};

fn addrs() -> (SocketAddr, SocketAddr) {
    (
        "10.77.0.2:500".parse().unwrap(),
        "10.77.0.1:500".parse().unwrap(),
    )
}

/// The datagrams of a full negotiation (Main Mode, INITIAL-CONTACT, Quick Mode).
fn corpus() -> Vec<Vec<u8>> {
    let mut p = Pair::new(policy_a(), policy_b(), 42);
    p.connect();
    p.log.iter().map(|(_, t)| t.data.clone()).collect()
}

fn mutate(mut m: Vec<u8>, ops: &[(u8, u16, u8)]) -> Vec<u8> {
    for (op, pos, val) in ops {
        let len = m.len().max(1);
        let i = usize::from(*pos) % len;
        match op % 5 {
            0 => {
                if let Some(b) = m.get_mut(i) {
                    *b ^= val | 1;
                }
            }
            1 => m.truncate(i),
            2 => m.extend(std::iter::repeat_n(*val, usize::from(*pos % 64))),
            3 => {
                // lie in a length field: the header length or a payload length
                let j = if val % 2 == 0 { 26 } else { 28 + 2 + (i % 64) };
                if let Some(b) = m.get_mut(j) {
                    *b = *val;
                }
            }
            _ => {
                if let Some(b) = m.get_mut(i) {
                    *b = *val;
                }
            }
        }
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut b = Engine::new(policy_b(), Box::new(SeededRandom::new(1)));
        let (l, r) = addrs();
        let now = Instant::now();
        b.handle_datagram(now, l, r, &data);
        while b.poll_transmit().is_some() {}
        let s = b.status().stats;
        prop_assert_eq!(s.received, 1);
    }

    #[test]
    fn random_payload_chains_behind_a_valid_header(
        exch in prop_oneof![Just(2u8), Just(5), Just(32), any::<u8>()],
        next in any::<u8>(), flags in 0u8..8, body in proptest::collection::vec(any::<u8>(), 0..400)
    ) {
        let mut m = vec![7u8; 8];
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&[next, 0x10, exch, flags, 0, 0, 0, 0]);
        m.extend_from_slice(&((28 + body.len()) as u32).to_be_bytes());
        m.extend_from_slice(&body);
        let mut b = Engine::new(policy_b(), Box::new(SeededRandom::new(1)));
        let (l, r) = addrs();
        b.handle_datagram(Instant::now(), l, r, &m);
        b.handle_timeout(Instant::now());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    /// Mutated genuine messages fed to engines at every stage: a fresh responder, and both
    /// engines of an established pair (so encrypted paths are reached too).
    #[test]
    fn mutated_messages_never_panic(
        which in any::<prop::sample::Index>(),
        ops in proptest::collection::vec((any::<u8>(), any::<u16>(), any::<u8>()), 1..6),
    ) {
        thread_local!(static CORPUS: Vec<Vec<u8>> = corpus());
        let msg = CORPUS.with(|c| which.get(c).clone());
        let m = mutate(msg, &ops);
        let (l, r) = addrs();
        let mut fresh = Engine::new(policy_b(), Box::new(SeededRandom::new(3)));
        fresh.handle_datagram(Instant::now(), l, r, &m);
        let mut p = Pair::new(policy_a(), policy_b(), 42);
        p.connect();
        let now = p.now;
        p.a.engine.handle_datagram(now, r, l, &m);
        p.b.engine.handle_datagram(now, l, r, &m);
        p.run_for(std::time::Duration::from_secs(5));
        // The established SAs survive garbage.
        prop_assert_eq!(p.a.engine.status().children.len(), 1);
        prop_assert_eq!(p.b.engine.status().children.len(), 1);
    }
}
