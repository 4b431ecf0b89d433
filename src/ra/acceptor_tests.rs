use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::ike::auth::eap::EapMethod;
use crate::ike::v2::tests::v2_policy;
use crate::ike::{IkeVersion, SeededRandom};
use crate::ra::login::{LocalLogins, LoginCheck};
use crate::ra::pool::AddressPool;
use crate::ra::throttle::ThrottleConfig;
use crate::ra::users_file::{AddOptions, UsersFile};

fn acceptor(v1: bool) -> RaAcceptor {
    let mut users = UsersFile::default();
    users
        .add("alice", "clientPass", &[1; 16], AddOptions::default())
        .unwrap();
    let mut v2 = IkePolicy::seil_defaults(
        "10.0.0.1".parse().unwrap(),
        "0.0.0.0".parse().unwrap(),
        b"k",
    );
    v2.version = IkeVersion::V2;
    let v1 = v1.then(|| v2.clone()).map(|mut p| {
        p.version = IkeVersion::V1;
        p
    });
    RaAcceptor::new(
        "ipsec-ra0",
        v1,
        Some(v2),
        ClientRegistry::new(AddressPool::new(
            Some("10.8.0.0/24".parse().unwrap()),
            None,
            Duration::from_secs(600),
        )),
        Box::new(LocalLogins::new(
            Arc::new(users),
            Some(EapMethod::MsChapV2),
            "gw",
        )),
        Throttle::new(ThrottleConfig::default()),
    )
}

fn ike_sa_init(spi: u8, version: u8) -> Vec<u8> {
    let mut m = vec![0u8; 28];
    m[..8].fill(spi);
    m[17] = version << 4;
    m[18] = 34;
    m
}

fn admit(user: &str, id: ClientId, from: &str) -> LoginRequest {
    LoginRequest {
        ticket: LoginTicket(id.0),
        user: user.into(),
        identity: user.into(),
        source: from.parse().unwrap(),
        ike_version: 2,
        check: LoginCheck::Admit,
    }
}

#[test]
fn new_clients_get_engines_and_are_found_again_by_spi() {
    let mut a = acceptor(false);
    let from: SocketAddr = "198.51.100.7:500".parse().unwrap();
    let init = ike_sa_init(7, 2);
    let Dispatch::Incoming(inc) = a.route(from, &init) else {
        panic!("not incoming")
    };
    assert_eq!((inc.version, inc.spi_i, inc.remote), (2, [7; 8], from));
    let id = a.accept(inc, Box::new(SeededRandom::new(1)));
    assert_eq!(a.route(from, &init), Dispatch::Client(id));
    let policy = a.engine_mut(id).unwrap().policy().clone();
    assert_eq!((policy.remote, policy.responder_only), (from.ip(), true));
    // Mid-exchange messages of an unknown IKE SA, and IKEv1 here, are dropped.
    let mut auth = ike_sa_init(9, 2);
    auth[8..16].fill(1);
    auth[18] = 35;
    assert_eq!(a.route(from, &auth), Dispatch::Drop("unknown IKE SA"));
    assert!(
        matches!(a.route(from, &ike_sa_init(3, 1)), Dispatch::Drop(w) if w.contains("not served"))
    );
    assert_eq!(a.route(from, b"runt"), Dispatch::Drop("runt"));
    assert_eq!(a.dropped().values().sum::<u64>(), 3);
    // A rekeyed IKE SA's SPI leads to the same client.
    a.learn(id, [0xaa; 8]);
    assert_eq!(a.route(from, &ike_sa_init(0xaa, 2)), Dispatch::Client(id));
    // Both versions when both are served.
    let mut both = acceptor(true);
    assert!(
        matches!(both.route(from, &ike_sa_init(3, 1)), Dispatch::Incoming(i) if i.version == 1)
    );
}

