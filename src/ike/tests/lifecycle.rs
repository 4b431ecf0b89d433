//! Tunnel lifecycle on a virtual clock: operator controls, make-before-break rekeying,
//! lifetimes, collisions.

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
