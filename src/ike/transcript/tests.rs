//! Two engines of each IKE version negotiate in memory; their transcripts must show the
//! decrypted payloads by name, the failures' causes, and never a nonce, KE value or key.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::crypto::dh::DhGroup;
use crate::ike::{IkePolicy, IkeVersion, SeededRandom, TunnelEngine};
use crate::wire::ikev2::{Header, Payload, PayloadType};

use super::{fuzzing, Direction, Exchange, Node};

const A: &str = "10.66.0.1";
const B: &str = "10.66.0.2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn policy(version: IkeVersion, me: &str, peer: &str) -> IkePolicy {
    let mut p = IkePolicy::seil_defaults(ip(me), ip(peer), b"transcript-psk-1");
    p.version = version;
    p.phase1.dh_group = DhGroup::Modp2048;
    p.phase1.dh_groups = vec![DhGroup::Modp2048];
    p.reinitiate_after = None;
    p.dpd = None;
    p
}

/// Runs A (initiator) against B until nothing moves; returns both engines and every datagram.
fn negotiate(a: IkePolicy, b: IkePolicy) -> (TunnelEngine, TunnelEngine, Vec<Vec<u8>>) {
    let mut a_e = TunnelEngine::new(a, Box::new(SeededRandom::new(1)));
    let mut b_e = TunnelEngine::new(b, Box::new(SeededRandom::new(2)));
    let (a_addr, b_addr) = (SocketAddr::new(ip(A), 500), SocketAddr::new(ip(B), 500));
    let mut now = Instant::now();
    let mut wire = Vec::new();
    a_e.initiate(now);
    for _ in 0..40 {
        now += Duration::from_millis(10);
        let mut moved = false;
        while let Some(t) = a_e.poll_transmit() {
            wire.push(t.data.clone());
            b_e.handle_datagram(now, b_addr, a_addr, &t.data);
            moved = true;
        }
        while let Some(t) = b_e.poll_transmit() {
            wire.push(t.data.clone());
            a_e.handle_datagram(now, a_addr, b_addr, &t.data);
            moved = true;
        }
        while a_e.poll_event().is_some() {}
        while b_e.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    (a_e, b_e, wire)
}

fn transcript(e: &TunnelEngine) -> Vec<Exchange> {
    e.transcript(Instant::now(), Duration::from_secs(1_800_000_000))
}

/// Every node (depth first) of every message.
fn nodes(ex: &[Exchange]) -> Vec<&Node> {
    fn walk<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
        out.push(n);
        n.children.iter().for_each(|c| walk(c, out));
    }
    let mut out = Vec::new();
    for e in ex {
        for m in &e.messages {
            m.payloads.iter().for_each(|p| walk(p, &mut out));
        }
    }
    out
}

fn find<'a>(ex: &'a [Exchange], name: &str) -> &'a Exchange {
    ex.iter()
        .find(|e| e.exchange == name)
        .unwrap_or_else(|| panic!("no {name} in {ex:#?}"))
}

/// The values that must never appear: every KE and nonce value on the wire (IKEv2 IKE_SA_INIT
/// is in the clear), in hex, and the PSK.
fn secrets(wire: &[Vec<u8>]) -> Vec<String> {
    let mut out = vec![super::hex(b"transcript-psk-1"), "transcript-psk-1".into()];
    for d in wire {
        let Ok(h) = Header::new_checked(&d[..]) else {
            continue;
        };
        let first = PayloadType(d[16]);
        if let Ok(ps) = Payload::parse_chain(h.body(), first) {
            for p in ps {
                match p {
                    Payload::Ke(k) => out.push(super::hex(&k.data[..16])),
                    Payload::Nonce(n) => out.push(super::hex(&n.nonce[..16])),
                    _ => {}
                }
            }
        }
    }
    out
}

