//! Our IKEv2 remote-access client engines against our responder engines, through the
//! remote-access interface's acceptor (one engine per client, logins answered by the users
//! file, addresses from the pool): EAP-MSCHAPv2, EAP-MD5, PSK road warriors, wrong passwords,
//! a directory that answers later, and a client using the wrong method.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::config::{RaAuth, RemoteAccessConfig};
use crate::ike::auth::eap::{EapCredentials, EapMethod};
use crate::ike::policy::{ProxyId, RaClientPolicy, RaPolicy, Subnet};
use crate::ike::v2::tests::v2_policy;
use crate::ike::{Event, SeededRandom, TunnelEngine};
use crate::ra::acceptor::{ClientId, Dispatch, RaAcceptor};
use crate::ra::login::{LocalLogins, LoginRequest};
use crate::ra::pool::AddressPool;
use crate::ra::throttle::{Throttle, ThrottleConfig};
use crate::ra::users_file::{AddOptions, UsersFile};
use crate::ra::ClientRegistry;

const GW: &str = "10.0.0.1:500";

/// The interface: pool 10.8.0.0/24, split-include 192.168.1.0/24, users alice and bob.
fn gateway(auth: RaAuth) -> RaAcceptor {
    let eap = match auth {
        RaAuth::EapMschapv2 => Some(EapMethod::MsChapV2),
        RaAuth::EapMd5 => Some(EapMethod::Md5),
        _ => None,
    };
    let config = RemoteAccessConfig {
        pool_ipv4: Some("10.8.0.0/24".parse().unwrap()),
        pool_ipv6: None,
        dns: vec!["10.8.0.53".parse().unwrap()],
        split_include: vec!["192.168.1.0/24".parse().unwrap()],
        auth: vec![auth],
        users: None,
        mode_cfg: None,
    };
    let mut template = v2_policy("10.0.0.1", "0.0.0.0");
    template.remote_access = Some(Arc::new(RaPolicy { config, eap }));
    let mut users = UsersFile::default();
    for (name, pw) in [("alice", "clientPass"), ("bob", "bobPass")] {
        let opts = AddOptions { eap_md5: true };
        users.add(name, pw, &[1; 16], opts).unwrap();
    }
    let pool = AddressPool::new(
        Some("10.8.0.0/24".parse().unwrap()),
        None,
        Duration::from_secs(600),
    );
    RaAcceptor::new(
        "ipsec-ra0",
        None,
        Some(template),
        ClientRegistry::new(pool),
        Box::new(LocalLogins::new(Arc::new(users), eap, "gw.example")),
        Throttle::new(ThrottleConfig::default()),
    )
}

/// A client at `ip` asking for an IPv4 address, logging in with EAP when `eap` is given.
fn client(ip: &str, seed: u64, eap: Option<(EapMethod, &str, &str)>) -> (SocketAddr, TunnelEngine) {
    let mut p = v2_policy(ip, "10.0.0.1");
    p.my_id = Some(crate::ike::Identity::Fqdn(format!("laptop-{ip}.example")));
    p.phase2.proxy_ids = vec![ProxyId {
        local: Subnet::any_v4(),
        remote: Subnet::any_v4(),
    }];
    p.ra_client = Some(Arc::new(RaClientPolicy {
        ipv4: true,
        ipv6: false,
        eap: eap.map(|(method, identity, password)| {
            Arc::new(EapCredentials {
                method,
                identity: identity.into(),
                password: Zeroizing::new(password.into()),
            })
        }),
    }));
    let e = TunnelEngine::new(p, Box::new(SeededRandom::new(seed)));
    (SocketAddr::new(ip.parse().unwrap(), 500), e)
}

/// What the gateway side saw.
#[derive(Default)]
struct GatewaySaw {
    failures: Vec<String>,
    children: Vec<Vec<ProxyId>>,
    /// Logins held back (an asynchronous directory), with the client that asked.
    held: Vec<(ClientId, LoginRequest)>,
}

