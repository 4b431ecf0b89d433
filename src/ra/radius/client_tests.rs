use super::*;
use crate::ike::SeededRandom;
use crate::ra::radius::crypto::{encrypt_mppe_key, unhide_password};
use crate::ra::radius::fuzzing::answer;

fn secret() -> SecretBytes {
    SecretBytes::from("testing123")
}

fn client() -> Client {
    let mut c = ClientConfig::new("radius.example:1812", secret());
    c.initial_timeout = Duration::from_secs(1);
    c.max_timeout = Duration::from_secs(3);
    c.max_attempts = 4;
    Client::new(c)
}

fn pap(user: &str, pw: &str) -> AccessRequest {
    AccessRequest {
        user: user.into(),
        credential: Credential::Password(SecretBytes::from(pw)),
        calling_station_id: Some("198.51.100.9".into()),
    }
}

fn eap(message: Vec<u8>, state: Option<State>) -> AccessRequest {
    AccessRequest {
        user: "bob".into(),
        credential: Credential::Eap { message, state },
        calling_station_id: None,
    }
}

#[test]
fn pap_request_carries_hidden_password_and_signature() {
    let mut c = client();
    let (_, d) = c
        .start(
            Instant::now(),
            &pap("alice", "pw"),
            &mut SeededRandom::new(1),
        )
        .unwrap();
    let p = Packet::new_checked(&d[..]).unwrap();
    assert_eq!(p.code(), Code::ACCESS_REQUEST);
    assert_eq!(p.first(AttributeType::USER_NAME), Some(&b"alice"[..]));
    let hidden = p.first(AttributeType::USER_PASSWORD).unwrap();
    let pw = unhide_password(hidden, &p.authenticator(), &secret()).unwrap();
    assert_eq!(pw.expose(), b"pw");
    assert_eq!(
        p.first(AttributeType::NAS_IDENTIFIER),
        Some(&b"ikegate"[..])
    );
    assert_eq!(
        check_message_authenticator(&p, &p.authenticator(), &secret()),
        MessageAuthenticator::Valid
    );
}

#[test]
fn accept_reject_and_reply_message() {
    let mut c = client();
    let mut rng = SeededRandom::new(2);
    let now = Instant::now();
    let (id1, d1) = c.start(now, &pap("alice", "pw"), &mut rng).unwrap();
    let (id2, d2) = c.start(now, &pap("mallory", "x"), &mut rng).unwrap();
    assert_ne!(d1[1], d2[1], "two outstanding requests share an identifier");
    let rej = answer(&d2, Code::ACCESS_REJECT, false, &secret(), |b, _| {
        b.push(
            AttributeType::REPLY_MESSAGE,
            b"Bad password\nforged log line",
        )
        .unwrap();
    });
    let (id, r) = c.handle_datagram(&rej).unwrap();
    assert_eq!(id, id2);
    let Ok(Reply::Reject(r)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        r.reply_message.as_deref(),
        Some("Bad password?forged log line")
    );
    let acc = answer(&d1, Code::ACCESS_ACCEPT, false, &secret(), |_, _| {});
    let (id, r) = c.handle_datagram(&acc).unwrap();
    assert_eq!(id, id1);
    assert!(matches!(r, Ok(Reply::Accept(_))));
    assert_eq!(c.outstanding(), 0);
    // A duplicate answer no longer matches anything.
    assert_eq!(
        c.handle_datagram(&acc).unwrap_err(),
        DropReason::UnknownIdentifier(d1[1])
    );
}

#[test]
fn forged_answers_are_dropped_and_named_at_timeout() {
    let mut c = client();
    let now = Instant::now();
    let (id, d) = c
        .start(now, &pap("alice", "pw"), &mut SeededRandom::new(3))
        .unwrap();
    let wrong = SecretBytes::from("other");
    let forged = answer(&d, Code::ACCESS_ACCEPT, false, &wrong, |_, _| {});
    assert_eq!(
        c.handle_datagram(&forged).unwrap_err(),
        DropReason::BadResponseAuthenticator
    );
    // Right Response Authenticator, wrong Message-Authenticator.
    let mut tampered = answer(&d, Code::ACCESS_ACCEPT, true, &secret(), |_, _| {});
    let n = tampered.len();
    tampered[n - 1] ^= 0xff;
    let auth = crate::ra::radius::crypto::response_authenticator(
        &tampered,
        &Packet::new_checked(&d[..]).unwrap().authenticator(),
        &secret(),
    );
    tampered[4..20].copy_from_slice(&auth);
    assert_eq!(
        c.handle_datagram(&tampered).unwrap_err(),
        DropReason::BadMessageAuthenticator
    );
    assert_eq!(c.drops().bad_response_authenticator, 1);
    assert_eq!(c.drops().bad_message_authenticator, 1);
    // Retransmissions at 1 s, then 2 s later, then 3 s (capped), then the timeout.
    let mut t = now;
    let mut retransmits = 0;
    let mut done = None;
    for step in [1, 2, 3, 3] {
        t += Duration::from_secs(step);
        assert_eq!(c.next_deadline(), Some(t));
        for o in c.poll(t) {
            match o {
                Output::Retransmit(r) => {
                    assert_eq!(r, d, "a retransmission is the same datagram");
                    retransmits += 1;
                }
                Output::Done(i, r) => done = Some((i, r)),
            }
        }
    }
    assert_eq!(retransmits, 3);
    let (i, r) = done.expect("timed out");
    assert_eq!(i, id);
    let e = r.unwrap_err().to_string();
    assert!(e.contains("radius.example:1812"), "{e}");
    assert!(
        e.contains("did not answer 4 Access-Requests over 9.0 s"),
        "{e}"
    );
    assert!(
        e.contains("2 answers failed the authenticator check"),
        "{e}"
    );
    assert_eq!(c.next_deadline(), None);
}

