//! Tunnel lifecycle on a virtual clock: operator controls, make-before-break rekeying,
//! lifetimes, collisions.

use std::net::SocketAddr;
use std::time::Duration;

use super::pair::*;
use crate::crypto::EncAlg;
use crate::ike::{DownReason, Event};

/// Outbound SPIs named by `UseOutbound`, in order.
pub fn used_outbound(n: &Node) -> Vec<u32> {
    n.events
        .iter()
        .filter_map(|e| match e {
            Event::UseOutbound { outbound_spi } => Some(*outbound_spi),
            _ => None,
        })
        .collect()
}

/// `ChildSaDown` events as (inbound SPI, reason).
pub fn downs(n: &Node) -> Vec<(u32, DownReason)> {
    n.events
        .iter()
        .filter_map(|e| match e {
            Event::ChildSaDown {
                inbound_spi,
                reason,
                ..
            } => Some((*inbound_spi, *reason)),
            _ => None,
        })
        .collect()
}

/// The outbound SA each side uses is the other side's installed inbound SA.
pub fn assert_outbound_consistent(p: &Pair) {
    let a_out = *used_outbound(&p.a).last().expect("A uses an outbound SA");
    let b_out = *used_outbound(&p.b).last().expect("B uses an outbound SA");
    let a_in: Vec<u32> =
        p.a.engine
            .status()
            .children
            .iter()
            .map(|c| c.inbound_spi)
            .collect();
    let b_in: Vec<u32> =
        p.b.engine
            .status()
            .children
            .iter()
            .map(|c| c.inbound_spi)
            .collect();
    assert!(
        b_in.contains(&a_out),
        "A sends on {a_out:08x}, B has {b_in:08x?}"
    );
    assert!(
        a_in.contains(&b_out),
        "B sends on {b_out:08x}, A has {a_in:08x?}"
    );
}

#[test]
fn first_pair_is_used_at_once() {
    let mut p = Pair::new(policy_a(), policy_b(), 21);
    p.connect();
    assert_mirrored(&p);
    assert_eq!(used_outbound(&p.a), [p.a.children_up()[0].1.spi]);
    assert_eq!(used_outbound(&p.b), [p.b.children_up()[0].1.spi]);
}

#[test]
fn rekey_now_is_make_before_break() {
    let mut p = Pair::new(policy_a(), policy_b(), 22);
    p.connect();
    let old_a_in = p.a.children_up()[0].0.spi;
    let now = p.now;
    p.a.engine.rekey(now);
    p.run_for(Duration::from_secs(2));
    // Both pairs exist, the new one carries traffic, nothing was removed yet.
    assert_eq!(p.a.engine.status().children.len(), 2);
    assert_eq!(p.b.engine.status().children.len(), 2);
    assert!(downs(&p.a).is_empty() && downs(&p.b).is_empty());
    assert_eq!(used_outbound(&p.a).len(), 2);
    assert_eq!(used_outbound(&p.b).len(), 2);
    assert_outbound_consistent(&p);
    // After the grace period the old pair is deleted on both sides (Delete payload).
    p.run_for(Duration::from_secs(15));
    assert_eq!(downs(&p.a), [(old_a_in, DownReason::Rekeyed)]);
    assert_eq!(downs(&p.b).len(), 1);
    assert_eq!(downs(&p.b)[0].1, DownReason::PeerDelete);
    assert_eq!(p.a.engine.status().children.len(), 1);
    assert_eq!(p.b.engine.status().children.len(), 1);
    assert_outbound_consistent(&p);
    assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
}

#[test]
fn rekey_by_the_responder_side() {
    let mut p = Pair::new(policy_a(), policy_b(), 23);
    p.connect();
    let now = p.now;
    p.b.engine.rekey(now);
    p.run_for(Duration::from_secs(20));
    assert_eq!(p.a.engine.status().children.len(), 1);
    assert_eq!(p.b.engine.status().children.len(), 1);
    assert_eq!(downs(&p.b)[0].1, DownReason::Rekeyed);
    assert_eq!(downs(&p.a)[0].1, DownReason::PeerDelete);
    assert_outbound_consistent(&p);
}

