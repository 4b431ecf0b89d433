//! Aggressive Mode between two engines: both roles, identities by name, third message
//! encrypted or clear, NAT, and the failures.

use std::time::Duration;

use super::pair::*;
use crate::ike::{ExchangeMode, Identity, IkePolicy};

fn am(mut p: IkePolicy, me: &str, peer: &str) -> IkePolicy {
    p.exchange_mode = ExchangeMode::Aggressive;
    p.my_id = Some(Identity::Fqdn(me.into()));
    p.peer_id = Some(Identity::Fqdn(peer.into()));
    p
}

#[test]
fn aggressive_mode_with_fqdn_identities_both_third_message_styles() {
    for encrypt in [true, false] {
        let mut pa = am(policy_a(), "a.example", "b.example");
        pa.aggressive_encrypt_third = encrypt;
        let pb = am(policy_b(), "b.example", "a.example");
        let mut p = Pair::new(pa, pb, 60);
        p.connect();
        assert_eq!(assert_mirrored(&p), 1, "encrypt {encrypt}");
        let s = p.b.engine.status();
        assert_eq!(s.phase1[0].peer_identity.as_deref(), Some("fqdn:a.example"));
        assert_eq!(
            p.a.engine.status().phase1[0].peer_identity.as_deref(),
            Some("fqdn:b.example")
        );
        // Exactly three phase-1 messages.
        let p1 = p
            .log
            .iter()
            .filter(|(_, t)| t.data.get(18) == Some(&4))
            .count();
        assert_eq!(p1, 3);
        let third = p
            .log
            .iter()
            .filter(|(_, t)| t.data.get(18) == Some(&4))
            .nth(2)
            .unwrap();
        assert_eq!(third.1.data[19] & 1 == 1, encrypt);
        assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
    }
}

#[test]
fn aggressive_mode_b_initiates_and_rekeys() {
    let mut pa = am(policy_a(), "a.example", "b.example");
    pa.phase1.lifetime_secs = 60;
    let pb = am(policy_b(), "b.example", "a.example");
    let mut p = Pair::new(pa, pb, 61);
    let now = p.now;
    p.b.engine.initiate(now);
    p.run_for(Duration::from_secs(200));
    assert_mirrored(&p);
    assert!(p.b.engine.status().stats.phase1_established >= 3);
    assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
}

#[test]
fn aggressive_mode_through_nat_floats() {
    let mut pa = am(policy_a(), "a.example", "b.example");
    pa.remote = ip(B_PUBLIC);
    pa.remote_port = 10500;
    let pb = am(policy_b(), "b.example", "a.example");
    let mut p = Pair::new(pa, pb, 62);
    p.nat_b = true;
    let now = p.now;
    p.b.engine.initiate(now);
    p.run_for(Duration::from_secs(60));
    assert_mirrored(&p);
    let sa = &p.a.engine.status().phase1[0];
    assert!(sa.nat.peer_behind_nat && sa.nat.floated, "{sa:?}");
    assert_eq!(
        p.a.children_up()[0].2,
        Some("192.0.2.100:14500".parse().unwrap())
    );
}

#[test]
fn aggressive_mode_failures_are_explained() {
    // Wrong PSK: HASH_R does not verify at the initiator.
    let pa = am(policy_a(), "a.example", "b.example");
    let mut pb = am(policy_b(), "b.example", "a.example");
    pb.psk = zeroize::Zeroizing::new(b"other".to_vec());
    let mut p = Pair::new(pa, pb, 63);
    p.connect();
    assert!(p.a.children_up().is_empty());
    assert!(
        p.a.failures().iter().any(|f| f.contains("HASH_R")),
        "{:?}",
        p.a.failures()
    );
    // Unexpected identity.
    let pa = am(policy_a(), "a.example", "b.example");
    let pb = am(policy_b(), "b.example", "c.example");
    let mut p = Pair::new(pa, pb, 64);
    p.connect();
    assert!(p.b.children_up().is_empty());
    assert!(
        p.b.failures()
            .iter()
            .any(|f| f.contains("a.example") && f.contains("c.example")),
        "{:?}",
        p.b.failures()
    );
    // Main Mode responder refuses Aggressive Mode with a reason.
    let pa = am(policy_a(), "a.example", "b.example");
    let mut p = Pair::new(pa, policy_b(), 65);
    p.connect();
    assert!(p
        .b
        .failures()
        .iter()
        .any(|f| f.contains("exchange-mode: aggressive")));
}

/// A responder that is not told the peer's address (`destination: dynamic`): the tunnel is
/// chosen by the identity in message 1, and everything it sends later (message 2, Quick Mode,
/// DPD probes) goes to the address the peer used.
#[test]
fn responder_with_unconfigured_peer_address() {
    let pa = am(policy_a(), "a.example", "b.example");
    let mut pb = am(policy_b(), "b.example", "a.example");
    pb.remote = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    pb.responder_only = true;
    pb.dpd = Some(crate::ike::DpdPolicy {
        interval: Duration::from_secs(10),
        retries: 3,
    });
    let mut p = Pair::new(pa, pb, 61);
    p.connect();
    assert_eq!(assert_mirrored(&p), 1);
    // Idle: B probes A.
    p.run_for(Duration::from_secs(60));
    let s = p.b.engine.status();
    assert!(s.stats.dpd_probes_sent > 0, "{:?}", s.dpd);
    assert_eq!(s.dpd.state, "alive", "{:?}", s.dpd);
    assert_eq!(s.peer.ip(), ip(A_ADDR));
    let from_b: Vec<_> = p.log.iter().filter(|(side, _)| *side == Side::B).collect();
    assert!(!from_b.is_empty());
    for (_, t) in from_b {
        assert_eq!(t.remote.ip(), ip(A_ADDR), "B sent to {}", t.remote);
    }
}

