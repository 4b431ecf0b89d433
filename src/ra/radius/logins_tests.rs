use super::*;
use crate::ike::SeededRandom;
use crate::ra::radius::crypto::{encrypt_mppe_key, unhide_password};
use crate::ra::radius::eap::{eap_message, push_eap_message};
use crate::ra::radius::fuzzing::answer;
use crate::ra::radius::wire::{AttributeType, Code, Packet, VENDOR_MICROSOFT};
use std::time::Duration;

const SERVER: &str = "192.0.2.10:1812";

fn secret() -> SecretBytes {
    SecretBytes::from("testing123")
}

fn backend(eap: Option<EapMethod>) -> RadiusLogins {
    let mut c = ClientConfig::new(SERVER, secret());
    c.nas_identifier = "ipsec-ra0".into();
    c.initial_timeout = Duration::from_secs(1);
    c.max_timeout = Duration::from_secs(2);
    c.max_attempts = 3;
    RadiusLogins::new(c, eap)
}

fn request(ticket: u64, user: &str, check: LoginCheck) -> LoginRequest {
    LoginRequest {
        ticket: LoginTicket(ticket),
        user: user.into(),
        identity: "keyid:vpngroup".into(),
        source: "198.51.100.7:4500".parse().unwrap(),
        ike_version: 1,
        check,
    }
}

fn password(pw: &str) -> LoginCheck {
    LoginCheck::Password(Zeroizing::new(pw.as_bytes().to_vec()))
}

fn eap_response(id: u8, kind: u8, data: &[u8]) -> Vec<u8> {
    let len = (5 + data.len()) as u16;
    let mut m = vec![EapCode::RESPONSE.0, id];
    m.extend_from_slice(&len.to_be_bytes());
    m.push(kind);
    m.extend_from_slice(data);
    m
}

/// The one datagram the backend has to send.
fn sent(b: &mut RadiusLogins) -> Vec<u8> {
    let d = b.poll_transmit().expect("an Access-Request to send");
    assert!(b.poll_transmit().is_none(), "more than one datagram");
    d
}

#[test]
fn xauth_is_one_pap_request_with_the_nas_attributes() {
    let mut b = backend(None);
    let now = Instant::now();
    let mut rng = SeededRandom::new(1);
    let v = b.check(now, &request(3, "alice", password("pw-1")), &mut rng);
    assert!(v.is_none(), "RADIUS answers later: {v:?}");
    let d = sent(&mut b);
    let p = Packet::new_checked(&d[..]).unwrap();
    assert_eq!(p.code(), Code::ACCESS_REQUEST);
    assert_eq!(p.first(AttributeType::USER_NAME), Some(&b"alice"[..]));
    let hidden = p.first(AttributeType::USER_PASSWORD).unwrap();
    let pw = unhide_password(hidden, &p.authenticator(), &secret()).unwrap();
    assert_eq!(pw.expose(), b"pw-1");
    let attr = |t| p.first(t).map(<[u8]>::to_vec);
    assert_eq!(
        attr(AttributeType::NAS_IDENTIFIER),
        Some(b"ipsec-ra0".to_vec())
    );
    assert_eq!(
        attr(AttributeType::CALLING_STATION_ID),
        Some(b"198.51.100.7".to_vec())
    );
    assert_eq!(attr(AttributeType::SERVICE_TYPE), Some(vec![0, 0, 0, 2]));
    assert_eq!(attr(AttributeType::NAS_PORT_TYPE), Some(vec![0, 0, 0, 5]));
    assert!(b.poll_verdict().is_none());
    let accept = answer(&d, Code::ACCESS_ACCEPT, false, &secret(), |_, _| {});
    b.handle_datagram(now, &accept);
    match b.poll_verdict() {
        Some((LoginTicket(3), BackendVerdict::Accepted { user, msk, eap })) => {
            assert_eq!(user, "alice");
            assert!(msk.is_none() && eap.is_none());
        }
        v => panic!("{v:?}"),
    }
    assert!(b.poll_timeout().is_none(), "nothing outstanding");
}

