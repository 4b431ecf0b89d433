//! The gateway's XAUTH and mode-config driven by a client built from the wire emitters, sending
//! what vpnc 0.5.3 and strongSwan 5.9 send (see tests/harness_vpnc.rs for the reference run).

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::*;
use crate::ike::random::SeededRandom;
use crate::wire::isakmp::cfg::AttributePayloadRepr;
use crate::wire::isakmp::sa::AttributeRepr;
use crate::wire::isakmp::Header;

const ALICE: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 2);

fn sa() -> IsakmpSa {
    crate::ike::v1::fuzzing_ra::fixed_sa()
}

fn settings(mode_cfg: ModeCfgStyle) -> RaSettings {
    crate::ike::v1::fuzzing_ra::fixed_settings(mode_cfg, true)
}

/// The client's side of the same ISAKMP SA.
struct Client {
    sa: IsakmpSa,
}

/// A received gateway message as the client reads it, with the IV of the client's answer.
struct FromGateway {
    msg: CfgMessage,
    answer_iv: Vec<u8>,
}

impl Client {
    /// Opens a gateway datagram: the first of its exchange, or the answer to `our_last`.
    fn read(&self, datagram: &[u8], our_last: Option<&[u8]>) -> FromGateway {
        let h = Header::new_checked(datagram).unwrap();
        let hdr = h.repr();
        let iv = match our_last {
            Some(d) => last_block(d),
            None => transaction::first_iv(&self.sa, hdr.message_id),
        };
        let msg = transaction::open(&self.sa, &iv, &hdr, h.body()).unwrap();
        FromGateway {
            msg,
            answer_iv: last_block(datagram),
        }
    }

    /// The client's answer in the gateway's exchange `to`.
    fn answer(&self, to: &FromGateway, kind: CfgType, attrs: Vec<AttributeRepr>) -> Vec<u8> {
        let repr = AttributePayloadRepr {
            kind,
            identifier: to.msg.identifier,
            attrs,
        };
        transaction::seal(&self.sa, to.msg.mid, &to.answer_iv, &repr).0
    }

    /// A new client exchange (a mode-config REQUEST).
    fn request(&self, mid: u32, attrs: Vec<AttributeRepr>) -> Vec<u8> {
        let repr = AttributePayloadRepr {
            kind: CfgType::REQUEST,
            identifier: 0x5a5a,
            attrs,
        };
        transaction::seal(&self.sa, mid, &transaction::first_iv(&self.sa, mid), &repr).0
    }
}

fn last_block(d: &[u8]) -> Vec<u8> {
    d[d.len() - 16..].to_vec()
}

fn feed(r: &mut RaResponder, sa: &IsakmpSa, now: Instant, d: &[u8]) -> Result<(), CfgDrop> {
    let h = Header::new_checked(d).unwrap();
    r.handle(now, sa, &h.repr(), h.body(), d)
}

fn transmit(r: &mut RaResponder) -> Vec<u8> {
    match r.poll_event() {
        Some(RaEvent::Transmit(d)) => d,
        other => panic!("expected a datagram, got {other:?}"),
    }
}

fn var(kind: CfgAttr, v: &[u8]) -> AttributeRepr {
    AttributeRepr {
        kind: kind.0,
        value: crate::wire::isakmp::sa::AttrReprValue::Variable(v.to_vec()),
    }
}

/// vpnc's XAUTH REPLY: the type echoed, then name and password.
fn vpnc_credentials(password: &str) -> Vec<AttributeRepr> {
    vec![
        AttributeRepr::basic(CfgAttr::XAUTH_TYPE.0, 0),
        var(CfgAttr::XAUTH_USER_NAME, b"alice"),
        var(CfgAttr::XAUTH_USER_PASSWORD, password.as_bytes()),
    ]
}

