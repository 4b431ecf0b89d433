//! Two engines in one process on a virtual clock (after quinn-proto's `Pair`): datagrams are
//! carried between them with optional seeded loss, duplication, reordering, a NAT in front of
//! B, and a tamper hook.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::crypto::EspKeys;
use crate::ike::{Engine, Event, IkePolicy, RandomSource, SeededRandom, Transmit};

pub const A_ADDR: &str = "10.77.0.1";
pub const B_ADDR: &str = "10.77.0.2";
/// B's address as A sees it when B is behind the NAT.
pub const B_PUBLIC: &str = "192.0.2.100";
pub const PSK: &[u8] = b"xeeB5gohvaYi";

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A's default policy (SEIL defaults, no automatic re-initiation, no DPD probes).
pub fn policy_a() -> IkePolicy {
    let mut p = IkePolicy::seil_defaults(ip(A_ADDR), ip(B_ADDR), PSK);
    p.reinitiate_after = None;
    p.dpd = None;
    p
}

/// B's default policy.
pub fn policy_b() -> IkePolicy {
    let mut p = IkePolicy::seil_defaults(ip(B_ADDR), ip(A_ADDR), PSK);
    p.reinitiate_after = None;
    p.dpd = None;
    p
}

pub struct Node {
    pub engine: Engine,
    pub addr: IpAddr,
    pub events: Vec<Event>,
}

impl Node {
    pub fn failures(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Failed { cause } => Some(cause.to_string()),
                _ => None,
            })
            .collect()
    }

    pub fn children_up(&self) -> Vec<(&EspKeys, &EspKeys, Option<SocketAddr>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::ChildSaUp {
                    inbound,
                    outbound,
                    udp_encap,
                    ..
                } => Some((inbound, outbound, *udp_encap)),
                _ => None,
            })
            .collect()
    }

    pub fn phase1_up(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Phase1Up { proposal, .. } => Some(proposal.clone()),
                _ => None,
            })
            .collect()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    A,
    B,
}

struct InFlight {
    at: Instant,
    seq: u64,
    to: Side,
    local: SocketAddr,
    remote: SocketAddr,
    data: Vec<u8>,
}

/// Decides the fate of a datagram: `None` drops it, `Some(bytes)` delivers (maybe modified).
pub type Tamper = Box<dyn FnMut(Side, &Transmit, usize) -> Option<Vec<u8>>>;

pub struct Pair {
    pub a: Node,
    pub b: Node,
    pub now: Instant,
    net_rng: SeededRandom,
    /// Loss, duplication probability in percent; extra random delay (reordering).
    pub loss_pct: u8,
    pub dup_pct: u8,
    pub jitter: Duration,
    pub latency: Duration,
    /// B is behind a NAPT: its source address becomes B_PUBLIC:(port+10000).
    pub nat_b: bool,
    /// B's NAT maps its port P to P + this (10000; change it to simulate a rebinding).
    pub nat_b_shift: u16,
    pub tamper: Option<Tamper>,
    flight: Vec<InFlight>,
    seq: u64,
    /// Every datagram sent, by sender (for fuzzing corpora).
    pub log: Vec<(Side, Transmit)>,
    counter: usize,
    /// NAT keepalives sent: (by, when, to).
    pub keepalives: Vec<(Side, Instant, SocketAddr)>,
}

impl Pair {
    pub fn new(pa: IkePolicy, pb: IkePolicy, seed: u64) -> Pair {
        let now = Instant::now();
        Pair {
            a: Node {
                addr: pa.local,
                engine: Engine::new(pa, Box::new(SeededRandom::new(seed.wrapping_mul(3) + 1))),
                events: Vec::new(),
            },
            b: Node {
                addr: pb.local,
                engine: Engine::new(pb, Box::new(SeededRandom::new(seed.wrapping_mul(3) + 2))),
                events: Vec::new(),
            },
            now,
            net_rng: SeededRandom::new(seed.wrapping_mul(3) + 3),
            loss_pct: 0,
            dup_pct: 0,
            jitter: Duration::ZERO,
            latency: Duration::from_millis(5),
            nat_b: false,
            nat_b_shift: 10000,
            tamper: None,
            flight: Vec::new(),
            seq: 0,
            log: Vec::new(),
            counter: 0,
            keepalives: Vec::new(),
        }
    }

