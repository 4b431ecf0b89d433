//! Post-quantum IKEv2 on the virtual clock: RFC 9370 additional key exchanges (ML-KEM) over
//! IKE_INTERMEDIATE (RFC 9242), IntAuth in IKE_AUTH, fragmentation of ML-KEM-1024 messages,
//! `post-quantum: required | preferred` against a classic peer.

use super::*;
use crate::crypto::mlkem::KemAlg;
use crate::ike::policy::PostQuantum;

fn pq_policy(me: &str, peer: &str, rounds: &[&[Option<KemAlg>]]) -> IkePolicy {
    let mut p = v2_policy(me, peer);
    p.phase1.dh_groups = vec![DhGroup::Curve25519];
    p.phase1.additional_kes = rounds.iter().map(|r| r.to_vec()).collect();
    p.post_quantum = if rounds.is_empty() {
        PostQuantum::Off
    } else {
        PostQuantum::Required
    };
    p
}

const MLKEM768: &[Option<KemAlg>] = &[Some(KemAlg::MlKem768)];
const MLKEM1024: &[Option<KemAlg>] = &[Some(KemAlg::MlKem1024)];

/// Both ends derived the same IKE SA keys (the exported decryption lines agree).
fn ike_keys_agree(p: &Pair) -> Vec<String> {
    let (a, b) = (p.a.engine.export_ike_keys(), p.b.engine.export_ike_keys());
    assert_eq!(a, b);
    a
}

#[test]
fn one_mlkem768_round_brings_up_a_post_quantum_ike_sa() {
    let mut p = Pair::new(pq_policy(A, B, &[MLKEM768]), pq_policy(B, A, &[MLKEM768]));
    p.up();
    assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
    assert!(p.b.failures().is_empty(), "{:?}", p.b.failures());
    let (ca, cb) = (p.a.children_up(), p.b.children_up());
    assert_eq!((ca.len(), cb.len()), (1, 1));
    assert_keys_match(&ca[0], &cb[0]);
    for n in [&p.a, &p.b] {
        let s = &n.engine.status().phase1[0];
        assert_eq!(s.state, "established");
        assert_eq!(
            s.proposal.as_deref(),
            Some("aes256-sha256-prfsha256-curve25519-ke1_mlkem768")
        );
        assert_eq!(s.key_exchanges.as_deref(), Some("curve25519 + mlkem768"));
        assert!(s.post_quantum);
    }
    assert_eq!(ike_keys_agree(&p).len(), 1);
    // The ML-KEM-768 encapsulation key went out in one IKE_INTERMEDIATE datagram.
    assert!(p.sizes.iter().any(|s| *s > KemAlg::MlKem768.public_len()));
}

/// The final keys differ from a classic exchange's with the same randomness: the key update
/// after the ML-KEM round took effect (what Wireshark must be given).
#[test]
fn the_exported_keys_are_those_after_the_key_update() {
    let mut classic = Pair::new(pq_policy(A, B, &[]), pq_policy(B, A, &[]));
    classic.up();
    let mut pq = Pair::new(pq_policy(A, B, &[MLKEM768]), pq_policy(B, A, &[MLKEM768]));
    pq.up();
    let (c, q) = (ike_keys_agree(&classic), ike_keys_agree(&pq));
    assert_eq!((c.len(), q.len()), (1, 1));
    assert_ne!(c[0], q[0]);
}

#[test]
fn two_rounds_with_mlkem1024_are_fragmented_at_576_bytes() {
    let mut pa = pq_policy(A, B, &[MLKEM768, MLKEM1024]);
    pa.fragment_size = 576;
    let mut pb = pq_policy(B, A, &[MLKEM768, MLKEM1024]);
    pb.fragment_size = 576;
    let mut p = Pair::new(pa, pb);
    p.up();
    assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
    assert_eq!(p.a.children_up().len(), 1, "{:?}", p.b.failures());
    assert_keys_match(&p.a.children_up()[0], &p.b.children_up()[0]);
    let s = &p.a.engine.status().phase1[0];
    assert_eq!(
        s.key_exchanges.as_deref(),
        Some("curve25519 + mlkem768 + mlkem1024")
    );
    assert!(s
        .proposal
        .as_deref()
        .unwrap()
        .ends_with("-ke1_mlkem768-ke2_mlkem1024"));
    ike_keys_agree(&p);
    // 576-byte IP datagrams: UDP payloads of at most 548 bytes; the 1568-byte key and
    // ciphertext of ML-KEM-1024 took several fragments each.
    let max = p.sizes.iter().max().copied().unwrap_or(0);
    assert!(max <= 548, "largest datagram {max}");
    assert!(p.sizes.len() >= 12, "{:?}", p.sizes);
}