#[test]
fn access_reject_names_the_user_the_server_and_its_reply_message() {
    let mut b = backend(None);
    let now = Instant::now();
    let mut rng = SeededRandom::new(2);
    b.check(now, &request(4, "alice", password("Wr0ngGuess")), &mut rng);
    let d = sent(&mut b);
    let reject = answer(&d, Code::ACCESS_REJECT, false, &secret(), |p, _| {
        p.push(AttributeType::REPLY_MESSAGE, b"Login refused for alice")
            .unwrap();
    });
    b.handle_datagram(now, &reject);
    let Some((_, BackendVerdict::Rejected { failure, eap: None })) = b.poll_verdict() else {
        panic!("not a rejection")
    };
    let text = failure.to_string();
    assert_eq!(failure.reason(), "radius_reject");
    assert_eq!(
        text,
        "user \"alice\" rejected by RADIUS server 192.0.2.10:1812 (Access-Reject, \
         Reply-Message \"Login refused for alice\")"
    );
    assert!(!text.contains("Wr0ngGuess"));
}

/// No answer: the request goes out three times (1 s, then 2 s apart), then the directory is
/// unavailable, naming the server and the tries.
#[test]
fn a_silent_server_makes_the_directory_unavailable_after_the_retries() {
    let mut b = backend(None);
    let t0 = Instant::now();
    let mut rng = SeededRandom::new(3);
    b.check(t0, &request(5, "alice", password("pw")), &mut rng);
    let first = sent(&mut b);
    let mut at = t0;
    for _ in 0..2 {
        at = b.poll_timeout().expect("a retransmission deadline");
        b.handle_timeout(at);
        assert_eq!(sent(&mut b), first, "a retransmission is the same datagram");
        assert!(b.poll_verdict().is_none());
    }
    assert_eq!(at - t0, Duration::from_secs(3));
    let end = b.poll_timeout().unwrap();
    b.handle_timeout(end);
    let Some((LoginTicket(5), BackendVerdict::Rejected { failure, .. })) = b.poll_verdict() else {
        panic!("no verdict after the last try")
    };
    assert_eq!(failure.reason(), "directory_unavailable");
    let text = failure.to_string();
    assert!(
        text.contains("RADIUS server 192.0.2.10:1812 did not answer 3 Access-Requests"),
        "{text}"
    );
    assert!(b.poll_timeout().is_none());
}

/// EAP pass-through: the identity becomes the User-Name, an Access-Challenge's EAP-Request
/// goes to the client and its State comes back in the next request; Access-Accept gives the
/// MSK as MS-MPPE-Recv-Key | MS-MPPE-Send-Key and the server's EAP-Success.
#[test]
fn eap_rounds_carry_the_state_and_the_accept_gives_the_msk() {
    let mut b = backend(Some(EapMethod::MsChapV2));
    let now = Instant::now();
    let mut rng = SeededRandom::new(4);
    let mut req = request(9, "", LoginCheck::Eap(eap_response(0x20, 1, b"bob")));
    req.ike_version = 2;
    assert!(b.check(now, &req, &mut rng).is_none());
    let d = sent(&mut b);
    let p = Packet::new_checked(&d[..]).unwrap();
    assert_eq!(p.first(AttributeType::USER_NAME), Some(&b"bob"[..]));
    assert_eq!(
        eap_message(&p).unwrap(),
        Some(eap_response(0x20, 1, b"bob"))
    );
    assert!(p.first(AttributeType::STATE).is_none());
    let challenge_eap = vec![EapCode::REQUEST.0, 0x21, 0, 6, 26, 1];
    let challenge = answer(&d, Code::ACCESS_CHALLENGE, true, &secret(), |p, _| {
        push_eap_message(p, &challenge_eap).unwrap();
        p.push(AttributeType::STATE, b"state-1").unwrap();
    });
    b.handle_datagram(now, &challenge);
    match b.poll_verdict() {
        Some((LoginTicket(9), BackendVerdict::Continue(e))) => assert_eq!(e, challenge_eap),
        v => panic!("{v:?}"),
    }
    req.check = LoginCheck::Eap(eap_response(0x21, 26, &[2, 0x21, 0, 5]));
    assert!(b.check(now, &req, &mut rng).is_none());
    let d = sent(&mut b);
    let p = Packet::new_checked(&d[..]).unwrap();
    assert_eq!(p.first(AttributeType::STATE), Some(&b"state-1"[..]));
    assert_eq!(p.first(AttributeType::USER_NAME), Some(&b"bob"[..]));
    let (recv, send) = ([0x11u8; 32], [0x22u8; 32]);
    let accept = answer(&d, Code::ACCESS_ACCEPT, true, &secret(), |p, ra| {
        push_eap_message(p, &[EapCode::SUCCESS.0, 0x21, 0, 4]).unwrap();
        let s = encrypt_mppe_key(&send, [0x80, 1], ra, &secret());
        let r = encrypt_mppe_key(&recv, [0x80, 2], ra, &secret());
        p.push_vendor(VENDOR_MICROSOFT, 16, &s).unwrap();
        p.push_vendor(VENDOR_MICROSOFT, 17, &r).unwrap();
    });
    b.handle_datagram(now, &accept);
    match b.poll_verdict() {
        Some((_, BackendVerdict::Accepted { user, msk, eap })) => {
            assert_eq!(user, "bob");
            assert_eq!(eap, Some(vec![EapCode::SUCCESS.0, 0x21, 0, 4]));
            let msk = msk.expect("an MSK");
            assert_eq!(&msk[..32], &recv);
            assert_eq!(&msk[32..], &send);
        }
        v => panic!("{v:?}"),
    }
    assert!(b.conversations.is_empty(), "the conversation is over");
}

