//! Failures and the diagnostics they produce, as the operator reads them.

use std::time::{Duration, Instant};

use super::pair::*;
use crate::crypto::dh::DhGroup;
use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::prf::HashAlg;
use crate::crypto::IntegAlg;
use crate::ike::{Engine, Identity, ProxyId, SeededRandom};
use crate::wire::isakmp::PayloadType;

const PSK_HINT: &str =
    "the pre-shared keys differ (is there a trailing newline or space in the key file?)";

fn one(
    mut p: crate::ike::IkePolicy,
    c: IkeCipher,
    h: HashAlg,
    g: DhGroup,
) -> crate::ike::IkePolicy {
    p.phase1.encryption = vec![c];
    p.phase1.hash = vec![h];
    p.phase1.dh_group = g;
    p
}

#[test]
fn phase1_proposal_mismatch_both_sides() {
    let pa = one(
        policy_a(),
        IkeCipher::Aes256Cbc,
        HashAlg::Sha256,
        DhGroup::Modp1024,
    );
    let pb = one(
        policy_b(),
        IkeCipher::Aes256Cbc,
        HashAlg::Sha256,
        DhGroup::Modp1536,
    );
    let mut p = Pair::new(pa, pb, 1);
    p.connect();
    assert_eq!(
        p.a.failures(),
        ["phase 1 proposal mismatch: we offered aes256-sha256-modp1024; peer (10.77.0.2) answered NO-PROPOSAL-CHOSEN"]
    );
    assert_eq!(
        p.b.failures(),
        ["phase 1 proposal mismatch: received aes256-sha256-modp1024, configured aes256-sha256-modp1536 — set dh-group: modp1024 or change the peer"]
    );
    assert!(p.a.engine.status().phase1.is_empty());
    assert!(p
        .a
        .engine
        .status()
        .last_error
        .unwrap()
        .contains("NO-PROPOSAL-CHOSEN"));
}

#[test]
fn phase1_mismatch_names_encryption_and_hash() {
    let pa = one(
        policy_a(),
        IkeCipher::TripleDesCbc,
        HashAlg::Md5,
        DhGroup::Modp1536,
    );
    let mut p = Pair::new(pa, policy_b(), 2);
    p.connect();
    assert_eq!(
        p.b.failures(),
        ["phase 1 proposal mismatch: received 3des-md5-modp1536, configured aes256-sha256-modp1536, aes256-sha1-modp1536, aes128-sha256-modp1536, aes128-sha1-modp1536, 3des-sha256-modp1536, 3des-sha1-modp1536 — add hash: md5 or change the peer"]
    );
}

#[test]
fn unsupported_group_says_only_the_peer_can_change() {
    // A peer offering only ecp256 (group 19): craft its SA by rewriting the group attribute.
    let mut a = Engine::new(
        one(
            policy_a(),
            IkeCipher::Aes128Cbc,
            HashAlg::Sha256,
            DhGroup::Modp1536,
        ),
        Box::new(SeededRandom::new(1)),
    );
    let now = Instant::now();
    a.initiate(now);
    let mut m1 = a.poll_transmit().unwrap().data;
    let pos = m1
        .windows(4)
        .position(|w| w == [0x80, 0x04, 0x00, 0x05])
        .unwrap();
    m1[pos + 3] = 21; // ecp521: not supported (19 and 20 are)
    let mut b = Engine::new(policy_b(), Box::new(SeededRandom::new(2)));
    b.handle_datagram(
        now,
        "10.77.0.2:500".parse().unwrap(),
        "10.77.0.1:500".parse().unwrap(),
        &m1,
    );
    let Some(crate::ike::Event::Failed { cause }) = b.poll_event() else {
        panic!()
    };
    assert!(
        cause
            .to_string()
            .ends_with("— the peer's DH ecp521 is not supported by ikegate: change the peer"),
        "{cause}"
    );
}

#[test]
fn psk_mismatch() {
    let mut pb = policy_b();
    pb.psk = zeroize::Zeroizing::new(b"xeeB5gohvaYi\n".to_vec());
    let mut p = Pair::new(policy_a(), pb, 3);
    p.connect();
    assert_eq!(
        p.b.failures(),
        [format!(
            "HASH_I did not verify: Main Mode message 5 decrypted to garbage, so {PSK_HINT}"
        )]
    );
    assert_eq!(
        p.a.failures(),
        [format!("HASH_I did not verify on the peer (10.77.0.2 answered AUTHENTICATION-FAILED): {PSK_HINT}")]
    );
}

