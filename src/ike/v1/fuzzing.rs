//! Fuzz harness for IKEv1 fragmentation (target `ikev1_fragments` in `fuzz/`), shared with the
//! `cargo test` replay below, like `ike::v2::fuzzing`. Not an API.
//!
//! The input is a script of steps (at most [`MAX_STEPS`]) against one reassembly buffer and one
//! IKEv1 responder engine that both receive every fragment:
//! - a fragment payload straight from the input (any ID, number, flags, data), under one of two
//!   cookie pairs;
//! - a message built from input bytes, cut by [`split`] with an input-chosen size, delivered in
//!   an input-chosen order with some fragments left out or repeated;
//! - time passing (up to 255 s: expiry of incomplete messages, the engine's timers).
//!
//! It asserts that a reassembled message is never larger than the fragment data given nor than
//! [`MAX_MESSAGE`], that at most [`MAX_PENDING`] messages are held, and that any message cut by
//! `split` and delivered completely, in any order, to a fresh buffer comes back byte for byte.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::ike::{Engine, IkePolicy, SeededRandom};
use crate::wire::isakmp::fragment::split;
use crate::wire::isakmp::{
    ExchangeType, Flags, FragmentPayload, HeaderRepr, PayloadChain, PayloadType,
};

use crate::ike::v2::fuzzing::Cursor;

pub use super::fuzzing_engine::{message, responder};

use super::fragment::{Reassembled, Reassembly, MAX_FRAGMENTS, MAX_MESSAGE, MAX_PENDING};

/// Most script steps one input runs.
const MAX_STEPS: usize = 64;
const PEER: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);
const US: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 2);
const COOKIES: [([u8; 8], [u8; 8]); 2] = [([1; 8], [0; 8]), ([1; 8], [2; 8])];

/// Runs one script (see the module comment).
pub fn fragments(data: &[u8]) {
    let mut c = Cursor(data);
    let start = Instant::now();
    let mut h = Harness {
        now: start,
        reassembly: Reassembly::default(),
        engine: Engine::new(
            IkePolicy::seil_defaults(IpAddr::V4(US), IpAddr::V4(PEER), b"fuzz"),
            Box::new(SeededRandom::new(1)),
        ),
        given: 0,
    };
    for _ in 0..MAX_STEPS {
        if c.is_empty() {
            break;
        }
        match c.u8() % 3 {
            0 => {
                let cookies = COOKIES[usize::from(c.u8() % 2)];
                let n = usize::from(c.u8());
                let body = c.bytes(n);
                h.deliver(cookies, body);
            }
            1 => h.cut_and_deliver(&mut c),
            _ => {
                h.now += Duration::from_secs(u64::from(c.u8()));
                h.reassembly.expire(h.now);
                h.engine.handle_timeout(h.now);
            }
        }
        assert!(h.reassembly.len() <= MAX_PENDING);
        while h.engine.poll_transmit().is_some() {}
    }
}

struct Harness {
    now: Instant,
    reassembly: Reassembly,
    engine: Engine,
    /// Fragment data bytes handed to `reassembly` so far.
    given: usize,
}

impl Harness {
    /// One fragment payload body to the buffer and, in a fragment message, to the engine.
    fn deliver(&mut self, cookies: ([u8; 8], [u8; 8]), body: &[u8]) {
        if let Ok(f) = FragmentPayload::parse(body) {
            self.given += f.data.len();
            let out = self.reassembly.add(self.now, IpAddr::V4(PEER), cookies, &f);
            if let Reassembled::Complete(whole) = out {
                assert!(whole.len() <= self.given, "reassembly invents bytes");
                assert!(whole.len() <= MAX_MESSAGE);
            }
        }
        let mut chain = PayloadChain::new();
        chain.push(PayloadType::FRAGMENT, body);
        let msg = header(
            cookies,
            PayloadType::FRAGMENT,
            ExchangeType::IDENTITY_PROTECTION,
        )
        .emit_with_body(chain.bytes());
        let local = SocketAddr::new(IpAddr::V4(US), 500);
        let remote = SocketAddr::new(IpAddr::V4(PEER), 500);
        self.engine.handle_datagram(self.now, local, remote, &msg);
    }

    /// A message from input bytes, cut and delivered in an input-chosen order (each fragment
    /// once in a fresh buffer first: it must come back whole).
    fn cut_and_deliver(&mut self, c: &mut Cursor<'_>) {
        let cookies = COOKIES[usize::from(c.u8() % 2)];
        let first = PayloadType(c.u8());
        let len = usize::from(c.u16()) % 4096;
        let chunk = 16 + usize::from(c.u8()) * 4;
        let body = c.bytes(len);
        let msg = header(cookies, first, ExchangeType(c.u8())).emit_with_body(body);
        let Some(frags) = split(&msg, chunk, c.u16(), ExchangeType::IDENTITY_PROTECTION) else {
            return;
        };
        let bodies: Vec<Vec<u8>> = frags
            .iter()
            .filter_map(|f| f.get(28 + 4..).map(<[u8]>::to_vec))
            .collect();
        let mut order: Vec<usize> = (0..bodies.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, usize::from(c.u8()) % (i + 1));
        }
        let fits = bodies.len() <= usize::from(MAX_FRAGMENTS) && msg.len() <= MAX_MESSAGE;
        let mut fresh = Reassembly::default();
        let mut last = Reassembled::Incomplete;
        for &i in &order {
            let f = FragmentPayload::parse(&bodies[i]).expect("split emits valid fragments");
            last = fresh.add(self.now, IpAddr::V4(PEER), cookies, &f);
        }
        let nested = first == PayloadType::FRAGMENT;
        if fits && !nested {
            assert_eq!(last, Reassembled::Complete(msg.clone()), "split/reassemble");
        }
        for &i in &order {
            match c.u8() % 4 {
                0 => {}
                1 => {
                    self.deliver(cookies, &bodies[i]);
                    self.deliver(cookies, &bodies[i]);
                }
                _ => self.deliver(cookies, &bodies[i]),
            }
        }
    }
}

fn header(cookies: ([u8; 8], [u8; 8]), first: PayloadType, exchange: ExchangeType) -> HeaderRepr {
    HeaderRepr {
        icookie: cookies.0,
        rcookie: cookies.1,
        next_payload: first,
        exchange,
        flags: Flags(0),
        message_id: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::random::{random_bytes, RandomSource};

    #[test]
    fn fragments_survive_seeds_and_random_scripts() {
        let dir = format!("{}/fuzz/seeds/ikev1_fragments", env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for e in std::fs::read_dir(dir).expect("seed directory").flatten() {
            fragments(&std::fs::read(e.path()).expect("seed"));
            n += 1;
        }
        assert!(n >= 2);
        let mut rng = SeededRandom::new(21);
        for _ in 0..2000 {
            let mut l = [0u8; 2];
            rng.fill(&mut l);
            let input = random_bytes(&mut rng, usize::from(u16::from_be_bytes(l)) % 800);
            fragments(&input);
        }
    }
}
