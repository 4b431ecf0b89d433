//! Fuzz harness for the gateway's XAUTH and mode-config (target `ikev1_xauth_responder` in
//! `fuzz/`), shared with the `cargo test` replay below. Not an API.
//!
//! The input is a script of steps (at most [`MAX_STEPS`]) against one [`RaResponder`] on a
//! virtual clock, as a hostile client holding the ISAKMP SA's keys would drive it:
//! - `0`: a Transaction message sealed under the SA (so it passes decryption and HASH) with an
//!   input-chosen type, identifier and attribute bytes, either in the gateway's last exchange
//!   (its message ID, chained IV and, optionally, identifier) or in a new one;
//! - `1`: an encrypted-flagged Transaction datagram whose body is input bytes;
//! - `2`: time passing (up to 255 s: retransmissions, give-ups, the `auto` push deadline);
//! - `3`/`4`: the caller's answer to a credential check / a lease;
//! - `5`: the client's last datagram again.
//!
//! It asserts that nothing panics, that a client is ready only after the caller accepted its
//! password (with XAUTH) and leased it the address it reports, and at most once.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::crypto::dh::DhGroup;
use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::prf::HashAlg;
use crate::ike::policy::{Identity, RetransmitPolicy};
use crate::ike::proposal::Phase1Proposal;
use crate::ike::random::SeededRandom;
use crate::ike::v2::fuzzing::Cursor;
use crate::wire::isakmp::cfg::{CfgType, Ipv4Subnet};
use crate::wire::isakmp::Header;

use super::isakmp_sa::IsakmpSa;
use super::keys::Phase1Keys;
use super::nat::{NatDetection, NatTMethod};
use super::remote_access::{
    lease_proxy_ids, ModeCfgStyle, RaEvent, RaRequest, RaResponder, RaSettings,
};
use super::transaction;
use super::DropReason;

/// Most script steps one input runs.
const MAX_STEPS: usize = 64;
/// The password the harness's directory holds.
const PASSWORD: &[u8] = b"alice-pass-1";
/// The address the harness leases.
const LEASE: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 9);

/// An established ISAKMP SA with fixed keys (AES-256, SHA-1), for tests and fuzzing.
pub(crate) fn fixed_sa() -> IsakmpSa {
    let proposal = Phase1Proposal {
        cipher: IkeCipher::Aes256Cbc,
        hash: HashAlg::Sha1,
        group: DhGroup::Modp2048,
        lifetime_secs: 3600,
        auth: Default::default(),
    };
    let (ci, cr) = ([1; 8], [2; 8]);
    let keys = Phase1Keys::derive(
        &proposal,
        b"group-psk",
        &[3; 16],
        &[4; 16],
        &[5; 256],
        &ci,
        &cr,
    );
    IsakmpSa {
        icookie: ci,
        rcookie: cr,
        keys,
        last_block: vec![6; 16],
        proposal,
        peer_identity: Identity::KeyId(b"vpngroup".to_vec()),
        nat_t: NatTMethod::None,
        nat: NatDetection::default(),
        peer_dpd: true,
        initial_contact: false,
        peer_cert: None,
    }
}

/// Settings with one DNS server and one split-include network, retransmitting 3 times.
pub(crate) fn fixed_settings(mode_cfg: ModeCfgStyle, xauth: bool) -> RaSettings {
    RaSettings {
        xauth,
        mode_cfg,
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        dns: vec![Ipv4Addr::new(192, 0, 2, 53)],
        split_include: vec![Ipv4Subnet {
            addr: Ipv4Addr::new(192, 168, 50, 0),
            prefix: 24,
        }],
        retransmit: RetransmitPolicy {
            initial: Duration::from_secs(2),
            max_retransmits: 3,
            backoff: 2,
            max_interval: Duration::from_secs(8),
        },
        auto_push_after: Duration::from_secs(2),
    }
}

/// What the hostile client knows of the gateway's last new exchange.
#[derive(Default)]
struct Seen {
    mid: u32,
    identifier: u16,
    answer_iv: Vec<u8>,
}

/// The caller's side: what it was asked and what it granted, to check the events against.
#[derive(Default)]
struct Caller {
    check_asked: bool,
    /// The password of the last credential check asked.
    password: Option<zeroize::Zeroizing<Vec<u8>>>,
    password_ok: bool,
    lease_asked: bool,
    leased: bool,
    ready: bool,
}

/// Runs one script (see the module comment).
pub fn xauth_responder(data: &[u8]) {
    run(data);
}