#[test]
fn a_reconnect_keeps_the_address_and_replaces_the_old_client() {
    let mut a = acceptor(false);
    let mut rng = SeededRandom::new(2);
    let now = Instant::now();
    let from: SocketAddr = "198.51.100.7:500".parse().unwrap();
    let first = connect(&mut a, from, &ike_sa_init(1, 2));
    let Some(LoginAnswer::Accepted(adm)) = a.login(
        now,
        first,
        &admit("alice", first, "198.51.100.7:500"),
        &mut rng,
    ) else {
        panic!("not admitted")
    };
    assert_eq!(adm.lease.ipv4, Some("10.8.0.1".parse().unwrap()));
    let second = connect(&mut a, from, &ike_sa_init(2, 2));
    let Some(LoginAnswer::Accepted(again)) = a.login(
        now,
        second,
        &admit("alice", second, "198.51.100.7:4500"),
        &mut rng,
    ) else {
        panic!("not admitted")
    };
    assert_eq!(again.lease, adm.lease);
    assert!(a.engine_mut(first).is_none(), "the old client is replaced");
    assert_eq!(a.registry().clients().len(), 1);
    // DPD death releases the lease (reserved for alice).
    assert!(a.remove(now, second, Departure::DpdDead).is_some());
    assert_eq!(a.registry().clients().len(), 0);
    assert_eq!(a.registry().usage().reserved, 1);
}

/// An IKEv1 and an IKEv2 client behind one outer address (one NAT) are two clients: each its
/// engine of its version, its user and its own address.
#[test]
fn an_ikev1_and_an_ikev2_client_behind_one_address_are_two_clients() {
    let mut a = acceptor(true);
    let mut rng = SeededRandom::new(3);
    let now = Instant::now();
    let from: SocketAddr = "198.51.100.7:4500".parse().unwrap();
    let v1 = connect(&mut a, from, &ike_sa_init(1, 1));
    let v2 = connect(&mut a, from, &ike_sa_init(2, 2));
    assert_ne!(v1, v2);
    for (id, version) in [(v1, IkeVersion::V1), (v2, IkeVersion::V2)] {
        assert_eq!(a.engine_mut(id).unwrap().policy().version, version);
    }
    let mut leases = Vec::new();
    for (id, user, version) in [(v1, "bob", 1), (v2, "carol", 2)] {
        let mut req = admit(user, id, "198.51.100.7:4500");
        req.ike_version = version;
        let Some(LoginAnswer::Accepted(adm)) = a.login(now, id, &req, &mut rng) else {
            panic!("{user} not admitted")
        };
        leases.push(adm.lease.ipv4);
    }
    assert_ne!(leases[0], leases[1]);
    assert!(a.engine_mut(v1).is_some() && a.engine_mut(v2).is_some());
    assert_eq!(a.registry().clients().len(), 2);
}

#[test]
fn wrong_passwords_are_counted_and_throttled() {
    let mut a = acceptor(false);
    let mut rng = SeededRandom::new(3);
    let now = Instant::now();
    let from = "198.51.100.9:500";
    let id = connect(&mut a, from.parse().unwrap(), &ike_sa_init(4, 2));
    let mut answers = Vec::new();
    for _ in 0..5 {
        let mut req = admit("alice", id, from);
        req.check = LoginCheck::Password(zeroize::Zeroizing::new(b"guess".to_vec()));
        let Some(LoginAnswer::Rejected { failure, .. }) = a.login(now, id, &req, &mut rng) else {
            panic!("accepted a wrong password")
        };
        answers.push(failure.reason());
    }
    assert_eq!(&answers[..3], ["wrong_password"; 3]);
    assert!(
        answers[4..].iter().all(|r| *r == "throttled"),
        "{answers:?}"
    );
    assert_eq!(a.registry().failures()["wrong_password"], 4);
    assert_eq!(a.registry().failures()["throttled"], 1);
}

fn connect(a: &mut RaAcceptor, from: SocketAddr, msg: &[u8]) -> ClientId {
    let inc = Dispatch::incoming_of(a.route(from, msg));
    a.accept(inc, Box::new(SeededRandom::new(1)))
}