/// What the daemon reads from a datagram to pick a `destination: dynamic` tunnel: IDii of an
/// Aggressive Mode message 1, and nothing from any other message.
#[test]
fn initiator_identity_only_from_aggressive_message_1() {
    let pa = am(policy_a(), "a.example", "b.example");
    let pb = am(policy_b(), "b.example", "a.example");
    let mut p = Pair::new(pa, pb, 62);
    p.connect();
    assert_eq!(assert_mirrored(&p), 1);
    let am1 = p.log[0].1.data.clone();
    let mut seen = p
        .log
        .iter()
        .map(|(side, t)| (*side, crate::ike::aggressive_initiator_identity(&t.data)));
    assert_eq!(
        seen.next(),
        Some((Side::A, Some(Identity::Fqdn("a.example".into()))))
    );
    assert!(seen.all(|(_, id)| id.is_none()));
    // Main Mode message 1, truncations and garbage: nothing.
    let mut p = Pair::new(policy_a(), policy_b(), 63);
    p.connect();
    assert_eq!(
        crate::ike::aggressive_initiator_identity(&p.log[0].1.data),
        None
    );
    for n in 0..am1.len() {
        assert_eq!(crate::ike::aggressive_initiator_identity(&am1[..n]), None);
    }
    assert_eq!(crate::ike::aggressive_initiator_identity(&[0xff; 64]), None);
}

/// A remote-access gateway (`xauth_server`) agrees on XAuthInitPreShared (65001), which vpnc and
/// strongSwan's xauth clients propose, and announces XAUTH and Cisco Unity in message 2; a
/// plain PSK peer is refused with both methods named.
#[test]
fn xauth_gateway_negotiates_xauth_init_psk_and_announces_xauth_and_unity() {
    use crate::ike::v1::remote_access::{VID_CISCO_UNITY, VID_XAUTH};
    let has = |d: &[u8], needle: &[u8]| d.windows(needle.len()).any(|w| w == needle);
    let mut pa = am(policy_a(), "a.example", "b.example");
    pa.remote_access = Some(xauth_gateway());
    let mut pb = am(policy_b(), "b.example", "a.example");
    pb.remote_access = Some(xauth_gateway());
    let mut p = Pair::new(pa, pb, 60);
    p.connect();
    let up = |n: &super::pair::Node| {
        n.events
            .iter()
            .any(|e| matches!(e, crate::ike::Event::Phase1Up { .. }))
    };
    assert!(
        up(&p.a) && up(&p.b),
        "{:?} {:?}",
        p.a.failures(),
        p.b.failures()
    );
    // After phase 1 the gateway asks for the user's name and password (a Transaction
    // exchange, type 6), and lets no Quick Mode in before the client has its address.
    assert!(p.log.iter().any(|(_, t)| t.data.get(18) == Some(&6)));
    assert!(p.b.children_up().is_empty());
    let am_msgs: Vec<_> = p
        .log
        .iter()
        .filter(|(_, t)| t.data.get(18) == Some(&4))
        .collect();
    // AUTH_METHOD (TV, type 3) = 65001 in message 1's transforms.
    assert!(has(&am_msgs[0].1.data, &[0x80, 0x03, 0xfd, 0xe9]));
    assert!(has(&am_msgs[1].1.data, &VID_XAUTH));
    assert!(has(&am_msgs[1].1.data, &VID_CISCO_UNITY));

    // RTX style: the third message in the clear; the gateway takes it and asks for XAUTH.
    let mut pa = am(policy_a(), "a.example", "b.example");
    pa.remote_access = Some(xauth_gateway());
    pa.aggressive_encrypt_third = false;
    let mut pb = am(policy_b(), "b.example", "a.example");
    pb.remote_access = Some(xauth_gateway());
    let mut p = Pair::new(pa, pb, 62);
    p.connect();
    let third = p
        .log
        .iter()
        .filter(|(_, t)| t.data.get(18) == Some(&4))
        .nth(2);
    assert_eq!(
        third.map(|(_, t)| t.data[19] & 1),
        Some(0),
        "third message in the clear"
    );
    assert!(up(&p.b), "{:?}", p.b.failures());
    assert!(p.log.iter().any(|(_, t)| t.data.get(18) == Some(&6)));

    let pa = am(policy_a(), "a.example", "b.example");
    let mut pb = am(policy_b(), "b.example", "a.example");
    pb.remote_access = Some(xauth_gateway());
    let mut p = Pair::new(pa, pb, 61);
    p.connect();
    assert!(p.b.children_up().is_empty());
    let why = p.b.failures().join("\n");
    assert!(
        why.contains("xauth-psk") && why.contains("pre-shared-key"),
        "{why}"
    );
}

/// A `remote-access:` block with `auth: xauth`.
fn xauth_gateway() -> std::sync::Arc<crate::ike::policy::RaPolicy> {
    let config = crate::config::RemoteAccessConfig {
        pool_ipv4: Some("10.8.0.0/24".parse().unwrap()),
        pool_ipv6: None,
        dns: Vec::new(),
        split_include: Vec::new(),
        auth: vec![crate::config::RaAuth::Xauth],
        users: None,
        mode_cfg: None,
    };
    std::sync::Arc::new(crate::ike::policy::RaPolicy { config, eap: None })
}