#[test]
fn reset_deletes_everything_and_comes_back() {
    let mut p = Pair::new(policy_a(), policy_b(), 24);
    p.connect();
    let old_b_in = p.b.children_up()[0].0.spi;
    let now = p.now;
    p.a.engine.reset(now);
    let resets = p.a.engine.status().children.len();
    assert_eq!(resets, 0);
    p.run_for(Duration::from_secs(30));
    assert!(p.a.events.iter().any(|e| matches!(
        e,
        Event::Phase1Down {
            reason: DownReason::Reset,
            ..
        }
    )));
    assert!(downs(&p.a).iter().any(|d| d.1 == DownReason::Reset));
    assert!(downs(&p.b).contains(&(old_b_in, DownReason::PeerDelete)));
    let (sa, sb) = (p.a.engine.status(), p.b.engine.status());
    assert_eq!(sa.children.len(), 1);
    assert_eq!(sb.children.len(), 1);
    assert_eq!(sa.phase1.len(), 1);
    assert_eq!(sb.phase1.len(), 1);
    assert_ne!(sb.children[0].inbound_spi, old_b_in);
    assert_outbound_consistent(&p);
}

#[test]
fn set_policy_applies_at_the_next_negotiation() {
    let mut p = Pair::new(policy_a(), policy_b(), 25);
    p.connect();
    assert_eq!(
        p.a.engine.status().children[0].proposal,
        "aes256-hmac-sha256"
    );
    let mut pa = policy_a();
    pa.phase2.encryption = vec![EncAlg::Aes128Cbc];
    p.a.engine.set_policy(pa);
    // Nothing changes until something is negotiated again.
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.a.engine.status().children.len(), 1);
    let now = p.now;
    p.a.engine.rekey(now);
    p.run_for(Duration::from_secs(20));
    let s = p.a.engine.status();
    assert_eq!(s.children.len(), 1);
    assert_eq!(s.children[0].proposal, "aes128-hmac-sha256");
    assert_outbound_consistent(&p);
}

fn with_dpd(mut p: crate::ike::IkePolicy) -> crate::ike::IkePolicy {
    p.dpd = Some(crate::ike::DpdPolicy::default());
    p
}

fn peer_dead_at(n: &Node) -> bool {
    n.events.iter().any(|e| matches!(e, Event::PeerDead { .. }))
}

#[test]
fn dpd_declares_a_silent_peer_dead_after_interval_times_retries() {
    let mut pa = with_dpd(policy_a());
    pa.reinitiate_after = Some(Duration::from_secs(10));
    let mut p = Pair::new(pa, policy_b(), 31);
    p.connect();
    // B answers: probes every 20 s of silence, never dead.
    p.run_for(Duration::from_secs(120));
    let s = p.a.engine.status();
    assert!(s.stats.dpd_probes_sent >= 5, "{:?}", s.dpd);
    assert_eq!(s.dpd.state, "alive");
    assert!(s.dpd.last_ack.is_some());
    assert!(!peer_dead_at(&p.a));
    // B goes silent (crashed).
    p.tamper = Some(Box::new(|side, _, _| (side == Side::A).then(Vec::new)));
    let mut first_probe = None;
    let mut dead = None;
    for _ in 0..3000 {
        p.run_for(Duration::from_millis(100));
        let s = p.a.engine.status();
        if first_probe.is_none() && s.dpd.probes_unanswered == 1 {
            first_probe = Some(p.now);
        }
        if peer_dead_at(&p.a) {
            dead = Some(p.now);
            break;
        }
    }
    let (first, dead) = (first_probe.unwrap(), dead.expect("peer declared dead"));
    let took = dead - first;
    assert!(
        took >= Duration::from_secs(100) && took <= Duration::from_millis(100_100),
        "dead {took:?} after the first unanswered probe (5 × 20 s expected)"
    );
    assert_eq!(p.a.engine.status().dpd.state, "dead");
    assert!(p.a.engine.status().children.is_empty());
    assert!(downs(&p.a).iter().any(|d| d.1 == DownReason::PeerDead));
    assert!(p.a.failures().iter().any(|f| f.contains("is dead")));
    // It re-initiates at once (Main Mode retransmitted into the void) …
    p.run_for(Duration::from_secs(5));
    assert!(p
        .a
        .engine
        .status()
        .phase1
        .iter()
        .any(|e| e.state == "sent message 1"));
    // … and once B is reachable again the tunnel comes back by itself.
    p.tamper = None;
    p.run_for(Duration::from_secs(200));
    let s = p.a.engine.status();
    assert_eq!(s.children.len(), 1, "{:?}", p.a.failures());
    assert_eq!(s.dpd.state, "alive");
    assert_eq!(p.b.engine.status().children.len(), 1);
    assert_outbound_consistent(&p);
}

