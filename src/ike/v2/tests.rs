//! Two IKEv2 engines on a virtual clock: exchanges, rekeys, failures and their diagnostics.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::crypto::dh::DhGroup;
use crate::crypto::ikev2::Ikev2Cipher;
use crate::crypto::prf::HashAlg;
use crate::crypto::{EncAlg, EspKeys, IntegAlg};
use crate::ike::{Event, IkePolicy, IkeVersion, ProxyId, SeededRandom, Transmit};

use super::Engine;

const A: &str = "10.88.0.1";
const B: &str = "10.88.0.2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(crate) fn v2_policy(me: &str, peer: &str) -> IkePolicy {
    let mut p = IkePolicy::seil_defaults(ip(me), ip(peer), b"xeeB5gohvaYi");
    p.version = IkeVersion::V2;
    p.phase1.dh_groups = vec![DhGroup::Modp2048, DhGroup::Ecp256];
    p.phase1.dh_group = DhGroup::Modp2048;
    p.reinitiate_after = None;
    p.dpd = None;
    p
}

struct Node {
    engine: Engine,
    addr: IpAddr,
    events: Vec<Event>,
}

impl Node {
    fn children_up(&self) -> Vec<(&EspKeys, &EspKeys, &Vec<ProxyId>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::ChildSaUp {
                    inbound,
                    outbound,
                    selectors,
                    ..
                } => Some((inbound, outbound, selectors)),
                _ => None,
            })
            .collect()
    }

    fn failures(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Failed { cause } => Some(cause.to_string()),
                _ => None,
            })
            .collect()
    }

    fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }
}

/// Decides, by its index over the whole run, whether a datagram is lost.
type DropRule = Box<dyn FnMut(usize, &Transmit) -> bool>;

/// One suite: IKE ciphers, hashes, PRFs, group; ESP cipher and integrity.
type Suite = (
    &'static [Ikev2Cipher],
    &'static [HashAlg],
    &'static [HashAlg],
    DhGroup,
    EncAlg,
    IntegAlg,
);

struct Pair {
    a: Node,
    b: Node,
    now: Instant,
    /// Drop every datagram whose index (over the whole run) this returns true for.
    drop: DropRule,
    sent: usize,
    /// Timeouts in a row that did not move the clock (a deadline that never clears spins).
    stuck: u32,
    /// Datagrams delivered, by size.
    sizes: Vec<usize>,
}

impl Pair {
    fn new(pa: IkePolicy, pb: IkePolicy) -> Pair {
        Pair {
            a: Node {
                engine: Engine::new(pa, Box::new(SeededRandom::new(1))),
                addr: ip(A),
                events: vec![],
            },
            b: Node {
                engine: Engine::new(pb, Box::new(SeededRandom::new(2))),
                addr: ip(B),
                events: vec![],
            },
            now: Instant::now(),
            drop: Box::new(|_, _| false),
            sent: 0,
            stuck: 0,
            sizes: vec![],
        }
    }

    fn default() -> Pair {
        Pair::new(v2_policy(A, B), v2_policy(B, A))
    }

