//! What the daemon's receive loop decides about an IKE message before it queues the message for
//! a tunnel's engine (sans-IO: the caller passes time, randomness and the queue's room).
//!
//! A tunnel's queue is bounded and a flood from its peer's address (or spoofing it) can fill
//! it, so that a genuine new negotiation or the next message of one under way finds no room.
//! First messages (IKEv2 IKE_SA_INIT requests, IKEv1 messages without a responder cookie)
//! therefore may use only half of the queue; beyond that, the loop answers an IKE_SA_INIT
//! with a COOKIE itself (RFC 7296 §2.6, stateless, the secrets shared with the engines through
//! one [`CookieJar`]) and lets through only those that bring one back; IKEv1 first messages
//! are dropped. The other half is kept for exchanges under way.
//!
//! The loop also asks for the COOKIE itself whenever the tunnel's engine would (its half-open
//! limit reached, [`crate::ike::v2::Engine::wants_cookies`]), whatever the queue's room: a
//! flood of IKE_SA_INIT requests without COOKIEs is then answered where it arrives, one
//! keyed hash each, without a queue slot, the engine's work or a place in the tunnel's
//! transcript (where it would push out the exchanges an operator looks for).

use std::net::SocketAddr;
use std::time::Instant;

use super::limits::CookieJar;
use super::random::RandomSource;
use super::v2::cookie::{check_cookie, CookieVerdict};

/// The room left in a tunnel's queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueRoom {
    /// Free slots.
    pub free: usize,
    /// All slots.
    pub capacity: usize,
}

impl QueueRoom {
    /// Less than half of the queue is free: first messages must bring a COOKIE or wait.
    fn crowded(self) -> bool {
        self.free < self.capacity / 2
    }
}

/// What to do with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Queue it for the tunnel's engine.
    Queue,
    /// Send this answer back to the sender instead (a COOKIE request).
    Answer(Vec<u8>),
    /// Drop it; the reason names the counter.
    Drop(&'static str),
}

/// The daemon's gate in front of the tunnels' queues; one per daemon.
#[derive(Debug)]
pub struct FrontDoor {
    jar: std::sync::Arc<CookieJar>,
}

impl FrontDoor {
    /// A gate handing out COOKIEs from `jar` (the one the engines share).
    pub fn new(jar: std::sync::Arc<CookieJar>) -> FrontDoor {
        FrontDoor { jar }
    }

    /// The jar the engines must share ([`crate::ike::TunnelEngine::share_cookie_jar`]).
    pub fn jar(&self) -> &std::sync::Arc<CookieJar> {
        &self.jar
    }

    /// Decides about `msg` (non-ESP marker removed) from `remote` for a queue with `room`,
    /// whose engine wants COOKIEs if `cookies_wanted`.
    pub fn admit(
        &self,
        now: Instant,
        rng: &mut dyn RandomSource,
        remote: SocketAddr,
        msg: &[u8],
        room: QueueRoom,
        cookies_wanted: bool,
    ) -> Admission {
        let crowded = room.crowded();
        if !(crowded || cookies_wanted) || !super::endpoint::responder_spi_is_zero(msg) {
            return Admission::Queue;
        }
        match super::endpoint::major_version(msg) {
            Some(2) => match check_cookie(&self.jar, now, rng, remote, msg) {
                CookieVerdict::Admit => Admission::Queue,
                CookieVerdict::Ask(answer) => Admission::Answer(answer),
                CookieVerdict::Malformed if crowded => Admission::Drop("malformed first message"),
                // The engine says what is wrong with it (and counts it).
                CookieVerdict::Malformed => Admission::Queue,
            },
            _ if crowded => Admission::Drop("first message with the queue half full"),
            _ => Admission::Queue,
        }
    }
}