/// Runs one script; true when the client got ready.
fn run(data: &[u8]) -> bool {
    let mut c = Cursor(data);
    let sa = fixed_sa();
    let mut rng = SeededRandom::new(1);
    let mut now = Instant::now();
    let first = c.u8();
    let style =
        [ModeCfgStyle::Auto, ModeCfgStyle::Push, ModeCfgStyle::Pull][usize::from(first % 3)];
    let xauth = first & 4 == 0;
    let mut r = RaResponder::start(now, &sa, fixed_settings(style, xauth), &mut rng, "group");
    let mut caller = Caller {
        password_ok: !xauth,
        ..Caller::default()
    };
    let mut seen = Seen::default();
    let mut last_sent = Vec::new();
    drain(&mut r, &sa, &mut caller, &mut seen);
    for _ in 0..MAX_STEPS {
        if c.is_empty() {
            break;
        }
        match c.u8() % 6 {
            0 => {
                last_sent = sealed(&mut c, &sa, &seen);
                feed(&mut r, &sa, now, &last_sent);
            }
            1 => {
                let body = c.chunk().to_vec();
                last_sent = raw(&sa, c.u32(), &body);
                feed(&mut r, &sa, now, &last_sent);
            }
            2 => {
                now = match (c.u8(), r.poll_timeout()) {
                    (0, Some(at)) => at.max(now),
                    (s, _) => now + Duration::from_secs(u64::from(s)),
                };
                r.handle_timeout(now);
            }
            3 => {
                // Bit 1: the directory decides; else bit 0 does.
                let b = c.u8();
                let ok = match &caller.password {
                    Some(p) if b & 2 == 2 => p.as_slice() == PASSWORD,
                    _ => b & 1 == 1,
                };
                if caller.check_asked && ok {
                    caller.password_ok = true;
                }
                r.login_result(now, &sa, &mut rng, ok);
            }
            4 => {
                let ok = c.u8() & 1 == 1;
                if caller.lease_asked && ok {
                    caller.leased = true;
                }
                let lease = if ok {
                    Ok(LEASE)
                } else {
                    Err("pool exhausted".into())
                };
                r.lease_result(now, &sa, &mut rng, lease);
            }
            _ => feed(&mut r, &sa, now, &last_sent),
        }
        drain(&mut r, &sa, &mut caller, &mut seen);
    }
    caller.ready
}

fn feed(r: &mut RaResponder, sa: &IsakmpSa, now: Instant, d: &[u8]) {
    if let Ok(h) = Header::new_checked(d) {
        if let Err(e) = r.handle(now, sa, &h.repr(), h.body(), d) {
            let worded = matches!(e.reason, DropReason::Malformed | DropReason::Unexpected);
            assert!(
                e.detail.is_none_or(|d| worded && !d.is_empty()),
                "words only for a peer's mistake, never empty"
            );
        }
    }
}

/// A message sealed under the SA from script bytes: flags, type, identifier, message ID,
/// attribute bytes.
fn sealed(c: &mut Cursor<'_>, sa: &IsakmpSa, seen: &Seen) -> Vec<u8> {
    let flags = c.u8();
    let kind = c.u8();
    let mut identifier = c.u16();
    let mut mid = c.u32();
    let attrs = c.chunk();
    let iv = if flags & 1 == 1 {
        mid = seen.mid;
        seen.answer_iv.clone()
    } else {
        transaction::first_iv(sa, mid)
    };
    if flags & 2 == 2 {
        identifier = seen.identifier;
    }
    let mut body = vec![kind, 0];
    body.extend_from_slice(&identifier.to_be_bytes());
    body.extend_from_slice(attrs);
    transaction::seal_body(sa, mid, &iv, &body).0
}

/// An encrypted-flagged Transaction datagram with `body` as its (garbage) ciphertext.
fn raw(sa: &IsakmpSa, mid: u32, body: &[u8]) -> Vec<u8> {
    transaction::header(sa, mid).emit_with_body(body)
}

/// Drains the events, checking them against what the caller granted.
fn drain(r: &mut RaResponder, sa: &IsakmpSa, caller: &mut Caller, seen: &mut Seen) {
    while let Some(e) = r.poll_event() {
        match e {
            RaEvent::Transmit(d) => learn(sa, &d, seen),
            RaEvent::Ask(RaRequest::CheckPassword { password, .. }) => {
                caller.check_asked = true;
                caller.password = Some(password);
            }
            RaEvent::Ask(RaRequest::Lease { .. }) => caller.lease_asked = true,
            RaEvent::Ready {
                address,
                user,
                style,
            } => {
                assert_eq!(r.user(), Some(user.as_str()));
                assert_eq!(r.address(), Some(address));
                assert!(style != ModeCfgStyle::Auto, "the style actually used");
                let ids = lease_proxy_ids(address, &fixed_settings(style, true).split_include);
                assert!(ids.iter().all(|p| p.remote.prefix() == 32));
                assert!(caller.password_ok, "ready without an accepted password");
                assert!(caller.leased && address == LEASE, "ready without the lease");
                assert!(!caller.ready, "ready twice");
                caller.ready = true;
            }
            RaEvent::Failed(f) => assert!(!f.to_string().is_empty()),
        }
    }
}

/// Reads a gateway datagram that opens a new exchange (a REQUEST or SET of ours).
fn learn(sa: &IsakmpSa, d: &[u8], seen: &mut Seen) {
    let Ok(h) = Header::new_checked(d) else {
        return;
    };
    let hdr = h.repr();
    let iv = transaction::first_iv(sa, hdr.message_id);
    if let Ok(m) = transaction::open(sa, &iv, &hdr, h.body()) {
        if matches!(m.kind, CfgType::REQUEST | CfgType::SET) {
            *seen = Seen {
                mid: m.mid,
                identifier: m.identifier,
                answer_iv: d.get(d.len().saturating_sub(16)..).unwrap_or(&[]).to_vec(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's body, replayed on stable over the kept seeds and random scripts.
    #[test]
    fn fuzz_seeds_replay() {
        let seeds = crate::ike::v2::fuzzing::tests::seeds("ikev1_xauth_responder");
        assert!(seeds.len() >= 3, "{} seeds", seeds.len());
        let ready = seeds.iter().filter(|s| run(s)).count();
        // vpnc-pull, rtx-push, auto-push-after-wait, no-xauth-pull-retransmits.
        assert!(ready >= 4, "only {ready} seeds reach a ready client");
        for s in crate::ike::v2::fuzzing::tests::random_inputs(13, 300, 400) {
            xauth_responder(&s);
        }
    }
}
