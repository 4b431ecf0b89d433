//! IKEv1 fragmentation between two engines: messages larger than the fragment size cross as
//! fragments (Main and Aggressive Mode), survive loss, duplication and reordering (the whole set
//! is retransmitted), and are never sent to a peer that did not announce support.

use std::time::Duration;

use super::pair::*;
use crate::crypto::dh::DhGroup;
use crate::ike::{ExchangeMode, Identity, IkePolicy};
use crate::wire::isakmp::PayloadType;

/// MODP-4096 makes messages 3 and 4 (KE 512 bytes + nonce + NAT-D) larger than 576 bytes.
fn big(mut p: IkePolicy, fragmentation: bool) -> IkePolicy {
    p.phase1.dh_group = DhGroup::Modp4096;
    p.phase1.dh_groups = vec![DhGroup::Modp4096];
    p.fragmentation = fragmentation;
    p.fragment_size = 576;
    p
}

fn is_fragment(data: &[u8]) -> bool {
    data.get(16) == Some(&PayloadType::FRAGMENT.0)
}

#[test]
fn main_mode_messages_cross_as_fragments() {
    let mut p = Pair::new(big(policy_a(), true), big(policy_b(), true), 70);
    p.connect();
    assert_eq!(assert_mirrored(&p), 1);
    for side in [Side::A, Side::B] {
        let frags: Vec<usize> = p
            .log
            .iter()
            .filter(|(s, t)| *s == side && is_fragment(&t.data))
            .map(|(_, t)| t.data.len())
            .collect();
        // Message 3 or 4 in two fragments; every datagram within 576 bytes with IP and UDP.
        assert_eq!(frags.len(), 2, "{side:?}");
        assert!(frags.iter().all(|l| l + 28 <= 576), "{frags:?}");
        let s = p.node(side).engine.status().stats;
        assert_eq!(
            (s.fragments_sent, s.messages_reassembled),
            (2, 1),
            "{side:?}"
        );
        assert_eq!(s.fragments_received, 2);
        assert_eq!(s.dropped_fragments, 0);
    }
    // Nothing else was fragmented (messages 1, 2, 5, 6 and Quick Mode are small).
    assert!(p
        .log
        .iter()
        .filter(|(_, t)| !is_fragment(&t.data))
        .all(|(_, t)| t.data.len() + 28 <= 576));
}

#[test]
fn aggressive_mode_fragments_carry_the_aggressive_exchange_type() {
    let am = |mut p: IkePolicy, me: &str, peer: &str| {
        p.exchange_mode = ExchangeMode::Aggressive;
        p.my_id = Some(Identity::Fqdn(me.into()));
        p.peer_id = Some(Identity::Fqdn(peer.into()));
        p
    };
    let pa = am(big(policy_a(), true), "a.example", "b.example");
    let pb = am(big(policy_b(), true), "b.example", "a.example");
    let mut p = Pair::new(pa, pb, 71);
    p.connect();
    assert_eq!(assert_mirrored(&p), 1);
    // Message 1 goes whole (the peer's support is not known yet), message 2 in fragments.
    let frags: Vec<_> = p.log.iter().filter(|(_, t)| is_fragment(&t.data)).collect();
    assert!(frags.len() >= 2);
    assert!(frags.iter().all(|(s, t)| *s == Side::B && t.data[18] == 4));
}

#[test]
fn lossy_network_retransmits_every_fragment() {
    for seed in 72..76 {
        let mut p = Pair::new(big(policy_a(), true), big(policy_b(), true), seed);
        p.loss_pct = 20;
        p.dup_pct = 20;
        p.jitter = Duration::from_millis(40);
        p.connect();
        assert_eq!(assert_mirrored(&p), 1, "seed {seed}");
        let a = p.a.engine.status().stats;
        let b = p.b.engine.status().stats;
        assert!(a.fragments_sent + b.fragments_sent >= 4, "seed {seed}");
        assert!(a.messages_reassembled + b.messages_reassembled >= 2);
    }
}

#[test]
fn no_fragments_to_a_peer_that_did_not_announce_them() {
    for (fa, fb) in [(true, false), (false, true)] {
        let mut p = Pair::new(big(policy_a(), fa), big(policy_b(), fb), 77);
        p.connect();
        assert_eq!(assert_mirrored(&p), 1);
        assert!(!p.log.iter().any(|(_, t)| is_fragment(&t.data)));
        // Only the enabled side sent the vendor ID; the responder answers it only in kind.
        let vid = &crate::ike::v1::fragment::VID_FRAGMENTATION;
        let first = &p.log[0].1.data;
        let has_vid = first.windows(vid.len()).any(|w| w == vid);
        assert_eq!(has_vid, fa);
    }
}

#[test]
fn fragments_are_dropped_when_disabled() {
    // A fragments anyway (its entry says B announced support), B refuses them: the drop is
    // counted and the exchange never completes on fragments.
    let mut p = Pair::new(big(policy_a(), true), big(policy_b(), true), 78);
    p.connect();
    let frag = p
        .log
        .iter()
        .find(|(s, t)| *s == Side::A && is_fragment(&t.data))
        .map(|(_, t)| t.data.clone())
        .unwrap();
    let mut off = crate::ike::Engine::new(
        big(policy_b(), false),
        Box::new(crate::ike::SeededRandom::new(5)),
    );
    let (l, r) = (
        "10.77.0.2:500".parse().unwrap(),
        "10.77.0.1:500".parse().unwrap(),
    );
    off.handle_datagram(p.now, l, r, &frag);
    let s = off.status().stats;
    assert_eq!((s.fragments_received, s.dropped_fragments), (1, 1));
}