    pub fn node(&mut self, s: Side) -> &mut Node {
        match s {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn rand_pct(&mut self) -> u8 {
        let mut b = [0u8; 1];
        self.net_rng.fill(&mut b);
        (u16::from(b[0]) * 100 / 256) as u8
    }

    fn rand_jitter(&mut self) -> Duration {
        if self.jitter.is_zero() {
            return Duration::ZERO;
        }
        let mut b = [0u8; 4];
        self.net_rng.fill(&mut b);
        let f = f64::from(u32::from_be_bytes(b)) / f64::from(u32::MAX);
        self.jitter.mul_f64(f)
    }

    /// Moves datagrams from the engines onto the wire.
    fn collect(&mut self) -> bool {
        let mut any = false;
        for side in [Side::A, Side::B] {
            while let Some(t) = self.node(side).engine.poll_transmit() {
                any = true;
                if t.local_port == 4500 && t.data == [0xff] {
                    // NAT keepalive: the receiver's data plane counts and drops it.
                    self.keepalives.push((side, self.now, t.remote));
                    continue;
                }
                self.log.push((side, t.clone()));
                self.counter += 1;
                let n = self.counter;
                let data = match self.tamper.as_mut() {
                    Some(f) => match f(side, &t, n) {
                        Some(d) => d,
                        None => continue,
                    },
                    None => t.data.clone(),
                };
                if self.rand_pct() < self.loss_pct {
                    continue;
                }
                let copies = if self.rand_pct() < self.dup_pct { 2 } else { 1 };
                let from = self.node(side).addr;
                for _ in 0..copies {
                    let (to, local, remote) = self.route(side, from, &t);
                    let at = self.now + self.latency + self.rand_jitter();
                    self.seq += 1;
                    self.flight.push(InFlight {
                        at,
                        seq: self.seq,
                        to,
                        local,
                        remote,
                        data: data.clone(),
                    });
                }
            }
        }
        any
    }

    /// Where a datagram goes and which addresses the receiver sees.
    fn route(&self, side: Side, from: IpAddr, t: &Transmit) -> (Side, SocketAddr, SocketAddr) {
        match side {
            Side::A => {
                // A sends to B (maybe B's public address through the NAT).
                let local_port = if self.nat_b {
                    t.remote.port() % 10000
                } else {
                    t.remote.port()
                };
                (
                    Side::B,
                    SocketAddr::new(self.b.addr, local_port),
                    SocketAddr::new(from, t.local_port),
                )
            }
            Side::B => {
                let src = if self.nat_b {
                    SocketAddr::new(ip(B_PUBLIC), t.local_port + self.nat_b_shift)
                } else {
                    SocketAddr::new(from, t.local_port)
                };
                (Side::A, SocketAddr::new(self.a.addr, t.remote.port()), src)
            }
        }
    }

    /// Delivers due datagrams and fires due timers. Returns whether anything happened.
    fn deliver(&mut self) -> bool {
        let mut any = false;
        loop {
            let now = self.now;
            let Some(i) = self
                .flight
                .iter()
                .enumerate()
                .filter(|(_, f)| f.at <= now)
                .min_by_key(|(_, f)| (f.at, f.seq))
                .map(|(i, _)| i)
            else {
                break;
            };
            let f = self.flight.remove(i);
            let now = self.now;
            self.node(f.to)
                .engine
                .handle_datagram(now, f.local, f.remote, &f.data);
            any = true;
        }
        for side in [Side::A, Side::B] {
            let now = self.now;
            let n = self.node(side);
            if n.engine.poll_timeout().is_some_and(|t| t <= now) {
                n.engine.handle_timeout(now);
                any = true;
            }
            while let Some(e) = n.engine.poll_event() {
                n.events.push(e);
            }
        }
        any
    }

    /// Runs until nothing happens before `start + limit`.
    pub fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            let a = self.collect();
            let b = self.deliver();
            if a || b {
                continue;
            }
            let next = [
                self.flight.iter().map(|f| f.at).min(),
                self.a.engine.poll_timeout(),
                self.b.engine.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => self.now = t.max(self.now),
                _ => {
                    self.now = end;
                    break;
                }
            }
        }
    }

    /// A starts, both run for a minute of virtual time.
    pub fn connect(&mut self) {
        let now = self.now;
        self.a.engine.initiate(now);
        self.run_for(Duration::from_secs(60));
    }
}

/// Asserts that A's and B's ESP SAs mirror each other: A.outbound == B.inbound and the reverse.
pub fn assert_mirrored(p: &Pair) -> usize {
    let a = p.a.children_up();
    let b = p.b.children_up();
    assert!(
        !a.is_empty(),
        "A has no ESP SA; A failures {:?}, B failures {:?}",
        p.a.failures(),
        p.b.failures()
    );
    assert_eq!(a.len(), b.len(), "A {} vs B {} ESP SAs", a.len(), b.len());
    for (ai, ao, _) in &a {
        let (bi, bo, _) = b
            .iter()
            .find(|(bi, _, _)| bi.spi == ao.spi)
            .unwrap_or_else(|| panic!("B has no inbound SA {:08x}", ao.spi));
        assert_eq!(*ao, *bi, "A.outbound != B.inbound");
        assert_eq!(*ai, *bo, "A.inbound != B.outbound");
        assert_ne!(ai.enc_key, ao.enc_key);
        assert!(ai.validate().is_ok() && ao.validate().is_ok());
    }
    a.len()
}

/// The modes of the ESP pairs announced in `events` (`ChildSaUp`), in order.
pub(crate) fn child_modes(events: &[Event]) -> Vec<crate::ike::EspMode> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChildSaUp { mode, .. } => Some(*mode),
            _ => None,
        })
        .collect()
}