#[test]
fn dpd_probes_only_when_idle() {
    let mut p = Pair::new(with_dpd(policy_a()), policy_b(), 32);
    p.connect();
    let spi = p.a.children_up()[0].0.spi;
    let sent0 = p.a.engine.status().stats.dpd_probes_sent;
    // Inbound ESP every second: no probe.
    for i in 0..200u64 {
        let now = p.now;
        p.a.engine.child_traffic(now, spi, 1000 * (i + 1), 0);
        p.run_for(Duration::from_secs(1));
    }
    assert_eq!(p.a.engine.status().stats.dpd_probes_sent, sent0);
    // Silence: a probe within one interval.
    p.run_for(Duration::from_secs(21));
    assert_eq!(p.a.engine.status().stats.dpd_probes_sent, sent0 + 1);
    assert_eq!(p.b.engine.status().stats.dpd_probes_answered, sent0 + 1);
}

#[test]
fn dpd_disabled_never_probes_but_answers() {
    let mut p = Pair::new(policy_a(), with_dpd(policy_b()), 33);
    p.connect();
    p.run_for(Duration::from_secs(300));
    assert_eq!(p.a.engine.status().stats.dpd_probes_sent, 0);
    assert_eq!(p.a.engine.status().dpd.state, "off");
    let b = p.b.engine.status();
    assert!(b.stats.dpd_probes_sent > 0);
    assert_eq!(
        p.a.engine.status().stats.dpd_probes_answered,
        b.stats.dpd_probes_sent
    );
    assert!(!peer_dead_at(&p.b));
}

/// Flips one bit in the second ciphertext block of an encrypted informational message: the
/// HASH no longer verifies but the payload chain still parses.
fn corrupt_hash(d: &[u8]) -> Vec<u8> {
    let mut d = d.to_vec();
    if d.len() > 28 + 32 && d[18] == 5 && d[19] & 1 == 1 {
        d[28 + 16] ^= 0x01;
    }
    d
}

#[test]
fn forged_delete_and_dpd_are_ignored_and_counted() {
    let mut p = Pair::new(policy_a(), policy_b(), 34);
    p.connect();
    p.tamper = Some(Box::new(|side, t, _| {
        Some(if side == Side::B {
            corrupt_hash(&t.data)
        } else {
            t.data.clone()
        })
    }));
    let now = p.now;
    p.b.engine.send_r_u_there(7);
    p.b.engine.shutdown(now);
    p.run_for(Duration::from_secs(5));
    let s = p.a.engine.status();
    assert_eq!(
        s.children.len(),
        1,
        "forged Delete must not remove the pair"
    );
    assert_eq!(s.phase1.len(), 1);
    assert!(s.stats.dropped_forged_informational >= 3, "{:?}", s.stats);
    assert_eq!(s.stats.dpd_probes_answered, 0);
    assert!(downs(&p.a).is_empty());
}

#[test]
fn rekey_collision_ends_with_one_pair() {
    for seed in 40..48 {
        let mut p = Pair::new(policy_a(), policy_b(), seed);
        p.connect();
        let now = p.now;
        p.a.engine.rekey(now);
        p.b.engine.rekey(now);
        p.run_for(Duration::from_secs(30));
        let (sa, sb) = (p.a.engine.status(), p.b.engine.status());
        assert_eq!(sa.children.len(), 1, "seed {seed}: A {:?}", sa.children);
        assert_eq!(sb.children.len(), 1, "seed {seed}: B {:?}", sb.children);
        assert_eq!(sa.children[0].inbound_spi, sb.children[0].outbound_spi);
        assert_eq!(p.a.children_up().len(), 3);
        assert_outbound_consistent(&p);
        assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
    }
}