#[test]
fn hash_r_that_does_not_verify() {
    let mut p = Pair::new(policy_a(), policy_b(), 4);
    // Corrupt the last byte of B's Main Mode message 6 (inside HASH_R after decryption).
    p.tamper = Some(Box::new(|side, t, _| {
        let mut d = t.data.clone();
        if side == Side::B && d.get(18) == Some(&2) && d.get(19) == Some(&1) {
            if let Some(x) = d.last_mut() {
                *x ^= 1;
            }
        }
        Some(d)
    }));
    p.connect();
    assert_eq!(
        p.a.failures(),
        [format!("HASH_R did not verify: {PSK_HINT}")]
    );
}

#[test]
fn no_answer_to_message_3_gives_up_after_5_retransmissions() {
    let mut p = Pair::new(policy_a(), policy_b(), 5);
    p.tamper = Some(Box::new(|side, t, _| {
        let ke_first = t.data.get(16) == Some(&PayloadType::KE.0) && t.data.get(18) == Some(&2);
        (!(side == Side::A && ke_first)).then(|| t.data.clone())
    }));
    let now = p.now;
    p.a.engine.initiate(now);
    p.run_for(Duration::from_secs(300));
    assert_eq!(
        p.a.failures(),
        ["peer did not answer Main Mode message 3 after 5 retransmissions (is UDP 500/4500 blocked, or the PSK wrong on the peer side?)"]
    );
    let s = p.a.engine.status();
    assert_eq!(s.stats.retransmits, 5);
    assert!(s.phase1.is_empty());
    // B's half-open exchange expired quietly.
    assert_eq!(p.b.engine.status().stats.half_open_expired, 1);
    assert!(p.b.engine.status().phase1.is_empty());
}

#[test]
fn no_answer_at_all() {
    let mut p = Pair::new(policy_a(), policy_b(), 6);
    p.tamper = Some(Box::new(|side, t, _| {
        (side != Side::A).then(|| t.data.clone())
    }));
    let now = p.now;
    p.a.engine.initiate(now);
    p.run_for(Duration::from_secs(300));
    assert_eq!(
        p.a.failures(),
        ["peer did not answer Main Mode message 1 after 5 retransmissions (is UDP 500 blocked, or is the peer's address wrong?)"]
    );
    assert!(p.a.engine.poll_timeout().is_none());
}

#[test]
fn reinitiates_after_failure_when_configured() {
    let mut pa = policy_a();
    pa.reinitiate_after = Some(Duration::from_secs(10));
    let mut p = Pair::new(pa, policy_b(), 7);
    p.tamper = Some(Box::new(|side, t, n| {
        (side != Side::A || n > 20).then(|| t.data.clone())
    }));
    let now = p.now;
    p.a.engine.initiate(now);
    p.run_for(Duration::from_secs(400));
    assert!(!p.a.failures().is_empty());
    assert_mirrored(&p);
}

fn proxy(l: &str, r: &str) -> ProxyId {
    ProxyId {
        local: l.parse().unwrap(),
        remote: r.parse().unwrap(),
    }
}

#[test]
fn proxy_id_mismatch_both_sides() {
    let mut pa = policy_a();
    pa.phase2.proxy_ids = vec![proxy("192.168.1.0/24", "192.168.2.0/24")];
    let mut pb = policy_b();
    pb.phase2.proxy_ids = vec![proxy("192.168.3.0/24", "192.168.1.0/24")];
    let mut p = Pair::new(pa, pb, 8);
    p.connect();
    assert_eq!(
        p.b.failures(),
        ["proxy-id mismatch: peer proposed 192.168.2.0/24 ⇄ 192.168.1.0/24, configured 192.168.3.0/24 ⇄ 192.168.1.0/24 — configure the same subnets on both sides"]
    );
    assert_eq!(
        p.a.failures(),
        ["proxy-id mismatch: we proposed 192.168.1.0/24 ⇄ 192.168.2.0/24; peer (10.77.0.2) answered INVALID-ID-INFORMATION — configure the same subnets on both sides"]
    );
    assert_eq!(p.a.phase1_up().len(), 1);
    assert!(p.a.children_up().is_empty());
}