#[test]
fn eap_rounds_need_message_authenticator_and_return_state_and_msk() {
    let mut c = client();
    let mut rng = SeededRandom::new(4);
    let now = Instant::now();
    let identity = vec![2, 0, 0, 8, 1, b'b', b'o', b'b'];
    let (_, d) = c.start(now, &eap(identity, None), &mut rng).unwrap();
    let challenge_eap: Vec<u8> = {
        let mut e = vec![1, 1, 0x01, 0x2c, 26];
        e.resize(300, 7);
        e
    };
    let unsigned = answer(&d, Code::ACCESS_CHALLENGE, false, &secret(), |b, _| {
        push_eap_message(b, &challenge_eap).unwrap();
    });
    assert_eq!(
        c.handle_datagram(&unsigned).unwrap_err(),
        DropReason::MissingMessageAuthenticator
    );
    let ch = answer(&d, Code::ACCESS_CHALLENGE, true, &secret(), |b, _| {
        push_eap_message(b, &challenge_eap).unwrap();
        b.push(AttributeType::STATE, b"state-1").unwrap();
    });
    let (_, r) = c.handle_datagram(&ch).unwrap();
    let Ok(Reply::Challenge(ch)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(ch.eap.as_deref(), Some(&challenge_eap[..]));
    let state = ch.state.expect("state");
    assert_eq!(state.0, b"state-1");

    let (_, d) = c
        .start(now, &eap(vec![2, 1, 0, 6, 26, 3], Some(state)), &mut rng)
        .unwrap();
    let sent = Packet::new_checked(&d[..]).unwrap();
    assert_eq!(sent.first(AttributeType::STATE), Some(&b"state-1"[..]));
    let (recv_key, send_key) = ([0x11u8; 16], [0x22u8; 16]);
    let acc = answer(&d, Code::ACCESS_ACCEPT, true, &secret(), |b, ra| {
        push_eap_message(b, &[3, 1, 0, 4]).unwrap();
        let s = encrypt_mppe_key(&send_key, [0x80, 1], ra, &secret());
        let r = encrypt_mppe_key(&recv_key, [0x80, 2], ra, &secret());
        b.push_vendor(VENDOR_MICROSOFT, 16, &s).unwrap();
        b.push_vendor(VENDOR_MICROSOFT, 17, &r).unwrap();
    });
    let (_, r) = c.handle_datagram(&acc).unwrap();
    let Ok(Reply::Accept(a)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(a.eap.as_deref(), Some(&[3u8, 1, 0, 4][..]));
    assert!(format!("{a:?}").contains("<redacted>"));
    let msk = a.msk.expect("msk");
    assert_eq!(&msk.expose()[..16], &recv_key);
    assert_eq!(&msk.expose()[16..], &send_key);
}

#[test]
fn identifiers_run_out_at_256() {
    let mut c = client();
    let mut rng = SeededRandom::new(5);
    let now = Instant::now();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..256 {
        let (_, d) = c.start(now, &pap("a", "b"), &mut rng).unwrap();
        assert!(seen.insert(d[1]));
    }
    let e = c.start(now, &pap("a", "b"), &mut rng).unwrap_err();
    assert!(e.to_string().contains("radius.example:1812"), "{e}");
}

#[test]
fn overlong_password_is_a_request_error() {
    let mut c = client();
    let e = c
        .start(
            Instant::now(),
            &pap("a", &"x".repeat(129)),
            &mut SeededRandom::new(6),
        )
        .unwrap_err();
    assert!(e.to_string().contains("longer than 128"), "{e}");
}
