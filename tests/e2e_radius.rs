//! ikegate's RADIUS client against a real FreeRADIUS 3.2 (Debian's `freeradius`) in its own
//! network namespace: PAP accept and reject, EAP-MD5 and EAP-MSCHAPv2 relayed round by round
//! (the test plays the EAP peer, with the RFC 1994 / RFC 2759 maths a client computes), the
//! MSK from MS-MPPE keys equal to the peer's, a Message-Authenticator that does not verify, a
//! wrong shared secret, and servers that do not answer.
//!
//! Needs root (namespaces) and `freeradius`; skips with a reason otherwise.

mod common;

use common::freeradius::{self, FreeRadius, User};
use common::netns::require_root;
use ikegate::ike::auth::eap::mschapv2;
use ikegate::ra::radius::client::{AccessRequest, Client, Credential, DropReason};
use ikegate::ra::radius::{ClientConfig, EapRound, PapOutcome, RadiusClient, SecretBytes, State};
use ikegate::ra::throttle::{FailureReason, Throttle};
use md5::{Digest, Md5};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SECRET: &str = "ikegate-radius-test-secret";

fn can_run() -> bool {
    require_root() && common::require_programs(&["freeradius", "ss"])
}

fn server() -> FreeRadius {
    eprintln!("FreeRADIUS: {}", freeradius::version());
    FreeRadius::start(
        SECRET,
        &[
            User {
                name: "alice",
                password: "wonderland",
                reply_message: "Hello alice",
            },
            User {
                name: "bob",
                password: "b0b-MSCHAPv2-pw",
                reply_message: "Hello bob",
            },
        ],
    )
}