#[test]
fn phase2_proposal_mismatch_both_sides() {
    let mut pb = policy_b();
    pb.phase2.authentication = vec![IntegAlg::HmacMd5_96];
    let mut p = Pair::new(policy_a(), pb, 9);
    p.connect();
    assert_eq!(
        p.b.failures(),
        ["phase 2 proposal mismatch: received aes256-hmac-sha256, aes256-hmac-sha1, aes128-hmac-sha256, aes128-hmac-sha1, configured aes256-hmac-md5, aes128-hmac-md5 — add authentication: hmac-sha256 or change the peer"]
    );
    assert_eq!(
        p.a.failures(),
        ["phase 2 proposal mismatch: we offered aes256-hmac-sha256, aes256-hmac-sha1, aes128-hmac-sha256, aes128-hmac-sha1; peer (10.77.0.2) answered NO-PROPOSAL-CHOSEN"]
    );
}

#[test]
fn pfs_mismatch_is_named() {
    let mut pa = policy_a();
    pa.phase2.pfs_group = Some(DhGroup::Modp2048);
    let mut p = Pair::new(pa, policy_b(), 10);
    p.connect();
    assert_eq!(
        p.b.failures(),
        ["phase 2 proposal mismatch: received aes256-hmac-sha256-modp2048, aes256-hmac-sha1-modp2048, aes128-hmac-sha256-modp2048, aes128-hmac-sha1-modp2048, configured aes256-hmac-sha256, aes256-hmac-sha1, aes128-hmac-sha256, aes128-hmac-sha1 — set pfs-group: modp2048 or change the peer"]
    );
    // The other way round: we want PFS, the peer does not offer it.
    let mut pb = policy_b();
    pb.phase2.pfs_group = Some(DhGroup::Modp2048);
    let mut p = Pair::new(policy_a(), pb, 10);
    p.connect();
    assert!(p.b.failures()[0]
        .ends_with("— disable pfs-group (the peer uses no PFS) or change the peer"));
}

#[test]
fn identity_mismatch() {
    let mut pb = policy_b();
    pb.peer_id = Some(Identity::Fqdn("gw-a.example".into()));
    let mut p = Pair::new(policy_a(), pb, 11);
    p.connect();
    assert_eq!(
        p.b.failures(),
        ["phase 1 identity mismatch: peer identified itself as 10.77.0.1, expected fqdn:gw-a.example — set peer-id or my-identifier on the peer"]
    );
    assert_eq!(
        p.a.failures(),
        ["peer (10.77.0.2) sent INVALID-ID-INFORMATION during Main Mode"]
    );
    // With the right identity it works.
    let mut pa = policy_a();
    pa.my_id = Some(Identity::Fqdn("gw-a.example".into()));
    let mut pb = policy_b();
    pb.peer_id = Some(Identity::Fqdn("gw-a.example".into()));
    let mut p = Pair::new(pa, pb, 12);
    p.connect();
    assert_mirrored(&p);
}

#[test]
fn aggressive_mode_is_refused_with_a_reason() {
    let mut e = Engine::new(policy_b(), Box::new(SeededRandom::new(1)));
    let mut m = vec![0u8; 28];
    m[0] = 1;
    m[16] = 1;
    m[17] = 0x10;
    m[18] = 4;
    m[27] = 28;
    let now = Instant::now();
    e.handle_datagram(
        now,
        "10.77.0.2:500".parse().unwrap(),
        "10.77.0.1:500".parse().unwrap(),
        &m,
    );
    let ev = e.poll_event().unwrap();
    assert!(format!("{ev:?}").contains("Aggressive Mode"));
    // The same again is not reported twice.
    e.handle_datagram(
        now,
        "10.77.0.2:500".parse().unwrap(),
        "10.77.0.1:500".parse().unwrap(),
        &m,
    );
    assert!(e.poll_event().is_none());
    assert_eq!(e.status().stats.dropped_unsupported, 2);
}