/// The `front_door` fuzz target (and its stable replay): the first byte says how full the queue
/// is (its low bit: whether the engine wants COOKIEs), the rest is a datagram from
/// 10.0.0.4:500. No panic; a COOKIE answer is an IKEv2 IKE_SA_INIT response carrying the
/// request's SPI and a COOKIE notification, and the same request gets the same verdict twice.
#[doc(hidden)]
pub fn fuzz_admit(data: &[u8]) {
    let Some((&fill, msg)) = data.split_first() else {
        return;
    };
    let mut rng = crate::ike::SeededRandom::new(5);
    let door = FrontDoor::new(std::sync::Arc::new(CookieJar::new(&mut rng)));
    let room = QueueRoom {
        free: usize::from(fill),
        capacity: 256,
    };
    let (now, from) = (Instant::now(), SocketAddr::from(([10, 0, 0, 4], 500)));
    let wanted = fill & 1 == 1;
    let first = door.admit(now, &mut rng, from, msg, room, wanted);
    assert_eq!(first, door.admit(now, &mut rng, from, msg, room, wanted));
    if let Admission::Answer(a) = &first {
        let h = crate::wire::ikev2::Header::new_checked(&a[..]).expect("our answer parses");
        let r = crate::wire::ikev2::HeaderRepr::parse(&h);
        assert!(r.flags.response() && r.rspi == [0; 8] && msg.get(..8) == Some(&r.ispi[..]));
        let body = a.get(crate::wire::ikev2::HEADER_LEN..).unwrap_or_default();
        let chain = crate::wire::ikev2::Payload::parse_chain(body, r.next_payload);
        assert!(chain.is_ok_and(|c| c.iter().any(|p| matches!(p,
            crate::wire::ikev2::Payload::Notify(n) if n.kind == crate::wire::ikev2::NotifyType::COOKIE))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::SeededRandom;

    const CROWDED: QueueRoom = QueueRoom {
        free: 10,
        capacity: 256,
    };
    const ROOMY: QueueRoom = QueueRoom {
        free: 200,
        capacity: 256,
    };

    /// The gateway's and the peer's address, and a real initiator at the peer with its first
    /// IKE_SA_INIT request.
    fn initiator_and_request(
        now: Instant,
    ) -> (SocketAddr, SocketAddr, crate::ike::TunnelEngine, Vec<u8>) {
        let gw: SocketAddr = "10.0.0.1:500".parse().unwrap();
        let peer: SocketAddr = "10.0.0.4:500".parse().unwrap();
        let policy = crate::ike::v2::tests::v2_policy("10.0.0.4", "10.0.0.1");
        let mut initiator = crate::ike::TunnelEngine::new(policy, Box::new(SeededRandom::new(2)));
        initiator.initiate(now);
        let first = initiator.poll_transmit().expect("an IKE_SA_INIT").data;
        (gw, peer, initiator, first)
    }

    /// A real IKEv2 IKE_SA_INIT request, from an engine.
    fn sa_init_request(seed: u64) -> Vec<u8> {
        let policy = crate::ike::v2::tests::v2_policy("10.0.0.4", "10.0.0.1");
        let mut e = crate::ike::TunnelEngine::new(policy, Box::new(SeededRandom::new(seed)));
        e.initiate(Instant::now());
        e.poll_transmit().expect("an IKE_SA_INIT").data
    }

    #[test]
    fn a_roomy_queue_takes_everything() {
        let mut rng = SeededRandom::new(1);
        let door = FrontDoor::new(std::sync::Arc::new(CookieJar::new(&mut rng)));
        let from: SocketAddr = "10.0.0.4:500".parse().unwrap();
        let m = sa_init_request(2);
        assert_eq!(
            door.admit(Instant::now(), &mut rng, from, &m, ROOMY, false),
            Admission::Queue
        );
    }

    /// The door asks a real initiator for a COOKIE; the initiator's retry brings it back and
    /// goes through, and a responder sharing the jar takes it up.
    #[test]
    fn a_crowded_queue_sends_a_cookie_and_admits_the_retry() {
        let mut rng = SeededRandom::new(1);
        let jar = std::sync::Arc::new(CookieJar::new(&mut rng));
        let door = FrontDoor::new(jar.clone());
        let now = Instant::now();
        let (gw, peer, mut initiator, first) = initiator_and_request(now);
        let Admission::Answer(ask) = door.admit(now, &mut rng, peer, &first, CROWDED, false) else {
            panic!("no COOKIE asked for");
        };
        initiator.handle_datagram(now, peer, gw, &ask);
        let retry = initiator
            .poll_transmit()
            .expect("a retry with the COOKIE")
            .data;
        assert_ne!(retry, first);
        assert_eq!(
            door.admit(now, &mut rng, peer, &retry, CROWDED, false),
            Admission::Queue
        );
        // A flood's copy of the first message (no COOKIE) is still asked, never queued.
        assert!(matches!(
            door.admit(now, &mut rng, peer, &first, CROWDED, false),
            Admission::Answer(_)
        ));
        // The responder, over its own half-open limit, takes the door's COOKIE as its own.
        let mut rp = crate::ike::v2::tests::v2_policy("10.0.0.1", "10.0.0.4");
        rp.responder_only = true;
        let mut responder = crate::ike::TunnelEngine::new(rp, Box::new(SeededRandom::new(3)));
        responder.share_cookie_jar(jar);
        let v2_limit = 8;
        for seed in 0..v2_limit {
            let mut p = crate::ike::v2::tests::v2_policy("10.0.0.4", "10.0.0.1");
            p.reinitiate_after = None;
            let mut other =
                crate::ike::TunnelEngine::new(p, Box::new(SeededRandom::new(100 + seed)));
            other.initiate(now);
            let m = other.poll_transmit().expect("IKE_SA_INIT").data;
            responder.handle_datagram(now, gw, peer, &m);
            while responder.poll_transmit().is_some() {}
        }
        responder.handle_datagram(now, gw, peer, &retry);
        let answer = responder.poll_transmit().expect("an answer").data;
        assert_ne!(
            answer[8..16],
            [0; 8],
            "the responder answered with its SA (a responder SPI), not with a COOKIE of its own"
        );
        initiator.handle_datagram(now, peer, gw, &answer);
        assert!(initiator.poll_transmit().is_some(), "IKE_AUTH follows");
    }

    /// With room in the queue but an engine at its half-open limit, the door asks for the
    /// COOKIE the engine would ask for; everything it cannot answer is queued as before.
    #[test]
    fn an_engine_wanting_cookies_has_the_door_ask_for_them() {
        let mut rng = SeededRandom::new(1);
        let door = FrontDoor::new(std::sync::Arc::new(CookieJar::new(&mut rng)));
        let now = Instant::now();
        let (gw, peer, mut initiator, first) = initiator_and_request(now);
        assert_eq!(
            door.admit(now, &mut rng, peer, &first, ROOMY, false),
            Admission::Queue
        );
        let Admission::Answer(ask) = door.admit(now, &mut rng, peer, &first, ROOMY, true) else {
            panic!("no COOKIE asked for");
        };
        initiator.handle_datagram(now, peer, gw, &ask);
        let retry = initiator.poll_transmit().expect("a retry").data;
        assert_eq!(
            door.admit(now, &mut rng, peer, &retry, ROOMY, true),
            Admission::Queue
        );
        // IKEv1 and a broken IKE_SA_INIT go to the engine, which names what they are.
        let mut main_mode_1 = vec![7u8; 8];
        main_mode_1.extend([0; 8]);
        main_mode_1.extend([1, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 28]);
        assert_eq!(
            door.admit(now, &mut rng, peer, &main_mode_1, ROOMY, true),
            Admission::Queue
        );
        // Its header alone: no Nonce payload.
        let mut broken = first[..28].to_vec();
        broken[16] = 0;
        broken[24..28].copy_from_slice(&28u32.to_be_bytes());
        assert_eq!(
            door.admit(now, &mut rng, peer, &broken, ROOMY, true),
            Admission::Queue
        );
        assert_eq!(
            door.admit(now, &mut rng, peer, &broken, CROWDED, true),
            Admission::Drop("malformed first message")
        );
    }

    #[test]
    fn crowded_ikev1_first_messages_are_dropped_and_exchanges_under_way_queued() {
        let mut rng = SeededRandom::new(1);
        let door = FrontDoor::new(std::sync::Arc::new(CookieJar::new(&mut rng)));
        let from: SocketAddr = "10.0.0.5:500".parse().unwrap();
        let mut main_mode_1 = vec![7u8; 8];
        main_mode_1.extend([0; 8]);
        main_mode_1.extend([1, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 28]);
        assert_eq!(
            door.admit(Instant::now(), &mut rng, from, &main_mode_1, CROWDED, false),
            Admission::Drop("first message with the queue half full")
        );
        let mut main_mode_3 = main_mode_1.clone();
        main_mode_3[8..16].copy_from_slice(&[9; 8]);
        assert_eq!(
            door.admit(Instant::now(), &mut rng, from, &main_mode_3, CROWDED, false),
            Admission::Queue
        );
        assert_eq!(
            door.admit(Instant::now(), &mut rng, from, &[1, 2, 3], CROWDED, false),
            Admission::Queue
        );
    }

    /// The fuzz target's body over the kept seeds and seeded random datagrams.
    #[test]
    fn fuzz_seeds_replay() {
        let seeds = crate::ike::v2::fuzzing::tests::seeds("front_door");
        assert!(seeds.len() >= 3);
        // The crowded IKE_SA_INIT seed reaches the COOKIE path.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/seeds/front_door/crowded-ike-sa-init"
        );
        let crowded = std::fs::read(path).expect("the crowded IKE_SA_INIT seed");
        let mut rng = SeededRandom::new(1);
        let door = FrontDoor::new(std::sync::Arc::new(CookieJar::new(&mut rng)));
        let from: SocketAddr = "10.0.0.4:500".parse().unwrap();
        let now = Instant::now();
        let verdict = door.admit(now, &mut rng, from, &crowded[1..], CROWDED, false);
        assert!(matches!(verdict, Admission::Answer(_)), "{verdict:?}");
        for s in &seeds {
            fuzz_admit(s);
        }
        // Each seed with one byte changed at every position (the IKE_SA_INIT's payload chain
        // broken in every place), then random datagrams.
        for s in &seeds {
            for i in 1..s.len() {
                let mut m = s.clone();
                m[i] ^= 0x5a;
                fuzz_admit(&m);
            }
        }
        for s in crate::ike::v2::fuzzing::tests::random_inputs(11, 500, 600) {
            fuzz_admit(&s);
        }
    }
}