/// vpnc's mode-config REQUEST (empty values ask; its version string rides along).
fn vpnc_request() -> Vec<AttributeRepr> {
    let mut v = vec![var(
        CfgAttr::APPLICATION_VERSION,
        b"Cisco Systems VPN Client 0.5.3:Linux",
    )];
    for a in [
        CfgAttr::INTERNAL_IP4_ADDRESS,
        CfgAttr::INTERNAL_IP4_NETMASK,
        CfgAttr::INTERNAL_IP4_DNS,
        CfgAttr::INTERNAL_IP4_NBNS,
        CfgAttr::UNITY_BANNER,
        CfgAttr::UNITY_DEF_DOMAIN,
        CfgAttr::UNITY_SPLIT_INCLUDE,
    ] {
        v.push(var(a, b""));
    }
    v.push(AttributeRepr::basic(CfgAttr::UNITY_SAVE_PASSWD.0, 0));
    v
}

/// Runs XAUTH to the client's ACK of XAUTH_STATUS; returns the responder, the client and the
/// time of the ACK.
fn logged_in(style: ModeCfgStyle, password: &str) -> (RaResponder, Client, IsakmpSa, Instant) {
    let gw_sa = sa();
    let client = Client { sa: sa() };
    let mut rng = SeededRandom::new(7);
    let t0 = Instant::now();
    let mut r = RaResponder::start(t0, &gw_sa, settings(style), &mut rng, "vpngroup");
    let ask = transmit(&mut r);
    let got = client.read(&ask, None);
    assert_eq!(got.msg.kind, CfgType::REQUEST);
    assert_eq!(
        got.msg.attrs.requested,
        [CfgAttr::XAUTH_USER_NAME, CfgAttr::XAUTH_USER_PASSWORD]
    );
    let reply = client.answer(&got, CfgType::REPLY, vpnc_credentials(password));
    feed(&mut r, &gw_sa, t0, &reply).unwrap();
    let Some(RaEvent::Ask(RaRequest::CheckPassword { user, password: p })) = r.poll_event() else {
        panic!("no credential check asked");
    };
    assert_eq!(user, "alice");
    let ok = p.as_slice() == b"alice-pass-1";
    r.login_result(t0, &gw_sa, &mut rng, ok);
    let set = transmit(&mut r);
    let status = client.read(&set, None);
    assert_eq!(status.msg.kind, CfgType::SET);
    assert_eq!(status.msg.attrs.xauth.status, Some(u16::from(ok)));
    let ack = client.answer(
        &status,
        CfgType::ACK,
        vec![AttributeRepr::basic(CfgAttr::XAUTH_STATUS.0, u16::from(ok))],
    );
    feed(&mut r, &gw_sa, t0, &ack).unwrap();
    (r, client, gw_sa, t0)
}

#[test]
fn vpnc_pull_gets_its_address_dns_and_split_include() {
    let (mut r, client, sa, t0) = logged_in(ModeCfgStyle::Auto, "alice-pass-1");
    let req = client.request(0x0102_0304, vpnc_request());
    feed(&mut r, &sa, t0, &req).unwrap();
    let Some(RaEvent::Ask(RaRequest::Lease { user })) = r.poll_event() else {
        panic!("no lease asked");
    };
    assert_eq!(user, "alice");
    let mut rng = SeededRandom::new(8);
    r.lease_result(t0, &sa, &mut rng, Ok(ALICE));
    let reply = transmit(&mut r);
    let got = client.read(&reply, Some(&req));
    assert_eq!((got.msg.kind, got.msg.identifier), (CfgType::REPLY, 0x5a5a));
    let m = &got.msg.attrs;
    assert_eq!(m.ip4_address, Some(ALICE));
    assert_eq!(m.ip4_netmask, Some(Ipv4Addr::new(255, 255, 255, 0)));
    assert_eq!(m.ip4_dns, [Ipv4Addr::new(192, 0, 2, 53)]);
    assert_eq!(m.split_include, settings(ModeCfgStyle::Auto).split_include);
    assert!(matches!(
        r.poll_event(),
        Some(RaEvent::Ready {
            address: ALICE,
            style: ModeCfgStyle::Pull,
            ..
        })
    ));
    assert_eq!(r.address(), Some(ALICE));
    assert_eq!(r.poll_timeout(), None, "nothing left to retransmit");
    // vpnc retransmits its REQUEST when our REPLY is lost: the same REPLY again.
    feed(&mut r, &sa, t0, &req).unwrap();
    assert_eq!(transmit(&mut r), reply);
    assert!(r.poll_event().is_none());
}