#[test]
fn half_open_cap_and_expiry() {
    // Collect a genuine message 1, then replay it with 100 different initiator cookies.
    let mut a = Engine::new(policy_a(), Box::new(SeededRandom::new(1)));
    let now = Instant::now();
    a.initiate(now);
    let m1 = a.poll_transmit().unwrap().data;
    let mut b = Engine::new(policy_b(), Box::new(SeededRandom::new(2)));
    // 10 a second: within the per-source rate limit (crate::ike::limits).
    for i in 0..100u8 {
        let mut m = m1.clone();
        m[0] = i;
        m[1] = 0xee;
        b.handle_datagram(
            now + Duration::from_millis(100 * u64::from(i)),
            "10.77.0.2:500".parse().unwrap(),
            "10.77.0.1:500".parse().unwrap(),
            &m,
        );
    }
    let s = b.status();
    assert_eq!(s.phase1.len(), 64);
    assert_eq!(s.stats.dropped_half_open_limit, 36);
    assert_eq!(s.stats.dropped_rate_limit, 0);
    let t = b.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(60));
    b.handle_timeout(now + Duration::from_secs(70));
    assert!(b.status().phase1.is_empty());
    assert_eq!(b.status().stats.half_open_expired, 64);
    assert!(
        b.poll_event().is_none(),
        "expiry of unanswered message-1 exchanges is not a failure"
    );
}

#[test]
fn dpd_r_u_there_is_acknowledged() {
    let mut p = Pair::new(policy_a(), policy_b(), 13);
    p.connect();
    assert_mirrored(&p);
    let before = p.a.engine.status().stats.notifies_received;
    p.a.engine.send_r_u_there(2367);
    p.run_for(Duration::from_secs(2));
    assert_eq!(
        p.b.engine.status().stats.notifies_received,
        2,
        "INITIAL-CONTACT and R-U-THERE"
    );
    assert_eq!(
        p.a.engine.status().stats.notifies_received,
        before + 1,
        "R-U-THERE-ACK"
    );
    assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
}

#[test]
fn unknown_cookies_are_counted() {
    let mut p = Pair::new(policy_a(), policy_b(), 14);
    p.connect();
    // Replay A's Quick Mode message 1 to a fresh B that knows no cookies.
    let qm1 = p
        .log
        .iter()
        .find(|(s, t)| *s == Side::A && t.data.get(18) == Some(&32))
        .unwrap()
        .1
        .data
        .clone();
    let mut b = Engine::new(policy_b(), Box::new(SeededRandom::new(5)));
    b.handle_datagram(
        p.now,
        "10.77.0.2:500".parse().unwrap(),
        "10.77.0.1:500".parse().unwrap(),
        &qm1,
    );
    assert_eq!(b.status().stats.dropped_unknown_cookie, 1);
    // Replayed to the real B: a replay of a finished exchange.
    p.b.engine.handle_datagram(
        p.now,
        "10.77.0.2:500".parse().unwrap(),
        "10.77.0.1:500".parse().unwrap(),
        &qm1,
    );
    let s = p.b.engine.status().stats;
    assert!(s.dropped_unexpected + s.dropped_replay >= 1);
    assert_eq!(p.b.children_up().len(), 1);
}

/// What an IKEv2-only strongSwan 6.1 sends back to our Main Mode message 1 (captured): an
/// INFORMATIONAL response, our initiator cookie as the initiator SPI, responder SPI zero, one
/// Notify INVALID_MAJOR_VERSION (type 5).
fn invalid_major_version_reply(ispi: &[u8], flags: u8) -> Vec<u8> {
    let mut m = ispi.to_vec();
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&[41, 0x20, 37, flags, 0, 0, 0, 0, 0, 0, 0, 36]);
    m.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 5]);
    m
}

/// An engine that has sent Main Mode message 1; returns it and that message.
fn sent_main_mode_1() -> (Engine, Vec<u8>, Instant) {
    let now = Instant::now();
    let mut a = Engine::new(policy_a(), Box::new(SeededRandom::new(21)));
    a.initiate(now);
    let mm1 = a.poll_transmit().expect("Main Mode message 1").data;
    assert_eq!(mm1.get(17), Some(&0x10), "an IKEv1 message");
    (a, mm1, now)
}