#[test]
fn lost_intermediate_messages_are_retransmitted() {
    let mut p = Pair::new(pq_policy(A, B, &[MLKEM768]), pq_policy(B, A, &[MLKEM768]));
    // The large datagrams: the IKE_INTERMEDIATE request (first fragment of two at the
    // default 1280 bytes), its retransmission, the response, the request once more.
    let mut big = 0;
    p.drop = Box::new(move |_, t| {
        big += usize::from(t.data.len() > 1000);
        t.data.len() > 1000 && (big == 1 || big == 3)
    });
    p.up();
    p.run_for(Duration::from_secs(20));
    assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
    assert_eq!(p.a.children_up().len(), 1, "{:?}", p.b.failures());
    assert!(p.a.engine.status().stats.retransmits >= 1);
    let st = p.b.engine.status().stats;
    assert!(st.duplicates_answered >= 1, "{st:?} {:?}", p.sizes);
    ike_keys_agree(&p);
}

#[test]
fn required_refuses_a_classic_peer_in_both_roles_naming_its_proposal() {
    // We initiate: the classic peer chooses our classic fallback proposal; we refuse it.
    let mut p = Pair::new(pq_policy(A, B, &[MLKEM768]), pq_policy(B, A, &[]));
    p.up();
    let a = p.a.failures().join("\n");
    assert!(
        a.contains("post-quantum: required")
            && a.contains("chose aes256-sha256-prfsha256-curve25519")
            && a.contains("ke1_mlkem768"),
        "{a}"
    );
    assert!(p.a.children_up().is_empty());
    // The peer initiates: its offer has no ML-KEM; we answer NO_PROPOSAL_CHOSEN.
    let mut p = Pair::new(pq_policy(A, B, &[]), pq_policy(B, A, &[MLKEM768]));
    p.up();
    let b = p.b.failures().join("\n");
    assert!(
        b.contains("post-quantum: required")
            && b.contains("offered only aes256-aes128-prfsha256-prfsha1-sha256-sha1-curve25519"),
        "{b}"
    );
    let a = p.a.failures().join("\n");
    assert!(a.contains("NO_PROPOSAL_CHOSEN"), "{a}");
    assert!(p.a.children_up().is_empty());
}

#[test]
fn preferred_falls_back_to_a_classic_peer_and_says_so() {
    for we_initiate in [true, false] {
        let mut ours = pq_policy(A, B, &[MLKEM768]);
        ours.post_quantum = PostQuantum::Preferred;
        let theirs = pq_policy(B, A, &[]);
        let mut p = if we_initiate {
            Pair::new(ours, theirs)
        } else {
            let mut ours = ours;
            ours.local = ip(B);
            ours.remote = ip(A);
            let mut theirs = theirs;
            theirs.local = ip(A);
            theirs.remote = ip(B);
            Pair::new(theirs, ours)
        };
        p.up();
        assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
        assert!(p.b.failures().is_empty(), "{:?}", p.b.failures());
        assert_eq!(p.a.children_up().len(), 1);
        for n in [&p.a, &p.b] {
            let s = &n.engine.status().phase1[0];
            assert!(!s.post_quantum);
            assert_eq!(s.key_exchanges.as_deref(), Some("curve25519"));
        }
    }
}

/// A round listed as `[mlkem1024, none]` is skipped with a peer that does not offer it, and
/// the mandatory first round still runs.
#[test]
fn an_optional_round_is_skipped() {
    let opt: &[Option<KemAlg>] = &[Some(KemAlg::MlKem1024), None];
    let mut p = Pair::new(
        pq_policy(A, B, &[MLKEM768, opt]),
        pq_policy(B, A, &[MLKEM768]),
    );
    p.up();
    assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
    assert_eq!(p.a.children_up().len(), 1, "{:?}", p.b.failures());
    let s = &p.a.engine.status().phase1[0];
    assert_eq!(s.key_exchanges.as_deref(), Some("curve25519 + mlkem768"));
    ike_keys_agree(&p);
}