#[test]
fn a_client_that_asks_nothing_gets_a_push_in_auto_mode() {
    let (mut r, client, sa, t0) = logged_in(ModeCfgStyle::Auto, "alice-pass-1");
    assert!(r.poll_event().is_none(), "auto waits for a REQUEST first");
    let deadline = r.poll_timeout().expect("the push deadline");
    assert_eq!(deadline, t0 + Duration::from_secs(2));
    r.handle_timeout(t0 + Duration::from_secs(1));
    assert!(r.poll_event().is_none());
    r.handle_timeout(deadline);
    assert!(matches!(
        r.poll_event(),
        Some(RaEvent::Ask(RaRequest::Lease { .. }))
    ));
    let mut rng = SeededRandom::new(9);
    r.lease_result(deadline, &sa, &mut rng, Ok(ALICE));
    let set = transmit(&mut r);
    let got = client.read(&set, None);
    assert_eq!(got.msg.kind, CfgType::SET);
    assert_eq!(got.msg.attrs.ip4_address, Some(ALICE));
    assert_eq!(got.msg.attrs.ip4_dns, [Ipv4Addr::new(192, 0, 2, 53)]);
    assert_eq!(got.msg.attrs.split_include.len(), 1);
    // strongSwan's ACK (pull = no) names the attributes it took, without values.
    let ack = client.answer(
        &got,
        CfgType::ACK,
        vec![
            var(CfgAttr::INTERNAL_IP4_ADDRESS, b""),
            var(CfgAttr::INTERNAL_IP4_DNS, b""),
        ],
    );
    feed(&mut r, &sa, deadline, &ack).unwrap();
    assert!(matches!(
        r.poll_event(),
        Some(RaEvent::Ready {
            address: ALICE,
            style: ModeCfgStyle::Push,
            ..
        })
    ));
}

#[test]
fn forced_push_sets_at_once_and_forced_pull_never_pushes() {
    let (mut r, client, sa, t0) = logged_in(ModeCfgStyle::Push, "alice-pass-1");
    assert!(matches!(
        r.poll_event(),
        Some(RaEvent::Ask(RaRequest::Lease { .. }))
    ));
    r.lease_result(t0, &sa, &mut SeededRandom::new(1), Ok(ALICE));
    assert_eq!(client.read(&transmit(&mut r), None).msg.kind, CfgType::SET);
    // A client that pulls anyway while our SET is unanswered gets a REPLY with the same address.
    let req = client.request(77, vpnc_request());
    feed(&mut r, &sa, t0, &req).unwrap();
    let got = client.read(&transmit(&mut r), Some(&req));
    assert_eq!(
        (got.msg.kind, got.msg.attrs.ip4_address),
        (CfgType::REPLY, Some(ALICE))
    );
    assert!(matches!(r.poll_event(), Some(RaEvent::Ready { .. })));

    let (mut r, ..) = logged_in(ModeCfgStyle::Pull, "alice-pass-1");
    assert_eq!(r.poll_timeout(), None);
    r.handle_timeout(Instant::now() + Duration::from_secs(60));
    assert!(r.poll_event().is_none());
}

#[test]
fn a_wrong_password_is_refused_with_xauth_status_fail() {
    let (mut r, client, sa, t0) = logged_in(ModeCfgStyle::Auto, "not-the-password");
    assert!(matches!(
        r.poll_event(),
        Some(RaEvent::Failed(RaFailure::LoginRefused { ref user })) if user == "alice"
    ));
    // Nothing more happens: a REQUEST now is not answered.
    let req = client.request(99, vpnc_request());
    assert!(feed(&mut r, &sa, t0, &req).is_err());
    assert!(r.poll_event().is_none());
}

