//! Successful negotiations between two engines.

use std::time::Duration;

use super::pair::*;
use crate::crypto::dh::DhGroup;
use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::prf::HashAlg;
use crate::crypto::{EncAlg, IntegAlg};
use crate::ike::proposal::{phase1_offer, Phase1Auth};
use crate::ike::{DownReason, Event, NatTraversal, ProxyId, Role};

#[test]
fn seil_defaults_both_directions() {
    for a_starts in [true, false] {
        let mut p = Pair::new(policy_a(), policy_b(), 1);
        if a_starts {
            p.connect();
        } else {
            let now = p.now;
            p.b.engine.initiate(now);
            p.run_for(Duration::from_secs(60));
        }
        assert_eq!(assert_mirrored(&p), 1);
        assert_eq!(p.a.phase1_up(), ["aes256-sha256-modp1536"]);
        assert_eq!(p.b.phase1_up(), ["aes256-sha256-modp1536"]);
        let s = p.a.engine.status();
        assert_eq!(s.children.len(), 1);
        assert_eq!(s.children[0].proposal, "aes256-hmac-sha256");
        assert_eq!(s.children[0].proxy_ids, ProxyId::any_v4());
        assert_eq!(s.phase1[0].state, "established");
        assert_eq!(
            s.phase1[0].role,
            if a_starts {
                Role::Initiator
            } else {
                Role::Responder
            }
        );
        assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
        let (ta, tb) = (
            p.a.engine.export_phase1_keys(),
            p.b.engine.export_phase1_keys(),
        );
        assert_eq!(ta.len(), 1);
        assert_eq!((ta[0].0, ta[0].1.len()), (tb[0].0, 32));
        assert_eq!(ta[0].1, tb[0].1);
        // No NAT: no UDP encapsulation, IKE stayed on port 500.
        assert!(p.a.children_up()[0].2.is_none());
        assert_eq!(s.phase1[0].local_port, 500);
    }
}

/// Message 1 with SEIL's six transforms and our three vendor IDs is 340 bytes (SEIL's is 360
/// with its extra KAME/racoon vendor ID), plus 24 for the FRAGMENTATION vendor ID.
#[test]
fn message1_length() {
    let mut p = Pair::new(policy_a(), policy_b(), 1);
    let now = p.now;
    p.a.engine.initiate(now);
    let t = p.a.engine.poll_transmit().unwrap();
    assert_eq!(t.data.len(), 364);
    assert_eq!(t.local_port, 500);
    assert_eq!(t.remote, "10.77.0.2:500".parse().unwrap());
}

#[test]
fn every_seil_phase1_transform() {
    let all = phase1_offer(&policy_a().phase1, Phase1Auth::Psk);
    for (i, t) in all.iter().enumerate() {
        let single = |mut pol: crate::ike::IkePolicy| {
            pol.phase1.encryption = vec![t.cipher];
            pol.phase1.hash = vec![t.hash];
            pol
        };
        // single ⇄ single, default list ⇄ single, single ⇄ default list
        for (pa, pb) in [
            (single(policy_a()), single(policy_b())),
            (policy_a(), single(policy_b())),
            (single(policy_a()), policy_b()),
        ] {
            let mut p = Pair::new(pa, pb, 10 + i as u64);
            p.connect();
            assert_eq!(p.a.phase1_up(), [t.to_string()]);
            assert_eq!(p.b.phase1_up(), [t.to_string()]);
            assert_mirrored(&p);
        }
    }
}

#[test]
fn other_groups_and_hashes() {
    for (c, h, g) in [
        (IkeCipher::Aes128Cbc, HashAlg::Sha1, DhGroup::Modp1024),
        (IkeCipher::Aes256Cbc, HashAlg::Sha256, DhGroup::Modp2048),
        (IkeCipher::Aes192Cbc, HashAlg::Sha384, DhGroup::Modp3072),
        (IkeCipher::Aes256Cbc, HashAlg::Sha512, DhGroup::Modp4096),
        (IkeCipher::TripleDesCbc, HashAlg::Md5, DhGroup::Modp768),
        (IkeCipher::Aes128Cbc, HashAlg::Sha256, DhGroup::Curve25519),
        (IkeCipher::Aes256Cbc, HashAlg::Sha256, DhGroup::Ecp256),
        (IkeCipher::Aes256Cbc, HashAlg::Sha384, DhGroup::Ecp384),
    ] {
        let set = |mut pol: crate::ike::IkePolicy| {
            pol.phase1.encryption = vec![c];
            pol.phase1.hash = vec![h];
            pol.phase1.dh_group = g;
            pol
        };
        let mut p = Pair::new(set(policy_a()), set(policy_b()), 3);
        p.connect();
        assert_eq!(
            p.a.phase1_up().len(),
            1,
            "{c:?} {h:?} {g:?}: {:?}",
            p.a.failures()
        );
        assert_mirrored(&p);
    }
}