fn config(server: SocketAddr, secret: &str) -> ClientConfig {
    let mut c = ClientConfig::new(server.to_string(), SecretBytes::from(secret));
    c.initial_timeout = Duration::from_millis(400);
    c.max_timeout = Duration::from_millis(800);
    c.max_attempts = 3;
    c
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A RadiusClient whose socket lives in the server's namespace.
fn client_for(fr: &FreeRadius, to: SocketAddr, secret: &str) -> RadiusClient {
    let sock = tokio::net::UdpSocket::from_std(fr.socket(to)).expect("tokio socket");
    RadiusClient::with_socket(config(to, secret), sock)
}

#[test]
fn pap_accept_and_reject() {
    if !can_run() {
        return;
    }
    let fr = server();
    runtime().block_on(async {
        let c = client_for(&fr, fr.addr(), SECRET);
        let ok = c
            .authenticate_pap("alice", &SecretBytes::from("wonderland"), None)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", fr.log_tail()));
        assert_eq!(
            ok,
            PapOutcome::Accept {
                reply_message: Some("Hello alice".into())
            }
        );
        let bad = c
            .authenticate_pap(
                "alice",
                &SecretBytes::from("not-the-password"),
                Some("198.51.100.7".into()),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", fr.log_tail()));
        let PapOutcome::Reject { reply_message } = bad else {
            panic!("a wrong password was accepted: {bad:?}");
        };
        assert_eq!(reply_message.as_deref(), Some("Login refused for alice"));
        let reason = FailureReason::RadiusReject { reply_message };
        let line = Throttle::describe(
            "alice",
            "198.51.100.7".parse().unwrap(),
            &reason,
            Duration::ZERO,
        );
        eprintln!("log line: {line}");
        assert!(
            line.contains("RADIUS server rejected it (Access-Reject): Login refused for alice"),
            "{line}"
        );
        assert!(!line.contains("not-the-password"));
    });
}

// ---- the EAP peer side, as a client computes it ----

// The library's EAP registries (codes, method types).
use ikegate::ike::auth::eap::wire::method::{IDENTITY as TYPE_IDENTITY, MD5 as TYPE_MD5};
use ikegate::ike::auth::eap::wire::method::{MSCHAPV2 as TYPE_MSCHAPV2, NAK as TYPE_NAK};
use ikegate::wire::ikev2::EapCode;
const EAP_REQUEST: u8 = EapCode::REQUEST.0;
const EAP_RESPONSE: u8 = EapCode::RESPONSE.0;
const EAP_SUCCESS: u8 = EapCode::SUCCESS.0;
const EAP_FAILURE: u8 = EapCode::FAILURE.0;

fn eap_response(id: u8, kind: u8, data: &[u8]) -> Vec<u8> {
    let len = (5 + data.len()) as u16;
    let mut e = vec![EAP_RESPONSE, id];
    e.extend_from_slice(&len.to_be_bytes());
    e.push(kind);
    e.extend_from_slice(data);
    e
}

/// (identifier, type, type data) of an EAP-Request.
fn eap_request(e: &[u8]) -> (u8, u8, &[u8]) {
    assert!(
        e.len() >= 5 && e[0] == EAP_REQUEST,
        "not an EAP-Request: {e:02x?}"
    );
    (e[1], e[4], &e[5..])
}

/// One round; panics with the server's log on an error.
async fn round(
    c: &RadiusClient,
    fr: &FreeRadius,
    user: &str,
    state: Option<&State>,
    eap: &[u8],
) -> EapRound {
    c.eap_round(user, state, eap, Some("198.51.100.7[4500]".into()))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", fr.log_tail()))
}

fn challenge(r: EapRound) -> (Vec<u8>, Option<State>) {
    match r {
        EapRound::Challenge { eap, state } => (eap, state),
        other => panic!("expected an Access-Challenge, got {other:?}"),
    }
}

/// The EAP-Response/Identity round; the server (default_eap_type = md5) asks for EAP-MD5.
async fn identity(c: &RadiusClient, fr: &FreeRadius, user: &str) -> (Vec<u8>, Option<State>) {
    let id = eap_response(0, TYPE_IDENTITY, user.as_bytes());
    let (req, state) = challenge(round(c, fr, user, None, &id).await);
    let (_, kind, _) = eap_request(&req);
    assert_eq!(kind, TYPE_MD5, "the server's default method is MD5");
    (req, state)
}

/// EAP-MD5 (RFC 3748 §5.4): the answer is MD5(identifier | password | challenge).
async fn eap_md5(c: &RadiusClient, fr: &FreeRadius, user: &str, password: &str) -> EapRound {
    let (req, state) = identity(c, fr, user).await;
    let (id, _, data) = eap_request(&req);
    let size = usize::from(data[0]);
    let chal = &data[1..1 + size];
    let digest = Md5::new()
        .chain_update([id])
        .chain_update(password.as_bytes())
        .chain_update(chal)
        .finalize();
    let mut value = vec![16u8];
    value.extend_from_slice(&digest);
    round(
        c,
        fr,
        user,
        state.as_ref(),
        &eap_response(id, TYPE_MD5, &value),
    )
    .await
}

#[test]
fn eap_md5_through_radius() {
    if !can_run() {
        return;
    }
    let fr = server();
    runtime().block_on(async {
        let c = client_for(&fr, fr.addr(), SECRET);
        match eap_md5(&c, &fr, "alice", "wonderland").await {
            EapRound::Accept { eap, .. } => {
                assert_eq!(eap.as_deref().map(|e| e[0]), Some(EAP_SUCCESS))
            }
            other => panic!(
                "EAP-MD5 with the right password: {other:?}\n{}",
                fr.log_tail()
            ),
        }
        match eap_md5(&c, &fr, "alice", "wrong").await {
            EapRound::Reject { eap, reason } => {
                assert_eq!(eap.as_deref().map(|e| e[0]), Some(EAP_FAILURE));
                assert_eq!(reason, "Login refused for alice");
            }
            other => panic!("EAP-MD5 with a wrong password: {other:?}"),
        }
    });
}

/// EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2): NAK MD5 for MS-CHAPv2, answer the
/// challenge, check the server's S= proof, acknowledge the success request. Returns the
/// server's answer and the MSK the peer derives.
async fn eap_mschapv2(
    c: &RadiusClient,
    fr: &FreeRadius,
    user: &str,
    password: &str,
) -> (EapRound, Vec<u8>) {
    let (req, state) = identity(c, fr, user).await;
    let (id, _, _) = eap_request(&req);
    let (req, state) = challenge(
        round(
            c,
            fr,
            user,
            state.as_ref(),
            &eap_response(id, TYPE_NAK, &[TYPE_MSCHAPV2]),
        )
        .await,
    );
    let (id, kind, data) = eap_request(&req);
    assert_eq!(kind, TYPE_MSCHAPV2, "the server switched to MS-CHAPv2");
    assert_eq!(data[0], 1, "MS-CHAPv2 Challenge opcode");
    let ms_id = data[1];
    assert_eq!(data[4], 16, "Value-Size");
    let auth_challenge: [u8; 16] = data[5..21].try_into().unwrap();
    let peer_challenge = [0x5au8; 16];
    let nt_hash = mschapv2::nt_password_hash(password);
    let nt_response =
        mschapv2::nt_response(&auth_challenge, &peer_challenge, user.as_bytes(), &nt_hash);
    let ms_len = (4 + 1 + 49 + user.len()) as u16;
    let mut resp = vec![2, ms_id];
    resp.extend_from_slice(&ms_len.to_be_bytes());
    resp.push(49);
    resp.extend_from_slice(&peer_challenge);
    resp.extend_from_slice(&[0; 8]);
    resp.extend_from_slice(&nt_response);
    resp.push(0);
    resp.extend_from_slice(user.as_bytes());
    let r = round(
        c,
        fr,
        user,
        state.as_ref(),
        &eap_response(id, TYPE_MSCHAPV2, &resp),
    )
    .await;
    let msk = mschapv2::msk(&nt_hash, &nt_response).to_vec();
    let (req, state) = match r {
        EapRound::Challenge { eap, state } => (eap, state),
        other => return (other, msk),
    };
    let (id, kind, data) = eap_request(&req);
    assert_eq!(
        (kind, data[0]),
        (TYPE_MSCHAPV2, 3),
        "MS-CHAPv2 Success request"
    );
    let message = String::from_utf8_lossy(&data[4..]).into_owned();
    let expected = mschapv2::authenticator_response(
        &nt_hash,
        &nt_response,
        &peer_challenge,
        &auth_challenge,
        user.as_bytes(),
    );
    assert!(
        message.starts_with(&expected),
        "the server's proof {message:?} is not {expected}"
    );
    let r = round(
        c,
        fr,
        user,
        state.as_ref(),
        &eap_response(id, TYPE_MSCHAPV2, &[3]),
    )
    .await;
    (r, msk)
}

#[test]
fn eap_mschapv2_through_radius_yields_the_peers_msk() {
    if !can_run() {
        return;
    }
    let fr = server();
    runtime().block_on(async {
        let c = client_for(&fr, fr.addr(), SECRET);
        let (r, peer_msk) = eap_mschapv2(&c, &fr, "bob", "b0b-MSCHAPv2-pw").await;
        let EapRound::Accept { eap, msk } = r else {
            panic!(
                "EAP-MSCHAPv2 with the right password: {r:?}\n{}",
                fr.log_tail()
            );
        };
        assert_eq!(eap.as_deref().map(|e| e[0]), Some(EAP_SUCCESS));
        let msk = msk.expect("MS-MPPE keys in the Access-Accept");
        eprintln!("MSK from RADIUS: {} bytes, equal to the peer's", msk.len());
        assert_eq!(
            msk.expose(),
            &peer_msk[..],
            "MSK differs between RADIUS and the peer"
        );
        assert!(format!("{msk:?}").contains("redacted"));

        let (r, _) = eap_mschapv2(&c, &fr, "bob", "wrong").await;
        let EapRound::Reject { reason, .. } = r else {
            panic!("EAP-MSCHAPv2 with a wrong password: {r:?}");
        };
        assert_eq!(reason, "Login refused for bob");
    });
}

/// A real Access-Challenge whose Message-Authenticator is altered (and the Response
/// Authenticator recomputed, as an attacker without the secret could not, to isolate the
/// check) is dropped; a client with the wrong secret is ignored by the server and its
/// timeout says the secret is the likely cause.
#[test]
fn message_authenticator_failure_and_wrong_secret() {
    if !can_run() {
        return;
    }
    let fr = server();
    let sock = fr.socket(fr.addr());
    let mut client = Client::new(config(fr.addr(), SECRET));
    let req = AccessRequest {
        user: "alice".into(),
        credential: Credential::Eap {
            message: eap_response(0, TYPE_IDENTITY, b"alice"),
            state: None,
        },
        calling_station_id: None,
    };
    let (_, datagram) = client
        .start(Instant::now(), &req, &mut ikegate::ike::random::OsRandom)
        .unwrap();
    sock.send(&datagram).unwrap();
    let answer = common::poll(
        Duration::from_secs(5),
        || {
            let mut buf = [0u8; 4096];
            sock.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
        },
        || format!("no answer from FreeRADIUS\n{}", fr.log_tail()),
    );
    let mut tampered = answer.clone();
    let p = ikegate::ra::radius::wire::Packet::new_checked(&answer[..]).unwrap();
    let ma = p
        .attributes()
        .find(|a| a.kind == ikegate::ra::radius::wire::AttributeType::MESSAGE_AUTHENTICATOR)
        .expect("FreeRADIUS signs EAP answers");
    tampered[ma.value_offset] ^= 0x01;
    let ra: [u8; 16] = datagram[4..20].try_into().unwrap();
    let auth = ikegate::ra::radius::crypto::response_authenticator(
        &tampered,
        &ra,
        &SecretBytes::from(SECRET),
    );
    tampered[4..20].copy_from_slice(&auth);
    assert_eq!(
        client.handle_datagram(&tampered).unwrap_err(),
        DropReason::BadMessageAuthenticator
    );
    assert_eq!(client.drops().bad_message_authenticator, 1);
    // The genuine answer still completes the request.
    let (_, r) = client.handle_datagram(&answer).expect("the genuine answer");
    assert!(r.is_ok(), "{r:?}");

    runtime().block_on(async {
        let c = client_for(&fr, fr.addr(), "not-the-shared-secret");
        let e = c
            .authenticate_pap("alice", &SecretBytes::from("wonderland"), None)
            .await
            .unwrap_err()
            .to_string();
        eprintln!("wrong secret: {e}");
        assert!(
            e.contains("RADIUS server 127.0.0.1:1812 did not answer 3"),
            "{e}"
        );
        assert!(e.contains("same secret"), "{e}");
    });
    let log = fr.log();
    assert!(
        log.contains("invalid Message-Authenticator"),
        "FreeRADIUS did not log the bad signature:\n{}",
        fr.log_tail()
    );
}

#[test]
fn a_server_that_does_not_answer_is_named() {
    if !can_run() {
        return;
    }
    let fr = server();
    // Something listens on 1645 but never answers; nothing at all listens on 1646.
    let silent_addr: SocketAddr = "127.0.0.1:1645".parse().unwrap();
    let silent = common::freeradius::bound_in(fr.netns().name(), silent_addr);
    runtime().block_on(async {
        let c = client_for(&fr, silent_addr, SECRET);
        let started = Instant::now();
        let e = c
            .authenticate_pap("alice", &SecretBytes::from("wonderland"), None)
            .await
            .unwrap_err()
            .to_string();
        eprintln!("silent server ({:?}): {e}", started.elapsed());
        assert!(
            e.contains("RADIUS server 127.0.0.1:1645 did not answer 3 Access-Requests"),
            "{e}"
        );
        let closed: SocketAddr = "127.0.0.1:1646".parse().unwrap();
        let c = client_for(&fr, closed, SECRET);
        let e = c
            .authenticate_pap("alice", &SecretBytes::from("wonderland"), None)
            .await
            .unwrap_err()
            .to_string();
        eprintln!("closed port: {e}");
        assert!(e.contains("127.0.0.1:1646"), "{e}");
        assert!(e.contains("ICMP port unreachable"), "{e}");
    });
    drop(silent);
}