/// FreeRADIUS answers a wrong MS-CHAPv2 password with an Access-Challenge carrying the
/// MS-CHAPv2 Failure request: that is the rejection (strongSwan gives up without answering).
#[test]
fn an_mschapv2_failure_challenge_is_a_rejection() {
    let mut b = backend(Some(EapMethod::MsChapV2));
    let now = Instant::now();
    let mut rng = SeededRandom::new(5);
    let req = request(2, "", LoginCheck::Eap(eap_response(1, 1, b"carol")));
    b.check(now, &req, &mut rng);
    let d = sent(&mut b);
    let mut failure = vec![EapCode::REQUEST.0, 2, 0, 0, 26, 4, 1, 0, 0];
    failure.extend_from_slice(b"E=691 R=1 C=00 V=3 M=Authentication failed");
    let len = failure.len() as u16;
    failure[2..4].copy_from_slice(&len.to_be_bytes());
    let challenge = answer(&d, Code::ACCESS_CHALLENGE, true, &secret(), |p, _| {
        push_eap_message(p, &failure).unwrap();
    });
    b.handle_datagram(now, &challenge);
    let Some((_, BackendVerdict::Rejected { failure: f, eap })) = b.poll_verdict() else {
        panic!("not a rejection")
    };
    assert_eq!(eap, Some(failure));
    let text = f.to_string();
    assert!(
        text.starts_with("user \"carol\" rejected by RADIUS server 192.0.2.10:1812"),
        "{text}"
    );
    assert!(text.contains("E=691"), "{text}");
    assert!(b.conversations.is_empty());
}

/// A client gone before the server answered: its late answer is dropped, nothing is
/// remembered of it.
#[test]
fn a_forgotten_client_gets_no_verdict() {
    let mut b = backend(Some(EapMethod::Md5));
    let now = Instant::now();
    let mut rng = SeededRandom::new(6);
    let req = request(8, "", LoginCheck::Eap(eap_response(1, 1, b"dave")));
    b.check(now, &req, &mut rng);
    let d = sent(&mut b);
    b.forget(LoginTicket(8));
    let reject = answer(&d, Code::ACCESS_REJECT, true, &secret(), |_, _| {});
    b.handle_datagram(now, &reject);
    assert!(b.poll_verdict().is_none());
    assert!(b.conversations.is_empty() && b.asked.is_empty());
}

#[test]
fn eap_without_an_eap_method_is_refused_at_once() {
    let mut b = backend(None);
    let req = request(1, "", LoginCheck::Eap(eap_response(1, 1, b"eve")));
    let v = b.check(Instant::now(), &req, &mut SeededRandom::new(7));
    assert!(matches!(v, Some(BackendVerdict::Rejected { .. })), "{v:?}");
    assert!(b.poll_transmit().is_none());
}