#[test]
fn esp_suites_with_and_without_pfs() {
    let suites: [(EncAlg, IntegAlg); 7] = [
        (EncAlg::Aes256Cbc, IntegAlg::HmacSha256_128),
        (EncAlg::Aes128Cbc, IntegAlg::HmacSha1_96),
        (EncAlg::TripleDesCbc, IntegAlg::HmacSha1_96),
        (EncAlg::Aes128Gcm16, IntegAlg::None),
        (EncAlg::Aes256Gcm16, IntegAlg::None),
        (EncAlg::Aes192Cbc, IntegAlg::HmacSha512_256),
        (EncAlg::ChaCha20Poly1305, IntegAlg::None),
    ];
    for (i, (enc, integ)) in suites.into_iter().enumerate() {
        let groups = [DhGroup::Modp1536, DhGroup::Modp2048, DhGroup::Ecp256];
        for pfs in std::iter::once(None).chain(groups.map(Some)) {
            let set = |mut pol: crate::ike::IkePolicy| {
                pol.phase2.encryption = vec![enc];
                if integ != IntegAlg::None {
                    pol.phase2.authentication = vec![integ];
                }
                pol.phase2.pfs_group = pfs;
                pol
            };
            let mut p = Pair::new(set(policy_a()), set(policy_b()), 100 + i as u64);
            p.connect();
            assert_mirrored(&p);
            let (inb, _, _) = p.a.children_up()[0];
            assert_eq!((inb.enc, inb.integ), (enc, integ));
        }
    }
}

#[test]
fn gcm_offer_against_cbc_responder_picks_cbc() {
    let mut pa = policy_a();
    pa.phase2.encryption = vec![EncAlg::Aes128Gcm16, EncAlg::Aes256Cbc];
    let mut p = Pair::new(pa, policy_b(), 4);
    p.connect();
    assert_mirrored(&p);
    assert_eq!(p.a.children_up()[0].0.enc, EncAlg::Aes256Cbc);
}

#[test]
fn several_proxy_ids() {
    let ids = |l1: &str, r1: &str, l2: &str, r2: &str| {
        vec![
            ProxyId {
                local: l1.parse().unwrap(),
                remote: r1.parse().unwrap(),
            },
            ProxyId {
                local: l2.parse().unwrap(),
                remote: r2.parse().unwrap(),
            },
        ]
    };
    let mut pa = policy_a();
    pa.phase2.proxy_ids = ids(
        "192.168.1.0/24",
        "192.168.2.0/24",
        "2001:db8:1::/48",
        "2001:db8:2::/48",
    );
    let mut pb = policy_b();
    pb.phase2.proxy_ids = ids(
        "2001:db8:2::/48",
        "2001:db8:1::/48",
        "192.168.2.0/24",
        "192.168.1.0/24",
    );
    let mut p = Pair::new(pa, pb, 5);
    p.connect();
    assert_eq!(assert_mirrored(&p), 2);
}

#[test]
fn survives_loss_duplication_and_reordering() {
    for seed in 0..24u64 {
        let mut p = Pair::new(policy_a(), policy_b(), 1000 + seed);
        p.loss_pct = 25;
        p.dup_pct = 20;
        p.jitter = Duration::from_millis(300);
        let now = p.now;
        if seed % 2 == 0 {
            p.a.engine.initiate(now);
        } else {
            p.b.engine.initiate(now);
        }
        p.run_for(Duration::from_secs(120));
        let (a, b) = (p.a.children_up().len(), p.b.children_up().len());
        if a == 0 && b == 0 {
            // Heavy loss may defeat all retransmissions; then both sides must say so.
            assert!(
                !p.a.failures().is_empty() || !p.b.failures().is_empty(),
                "seed {seed}: silent failure"
            );
            continue;
        }
        assert_mirrored(&p);
    }
}

#[test]
fn nat_between_them_floats_to_4500() {
    // B (initiator) behind a NAPT; A sees it as 192.0.2.100:10500.
    let mut pa = policy_a();
    pa.remote = ip(B_PUBLIC);
    pa.remote_port = 10500;
    let pb = policy_b();
    let mut p = Pair::new(pa, pb, 6);
    p.nat_b = true;
    let now = p.now;
    p.b.engine.initiate(now);
    p.run_for(Duration::from_secs(60));
    assert_mirrored(&p);
    let a_encap = p.a.children_up()[0].2;
    let b_encap = p.b.children_up()[0].2;
    assert_eq!(a_encap, Some("192.0.2.100:14500".parse().unwrap()));
    assert_eq!(b_encap, Some("10.77.0.1:4500".parse().unwrap()));
    let sa = &p.a.engine.status().phase1[0];
    assert!(sa.nat.peer_behind_nat && !sa.nat.local_behind_nat && sa.nat.floated);
    assert_eq!(sa.nat.nat_t, "rfc3947");
    assert_eq!(sa.local_port, 4500);
}