#[test]
fn an_unanswered_xauth_request_is_retransmitted_then_given_up() {
    let sa = sa();
    let mut rng = SeededRandom::new(3);
    let t0 = Instant::now();
    let mut r = RaResponder::start(t0, &sa, settings(ModeCfgStyle::Auto), &mut rng, "g");
    let first = transmit(&mut r);
    let mut at = t0;
    for _ in 0..3 {
        at = r.poll_timeout().unwrap();
        r.handle_timeout(at);
        assert_eq!(transmit(&mut r), first);
    }
    assert_eq!(at, t0 + Duration::from_secs(2 + 4 + 8));
    r.handle_timeout(r.poll_timeout().unwrap());
    let Some(RaEvent::Failed(f)) = r.poll_event() else {
        panic!("no give-up");
    };
    assert_eq!(
        f.to_string(),
        "no answer to our XAUTH REQUEST after 3 retransmissions: the client gave up (check its \
         log for why)"
    );
}

#[test]
fn tampered_or_misplaced_messages_are_dropped_without_effect() {
    let gw_sa = sa();
    let client = Client { sa: sa() };
    let t0 = Instant::now();
    let mut r = RaResponder::start(
        t0,
        &gw_sa,
        settings(ModeCfgStyle::Auto),
        &mut SeededRandom::new(4),
        "g",
    );
    let got = client.read(&transmit(&mut r), None);
    let mut reply = client.answer(&got, CfgType::REPLY, vpnc_credentials("x"));
    let n = reply.len();
    reply[n - 20] ^= 1;
    let e = feed(&mut r, &gw_sa, t0, &reply).unwrap_err();
    assert!(
        matches!(e.reason, DropReason::BadHash | DropReason::Malformed),
        "{e:?}"
    );
    // A REQUEST before the login is not answered.
    let e = feed(&mut r, &gw_sa, t0, &client.request(5, vpnc_request())).unwrap_err();
    assert_eq!(e.reason, DropReason::Unexpected);
    assert!(r.poll_event().is_none());
    // A REPLY without a password fails the login with words for the admin.
    let reply = client.answer(
        &got,
        CfgType::REPLY,
        vec![var(CfgAttr::XAUTH_USER_NAME, b"a")],
    );
    feed(&mut r, &gw_sa, t0, &reply).unwrap();
    let Some(RaEvent::Failed(RaFailure::Protocol(why))) = r.poll_event() else {
        panic!("no failure");
    };
    assert!(why.contains("XAUTH_USER_PASSWORD"), "{why}");
}

#[test]
fn without_xauth_the_phase1_identity_leases_the_address() {
    let sa = sa();
    let mut s = settings(ModeCfgStyle::Push);
    s.xauth = false;
    let mut r = RaResponder::start(Instant::now(), &sa, s, &mut SeededRandom::new(5), "rw@x");
    let Some(RaEvent::Ask(RaRequest::Lease { user })) = r.poll_event() else {
        panic!("no lease asked");
    };
    assert_eq!(user, "rw@x");
    r.lease_result(
        Instant::now(),
        &sa,
        &mut SeededRandom::new(5),
        Err("address pool exhausted".into()),
    );
    assert!(matches!(
        r.poll_event(),
        Some(RaEvent::Failed(RaFailure::NoAddress { .. }))
    ));
}

#[test]
fn the_password_stays_out_of_debug() {
    let q = RaRequest::CheckPassword {
        user: "alice".into(),
        password: Zeroizing::new(b"alice-pass-1".to_vec()),
    };
    let d = format!("{q:?}");
    assert!(d.contains("alice") && !d.contains("pass-1"), "{d}");
}

#[test]
fn quick_mode_is_narrowed_to_the_lease() {
    let ids = lease_proxy_ids(ALICE, &settings(ModeCfgStyle::Auto).split_include);
    let text: Vec<String> = ids
        .iter()
        .map(|p| format!("{} <-> {}", p.local, p.remote))
        .collect();
    assert_eq!(
        text,
        [
            "192.168.50.0/24 <-> 10.8.0.2/32",
            "0.0.0.0/0 <-> 10.8.0.2/32"
        ]
    );
}