#[test]
fn volume_lifetime_rekeys_before_the_limit() {
    let mut pa = policy_a();
    pa.phase2.lifetime_bytes = 1_000_000;
    let mut p = Pair::new(pa, policy_b(), 35);
    p.connect();
    let (spi, _) = {
        let c = &p.a.engine.status().children[0];
        (c.inbound_spi, c.outbound_spi)
    };
    // 10 kB/s each way: soft limit (80–85 % ≈ 800–850 kB) after about 80 s.
    let mut rekeyed_at = None;
    for i in 1..=95u64 {
        let now = p.now;
        p.a.engine.child_traffic(now, spi, 10_000 * i, 10_000 * i);
        p.run_for(Duration::from_secs(1));
        if rekeyed_at.is_none() && p.a.engine.status().children.len() == 2 {
            rekeyed_at = Some(i * 10_000);
        }
    }
    let at = rekeyed_at.expect("rekeyed by volume");
    assert!((800_000..=860_000).contains(&at), "rekeyed at {at} bytes");
    assert_eq!(downs(&p.a), [(spi, DownReason::Rekeyed)]);
    assert_eq!(p.a.engine.status().children.len(), 1);
    assert_outbound_consistent(&p);
    // The hard limit deletes at once.
    let spi2 = p.a.engine.status().children[0].inbound_spi;
    let now = p.now;
    p.a.engine.child_traffic(now, spi2, 2_000_000, 0);
    p.run_for(Duration::from_millis(1));
    assert!(downs(&p.a).contains(&(spi2, DownReason::Expired)));
}

#[test]
fn phase1_rekey_under_traffic_leaves_esp_alone() {
    let mut pa = with_dpd(policy_a());
    pa.phase1.lifetime_secs = 60;
    let mut pb = policy_b();
    pb.phase1.lifetime_secs = 60;
    let mut p = Pair::new(pa, pb, 36);
    p.connect();
    let spi = p.a.children_up()[0].0.spi;
    for i in 1..=300u64 {
        let now = p.now;
        p.a.engine.child_traffic(now, spi, 500 * i, 500 * i);
        p.run_for(Duration::from_secs(1));
    }
    // 6 minutes with a 60 s ISAKMP SA lifetime: rekeyed every ~48–51 s, ESP untouched.
    assert!(p.a.engine.status().stats.phase1_established >= 6);
    assert!(p.a.engine.status().phase1.len() <= 2);
    assert!(downs(&p.a).is_empty() && downs(&p.b).is_empty());
    assert_eq!(p.a.children_up().len(), 1);
    assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
    // The newest ISAKMP SA still works for Quick Mode.
    let now = p.now;
    p.a.engine.rekey(now);
    p.run_for(Duration::from_secs(20));
    assert_eq!(p.a.engine.status().children.len(), 1);
    assert_outbound_consistent(&p);
}

#[test]
fn lost_rekey_messages_are_retransmitted() {
    let mut p = Pair::new(policy_a(), policy_b(), 37);
    p.connect();
    // Drop the next two datagrams each way: Quick Mode messages 1 and 2 get lost once.
    let mut dropped = [0u8; 2];
    p.tamper = Some(Box::new(move |side, t, _| {
        let i = usize::from(side == Side::B);
        if dropped[i] < 1 {
            dropped[i] += 1;
            return None;
        }
        Some(t.data.clone())
    }));
    let now = p.now;
    p.a.engine.rekey(now);
    p.run_for(Duration::from_secs(30));
    assert!(p.a.engine.status().stats.retransmits >= 1);
    assert_eq!(p.a.children_up().len(), 2);
    assert_eq!(p.a.engine.status().children.len(), 1);
    assert_eq!(p.b.engine.status().children.len(), 1);
    assert_outbound_consistent(&p);
}

