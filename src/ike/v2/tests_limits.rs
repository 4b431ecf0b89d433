//! Limits under attack on an IKEv2 responder: the COOKIE (RFC 7296 §2.6) once half-open IKE
//! SAs pass the threshold, with a real initiator completing the round trip.

use std::net::SocketAddr;
use std::time::Instant;

use crate::ike::{SeededRandom, Transmit};
use crate::wire::ikev2::{Header, NotifyType, Payload, PayloadType};

use super::tests::v2_policy;
use super::{Engine, COOKIE_THRESHOLD};

const A: &str = "10.88.0.1";
const B: &str = "10.88.0.2";

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

fn initiator(seed: u64, now: Instant) -> (Engine, Transmit) {
    let mut a = Engine::new(v2_policy(A, B), Box::new(SeededRandom::new(seed)));
    a.initiate(now);
    let t = a.poll_transmit().expect("IKE_SA_INIT request");
    (a, t)
}

/// The COOKIE notify data of an IKE_SA_INIT message, if it carries one.
fn cookie_of(msg: &[u8]) -> Option<Vec<u8>> {
    let h = Header::new_checked(msg).ok()?;
    let chain = Payload::parse_chain(h.body(), h.next_payload()).ok()?;
    chain.iter().find_map(|p| match p {
        Payload::Notify(n) if n.kind == NotifyType::COOKIE => Some(n.data.to_vec()),
        _ => None,
    })
}

#[test]
fn over_the_half_open_threshold_a_cookie_round_trip_brings_the_sa_up() {
    let now = Instant::now();
    let mut b = Engine::new(v2_policy(B, A), Box::new(SeededRandom::new(2)));
    let deliver = |e: &mut Engine, to: &str, from: &str, t: &Transmit| {
        e.handle_datagram(now, addr(to, 500), addr(from, t.local_port), &t.data);
    };
    // Initiators that never come back leave IKE SAs half-open, up to the threshold.
    for seed in 0..COOKIE_THRESHOLD as u64 {
        assert!(!b.wants_cookies(), "{seed} half-open");
        let (_gone, m) = initiator(100 + seed, now);
        deliver(&mut b, B, A, &m);
        let answer = b.poll_transmit().expect("IKE_SA_INIT answer");
        assert_eq!(cookie_of(&answer.data), None, "COOKIE below the threshold");
    }
    assert_eq!(b.status().phase1.len(), COOKIE_THRESHOLD);
    assert!(
        b.wants_cookies(),
        "the daemon's receive loop is told to ask for COOKIEs"
    );
    // Over it, a new initiator gets a COOKIE and nothing is kept for it.
    let (mut a, m) = initiator(1, now);
    deliver(&mut b, B, A, &m);
    let challenge = b.poll_transmit().expect("COOKIE answer");
    let cookie = cookie_of(&challenge.data).expect("a COOKIE notify");
    assert_eq!(
        b.status().phase1.len(),
        COOKIE_THRESHOLD,
        "state kept for a COOKIE"
    );
    assert_eq!(b.status().stats.dropped_half_open_limit, 1);
    // The initiator retries with the COOKIE first (§2.6) and the exchange completes.
    deliver(&mut a, A, B, &challenge);
    let retry = a.poll_transmit().expect("IKE_SA_INIT with the COOKIE");
    assert_eq!(cookie_of(&retry.data), Some(cookie));
    let h = Header::new_checked(&retry.data).unwrap();
    assert_eq!(h.next_payload(), PayloadType::N, "the COOKIE comes first");
    // The COOKIE is bound to the SPI (and nonce and address): with another SPI it is
    // challenged again, and nothing is kept.
    let mut forged = retry.data.clone();
    forged[0] ^= 1;
    deliver(
        &mut b,
        B,
        A,
        &Transmit {
            data: forged,
            ..retry.clone()
        },
    );
    assert!(cookie_of(&b.poll_transmit().expect("challenge").data).is_some());
    assert_eq!(b.status().phase1.len(), COOKIE_THRESHOLD);
    deliver(&mut b, B, A, &retry);
    for _ in 0..8 {
        while let Some(t) = b.poll_transmit() {
            deliver(&mut a, A, B, &t);
        }
        while let Some(t) = a.poll_transmit() {
            deliver(&mut b, B, A, &t);
        }
    }
    assert!(!a.status().children.is_empty(), "{:?}", a.status());
    assert!(!b.status().children.is_empty());
}