/// Real IKEv2 engines as clients: each gets its own engine in the acceptor, found again by
/// SPI for every later message, and both IKE SAs and child SAs come up side by side.
#[test]
fn two_ikev2_clients_negotiate_through_one_acceptor() {
    let gw: SocketAddr = "10.0.0.1:500".parse().unwrap();
    let mut a = acceptor(false);
    let mut template = v2_policy("10.0.0.1", "0.0.0.0");
    let ra = crate::config::RemoteAccessConfig {
        pool_ipv4: Some("10.8.0.0/24".parse().unwrap()),
        pool_ipv6: None,
        dns: vec![],
        split_include: vec![],
        auth: vec![crate::config::RaAuth::Psk],
        users: None,
        mode_cfg: None,
    };
    template.remote_access = Some(Arc::new(crate::ike::policy::RaPolicy {
        config: ra,
        eap: None,
    }));
    a.v2 = Some(template);
    let now = Instant::now();
    let mut clients: Vec<(SocketAddr, crate::ike::TunnelEngine, usize)> = ["10.0.0.2", "10.0.0.3"]
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            // Clients name themselves by FQDN, as road warriors do.
            let mut p = v2_policy(ip, "10.0.0.1");
            p.my_id = Some(crate::ike::Identity::Fqdn(format!("laptop{i}.example")));
            p.ra_client = Some(Arc::new(crate::ike::policy::RaClientPolicy {
                ipv4: true,
                ipv6: false,
                eap: None,
            }));
            let mut e =
                crate::ike::TunnelEngine::new(p, Box::new(SeededRandom::new(10 + i as u64)));
            e.initiate(now);
            (SocketAddr::new(ip.parse().unwrap(), 500), e, 0)
        })
        .collect();
    let mut gw_children = 0;
    for _round in 0..20 {
        let mut moved = false;
        for (addr, client, _) in clients.iter_mut() {
            while let Some(t) = client.poll_transmit() {
                moved = true;
                let id = match a.route(*addr, &t.data) {
                    Dispatch::Client(id) => id,
                    Dispatch::Incoming(inc) => a.accept(inc, Box::new(SeededRandom::new(99))),
                    Dispatch::Drop(why) => panic!("dropped: {why}"),
                };
                let e = a.engine_mut(id).unwrap();
                e.handle_datagram(now, gw, *addr, &t.data);
                let mut events: Vec<_> = std::iter::from_fn(|| e.poll_event()).collect();
                while !events.is_empty() {
                    for ev in std::mem::take(&mut events) {
                        match ev {
                            crate::ike::Event::Phase1Up { icookie, .. } => a.learn(id, icookie),
                            crate::ike::Event::ChildSaUp { .. } => gw_children += 1,
                            // PSK road warriors are admitted (and leased an address) by login.
                            crate::ike::Event::Login(req) => {
                                let mut rng = SeededRandom::new(3);
                                let answer = a.login(now, id, &req, &mut rng).unwrap();
                                let e = a.engine_mut(id).unwrap();
                                e.login_answer(now, req.ticket, answer);
                                events.extend(std::iter::from_fn(|| e.poll_event()));
                            }
                            _ => {}
                        }
                    }
                }
                let e = a.engine_mut(id).unwrap();
                while let Some(r) = e.poll_transmit() {
                    client.handle_datagram(now, *addr, gw, &r.data);
                }
            }
        }
        for (_, client, up) in clients.iter_mut() {
            while let Some(ev) = client.poll_event() {
                *up += usize::from(matches!(ev, crate::ike::Event::ChildSaUp { .. }));
            }
        }
        if !moved {
            break;
        }
    }
    assert_eq!(a.clients().count(), 2);
    assert_eq!(gw_children, 2);
    assert!(clients.iter().all(|(_, _, up)| *up == 1));
}