#[test]
fn seil_lifetime_60_rekeys_forever() {
    let seil = |mut p: crate::ike::IkePolicy| {
        p.phase1.lifetime_secs = 60;
        p.phase2.lifetime_secs = 60;
        p
    };
    let mut p = Pair::new(seil(policy_a()), seil(policy_b()), 38);
    p.connect();
    let mut last = p.a.children_up().len();
    let mut gaps = Vec::new();
    let mut since = 0u64;
    for _ in 0..900 {
        p.run_for(Duration::from_secs(1));
        since += 1;
        assert!(
            !p.a.engine.status().children.is_empty(),
            "no pair at some point"
        );
        let n = p.a.children_up().len();
        if n != last {
            gaps.push(since);
            since = 0;
            last = n;
        }
    }
    assert!(gaps.len() >= 15, "{gaps:?}");
    for g in &gaps[1..] {
        assert!((46..=55).contains(g), "phase-2 rekey every {g} s: {gaps:?}");
    }
    assert!(
        !downs(&p.a)
            .iter()
            .chain(&downs(&p.b))
            .any(|d| d.1 == DownReason::Expired),
        "A {:?} B {:?} gaps {gaps:?}",
        downs(&p.a),
        downs(&p.b)
    );
    assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
}

#[test]
fn nat_keepalives_from_the_side_behind_the_nat_and_rebinding_is_followed() {
    let mut pa = policy_a();
    pa.remote = ip(B_PUBLIC);
    pa.remote_port = 10500;
    let mut p = Pair::new(pa, policy_b(), 39);
    p.nat_b = true;
    let now = p.now;
    p.b.engine.initiate(now);
    p.run_for(Duration::from_secs(100));
    assert_mirrored(&p);
    // Only B (behind the NAT) sends keepalives, every 20 s, to A's port 4500.
    assert!(p.keepalives.iter().all(|k| k.0 == Side::B));
    let times: Vec<_> = p.keepalives.iter().map(|k| k.1).collect();
    assert!(times.len() >= 4, "{} keepalives", times.len());
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], Duration::from_secs(20));
    }
    assert_eq!(p.keepalives[0].2, "10.77.0.1:4500".parse().unwrap());
    assert_eq!(
        p.b.engine.status().stats.nat_keepalives_sent,
        times.len() as u64
    );
    // Outbound ESP counts as a refresh: no keepalive while B sends.
    let spi = p.b.engine.status().children[0].inbound_spi;
    let n = p.keepalives.len();
    for i in 1..=60u64 {
        let now = p.now;
        p.b.engine.child_traffic(now, spi, 0, 100 * i);
        p.run_for(Duration::from_secs(1));
    }
    assert_eq!(p.keepalives.len(), n);
    // The NAT rebinds B's flows: A follows from the next authenticated message.
    p.nat_b_shift = 20000;
    p.b.engine.send_r_u_there(1);
    p.run_for(Duration::from_secs(2));
    let moved: SocketAddr = "192.0.2.100:24500".parse().unwrap();
    assert!(p
        .a
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerAddressChanged { remote } if *remote == moved)));
    let s = p.a.engine.status();
    assert_eq!(s.peer, moved);
    assert_eq!(s.children[0].udp_encap, Some(moved));
    // A's next messages go to the new mapping: a rekey by A works.
    let now = p.now;
    p.a.engine.rekey(now);
    p.run_for(Duration::from_secs(20));
    assert_eq!(p.a.engine.status().children.len(), 1);
    assert_eq!(p.a.engine.status().children[0].udp_encap, Some(moved));
    assert_outbound_consistent(&p);
}

#[test]
fn esp_for_an_unknown_spi_is_answered_rate_limited() {
    let mut p = Pair::new(policy_a(), policy_b(), 50);
    p.connect();
    let b_out = p.b.engine.status().children[0].outbound_spi;
    // B keeps an SA that A lost: A receives ESP for a stale SPI, in a flood.
    let stale = 0x0bad_5e55;
    let sent0 = p.a.engine.status().stats.sent;
    let mut reactions = 0;
    for i in 0..2000u64 {
        let now = p.now;
        reactions += u32::from(p.a.engine.unknown_spi(now, stale));
        if i % 100 == 99 {
            p.run_for(Duration::from_secs(1));
        }
    }
    // 20 s of flood: at most one reaction per 10 s.
    assert!(reactions <= 3, "{reactions} reactions");
    assert!(p.a.engine.status().stats.sent - sent0 <= 3);
    assert_eq!(p.a.engine.status().stats.unknown_spi_reports, 2000);
    // The SPI of a live pair is no reason to act.
    let now = p.now + Duration::from_secs(11);
    p.run_for(Duration::from_secs(11));
    assert!(!p
        .a
        .engine
        .unknown_spi(now, p.a.engine.status().children[0].inbound_spi));
    assert_eq!(p.b.engine.status().children[0].outbound_spi, b_out);
}

