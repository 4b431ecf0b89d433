//! Fuzz harness for the remote-access parsers fed hostile client messages: EAP-MD5 and
//! EAP-MSCHAPv2 type-data, whole EAP conversations whose responses come from the fuzzer, and
//! the IKEv2 CP payload a client sends (CFG_REQUEST → CFG_REPLY and narrowed selectors), and
//! our own client's EAP peer fed hostile gateway messages.
//! Shared by the cargo-fuzz target `eap` and the `cargo test` replay.
//!
//! Not an API: `#[doc(hidden)] pub` only so that the fuzz crate can call in.

use super::mschapv2::{nt_password_hash, NtHash};
use super::wire::{parse_request, Md5Value, MschapPeerPacket};
use super::{EapCredentials, EapMethod, EapPeer, EapServer, EapStep, PeerStep};
use crate::ike::random::SeededRandom;
use crate::ra::directory::{Directory, LoginFailure};
use crate::wire::ikev2::EapRepr;
use zeroize::Zeroizing;

/// Feeds `data` to the parsers, then to a server as a sequence of client messages (each
/// prefixed by one length octet); must never panic.
pub fn eap(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which & 2 != 0 {
        return config_payload(rest);
    }
    let method = if which & 1 == 0 {
        EapMethod::Md5
    } else {
        EapMethod::MsChapV2
    };
    if which & 4 != 0 {
        return peer_conversation(method, rest);
    }
    let _ = Md5Value::parse(rest);
    let _ = MschapPeerPacket::parse(rest);
    let _ = parse_request(rest);
    if let Ok(e) = EapRepr::parse(rest) {
        let _ = MschapPeerPacket::parse(e.data);
    }
    conversation(method, rest);
}

/// Our client ([`EapPeer`]) fed the gateway's messages from the fuzzer (each prefixed by one
/// length octet): every response it sends must parse as an EAP packet.
fn peer_conversation(method: EapMethod, mut data: &[u8]) {
    let creds = std::sync::Arc::new(EapCredentials {
        method,
        identity: "alice".into(),
        password: Zeroizing::new("clientPass".into()),
    });
    let mut peer = EapPeer::new(creds);
    let mut rng = SeededRandom::new(7);
    while let Some((&len, rest)) = data.split_first() {
        let n = usize::from(len).min(rest.len());
        let msg = &rest[..n];
        data = &rest[n..];
        match peer.handle(msg, &mut rng) {
            PeerStep::Respond(r) => assert!(EapRepr::parse(&r).is_ok()),
            PeerStep::Success(_) | PeerStep::Failure(_) => return,
        }
    }
}

fn config_payload(data: &[u8]) {
    use crate::ike::v2::config_payload::{address_request, narrowed_selectors, CfgReply};
    use crate::wire::ikev2::{CpRepr, PayloadRepr};
    let Ok(cp) = CpRepr::parse(data) else { return };
    let ra = crate::config::RemoteAccessConfig {
        pool_ipv4: "10.8.0.0/24".parse().ok(),
        pool_ipv6: "fd00:8::/112".parse().ok(),
        dns: vec![std::net::IpAddr::from([10, 8, 0, 53])],
        split_include: "192.168.1.0/24".parse().into_iter().collect(),
        auth: vec![crate::config::RaAuth::Psk],
        users: None,
        mode_cfg: None,
    };
    let mut pool =
        crate::ra::AddressPool::new(ra.pool_ipv4, ra.pool_ipv6, std::time::Duration::ZERO);
    let Ok(req) = address_request(Some(&cp), &ra) else {
        return;
    };
    let Ok((lease, _)) = pool.acquire("alice", std::time::Instant::now()) else {
        return;
    };
    let reply = CfgReply::new(req, &lease, &ra);
    let r = reply.repr();
    let mut out = vec![0u8; r.buffer_len()];
    assert!(r.emit(&mut out).is_ok());
    assert_eq!(
        CpRepr::parse(&out).map(|c| c.attributes.len()),
        Ok(r.attributes.len())
    );
    let (client, _) = narrowed_selectors(&lease, req, &ra);
    assert!(!client.is_empty());
}

fn conversation(method: EapMethod, mut data: &[u8]) {
    let users = directory();
    let mut rng = SeededRandom::new(7);
    let (mut server, first) = EapServer::start(method, "gw", &mut rng);
    let mut id = first.get(1).copied().unwrap_or(0);
    while let Some((&len, rest)) = data.split_first() {
        let n = usize::from(len).min(rest.len());
        let mut msg = rest[..n].to_vec();
        data = &rest[n..];
        // Keep the identifier right most of the time so the fuzzer reaches the methods.
        if len & 0x80 == 0 {
            if let Some(b) = msg.get_mut(1) {
                *b = id;
            }
        }
        match server.handle(&msg, &users, &mut rng) {
            EapStep::Request(r) => id = r.get(1).copied().unwrap_or(0),
            EapStep::Success { .. } | EapStep::Failure { .. } => return,
        }
    }
}

fn directory() -> Alice {
    Alice
}

/// One user, "alice" with password "clientPass" (no argon2id: a hash per run would slow the
/// fuzzer down to a crawl).
pub(crate) struct Alice;

impl Directory for Alice {
    fn verify_password(&self, user: &str, password: &[u8]) -> Result<(), LoginFailure> {
        self.md5_secret(user).and_then(|s| {
            (*s == password)
                .then_some(())
                .ok_or(LoginFailure::WrongPassword {
                    user: user.into(),
                    method: "xauth",
                })
        })
    }

    fn nt_hash(&self, user: &str) -> Result<NtHash, LoginFailure> {
        self.md5_secret(user)
            .map(|_| nt_password_hash("clientPass"))
    }

    fn md5_secret(&self, user: &str) -> Result<Zeroizing<Vec<u8>>, LoginFailure> {
        if user == "alice" {
            Ok(Zeroizing::new(b"clientPass".to_vec()))
        } else {
            Err(LoginFailure::UnknownUser { user: user.into() })
        }
    }
}

#[cfg(test)]
pub(super) fn replay_corpus() {
    crate::ike::auth::fuzzing::replay_seeds("eap", 1, 1, 13, eap);
}