/// The admin API's view: a logged-in client with its lease, identity, outer address and bytes;
/// a client still negotiating counted apart; the pool and the failures by reason.
#[test]
fn the_board_snapshot_shows_clients_pool_and_failures() {
    let mut a = acceptor(false);
    let mut rng = SeededRandom::new(4);
    let now = Instant::now();
    let from: SocketAddr = "198.51.100.7:500".parse().unwrap();
    let alice = connect(&mut a, from, &ike_sa_init(1, 2));
    let _negotiating = connect(&mut a, from, &ike_sa_init(2, 2));
    assert!(matches!(
        a.login(
            now,
            alice,
            &admit("alice", alice, "198.51.100.7:4500"),
            &mut rng
        ),
        Some(LoginAnswer::Accepted(_))
    ));
    let later = now + Duration::from_secs(90);
    let s = crate::ra::board::snapshot("ipsec-ra0", &a, later, |id| (id.0 * 10, id.0 * 20));
    assert_eq!((s.name.as_str(), s.negotiating), ("ipsec-ra0", 1));
    let c = &s.clients[0];
    assert_eq!(
        (c.user.as_str(), c.virtual_ips.clone(), c.outer.as_str()),
        ("alice", vec!["10.8.0.1".to_string()], "198.51.100.7:4500")
    );
    assert_eq!(
        (c.connected_secs, c.bytes_in, c.bytes_out, c.ike_version),
        (90, 10, 20, 2)
    );
    assert_eq!(s.pool.len(), 1);
    assert_eq!(
        (s.pool[0].prefix.as_str(), s.pool[0].size, s.pool[0].active),
        ("10.8.0.0/24", 254, 1)
    );
}

/// RADIUS answers later: the acceptor keeps the question, hands the verdict back through
/// `poll_verdict` (leasing on Access-Accept), and the throttle counts Access-Rejects and
/// then refuses without asking the server.
#[test]
fn radius_verdicts_come_later_and_the_throttle_still_holds() {
    use crate::ra::radius::fuzzing::answer;
    use crate::ra::radius::wire::Code;
    use crate::ra::radius::{ClientConfig, RadiusLogins, SecretBytes};
    let secret = SecretBytes::from("s");
    let mut a = acceptor(false);
    a.backend = Box::new(RadiusLogins::new(
        ClientConfig::new("192.0.2.10:1812", secret.clone()),
        None,
    ));
    let mut rng = SeededRandom::new(5);
    let now = Instant::now();
    let from = "198.51.100.9:500";
    let id = connect(&mut a, from.parse().unwrap(), &ike_sa_init(6, 2));
    let mut ask = |a: &mut RaAcceptor, code: Code| {
        let mut req = admit("alice", id, from);
        req.check = LoginCheck::Password(zeroize::Zeroizing::new(b"pw".to_vec()));
        if let Some(now_answer) = a.login(now, id, &req, &mut rng) {
            assert!(a.directory_mut().poll_transmit().is_none());
            return now_answer;
        }
        let d = a
            .directory_mut()
            .poll_transmit()
            .expect("an Access-Request");
        a.directory_mut()
            .handle_datagram(now, &answer(&d, code, false, &secret, |_, _| {}));
        let (who, later) = a.poll_verdict(now).expect("a verdict");
        assert_eq!(who, id);
        later
    };
    let LoginAnswer::Accepted(adm) = ask(&mut a, Code::ACCESS_ACCEPT) else {
        panic!("not admitted")
    };
    assert_eq!(adm.user, "alice");
    assert!(adm.lease.ipv4.is_some());
    let reasons: Vec<_> = (0..5)
        .map(|_| match ask(&mut a, Code::ACCESS_REJECT) {
            LoginAnswer::Rejected { failure, .. } => failure.reason(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(&reasons[..3], ["radius_reject"; 3], "{reasons:?}");
    assert_eq!(reasons[4], "throttled", "{reasons:?}");
    assert!(a.awaiting.is_empty());
}