#[test]
fn unknown_spi_after_losing_state_renegotiates_with_initial_contact() {
    let mut p = Pair::new(policy_a(), policy_b(), 51);
    p.connect();
    let old_b_in = p.b.children_up()[0].0.spi;
    // A restarts without state but, as a test of this path, does not initiate by itself.
    p.a.engine = crate::ike::Engine::new(policy_a(), Box::new(crate::ike::SeededRandom::new(5)));
    p.a.events.clear();
    let now = p.now;
    assert!(p.a.engine.unknown_spi(now, 0x1234_5678));
    p.run_for(Duration::from_secs(30));
    assert_eq!(p.a.engine.status().children.len(), 1);
    assert!(downs(&p.b).contains(&(old_b_in, DownReason::InitialContact)));
    assert_eq!(p.b.engine.status().children.len(), 1);
    assert_outbound_consistent(&p);
}

/// Quick Mode message 3 from A.
fn is_qm(t: &crate::ike::Transmit) -> bool {
    t.data.get(18) == Some(&32)
}

#[test]
fn responder_installs_inbound_before_message_3() {
    let mut p = Pair::new(policy_a(), policy_b(), 52);
    p.connect();
    // Drop A's next Quick Mode message 3 once (the 2nd QM message A sends from now on).
    let mut seen = 0;
    p.tamper = Some(Box::new(move |side, t, _| {
        if side == Side::A && is_qm(t) {
            seen += 1;
            if seen == 2 {
                return None;
            }
        }
        Some(t.data.clone())
    }));
    let now = p.now;
    p.a.engine.rekey(now);
    p.run_for(Duration::from_millis(100));
    // B announced the new pair (inbound installed) without having message 3 yet.
    assert_eq!(p.b.children_up().len(), 2);
    assert_eq!(p.b.engine.status().children.len(), 1);
    // B retransmits message 2, A answers with message 3 again: the pair is complete, announced
    // once.
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.b.children_up().len(), 2);
    assert_eq!(p.b.engine.status().children.len(), 2);
    p.run_for(Duration::from_secs(15));
    assert_outbound_consistent(&p);
    assert_eq!(p.b.engine.status().children.len(), 1);
}

#[test]
fn early_inbound_is_removed_when_message_3_never_comes() {
    let mut p = Pair::new(policy_a(), policy_b(), 53);
    p.connect();
    let mut seen = 0;
    p.tamper = Some(Box::new(move |side, t, _| {
        if side == Side::A && is_qm(t) {
            seen += 1;
            if seen >= 2 {
                return None;
            }
        }
        Some(t.data.clone())
    }));
    let now = p.now;
    p.a.engine.rekey(now);
    p.run_for(Duration::from_secs(120));
    let early = p.b.children_up()[1].0.spi;
    assert!(
        downs(&p.b).iter().any(|d| d.0 == early),
        "early inbound SA {early:08x} leaked: {:?}",
        downs(&p.b)
    );
    assert!(p
        .b
        .engine
        .status()
        .children
        .iter()
        .all(|c| c.inbound_spi != early));
}

#[test]
fn inbound_spis_taken_by_other_tunnels_are_never_chosen() {
    let mut p = Pair::new(policy_a(), policy_b(), 31);
    // The "other tunnels" hold every SPI whose low nibble is not 5.
    p.a.engine
        .set_spi_taken(std::sync::Arc::new(|spi| spi & 0xf != 0x5));
    p.connect();
    let now = p.now;
    p.a.engine.rekey(now);
    p.run_for(Duration::from_secs(20));
    let spis: Vec<u32> = p.a.children_up().iter().map(|c| c.0.spi).collect();
    assert_eq!(spis.len(), 2, "{spis:08x?}");
    assert!(spis.iter().all(|s| s & 0xf == 0x5), "{spis:08x?}");
    assert_outbound_consistent(&p);
}

