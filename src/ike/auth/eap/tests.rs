//! Whole EAP conversations against the server, with this file playing the client.

use super::fuzzing::Alice;
use super::mschapv2::{self, nt_password_hash};
use super::wire::{self, method, opcode, Md5Value, MschapResponse};
use super::{EapMethod, EapServer, EapStep};
use crate::ike::random::SeededRandom;
use crate::ra::directory::LoginFailure;
use crate::wire::ikev2::{EapCode, EapRepr};

fn response(id: u8, eap_type: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![2, id, 0, 0, eap_type];
    v.extend_from_slice(data);
    let len = v.len() as u16;
    v[2..4].copy_from_slice(&len.to_be_bytes());
    v
}

fn request(step: &EapStep) -> (u8, Vec<u8>) {
    let EapStep::Request(r) = step else {
        panic!("expected a request, got {step:?}")
    };
    let e = EapRepr::parse(r).unwrap();
    assert_eq!(e.code, EapCode::REQUEST);
    (e.identifier, e.data.to_vec())
}

/// Runs MS-CHAPv2 as `user` with `password`; returns the final step.
fn mschap_login(user: &str, password: &str) -> (EapStep, Option<String>) {
    let mut rng = SeededRandom::new(1);
    let (mut s, first) = EapServer::start(EapMethod::MsChapV2, "gw.example", &mut rng);
    let step = s.handle(
        &response(first[1], method::IDENTITY, user.as_bytes()),
        &Alice,
        &mut rng,
    );
    let (id, data) = request(&step);
    let req = wire::parse_request(&data).unwrap();
    assert_eq!((req.op, req.text), (opcode::CHALLENGE, &b"gw.example"[..]));
    let (ms_id, challenge): (u8, [u8; 16]) = (req.id, req.value.try_into().unwrap());
    let peer = [0x21; 16];
    let hash = nt_password_hash(password);
    let r = MschapResponse {
        id: ms_id,
        peer_challenge: peer,
        nt_response: mschapv2::nt_response(&challenge, &peer, user.as_bytes(), &hash),
        name: user.as_bytes(),
    };
    let step = s.handle(
        &response(id, method::MSCHAPV2, &wire::mschap_response(&r)),
        &Alice,
        &mut rng,
    );
    let (id, data) = request(&step);
    let req = wire::parse_request(&data).unwrap();
    let op = req.op;
    let text = String::from_utf8(req.text.to_vec()).unwrap();
    let ack = if op == opcode::SUCCESS {
        let expected = mschapv2::authenticator_response(
            &hash,
            &r.nt_response,
            &peer,
            &challenge,
            user.as_bytes(),
        );
        assert!(text.starts_with(&expected), "{text}");
        opcode::SUCCESS
    } else {
        assert!(text.starts_with("E=691 R=0 C="), "{text}");
        opcode::FAILURE
    };
    (
        s.handle(&response(id, method::MSCHAPV2, &[ack]), &Alice, &mut rng),
        Some(text),
    )
}

#[test]
fn mschapv2_login_exports_the_msk() {
    let (step, _) = mschap_login("alice", "clientPass");
    let EapStep::Success { packet, user, msk } = step else {
        panic!("{step:?}")
    };
    assert_eq!(EapRepr::parse(&packet).unwrap().code, EapCode::SUCCESS);
    assert_eq!(user, "alice");
    assert_eq!(msk.unwrap().len(), mschapv2::MSK_LEN);
}

#[test]
fn mschapv2_wrong_password_and_unknown_user_say_why() {
    let (step, _) = mschap_login("alice", "clientpass");
    let EapStep::Failure { packet, failure } = step else {
        panic!("{step:?}")
    };
    assert_eq!(EapRepr::parse(&packet).unwrap().code, EapCode::FAILURE);
    assert_eq!(
        failure,
        LoginFailure::WrongPassword {
            user: "alice".into(),
            method: "eap-mschapv2"
        }
    );
    let (step, _) = mschap_login("mallory", "x");
    let EapStep::Failure { failure, .. } = step else {
        panic!("{step:?}")
    };
    assert_eq!(failure.reason(), "unknown_user");
}

#[test]
fn md5_login_right_and_wrong() {
    for (password, ok) in [(&b"clientPass"[..], true), (&b"nope"[..], false)] {
        let mut rng = SeededRandom::new(2);
        let (mut s, first) = EapServer::start(EapMethod::Md5, "gw", &mut rng);
        let step = s.handle(
            &response(first[1], method::IDENTITY, b"alice"),
            &Alice,
            &mut rng,
        );
        let (id, data) = request(&step);
        let challenge = Md5Value::parse(&data).unwrap().value.to_vec();
        use md5::Digest;
        let digest = md5::Md5::new()
            .chain_update([id])
            .chain_update(password)
            .chain_update(&challenge)
            .finalize();
        let value = Md5Value {
            value: &digest,
            name: b"",
        }
        .to_vec();
        let step = s.handle(&response(id, method::MD5, &value), &Alice, &mut rng);
        match (step, ok) {
            (EapStep::Success { user, msk, .. }, true) => {
                assert_eq!((user.as_str(), msk.is_none()), ("alice", true))
            }
            (EapStep::Failure { failure, .. }, false) => {
                assert_eq!(failure.reason(), "wrong_password")
            }
            (step, _) => panic!("{step:?}"),
        }
    }
}

#[test]
fn nak_and_wrong_identifier_fail_with_a_reason() {
    let mut rng = SeededRandom::new(3);
    let (mut s, first) = EapServer::start(EapMethod::MsChapV2, "gw", &mut rng);
    let step = s.handle(
        &response(first[1].wrapping_add(1), method::IDENTITY, b"a"),
        &Alice,
        &mut rng,
    );
    let EapStep::Failure { failure, .. } = step else {
        panic!("{step:?}")
    };
    assert!(failure.to_string().contains("identifier"), "{failure}");

    let (mut s, first) = EapServer::start(EapMethod::MsChapV2, "gw", &mut rng);
    let step = s.handle(
        &response(first[1], method::IDENTITY, b"alice"),
        &Alice,
        &mut rng,
    );
    let (id, _) = request(&step);
    let step = s.handle(&response(id, method::NAK, &[method::MD5]), &Alice, &mut rng);
    let EapStep::Failure { failure, .. } = step else {
        panic!("{step:?}")
    };
    assert!(failure.to_string().contains("EAP-Nak"), "{failure}");
    assert_eq!(failure.user(), Some("alice"));
}

#[test]
fn fuzz_replay() {
    super::fuzzing::replay_corpus();
}