/// Runs the clients against the acceptor until nothing moves. With `hold`, logins are not
/// answered but kept in `saw.held`.
fn run(
    a: &mut RaAcceptor,
    clients: &mut [(SocketAddr, TunnelEngine)],
    now: Instant,
    hold: bool,
    saw: &mut GatewaySaw,
) {
    let gw: SocketAddr = GW.parse().unwrap();
    let mut rng = SeededRandom::new(77);
    for _round in 0..40 {
        let mut moved = false;
        for (addr, c) in clients.iter_mut() {
            while let Some(t) = c.poll_transmit() {
                moved = true;
                let id = match a.route(*addr, &t.data) {
                    Dispatch::Client(id) => id,
                    Dispatch::Incoming(inc) => a.accept(inc, Box::new(SeededRandom::new(99))),
                    Dispatch::Drop(why) => panic!("dropped: {why}"),
                };
                a.engine_mut(id)
                    .unwrap()
                    .handle_datagram(now, gw, *addr, &t.data);
                gateway_events(a, id, now, hold, saw, &mut rng);
                let e = a.engine_mut(id).unwrap();
                while let Some(r) = e.poll_transmit() {
                    c.handle_datagram(now, *addr, gw, &r.data);
                }
            }
        }
        if !moved {
            break;
        }
    }
}

fn gateway_events(
    a: &mut RaAcceptor,
    id: ClientId,
    now: Instant,
    hold: bool,
    saw: &mut GatewaySaw,
    rng: &mut SeededRandom,
) {
    let Some(e) = a.engine_mut(id) else { return };
    let events: Vec<_> = std::iter::from_fn(|| e.poll_event()).collect();
    for ev in events {
        match ev {
            Event::Phase1Up { icookie, .. } => a.learn(id, icookie),
            Event::ChildSaUp { selectors, .. } => saw.children.push(selectors),
            Event::Failed { cause } => saw.failures.push(cause.to_string()),
            Event::Login(req) if hold => saw.held.push((id, req)),
            Event::Login(req) => {
                if let Some(answer) = a.login(now, id, &req, rng) {
                    a.engine_mut(id)
                        .unwrap()
                        .login_answer(now, req.ticket, answer);
                    gateway_events(a, id, now, hold, saw, rng);
                }
            }
            _ => {}
        }
    }
}

/// The client's events: its child selectors and its failures.
fn client_saw(c: &mut TunnelEngine) -> (Vec<Vec<ProxyId>>, Vec<String>) {
    let mut children = Vec::new();
    let mut failures = Vec::new();
    while let Some(ev) = c.poll_event() {
        match ev {
            Event::ChildSaUp { selectors, .. } => children.push(selectors),
            Event::Failed { cause } => failures.push(cause.to_string()),
            _ => {}
        }
    }
    (children, failures)
}

fn assigned(c: &TunnelEngine) -> Vec<IpAddr> {
    match c {
        TunnelEngine::V2(e) => e.assigned_addresses().to_vec(),
        TunnelEngine::V1(_) => Vec::new(),
    }
}

/// Logs `clients` in and checks each got its own address and a child narrowed to it.
fn logs_in(auth: RaAuth, clients: &mut [(SocketAddr, TunnelEngine)]) {
    let mut a = gateway(auth);
    let now = Instant::now();
    for (_, c) in clients.iter_mut() {
        c.initiate(now);
    }
    let mut saw = GatewaySaw::default();
    run(&mut a, clients, now, false, &mut saw);
    assert!(saw.failures.is_empty(), "{:?}", saw.failures);
    assert_eq!(saw.children.len(), clients.len());
    let mut addresses = Vec::new();
    for (_, c) in clients.iter_mut() {
        let (children, failures) = client_saw(c);
        assert!(failures.is_empty(), "{failures:?}");
        let vip = assigned(c);
        assert_eq!(vip.len(), 1, "one IPv4 address");
        assert!(vip[0].to_string().starts_with("10.8.0."), "{vip:?}");
        // The child is narrowed to the virtual address ⇄ the split-include network.
        assert_eq!(
            children,
            vec![vec![ProxyId {
                local: Subnet::host(vip[0]),
                remote: "192.168.1.0/24".parse().unwrap(),
            }]]
        );
        addresses.push(vip[0]);
    }
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), clients.len(), "distinct addresses");
    assert_eq!(a.registry().clients().len(), clients.len());
}

#[test]
fn eap_mschapv2_clients_get_their_own_address_and_a_narrowed_child() {
    let mut clients = [
        client(
            "10.0.0.2",
            2,
            Some((EapMethod::MsChapV2, "alice", "clientPass")),
        ),
        client("10.0.0.3", 3, Some((EapMethod::MsChapV2, "bob", "bobPass"))),
    ];
    logs_in(RaAuth::EapMschapv2, &mut clients);
}