#[test]
fn forced_nat_t_without_nat() {
    for (fa, fb) in [
        (NatTraversal::Force, NatTraversal::Enable),
        (NatTraversal::Enable, NatTraversal::Force),
    ] {
        let mut pa = policy_a();
        pa.nat_traversal = fa;
        let mut pb = policy_b();
        pb.nat_traversal = fb;
        let mut p = Pair::new(pa, pb, 7);
        p.connect();
        assert_mirrored(&p);
        assert_eq!(
            p.a.children_up()[0].2,
            Some("10.77.0.2:4500".parse().unwrap())
        );
        assert_eq!(
            p.b.children_up()[0].2,
            Some("10.77.0.1:4500".parse().unwrap())
        );
    }
    // NAT-T disabled on one side: no NAT-D, stays on 500 even if the other forces.
    let mut pa = policy_a();
    pa.nat_traversal = NatTraversal::Force;
    let mut pb = policy_b();
    pb.nat_traversal = NatTraversal::Disable;
    let mut p = Pair::new(pa, pb, 8);
    p.connect();
    assert_mirrored(&p);
    assert_eq!(p.a.children_up()[0].2, None);
}

#[test]
fn shutdown_deletes_on_the_peer() {
    let mut p = Pair::new(policy_a(), policy_b(), 9);
    p.connect();
    assert_mirrored(&p);
    let (b_in, b_out) = {
        let (i, o, _) = p.b.children_up()[0];
        (i.spi, o.spi)
    };
    let now = p.now;
    p.a.engine.shutdown(now);
    p.run_for(Duration::from_secs(5));
    assert!(p.a.events.iter().any(|e| matches!(
        e,
        Event::ChildSaDown {
            reason: DownReason::Shutdown,
            ..
        }
    )));
    assert!(p.b.events.iter().any(|e| matches!(
        e,
        Event::ChildSaDown { inbound_spi, outbound_spi, reason: DownReason::PeerDelete }
            if *inbound_spi == b_in && *outbound_spi == b_out
    )));
    assert!(p.b.events.iter().any(|e| matches!(
        e,
        Event::Phase1Down {
            reason: DownReason::PeerDelete,
            ..
        }
    )));
    assert!(p.b.engine.status().children.is_empty());
    assert!(p.b.engine.status().phase1.is_empty());
}

#[test]
fn initial_contact_from_a_restarted_peer_clears_old_sas() {
    let mut p = Pair::new(policy_a(), policy_b(), 11);
    p.connect();
    assert_mirrored(&p);
    let old_b_in = p.b.children_up()[0].0.spi;
    // A "reboots": a fresh engine without any state initiates again.
    p.a.engine = crate::ike::Engine::new(policy_a(), Box::new(crate::ike::SeededRandom::new(77)));
    p.a.events.clear();
    let now = p.now;
    p.a.engine.initiate(now);
    p.run_for(Duration::from_secs(30));
    assert!(p.b.events.iter().any(|e| matches!(
        e,
        Event::ChildSaDown { inbound_spi, reason: DownReason::InitialContact, .. } if *inbound_spi == old_b_in
    )));
    let s = p.b.engine.status();
    assert_eq!(s.phase1.len(), 1);
    assert_eq!(s.children.len(), 1);
    assert_ne!(s.children[0].inbound_spi, old_b_in);
}

#[test]
fn responder_only_does_not_initiate_and_rekey_happens() {
    let mut pb = policy_b();
    pb.responder_only = true;
    let mut pa = policy_a();
    pa.phase2.lifetime_secs = 100;
    let mut p = Pair::new(pa, pb, 12);
    let now = p.now;
    p.b.engine.initiate(now);
    assert!(p.b.engine.poll_transmit().is_none());
    p.connect();
    assert_mirrored(&p);
    // At 80–85 % of the 100 s lifetime A rekeys; 10 s after the new pair is up A deletes the
    // old one (make-before-break), before its hard expiry at 100 s.
    p.run_for(Duration::from_secs(70));
    assert_eq!(p.a.children_up().len(), 2);
    assert_mirrored(&p);
    assert!(p.a.events.iter().any(|e| matches!(
        e,
        Event::ChildSaDown {
            reason: DownReason::Rekeyed,
            ..
        }
    )));
    // B hears A's Delete for the replaced pair.
    assert!(p.b.events.iter().any(|e| matches!(
        e,
        Event::ChildSaDown {
            reason: DownReason::PeerDelete,
            ..
        }
    )));
    assert!(!p.a.events.iter().chain(&p.b.events).any(|e| matches!(
        e,
        Event::ChildSaDown {
            reason: DownReason::Expired,
            ..
        }
    )));
    assert_eq!(p.a.engine.status().children.len(), 1);
    assert_eq!(p.b.engine.status().children.len(), 1);
}