/// Replays a node's events into a data plane's outbound selector table, as the daemon does.
fn outbound_table(n: &Node) -> crate::esp::OutboundRoutes {
    let routes = crate::esp::OutboundRoutes::new();
    let mut negotiated = std::collections::HashMap::new();
    for e in &n.events {
        match e {
            Event::ChildSaUp {
                outbound,
                selectors,
                ..
            } => {
                let encap = crate::esp::Encap::Raw(ip(A_ADDR));
                let sa = crate::esp::OutboundSa::new(outbound, encap, [0; 16])
                    .unwrap()
                    .with_selectors(selectors.clone());
                negotiated.insert(outbound.spi, std::sync::Arc::new(sa));
            }
            Event::UseOutbound { outbound_spi } => {
                routes.use_sa(negotiated[outbound_spi].clone());
            }
            Event::ChildSaDown { outbound_spi, .. } => {
                negotiated.remove(outbound_spi);
                routes.remove(*outbound_spi);
            }
            _ => {}
        }
    }
    routes
}

/// The outbound SA `from` picks for a packet `src → dst` is one `to` has installed inbound, with
/// the same selectors seen from the other side; returns its SPI.
fn routed(from: &Node, to: &Node, src: &str, dst: &str) -> u32 {
    let t = outbound_table(from).load();
    let sa = t
        .lookup(ip(src), ip(dst))
        .unwrap_or_else(|| panic!("no outbound SA for {src} → {dst}"));
    let child = to
        .engine
        .status()
        .children
        .into_iter()
        .find(|c| c.inbound_spi == sa.spi)
        .unwrap_or_else(|| panic!("{src} → {dst} goes to SPI {:08x}, not installed", sa.spi));
    assert!(child
        .selectors
        .iter()
        .any(|s| s.remote.contains(ip(src)) && s.local.contains(ip(dst))));
    sa.spi
}

#[test]
fn ipv4_and_ipv6_proxy_ids_each_keep_an_outbound_sa_across_rekeys() {
    let id = |l: &str, r: &str| crate::ike::ProxyId {
        local: l.parse().unwrap(),
        remote: r.parse().unwrap(),
    };
    let mut pa = policy_a();
    pa.phase2.proxy_ids = vec![
        id("192.168.1.0/24", "192.168.2.0/24"),
        id("2001:db8:1::/48", "2001:db8:2::/48"),
    ];
    let mut pb = policy_b();
    pb.phase2.proxy_ids = vec![
        id("192.168.2.0/24", "192.168.1.0/24"),
        id("2001:db8:2::/48", "2001:db8:1::/48"),
    ];
    let mut p = Pair::new(pa, pb, 31);
    p.connect();
    assert_eq!(assert_mirrored(&p), 2);
    let check = |p: &Pair| {
        let a4 = routed(&p.a, &p.b, "192.168.1.5", "192.168.2.5");
        let a6 = routed(&p.a, &p.b, "2001:db8:1::5", "2001:db8:2::5");
        let b4 = routed(&p.b, &p.a, "192.168.2.5", "192.168.1.5");
        let b6 = routed(&p.b, &p.a, "2001:db8:2::5", "2001:db8:1::5");
        assert_ne!(a4, a6);
        assert_ne!(b4, b6);
        assert_eq!(outbound_table(&p.a).all().len(), 2);
        assert_eq!(outbound_table(&p.b).all().len(), 2);
        (a4, a6)
    };
    for c in p.a.engine.status().children {
        assert_eq!(c.selectors, [c.proxy_ids]);
    }
    let first = check(&p);
    // Make-before-break of both proxy-ids: during the grace period, after it, and a rekey
    // started by the other side.
    let now = p.now;
    p.a.engine.rekey(now);
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.a.engine.status().children.len(), 4);
    let during = check(&p);
    assert!(during.0 != first.0 && during.1 != first.1);
    p.run_for(Duration::from_secs(15));
    assert_eq!(p.a.engine.status().children.len(), 2);
    assert_eq!(check(&p), during);
    let now = p.now;
    p.b.engine.rekey(now);
    p.run_for(Duration::from_secs(20));
    assert_eq!(p.b.engine.status().children.len(), 2);
    let after = check(&p);
    assert!(after.0 != during.0 && after.1 != during.1);
    assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
}