#[test]
fn eap_md5_without_an_msk_keys_auth_with_sk_pi_and_sk_pr() {
    let mut clients = [client(
        "10.0.0.2",
        4,
        Some((EapMethod::Md5, "alice", "clientPass")),
    )];
    logs_in(RaAuth::EapMd5, &mut clients);
}

#[test]
fn psk_road_warriors_get_a_virtual_address() {
    let mut clients = [client("10.0.0.2", 5, None), client("10.0.0.3", 6, None)];
    logs_in(RaAuth::Psk, &mut clients);
}

#[test]
fn wrong_password_is_authentication_failed_on_both_sides_without_the_password() {
    for (auth, method) in [
        (RaAuth::EapMschapv2, EapMethod::MsChapV2),
        (RaAuth::EapMd5, EapMethod::Md5),
    ] {
        let mut a = gateway(auth);
        let now = Instant::now();
        let mut clients = [client(
            "10.0.0.2",
            7,
            Some((method, "alice", "guessed-wrong")),
        )];
        clients[0].1.initiate(now);
        let mut saw = GatewaySaw::default();
        run(&mut a, &mut clients, now, false, &mut saw);
        assert!(saw.children.is_empty());
        assert_eq!(saw.failures.len(), 1, "{:?}", saw.failures);
        let ours = &saw.failures[0];
        assert!(
            ours.contains("refused with AUTHENTICATION_FAILED")
                && ours.contains("wrong password for user \"alice\""),
            "{ours}"
        );
        assert!(!ours.contains("guessed-wrong"), "{ours}");
        let (children, failures) = client_saw(&mut clients[0].1);
        assert!(children.is_empty());
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].contains("answered IKE_AUTH with AUTHENTICATION-FAILED"),
            "{failures:?}"
        );
        assert_eq!(a.registry().failures()["wrong_password"], 1);
    }
}

/// A directory answering later (RADIUS): the client's retransmissions meanwhile get no answer
/// and start no second login; the late answer completes the login.
#[test]
fn a_late_login_answer_holds_the_exchange_and_then_completes_it() {
    let mut a = gateway(RaAuth::EapMschapv2);
    let t0 = Instant::now();
    let mut clients = [client(
        "10.0.0.2",
        8,
        Some((EapMethod::MsChapV2, "alice", "clientPass")),
    )];
    clients[0].1.initiate(t0);
    let mut saw = GatewaySaw::default();
    run(&mut a, &mut clients, t0, true, &mut saw);
    assert_eq!(
        saw.held.len(),
        1,
        "the EAP-Response/Identity went to the directory"
    );
    // The client retransmits; the gateway neither answers nor asks again.
    let t1 = t0 + Duration::from_secs(3);
    clients[0].1.handle_timeout(t1);
    run(&mut a, &mut clients, t1, true, &mut saw);
    assert_eq!(saw.held.len(), 1);
    let mut rng = SeededRandom::new(5);
    while let Some((id, req)) = saw.held.pop() {
        let answer = a.login(t1, id, &req, &mut rng).unwrap();
        a.engine_mut(id)
            .unwrap()
            .login_answer(t1, req.ticket, answer);
        gateway_events(&mut a, id, t1, true, &mut saw, &mut rng);
        let gw: SocketAddr = GW.parse().unwrap();
        let (addr, c) = &mut clients[0];
        let e = a.engine_mut(id).unwrap();
        while let Some(r) = e.poll_transmit() {
            c.handle_datagram(t1, *addr, gw, &r.data);
        }
        run(&mut a, &mut clients, t1, true, &mut saw);
    }
    assert_eq!(saw.children.len(), 1, "{:?}", saw.failures);
    assert_eq!(assigned(&clients[0].1).len(), 1);
}

#[test]
fn a_psk_client_at_an_eap_interface_is_told_what_to_change() {
    let mut a = gateway(RaAuth::EapMschapv2);
    let now = Instant::now();
    let mut clients = [client("10.0.0.2", 9, None)];
    clients[0].1.initiate(now);
    let mut saw = GatewaySaw::default();
    run(&mut a, &mut clients, now, false, &mut saw);
    assert_eq!(saw.failures.len(), 1);
    assert!(
        saw.failures[0].contains("logs IKEv2 clients in with eap-mschapv2"),
        "{:?}",
        saw.failures
    );
    let (_, failures) = client_saw(&mut clients[0].1);
    assert!(
        failures[0].contains("AUTHENTICATION_FAILED"),
        "{failures:?}"
    );
}