#[test]
fn duplicates_are_answered_not_reprocessed() {
    let mut p = Pair::new(policy_a(), policy_b(), 13);
    p.dup_pct = 100;
    p.connect();
    assert_mirrored(&p);
    assert_eq!(p.a.children_up().len(), 1);
    assert!(p.b.engine.status().stats.duplicates_answered > 0);
}

#[test]
fn simultaneous_initiation_ends_consistent() {
    for seed in 0..30u64 {
        let mut p = Pair::new(policy_a(), policy_b(), 500 + seed);
        p.jitter = Duration::from_millis(seed * 7 % 50);
        let now = p.now;
        p.a.engine.initiate(now);
        p.b.engine.initiate(now);
        p.run_for(Duration::from_secs(60));
        assert_mirrored(&p);
        // Whatever crossed, both ends hold the same ESP SAs in the end.
        let mut a: Vec<_> =
            p.a.engine
                .status()
                .children
                .iter()
                .map(|c| (c.inbound_spi, c.outbound_spi))
                .collect();
        let mut b: Vec<_> =
            p.b.engine
                .status()
                .children
                .iter()
                .map(|c| (c.outbound_spi, c.inbound_spi))
                .collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "seed {seed}");
        assert!(!a.is_empty());
    }
}

#[test]
fn engine_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<crate::ike::Engine>();
    assert_send::<crate::ike::Event>();
}

#[test]
fn ipv6_outer_addresses() {
    let (a, b) = (ip("2001:db8::1"), ip("2001:db8::2"));
    let mut pa = crate::ike::IkePolicy::seil_defaults(a, b, PSK);
    pa.phase2.proxy_ids = vec![ProxyId {
        local: "2001:db8:1::/48".parse().unwrap(),
        remote: "2001:db8:2::/48".parse().unwrap(),
    }];
    let mut pb = crate::ike::IkePolicy::seil_defaults(b, a, PSK);
    pb.phase2.proxy_ids = vec![ProxyId {
        local: "2001:db8:2::/48".parse().unwrap(),
        remote: "2001:db8:1::/48".parse().unwrap(),
    }];
    pb.nat_traversal = NatTraversal::Force;
    let mut p = Pair::new(pa, pb, 21);
    p.connect();
    assert_mirrored(&p);
    assert_eq!(
        p.a.children_up()[0].2,
        Some("[2001:db8::2]:4500".parse().unwrap())
    );
    assert_eq!(
        p.a.engine.status().phase1[0].peer_identity.as_deref(),
        Some("2001:db8::2")
    );
}

#[test]
fn phase1_rekey_then_phase2_rekey_under_the_new_sa() {
    let mut pa = policy_a();
    pa.phase1.lifetime_secs = 100;
    pa.phase2.lifetime_secs = 150;
    let mut p = Pair::new(pa, policy_b(), 31);
    // t = 60 s after connect(), then 105 s: the ISAKMP SA was rekeyed at 90 s and the old one
    // expired at 100 s (whichever side's timer fires first deletes it on the other).
    p.connect();
    p.run_for(Duration::from_secs(45));
    assert_eq!(p.a.phase1_up().len(), 2);
    assert_eq!(p.b.phase1_up().len(), 2);
    let gone = |e: &Event| {
        matches!(
            e,
            Event::Phase1Down {
                reason: DownReason::Expired | DownReason::PeerDelete,
                ..
            }
        )
    };
    assert!(p.a.events.iter().any(gone) && p.b.events.iter().any(gone));
    assert_eq!(p.a.engine.status().phase1.len(), 1);
    assert_eq!(p.b.engine.status().phase1.len(), 1);
    // t = 160 s: ESP SAs rekeyed at 85 % of 150 s under the new ISAKMP SA, old pair gone.
    p.run_for(Duration::from_secs(55));
    assert_eq!(assert_mirrored(&p), 2);
    assert_eq!(p.a.engine.status().children.len(), 1);
    assert_eq!(p.b.engine.status().children.len(), 1);
    assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
}