#[test]
fn ikev1_main_and_quick_mode_are_shown_decrypted() {
    let (a, b, wire) = negotiate(policy(IkeVersion::V1, A, B), policy(IkeVersion::V1, B, A));
    for (who, e) in [("initiator", &a), ("responder", &b)] {
        let ex = transcript(e);
        let mm = find(&ex, "Main Mode");
        assert_eq!(mm.messages.len(), 6, "{who}: {mm:#?}");
        assert_eq!(mm.outcome, "completed", "{who}");
        // Messages 5 and 6 are encrypted and shown decrypted: ID and HASH (length only).
        for m in &mm.messages[4..] {
            assert!(m.encrypted && m.note.is_none(), "{who}: {m:#?}");
            assert!(m.payloads.iter().any(|p| p.name == "ID"), "{who}: {m:#?}");
            assert!(m
                .payloads
                .iter()
                .any(|p| p.name == "HASH" && p.text.contains("not kept")));
        }
        let sa = &mm.messages[0].payloads[0];
        assert_eq!(sa.name, "SA");
        assert!(
            sa.children[0].children[0].text.contains("modp2048"),
            "{sa:#?}"
        );
        let qm = find(&ex, "Quick Mode");
        assert_eq!(qm.outcome, "completed", "{who}: {qm:#?}");
        assert!(qm.messages.iter().all(|m| m.encrypted && m.note.is_none()));
        let first = &qm.messages[0];
        assert!(first
            .payloads
            .iter()
            .any(|p| p.name == "SA" && p.children[0].text.starts_with("IPSEC-ESP")));
        assert!(first
            .payloads
            .iter()
            .any(|p| p.name == "ID" && p.text.contains("IPV4-ADDR-SUBNET")));
        let initiated = if who == "initiator" { "us" } else { "peer" };
        assert_eq!(qm.initiated_by, initiated);
    }
    let json = serde_json::to_string(&transcript(&a)).unwrap();
    for s in secrets(&wire) {
        assert!(
            !json.contains(&s),
            "the transcript shows a secret value {s}"
        );
    }
}

#[test]
fn ikev2_exchanges_are_shown_decrypted_without_secrets() {
    let (a, b, wire) = negotiate(policy(IkeVersion::V2, A, B), policy(IkeVersion::V2, B, A));
    for e in [&a, &b] {
        let ex = transcript(e);
        let init = find(&ex, "IKE_SA_INIT");
        assert_eq!(init.outcome, "completed");
        let ke = init.messages[0]
            .payloads
            .iter()
            .find(|n| n.name == "KE")
            .expect("KE");
        assert_eq!(ke.text, "group modp2048, 256 bytes");
        let auth = find(&ex, "IKE_AUTH");
        assert_eq!(auth.outcome, "completed");
        assert_eq!(auth.messages.len(), 2);
        for m in &auth.messages {
            assert!(m.encrypted && m.note.is_none(), "{m:#?}");
        }
        let all = nodes(std::slice::from_ref(auth));
        for name in ["IDi", "IDr", "AUTH", "SA", "TSi", "TSr"] {
            assert!(all.iter().any(|n| n.name == name), "no {name} in {auth:#?}");
        }
        let ts = all.iter().find(|n| n.name == "TSi").unwrap();
        assert!(ts.text.contains("/"), "{ts:#?}");
        let authp = all.iter().find(|n| n.name == "AUTH").unwrap();
        assert!(authp.text.contains("contents not kept"));
    }
    let json = serde_json::to_string(&transcript(&a)).unwrap();
    for s in secrets(&wire) {
        assert!(
            !json.contains(&s),
            "the transcript shows a secret value {s}"
        );
    }
}