/// Child rekeys with PFS and IKE SA rekeys of a post-quantum SA run their additional key
/// exchanges over IKE_FOLLOWUP_KE (RFC 9370 §2.2.4): both ends derive the same keys, the
/// rekeyed IKE SA and the children keep ML-KEM in their proposals.
#[test]
fn rekeys_run_ike_followup_ke() {
    let mut pols = [pq_policy(A, B, &[MLKEM768]), pq_policy(B, A, &[MLKEM768])];
    for p in &mut pols {
        p.phase1.lifetime_secs = 120;
        p.phase2.lifetime_secs = 60;
        p.phase2.pfs_group = Some(DhGroup::Curve25519);
        p.phase2.additional_kes = vec![MLKEM768.to_vec(), MLKEM1024.to_vec()];
    }
    let [pa, pb] = pols;
    let mut p = Pair::new(pa, pb);
    p.up();
    p.run_for(Duration::from_secs(400));
    assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
    assert!(p.b.failures().is_empty(), "{:?}", p.b.failures());
    let (ca, cb) = (p.a.children_up(), p.b.children_up());
    assert!(ca.len() >= 5, "{}", ca.len());
    // Every pair A installed has its mirror at B with the same keys.
    for a in &ca {
        let b = cb
            .iter()
            .find(|b| b.0.spi == a.1.spi)
            .unwrap_or_else(|| panic!("B has no SA {:08x}", a.1.spi));
        assert_keys_match(a, b);
    }
    let st = p.a.engine.status();
    assert_eq!(st.children.len(), 1);
    assert!(
        st.children[0]
            .proposal
            .ends_with("-curve25519-ke1_mlkem768-ke2_mlkem1024"),
        "{}",
        st.children[0].proposal
    );
    let ike = st.phase1.iter().find(|s| s.state == "established").unwrap();
    assert_eq!(ike.key_exchanges.as_deref(), Some("curve25519 + mlkem768"));
    assert!(st.stats.phase1_established >= 3, "{:?}", st.stats);
    ike_keys_agree(&p);
}

/// `required` holds for IKE SA rekeys too: a peer that rekeys with a classic proposal only is
/// refused (NO_PROPOSAL_CHOSEN), and the post-quantum IKE SA stays.
#[test]
fn required_refuses_a_classic_ike_sa_rekey() {
    let mut p = Pair::new(pq_policy(A, B, &[MLKEM768]), pq_policy(B, A, &[MLKEM768]));
    p.up();
    assert_eq!(p.a.children_up().len(), 1);
    // B (the responder of the first exchange) now offers only classic proposals.
    let mut classic = pq_policy(B, A, &[]);
    classic.phase1.lifetime_secs = 100;
    p.b.engine.set_policy(classic);
    p.b.engine.sas[0].rekey_at = Some(p.now);
    p.run_for(Duration::from_secs(5));
    let a = p.a.failures().join("\n");
    assert!(
        a.contains("post-quantum: required") && a.contains("offered only"),
        "{a}"
    );
    let st = p.a.engine.status();
    assert!(st.phase1.iter().all(|s| s.post_quantum), "{:?}", st.phase1);
}

/// With NAT-T forced, IKE moves to UDP 4500 after IKE_SA_INIT: the IKE_INTERMEDIATE round runs
/// there (fragmented at 576 bytes, with the non-ESP marker counted) and ESP is encapsulated.
#[test]
fn intermediate_runs_on_udp_4500_after_nat_detection() {
    let mut pa = pq_policy(A, B, &[MLKEM1024]);
    pa.nat_traversal = crate::ike::policy::NatTraversal::Force;
    pa.fragment_size = 576;
    let mut pb = pq_policy(B, A, &[MLKEM1024]);
    pb.fragment_size = 576;
    let mut p = Pair::new(pa, pb);
    p.up();
    assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
    assert_eq!(p.a.children_up().len(), 1, "{:?}", p.b.failures());
    let s = &p.a.engine.status().phase1[0];
    assert_eq!(s.local_port, 4500);
    assert!(s.post_quantum);
    // 576-byte IP datagrams: UDP payload with the 4-byte marker at most 548 bytes.
    let max = p.sizes.iter().max().copied().unwrap_or(0);
    assert!(max <= 544, "largest IKE message {max}");
    ike_keys_agree(&p);
}