    /// Delivers datagrams until both sides are quiet.
    fn drive(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            for from_a in [true, false] {
                let (src, dst) = if from_a {
                    (&mut self.a, &mut self.b)
                } else {
                    (&mut self.b, &mut self.a)
                };
                while let Some(ev) = src.engine.poll_event() {
                    src.events.push(ev);
                }
                while let Some(t) = src.engine.poll_transmit() {
                    moved = true;
                    self.sent += 1;
                    if (self.drop)(self.sent, &t) || t.data == [0xff] {
                        continue;
                    }
                    self.sizes.push(t.data.len());
                    let local = SocketAddr::new(dst.addr, t.remote.port());
                    let remote = SocketAddr::new(src.addr, t.local_port);
                    dst.engine.handle_datagram(self.now, local, remote, &t.data);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the engines never went quiet");
    }

    /// Advances the clock to the next deadline of either engine (at most `max`), runs it.
    fn step(&mut self, max: Duration) -> bool {
        let limit = self.now + max;
        let next = [self.a.engine.poll_timeout(), self.b.engine.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= limit => {
                self.stuck = if t <= self.now { self.stuck + 1 } else { 0 };
                assert!(
                    self.stuck < 100,
                    "a deadline at or before now does not clear: busy loop"
                );
                self.now = self.now.max(t);
                self.a.engine.handle_timeout(self.now);
                self.b.engine.handle_timeout(self.now);
                self.drive();
                true
            }
            _ => {
                self.now = limit;
                false
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            if !self.step(end - self.now) {
                break;
            }
        }
        self.now = end;
        self.a.engine.handle_timeout(self.now);
        self.b.engine.handle_timeout(self.now);
        self.drive();
    }

    fn up(&mut self) {
        self.a.engine.initiate(self.now);
        self.drive();
    }
}

/// The pair's keys agree: A's outbound is B's inbound and back.
fn assert_keys_match(
    a: &(&EspKeys, &EspKeys, &Vec<ProxyId>),
    b: &(&EspKeys, &EspKeys, &Vec<ProxyId>),
) {
    assert_eq!(a.1.spi, b.0.spi);
    assert_eq!(a.0.spi, b.1.spi);
    assert_eq!(a.1.enc_key, b.0.enc_key);
    assert_eq!(a.1.integ_key, b.0.integ_key);
    assert_eq!(a.0.enc_key, b.1.enc_key);
    assert_ne!(a.0.enc_key, a.1.enc_key);
}

#[test]
fn sa_init_and_auth_bring_up_the_first_child() {
    let mut p = Pair::default();
    p.up();
    assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
    assert!(p.b.failures().is_empty(), "{:?}", p.b.failures());
    let (ca, cb) = (p.a.children_up(), p.b.children_up());
    assert_eq!((ca.len(), cb.len()), (1, 1));
    assert_keys_match(&ca[0], &cb[0]);
    assert_eq!(ca[0].2, &vec![ProxyId::any_v4()]);
    let s = p.a.engine.status();
    assert_eq!(s.phase1[0].state, "established");
    assert_eq!(
        s.phase1[0].proposal.as_deref(),
        Some("aes256-sha256-prfsha256-modp2048")
    );
    assert_eq!(s.children.len(), 1);
    assert_eq!(p.b.engine.status().children.len(), 1);
}

#[test]
fn every_suite_negotiates() {
    let suites: [Suite; 5] = [
        (
            &[Ikev2Cipher::Aes256Gcm16],
            &[],
            &[HashAlg::Sha384],
            DhGroup::Ecp384,
            EncAlg::Aes256Gcm16,
            IntegAlg::None,
        ),
        (
            &[Ikev2Cipher::Aes128Cbc],
            &[HashAlg::Sha256],
            &[],
            DhGroup::Curve25519,
            EncAlg::Aes128Cbc,
            IntegAlg::HmacSha256_128,
        ),
        (
            &[Ikev2Cipher::ChaCha20Poly1305],
            &[],
            &[HashAlg::Sha256],
            DhGroup::Curve25519,
            EncAlg::ChaCha20Poly1305,
            IntegAlg::None,
        ),
        (
            &[Ikev2Cipher::Aes192Cbc],
            &[HashAlg::Sha512],
            &[],
            DhGroup::Modp3072,
            EncAlg::Aes256Cbc,
            IntegAlg::HmacSha512_256,
        ),
        (
            &[Ikev2Cipher::Aes128Gcm16],
            &[],
            &[HashAlg::Sha1],
            DhGroup::Ecp256,
            EncAlg::Aes128Gcm16,
            IntegAlg::None,
        ),
    ];
    for (enc, hash, prf, group, esp, integ) in suites {
        let mut pa = v2_policy(A, B);
        pa.phase1.ikev2_encryption = enc.to_vec();
        pa.phase1.hash = hash.to_vec();
        pa.phase1.prf = prf.to_vec();
        pa.phase1.dh_groups = vec![group];
        pa.phase2.encryption = vec![esp];
        pa.phase2.authentication = vec![integ];
        let mut pb = pa.clone();
        pb.local = ip(B);
        pb.remote = ip(A);
        let mut p = Pair::new(pa, pb);
        p.up();
        assert!(p.a.failures().is_empty(), "{enc:?}: {:?}", p.a.failures());
        let (ca, cb) = (p.a.children_up(), p.b.children_up());
        assert_eq!(ca.len(), 1, "{enc:?} {:?}", p.b.failures());
        assert_keys_match(&ca[0], &cb[0]);
        assert_eq!(ca[0].0.enc, esp);
    }
}

#[test]
fn invalid_ke_payload_is_retried_with_the_asked_group() {
    let mut pa = v2_policy(A, B);
    pa.phase1.dh_groups = vec![DhGroup::Modp2048, DhGroup::Ecp384];
    let mut pb = v2_policy(B, A);
    pb.phase1.dh_groups = vec![DhGroup::Ecp384];
    let mut p = Pair::new(pa, pb);
    p.up();
    assert_eq!(p.a.children_up().len(), 1);
    let err = p.a.engine.status().last_error.unwrap_or_default();
    assert!(
        err.contains("INVALID_KE_PAYLOAD") && err.contains("retried with ecp384"),
        "{err}"
    );
    assert!(p.a.engine.status().phase1[0]
        .proposal
        .as_deref()
        .unwrap()
        .ends_with("ecp384"));
}

#[test]
fn proposal_mismatch_is_explained_on_both_sides() {
    let mut pa = v2_policy(A, B);
    pa.phase1.ikev2_encryption = vec![Ikev2Cipher::Aes128Gcm16];
    pa.phase1.prf = vec![HashAlg::Sha256];
    let pb = v2_policy(B, A);
    let mut p = Pair::new(pa, pb);
    p.up();
    let a = p.a.failures().join("\n");
    let b = p.b.failures().join("\n");
    assert!(
        a.contains("we offered aes128gcm16-prfsha256-modp2048-ecp256")
            && a.contains("NO_PROPOSAL_CHOSEN"),
        "{a}"
    );
    assert!(
        b.contains("received aes128gcm16-prfsha256-modp2048-ecp256")
            && b.contains("configured aes256-aes128-prfsha256-prfsha1-sha256-sha1-modp2048-ecp256"),
        "{b}"
    );
}

#[test]
fn wrong_psk_is_diagnosed() {
    let pa = v2_policy(A, B);
    let mut pb = v2_policy(B, A);
    pb.psk = zeroize::Zeroizing::new(b"other".to_vec());
    let mut p = Pair::new(pa, pb);
    p.up();
    let a = p.a.failures().join("\n");
    let b = p.b.failures().join("\n");
    assert!(
        a.contains("refused our authentication (AUTHENTICATION_FAILED)")
            && a.contains("pre-shared keys or identities differ"),
        "{a}"
    );
    assert!(
        b.contains("AUTH payload did not verify") && b.contains("pre-shared keys differ"),
        "{b}"
    );
    assert!(p.a.children_up().is_empty() && p.b.children_up().is_empty());
}

#[test]
fn traffic_selectors_are_narrowed_and_refused() {
    let mut pa = v2_policy(A, B);
    pa.phase2.proxy_ids = vec![
        ProxyId {
            local: "10.1.0.0/16".parse().unwrap(),
            remote: "10.2.0.0/16".parse().unwrap(),
        },
        ProxyId {
            local: "fd01::/48".parse().unwrap(),
            remote: "fd02::/48".parse().unwrap(),
        },
    ];
    let mut pb = v2_policy(B, A);
    pb.phase2.proxy_ids = vec![
        ProxyId {
            local: "10.2.3.0/24".parse().unwrap(),
            remote: "10.1.0.0/16".parse().unwrap(),
        },
        ProxyId {
            local: "fd02::/48".parse().unwrap(),
            remote: "fd01::/48".parse().unwrap(),
        },
    ];
    let mut p = Pair::new(pa.clone(), pb);
    p.up();
    let ca = p.a.children_up();
    assert_eq!(ca.len(), 1, "{:?}", p.a.failures());
    let sel: Vec<String> = ca[0].2.iter().map(|s| s.to_string()).collect();
    assert_eq!(sel, ["10.1.0.0/16 ⇄ 10.2.3.0/24", "fd01::/48 ⇄ fd02::/48"]);
    let mut pc = v2_policy(B, A);
    pc.phase2.proxy_ids = vec![ProxyId {
        local: "192.168.9.0/24".parse().unwrap(),
        remote: "192.168.8.0/24".parse().unwrap(),
    }];
    let mut p = Pair::new(pa, pc);
    p.up();
    let a = p.a.failures().join("\n");
    let b = p.b.failures().join("\n");
    assert!(
        a.contains("TS_UNACCEPTABLE")
            && a.contains("10.1.0.0/16, fd01::/48 ⇄ 10.2.0.0/16, fd02::/48"),
        "{a}"
    );
    assert!(b.contains("the peer proposed 10.1.0.0/16, fd01::/48 ⇄ 10.2.0.0/16, fd02::/48, we have 192.168.9.0/24 ⇄ 192.168.8.0/24"), "{b}");
    assert_eq!(p.a.engine.status().phase1[0].state, "established");
}

#[test]
fn child_and_ike_rekeys_keep_a_child_up() {
    for pfs in [None, Some(DhGroup::Curve25519)] {
        let mut pa = v2_policy(A, B);
        pa.phase2.lifetime_secs = 60;
        pa.phase1.lifetime_secs = 150;
        pa.phase2.pfs_group = pfs;
        let mut pb = pa.clone();
        pb.local = ip(B);
        pb.remote = ip(A);
        let mut p = Pair::new(pa, pb);
        p.up();
        p.run_for(Duration::from_secs(400));
        assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
        assert!(p.b.failures().is_empty(), "{:?}", p.b.failures());
        let ups = p.a.children_up().len();
        assert!(ups >= 7, "{ups} children in 400 s with a 60 s lifetime");
        // Every moment after the first child, some pair is in use and both ends agree.
        let (sa, sb) = (p.a.engine.status(), p.b.engine.status());
        assert_eq!(sa.children.len(), 1, "{:?}", sa.children);
        assert_eq!(sa.children[0].inbound_spi, sb.children[0].outbound_spi);
        assert!(
            p.a.count(|e| matches!(e, Event::Phase1Up { .. })) >= 3,
            "IKE SA rekeyed"
        );
        assert_eq!(sa.phase1.len(), 1, "old IKE SAs deleted: {:?}", sa.phase1);
        assert_eq!(sb.phase1.len(), 1);
        assert_eq!(sa.phase1[0].icookie, sb.phase1[0].icookie);
        let expired = p.a.count(|e| {
            matches!(
                e,
                Event::ChildSaDown {
                    reason: crate::ike::DownReason::Expired,
                    ..
                }
            )
        });
        assert_eq!(expired, 0, "no pair may reach its hard lifetime");
    }
}

#[test]
fn lost_messages_are_retransmitted_and_duplicates_answered() {
    let mut p = Pair::default();
    // Lose the first IKE_AUTH request and the first IKE_AUTH response.
    p.drop = Box::new(|n, _| n == 3 || n == 5);
    p.up();
    p.run_for(Duration::from_secs(10));
    assert_eq!(
        p.a.children_up().len(),
        1,
        "{:?} {:?}",
        p.a.failures(),
        p.b.failures()
    );
    assert_eq!(p.b.children_up().len(), 1);
    assert!(p.b.engine.status().stats.duplicates_answered >= 1);
}

#[test]
fn fragmentation_splits_large_messages() {
    let mut pa = v2_policy(A, B);
    pa.fragment_size = 576;
    // Many selectors make IKE_AUTH larger than 576 bytes.
    pa.phase2.proxy_ids = (0..20)
        .map(|i| ProxyId {
            local: format!("10.1.{i}.0/24").parse().unwrap(),
            remote: format!("10.2.{i}.0/24").parse().unwrap(),
        })
        .collect();
    let mut pb = pa.clone();
    pb.local = ip(B);
    pb.remote = ip(A);
    for id in pb.phase2.proxy_ids.iter_mut() {
        *id = ProxyId {
            local: id.remote,
            remote: id.local,
        };
    }
    let mut p = Pair::new(pa, pb);
    p.up();
    assert_eq!(
        p.a.children_up().len(),
        1,
        "{:?} {:?}",
        p.a.failures(),
        p.b.failures()
    );
    assert!(p.sizes.iter().all(|s| *s + 28 <= 576), "{:?}", p.sizes);
    assert_eq!(p.a.children_up()[0].2.len(), 400);
}

#[test]
fn dead_peer_is_detected_and_the_tunnel_heals() {
    let mut pa = v2_policy(A, B);
    pa.dpd = Some(crate::ike::DpdPolicy {
        interval: Duration::from_secs(5),
        retries: 3,
    });
    pa.reinitiate_after = Some(Duration::from_secs(2));
    let pb = v2_policy(B, A);
    let mut p = Pair::new(pa, pb);
    p.up();
    assert_eq!(p.a.children_up().len(), 1);
    // B dies: everything A sends is lost.
    let dead_at = p.now;
    p.drop = Box::new(|_, t| t.remote.ip() == ip(B));
    p.run_for(Duration::from_secs(30));
    let died =
        p.a.events
            .iter()
            .position(|e| matches!(e, Event::PeerDead { .. }));
    assert!(died.is_some(), "{:?}", p.a.failures());
    assert_eq!(p.a.engine.status().dpd.deaths, 1);
    let _ = dead_at;
    // B comes back (fresh state) and A re-initiates.
    p.b = Node {
        engine: Engine::new(v2_policy(B, A), Box::new(SeededRandom::new(9))),
        addr: ip(B),
        events: vec![],
    };
    p.drop = Box::new(|_, _| false);
    p.run_for(Duration::from_secs(200));
    assert_eq!(p.b.children_up().len(), 1, "{:?}", p.a.failures());
}

/// B restarts and initiates while A still holds the old IKE SA (first in A's table): B's
/// INITIAL_CONTACT drops the stale SAs and the new IKE SA, which moved in the table, is
/// established with its child (this indexed past the table's end and panicked).
#[test]
fn initial_contact_from_a_restarted_peer_replaces_the_stale_sas() {
    let mut p = Pair::default();
    p.up();
    assert_eq!(p.a.children_up().len(), 1);
    p.b = Node {
        engine: Engine::new(v2_policy(B, A), Box::new(SeededRandom::new(9))),
        addr: ip(B),
        events: vec![],
    };
    p.b.engine.initiate(p.now);
    p.drive();
    let stale = p.a.count(|e| {
        matches!(
            e,
            Event::ChildSaDown {
                reason: crate::ike::event::DownReason::InitialContact,
                ..
            }
        )
    });
    assert_eq!(stale, 1, "{:?}", p.a.events);
    assert_eq!(p.a.children_up().len(), 2, "{:?}", p.a.failures());
    assert_eq!(p.b.children_up().len(), 1, "{:?}", p.b.failures());
    assert_keys_match(&p.a.children_up()[1], &p.b.children_up()[0]);
    assert_eq!(p.a.engine.status().phase1.len(), 1);
    // The new IKE SA works: a child rekey on it goes through.
    p.a.engine.rekey(p.now);
    p.drive();
    assert_eq!(p.a.children_up().len(), 3, "{:?}", p.a.failures());
}

/// The peer rekeys a child a few seconds after it came up (charon does when a NAT rebinding
/// makes it update the SAs): the new pair replaces the old one, it is not taken for a rekey
/// collision (which kept the old pair, deleted the new one and negotiated a third).
#[test]
fn early_rekey_by_the_peer_is_not_a_collision() {
    let mut p = Pair::default();
    p.up();
    p.run_for(Duration::from_secs(3));
    p.b.engine.rekey(p.now);
    p.drive();
    p.run_for(Duration::from_secs(30));
    assert_eq!(p.a.children_up().len(), 2, "{:?}", p.a.events);
    assert_eq!(p.b.children_up().len(), 2, "{:?}", p.b.events);
    let down = p.a.count(|e| matches!(e, Event::ChildSaDown { .. }));
    assert_eq!(down, 1, "{:?}", p.a.events);
    assert_keys_match(&p.a.children_up()[1], &p.b.children_up()[1]);
    let (new_in, _, _) = p.a.children_up()[1];
    let alive = p.a.engine.status().children;
    assert!(
        alive.iter().any(|c| c.inbound_spi == new_in.spi),
        "{alive:?}"
    );
}

/// We rekey a child: the old pair is deleted (Delete sent) 2 s after the new one is up, but its
/// inbound SA stays installed 2 s more, for the peer's packets sent before our Delete reached
/// it (one ping in 7500 was lost against strongSwan 6.1 without this).
#[test]
fn replaced_pair_we_delete_lingers_after_the_delete() {
    let mut p = Pair::default();
    p.up();
    p.a.engine.rekey(p.now);
    p.drive();
    assert_eq!(p.a.children_up().len(), 2);
    let down = |n: &Node| n.count(|e| matches!(e, Event::ChildSaDown { .. }));
    p.run_for(Duration::from_millis(2500));
    // The Delete went out and B dropped the old pair from its table; A still has it installed.
    assert_eq!(p.b.engine.status().children.len(), 1);
    assert_eq!(down(&p.a), 0, "{:?}", p.a.events);
    p.run_for(Duration::from_millis(2000));
    assert_eq!(down(&p.a), 1, "{:?}", p.a.events);
    assert_eq!(down(&p.b), 1, "{:?}", p.b.events);
    // Nothing else goes: the new pair stays.
    p.run_for(Duration::from_secs(60));
    assert_eq!(down(&p.a), 1, "{:?}", p.a.events);
    assert_eq!(p.a.engine.status().children.len(), 1);
}

/// The peer rekeys a child and deletes the old pair: outbound moves to the new pair at once,
/// the old inbound SA stays installed 2 s (packets the peer sent on it before its Delete may
/// arrive after the Delete; one ping was lost against strongSwan 6.1 without this).
#[test]
fn pair_deleted_by_the_peer_after_its_rekey_lingers() {
    let mut p = Pair::default();
    p.up();
    p.b.engine.rekey(p.now);
    p.drive();
    p.run_for(Duration::from_millis(2500));
    assert_eq!(p.a.children_up().len(), 2);
    let down = |n: &Node| n.count(|e| matches!(e, Event::ChildSaDown { .. }));
    // B deleted the old pair (after its 2 s); A switched outbound but keeps the inbound.
    let new_out = p.a.children_up()[1].1.spi;
    let switched =
        p.a.events
            .iter()
            .any(|e| matches!(e, Event::UseOutbound { outbound_spi } if *outbound_spi == new_out));
    assert!(switched, "{:?}", p.a.events);
    assert_eq!(down(&p.a), 0, "{:?}", p.a.events);
    p.run_for(Duration::from_millis(2500));
    assert_eq!(down(&p.a), 1, "{:?}", p.a.events);
    assert_eq!(p.a.engine.status().children.len(), 1);
}

#[test]
fn delete_on_shutdown_removes_the_peer_state() {
    let mut p = Pair::default();
    p.up();
    p.a.engine.shutdown(p.now);
    p.drive();
    let down = p.b.count(|e| matches!(e, Event::ChildSaDown { .. }));
    assert_eq!(down, 1);
    assert!(p.b.engine.status().phase1.is_empty());
}

#[test]
fn ikev1_message_on_an_ikev2_tunnel_is_explained() {
    let mut e = Engine::new(v2_policy(A, B), Box::new(SeededRandom::new(3)));
    let mut v1 = vec![0u8; 28];
    v1[16] = 1;
    v1[17] = 0x10;
    v1[18] = 2;
    v1[27] = 28;
    let now = Instant::now();
    e.handle_datagram(
        now,
        SocketAddr::new(ip(A), 500),
        SocketAddr::new(ip(B), 500),
        &v1,
    );
    let err = e.status().last_error.unwrap_or_default();
    assert!(
        err.contains("speaks IKEv1") && err.contains("ike.version: 1"),
        "{err}"
    );
}

#[test]
fn garbage_never_panics() {
    let mut e = Engine::new(v2_policy(A, B), Box::new(SeededRandom::new(4)));
    let now = Instant::now();
    let mut rng = SeededRandom::new(5);
    use crate::ike::RandomSource;
    for n in 0..2000usize {
        let mut d = vec![0u8; n % 300];
        rng.fill(&mut d);
        if d.len() > 18 {
            d[17] = 0x20;
        }
        e.handle_datagram(
            now,
            SocketAddr::new(ip(A), 500),
            SocketAddr::new(ip(B), 500),
            &d,
        );
    }
}

#[test]
fn a_refused_child_is_retried_with_backoff_not_in_a_loop() {
    let mut pa = v2_policy(A, B);
    pa.reinitiate_after = Some(Duration::from_secs(10));
    pa.phase2.proxy_ids = vec![ProxyId {
        local: "10.1.0.0/16".parse().unwrap(),
        remote: "10.2.0.0/16".parse().unwrap(),
    }];
    let mut pb = v2_policy(B, A);
    pb.phase2.proxy_ids = vec![ProxyId {
        local: "192.168.9.0/24".parse().unwrap(),
        remote: "192.168.8.0/24".parse().unwrap(),
    }];
    let mut p = Pair::new(pa, pb);
    p.up();
    p.run_for(Duration::from_secs(60));
    let refusals =
        p.a.failures()
            .iter()
            .filter(|f| f.contains("TS_UNACCEPTABLE"))
            .count();
    // 10 s, 20 s, 40 s of backoff: a handful of attempts in a minute, not one per timer tick.
    assert!((2..=5).contains(&refusals), "{refusals} attempts in 60 s");
}

#[test]
fn simultaneous_ike_sa_rekeys_leave_one_ike_sa_and_the_child() {
    let mut p = Pair::default();
    p.up();
    let now = p.now;
    p.a.engine.sas[0].rekey_at = Some(now);
    p.b.engine.sas[0].rekey_at = Some(now);
    // Both start their rekey before either sees the other's request.
    p.a.engine.handle_timeout(now);
    p.b.engine.handle_timeout(now);
    p.drive();
    p.run_for(Duration::from_secs(60));
    assert!(
        p.a.failures().is_empty() && p.b.failures().is_empty(),
        "{:?} {:?}",
        p.a.failures(),
        p.b.failures()
    );
    let (sa, sb) = (p.a.engine.status(), p.b.engine.status());
    assert_eq!(sa.phase1.len(), 1, "{:?}", sa.phase1);
    assert_eq!(sb.phase1.len(), 1, "{:?}", sb.phase1);
    assert_eq!(sa.phase1[0].icookie, sb.phase1[0].icookie);
    // The initial SA, ours and the peer's rekeyed one: a real collision.
    assert_eq!(p.a.count(|e| matches!(e, Event::Phase1Up { .. })), 3);
    assert_eq!((sa.children.len(), sb.children.len()), (1, 1));
    // The child still lives under an IKE SA both ends have: a child rekey works.
    p.a.engine.rekey(p.now);
    p.drive();
    p.run_for(Duration::from_secs(20));
    assert_eq!(p.a.children_up().len(), 2, "{:?}", p.a.failures());
    assert_eq!(p.a.engine.status().children.len(), 1);
}

/// The modes of every child a node installed, in order.
fn child_modes(n: &Node) -> Vec<crate::ike::EspMode> {
    crate::ike::tests::pair::child_modes(&n.events)
}

fn transport_policy(me: &str, peer: &str) -> IkePolicy {
    let mut p = v2_policy(me, peer);
    p.phase2.mode = crate::ike::EspMode::Transport;
    p.phase2.proxy_ids = vec![p.transport_proxy_id()];
    p
}

#[test]
fn use_transport_mode_in_ike_auth_and_every_rekey() {
    use crate::ike::EspMode::Transport;
    let (mut pa, mut pb) = (transport_policy(A, B), transport_policy(B, A));
    pa.phase2.lifetime_secs = 60;
    pb.phase2.lifetime_secs = 60;
    pa.phase2.pfs_group = Some(DhGroup::Curve25519);
    pb.phase2.pfs_group = Some(DhGroup::Curve25519);
    let mut p = Pair::new(pa, pb);
    p.up();
    p.run_for(Duration::from_secs(200));
    assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
    let (ma, mb) = (child_modes(&p.a), child_modes(&p.b));
    assert!(
        ma.len() >= 3,
        "IKE_AUTH child and CREATE_CHILD_SA rekeys: {ma:?}"
    );
    assert!(
        ma.iter().chain(&mb).all(|m| *m == Transport),
        "{ma:?} {mb:?}"
    );
    let host = ProxyId {
        local: crate::ike::Subnet::host(ip(A)),
        remote: crate::ike::Subnet::host(ip(B)),
    };
    assert_eq!(p.a.children_up()[0].2, &vec![host]);
    assert_eq!(p.a.engine.status().children[0].mode, Transport);
    assert_eq!(p.b.engine.status().children[0].mode, Transport);
}

#[test]
fn transport_mode_disagreement_falls_back_to_tunnel_mode() {
    use crate::ike::EspMode::Tunnel;
    // Host selectors on both ends; only the mode differs, each way round.
    for a_transport in [true, false] {
        let (mut pa, mut pb) = (transport_policy(A, B), transport_policy(B, A));
        if a_transport {
            pb.phase2.mode = Tunnel;
        } else {
            pa.phase2.mode = Tunnel;
        }
        let mut p = Pair::new(pa, pb);
        p.up();
        assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
        assert_eq!(
            child_modes(&p.a),
            vec![Tunnel],
            "initiator transport: {a_transport}"
        );
        assert_eq!(
            child_modes(&p.b),
            vec![Tunnel],
            "initiator transport: {a_transport}"
        );
    }
}

#[path = "tests_cert.rs"]
mod cert;
#[path = "tests_pq.rs"]
mod pq;