fn drain_failures(e: &mut Engine) -> Vec<String> {
    std::iter::from_fn(|| e.poll_event())
        .filter_map(|ev| match ev {
            crate::ike::Event::Failed { cause } => Some(cause.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn ikev2_only_peer_answering_invalid_major_version_is_named_at_once() {
    let (mut a, mm1, now) = sent_main_mode_1();
    let peer = format!("{B_ADDR}:500").parse().unwrap();
    let local = format!("{A_ADDR}:500").parse().unwrap();
    // Exactly the bytes strongSwan 6.1 sent (flags 0x28: response, and its initiator bit).
    let reply = invalid_major_version_reply(&mm1[..8], 0x28);
    a.handle_datagram(now, local, peer, &reply);
    assert_eq!(
        drain_failures(&mut a),
        ["the peer (10.77.0.2) answered INVALID_MAJOR_VERSION: it does not speak IKEv1 — set `ike.version: 2` on this tunnel"]
    );
    let s = a.status();
    assert!(s.phase1.is_empty(), "the exchange is gone");
    assert!(s.last_error.unwrap().contains("set `ike.version: 2`"));
    // No more retransmissions of message 1.
    a.handle_timeout(now + Duration::from_secs(120));
    assert!(a.poll_transmit().is_none());
    assert_eq!(a.status().stats.retransmits, 0);
    assert!(a.poll_timeout().is_none());
}

#[test]
fn invalid_major_version_for_someone_else_does_not_stop_the_exchange() {
    let (mut a, mm1, now) = sent_main_mode_1();
    let peer = format!("{B_ADDR}:500").parse().unwrap();
    let local = format!("{A_ADDR}:500").parse().unwrap();
    let mut other = mm1[..8].to_vec();
    other[0] ^= 1;
    let stranger: std::net::SocketAddr = "10.77.0.9:500".parse().unwrap();
    for (from, msg) in [
        // Another initiator SPI.
        (peer, invalid_major_version_reply(&other, 0x20)),
        // A request, not a response.
        (peer, invalid_major_version_reply(&mm1[..8], 0x08)),
        // Our cookie, but from another address.
        (stranger, invalid_major_version_reply(&mm1[..8], 0x20)),
    ] {
        a.handle_datagram(now, local, from, &msg);
    }
    assert!(drain_failures(&mut a).is_empty());
    assert_eq!(a.status().phase1.len(), 1);
    assert!(a
        .status()
        .last_error
        .unwrap()
        .contains("this tunnel runs IKEv1"));
    // The exchange goes on: message 1 is retransmitted.
    a.handle_timeout(now + Duration::from_secs(3));
    assert_eq!(a.poll_transmit().map(|t| t.data), Some(mm1));
}

#[test]
fn hostile_ikev2_answers_never_panic() {
    let (mut a, mm1, now) = sent_main_mode_1();
    let peer = format!("{B_ADDR}:500").parse().unwrap();
    let local = format!("{A_ADDR}:500").parse().unwrap();
    let good = invalid_major_version_reply(&mm1[..8], 0x20);
    // Every truncation, every length field, every payload byte mutated: none panics, and
    // only well-formed ones fail the exchange.
    for n in 0..good.len() {
        a.handle_datagram(now, local, peer, &good[..n]);
    }
    for i in 16..good.len() {
        for v in [0u8, 1, 0x7f, 0xff] {
            let mut m = good.clone();
            m[i] = v;
            a.handle_datagram(now, local, peer, &m);
        }
    }
    let mut long = good.clone();
    long.extend_from_slice(&[0xff; 64]);
    a.handle_datagram(now, local, peer, &long);
}

#[test]
fn new_negotiations_from_one_source_are_rate_limited() {
    // 100 message 1s at once: the burst is answered, the rest dropped and counted; a second
    // later the rate's worth more gets through.
    let mut a = Engine::new(policy_a(), Box::new(SeededRandom::new(1)));
    let now = Instant::now();
    a.initiate(now);
    let m1 = a.poll_transmit().unwrap().data;
    let mut b = Engine::new(policy_b(), Box::new(SeededRandom::new(2)));
    let send = |b: &mut Engine, at: Instant, i: u8| {
        let mut m = m1.clone();
        m[0] = i;
        m[1] = 0xee;
        b.handle_datagram(
            at,
            "10.77.0.2:500".parse().unwrap(),
            "10.77.0.1:500".parse().unwrap(),
            &m,
        );
    };
    for i in 0..100u8 {
        send(&mut b, now, i);
    }
    use crate::ike::limits::{NEW_SA_BURST, NEW_SA_PER_SEC};
    let s = b.status();
    assert_eq!(s.phase1.len(), NEW_SA_BURST as usize);
    assert_eq!(s.stats.dropped_rate_limit, 100 - u64::from(NEW_SA_BURST));
    for i in 100..150u8 {
        send(&mut b, now + Duration::from_secs(1), i);
    }
    let s = b.status();
    assert_eq!(s.phase1.len(), (NEW_SA_BURST + NEW_SA_PER_SEC) as usize);
}