#[test]
fn a_proposal_mismatch_shows_the_refusal_and_the_diagnostic() {
    for v in [IkeVersion::V1, IkeVersion::V2] {
        let mut b = policy(v, B, A);
        b.phase1.dh_group = DhGroup::Modp3072;
        b.phase1.dh_groups = vec![DhGroup::Modp3072];
        let (a, b, _) = negotiate(policy(v, A, B), b);
        let ex = transcript(&a);
        let first = ex.first().expect("an exchange");
        assert_eq!(first.outcome, "failed", "{v:?}: {first:#?}");
        let d = first.diagnostic.as_deref().unwrap_or_default();
        assert!(d.contains("modp2048"), "{v:?}: {d}");
        let refusal = nodes(&ex)
            .into_iter()
            .find(|n| n.name.replace('_', "-").contains("NO-PROPOSAL-CHOSEN"))
            .unwrap_or_else(|| panic!("{v:?}: no NO-PROPOSAL-CHOSEN in {ex:#?}"));
        assert!(refusal.text.starts_with("error"));
        // The responder's side names what it received.
        let theirs = transcript(&b);
        assert!(theirs[0]
            .messages
            .iter()
            .any(|m| m.direction == Direction::Out));
        assert!(
            theirs[0].diagnostic.is_some(),
            "{v:?}: responder {:#?}",
            theirs[0]
        );
    }
}

#[test]
fn a_wrong_psk_shows_the_authentication_failure() {
    for v in [IkeVersion::V1, IkeVersion::V2] {
        let mut b = policy(v, B, A);
        b.psk = zeroize::Zeroizing::new(b"another-key".to_vec());
        let (a, b, _) = negotiate(policy(v, A, B), b);
        let diag: Vec<String> = transcript(&a)
            .into_iter()
            .chain(transcript(&b))
            .filter_map(|e| e.diagnostic)
            .collect();
        assert!(
            diag.iter()
                .any(|d| d.to_lowercase().contains("pre-shared key")),
            "{v:?}: {diag:?}"
        );
    }
}

#[test]
fn the_ring_is_bounded_and_fuzz_seeds_replay() {
    let (_, _, wire) = negotiate(policy(IkeVersion::V2, A, B), policy(IkeVersion::V2, B, A));
    let (_, _, wire1) = negotiate(policy(IkeVersion::V1, A, B), policy(IkeVersion::V1, B, A));
    for d in wire.iter().chain(&wire1) {
        for mode in 0u8..3 {
            let mut input = vec![mode];
            input.extend_from_slice(d);
            fuzzing::transcript(&input);
        }
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/transcript");
    let mut seeds = 0;
    for f in std::fs::read_dir(dir).expect("fuzz/seeds/transcript") {
        fuzzing::transcript(&std::fs::read(f.unwrap().path()).unwrap());
        seeds += 1;
    }
    assert!(seeds > 0);
    let mut rng = SeededRandom::new(7);
    for _ in 0..2000 {
        let mut b = [0u8; 96];
        crate::ike::RandomSource::fill(&mut rng, &mut b);
        fuzzing::transcript(&b);
    }
}

/// Datagrams with unknown SPIs (a flood, or noise from the peer's address) are dropped by the
/// engine and left out of the transcript: they cannot push the real exchanges out of the ring.
#[test]
fn junk_does_not_displace_real_exchanges() {
    for version in [IkeVersion::V1, IkeVersion::V2] {
        let (_, mut b, wire) = negotiate(policy(version, A, B), policy(version, B, A));
        let before = transcript(&b);
        assert!(!before.is_empty(), "{version:?}");
        let (a_addr, b_addr) = (SocketAddr::new(ip(A), 500), SocketAddr::new(ip(B), 500));
        let now = Instant::now() + Duration::from_secs(1);
        for i in 0..200u32 {
            // The first message with fresh initiator SPIs/cookies and a response flag: it
            // belongs to no exchange of b's.
            let mut d = wire[0].clone();
            d[..4].copy_from_slice(&i.to_be_bytes());
            d[8..16].copy_from_slice(&[0xee; 8]);
            b.handle_datagram(now, b_addr, a_addr, &d);
            while b.poll_transmit().is_some() {}
        }
        let after = transcript(&b);
        assert_eq!(
            after.iter().map(|e| e.messages.len()).sum::<usize>(),
            before.iter().map(|e| e.messages.len()).sum::<usize>(),
            "{version:?}: junk was filed"
        );
    }
}
