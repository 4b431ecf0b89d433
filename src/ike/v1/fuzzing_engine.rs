//! Fuzz harnesses for IKEv1 beyond fragmentation (targets `isakmp_message` and
//! `ikev1_responder` in `fuzz/`), re-exported by `ike::v1_fuzzing` and replayed by `cargo test`
//! below. Not an API.
//!
//! `responder` is structure-aware, like the IKEv2 duel (`ike::v2::fuzzing`): an IKEv1
//! initiator and a responder (PSK, Main or Aggressive Mode, NAT-T on, DPD on) talk on a virtual
//! clock; the responder is the target. The first input byte picks the variant and where the
//! script starts (nothing exchanged, message 2 sent, established with an IPsec SA); each step
//! then forwards the initiator's next real datagram (as is, with a byte flipped, truncated),
//! sends a raw datagram or one in the clear with the responder's cookies, **seals an input
//! payload chain with the established ISAKMP SA's real keys** (Quick Mode, Informational or any
//! exchange, with the correct HASH or without) so that the decrypted payload parsers run,
//! advances the clock, acts as the operator, or lets both engines talk until quiet. After every
//! step the timer contract is checked (a deadline at or before `now` that `handle_timeout`
//! does not move is a busy loop).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::crypto::dh::DhGroup;
use crate::ike::policy::ExchangeMode;
use crate::ike::proposal::{select_phase1, select_phase2, Phase1Auth};
use crate::ike::v2::fuzzing::Cursor;
use crate::ike::{Engine, IkePolicy, SeededRandom, Transmit};
use crate::wire::isakmp::{
    CertPayload, DeletePayload, ExchangeType, Flags, FragmentPayload, Header, HeaderRepr,
    IdPayload, NotifyPayload, PayloadChain, PayloadType, Payloads, SaPayload,
};

use super::message::{identity_from, selector_from, Msg};
use super::quick_mode::seal_with_hash;

/// Most script steps one input runs.
const MAX_STEPS: usize = 48;
/// `handle_timeout(now)` calls in a row after which a deadline still at or before `now` is a
/// busy loop.
const MAX_STUCK: u32 = 8;
/// Rounds of `pump` at most (a negotiation needs fewer than ten).
const MAX_ROUNDS: usize = 32;
const INITIATOR: usize = 0;
const TARGET: usize = 1;

/// The ISAKMP parsers on arbitrary bytes (target `isakmp_message`): header, payload chain, SA
/// with its proposals, transforms and attributes, phase-1 and phase-2 proposal choice, ID (as
/// identity and as Quick Mode selector), Notify, Delete, CERT/CERTREQ, fragment, the
/// Informational items and the Aggressive Mode identity the endpoint routes road warriors by.
pub fn message(data: &[u8]) {
    if let Ok(h) = Header::new_checked(data) {
        let _ = h.repr();
        for p in Payloads::new(h.body(), h.next_payload()).flatten() {
            body(p.kind, p.body);
        }
        if let Ok(m) = Msg::parse(h.body(), h.next_payload()) {
            let _ = (m.leading_hash(), super::informational::items(&m));
        }
    }
    let _ = crate::ike::aggressive_initiator_identity(data);
    for kind in [
        PayloadType::SA,
        PayloadType::ID,
        PayloadType::NOTIFY,
        PayloadType::DELETE,
        PayloadType::CERT,
        PayloadType::FRAGMENT,
    ] {
        body(kind, data);
    }
}

fn body(kind: PayloadType, b: &[u8]) {
    match kind {
        PayloadType::SA => sa(b),
        PayloadType::ID => {
            if let Ok(id) = IdPayload::parse(b) {
                let _ = (
                    identity_from(&id),
                    selector_from(&id).map(|s| s.to_string()),
                );
            }
        }
        PayloadType::NOTIFY => drop(NotifyPayload::parse(b)),
        PayloadType::CERT | PayloadType::CERT_REQ => drop(CertPayload::parse(b)),
        PayloadType::FRAGMENT => drop(FragmentPayload::parse(b)),
        PayloadType::DELETE => {
            if let Ok(d) = DeletePayload::parse(b) {
                d.spis().for_each(drop);
            }
        }
        _ => {}
    }
}

/// An SA payload walked to its attributes, then chosen from as phase 1 and phase 2 responder;
/// an answer we choose emits an SA payload that parses again.
fn sa(b: &[u8]) {
    let Ok(sa) = SaPayload::parse(b) else { return };
    for p in sa.proposals().flatten() {
        for t in p.transforms().flatten() {
            for a in t.attributes().flatten() {
                let _ = a.value.as_u64();
            }
        }
    }
    let policy = policy(false, 0);
    for auth in [Phase1Auth::Psk, Phase1Auth::RsaSig] {
        if let Ok((chosen, reply)) = select_phase1(&sa, &policy.phase1, auth) {
            let _ = chosen.to_string();
            let out = reply.emit();
            assert!(
                SaPayload::parse(&out).is_ok(),
                "our phase-1 answer does not parse"
            );
        }
    }
    if let Ok((_, their_spi, reply)) = select_phase2(&sa, &policy.phase2, 0x100) {
        let _ = their_spi;
        let out = reply.emit();
        assert!(
            SaPayload::parse(&out).is_ok(),
            "our phase-2 answer does not parse"
        );
    }
}

/// An IKEv1 responder fed hostile datagrams mid-exchange and under an established ISAKMP SA
/// (see the module comment).
pub fn responder(data: &[u8]) {
    let mut c = Cursor(data);
    let variant = c.u8();
    let mut d = Duel::new(variant);
    d.engines[INITIATOR].initiate(d.now);
    match (variant >> 4) % 3 {
        0 => {}
        1 => d.rounds(1),
        _ => d.rounds(MAX_ROUNDS),
    }
    d.settle();
    for _ in 0..MAX_STEPS {
        if c.is_empty() {
            break;
        }
        match c.u8() % 10 {
            0 => d.forward(|_| {}),
            1 => {
                let (at, x) = (usize::from(c.u16()), c.u8() | 1);
                d.forward(|m| {
                    let n = m.len();
                    if let Some(b) = m.get_mut(at % n.max(1)) {
                        *b ^= x;
                    }
                });
            }
            2 => {
                let keep = usize::from(c.u16());
                d.forward(|m| m.truncate(keep % (m.len() + 1)));
            }
            3 => {
                let port = if c.u8() & 1 == 0 { 500 } else { 4500 };
                let raw = c.chunk().to_vec();
                d.send_to_target(port, &raw);
            }
            4 => d.clear(&mut c),
            5 => d.sealed(&mut c),
            6 => {
                d.now += Duration::from_secs(u64::from(c.u8()));
            }
            7 => d.answer(),
            8 => {
                let who = usize::from(c.u8() & 1);
                operator(&mut d.engines[who], d.now, &mut c);
            }
            _ => d.rounds(MAX_ROUNDS),
        }
        d.settle();
    }
}

/// The duel's policy: PSK, ECP-256 (fast), AES-CBC; Aggressive Mode and PFS by variant.
fn policy(initiator: bool, variant: u8) -> IkePolicy {
    let (me, peer) = if initiator { (1, 2) } else { (2, 1) };
    let mut p = IkePolicy::seil_defaults(
        IpAddr::V4(Ipv4Addr::new(10, 88, 0, me)),
        IpAddr::V4(Ipv4Addr::new(10, 88, 0, peer)),
        b"fuzz-psk",
    );
    p.phase1.dh_group = DhGroup::Ecp256;
    p.phase1.dh_groups = vec![DhGroup::Ecp256];
    if variant & 1 != 0 {
        p.exchange_mode = ExchangeMode::Aggressive;
    }
    if variant & 2 != 0 {
        p.phase2.pfs_group = Some(DhGroup::Ecp256);
    }
    if variant & 4 != 0 {
        p.fragment_size = 576;
    }
    if !initiator {
        p.responder_only = variant & 8 != 0;
    }
    p
}

struct Duel {
    engines: [Engine; 2],
    addrs: [IpAddr; 2],
    now: Instant,
    /// The initiator's datagrams not yet forwarded to the target.
    from_peer: VecDeque<Transmit>,
    /// The responder's cookie pair, from the last datagram it sent.
    cookies: Option<([u8; 8], [u8; 8])>,
}

impl Duel {
    fn new(variant: u8) -> Duel {
        let engines = [
            Engine::new(policy(true, variant), Box::new(SeededRandom::new(1))),
            Engine::new(policy(false, variant), Box::new(SeededRandom::new(2))),
        ];
        Duel {
            engines,
            addrs: [
                IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1)),
                IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2)),
            ],
            now: Instant::now(),
            from_peer: VecDeque::new(),
            cookies: None,
        }
    }

    fn collect(&mut self) {
        while let Some(t) = self.engines[INITIATOR].poll_transmit() {
            if self.from_peer.len() < 256 {
                self.from_peer.push_back(t);
            }
        }
    }

    /// The initiator's next datagram, changed by `f`, to the target.
    fn forward(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        self.collect();
        if let Some(mut t) = self.from_peer.pop_front() {
            f(&mut t.data);
            self.send_to_target(t.local_port, &t.data);
        }
    }

    fn send_to_target(&mut self, port: u16, msg: &[u8]) {
        let local = SocketAddr::new(self.addrs[TARGET], port);
        let remote = SocketAddr::new(self.addrs[INITIATOR], port);
        self.engines[TARGET].handle_datagram(self.now, local, remote, msg);
    }

    /// The target's datagrams to the initiator, which answers for real.
    fn answer(&mut self) {
        while let Some(t) = self.engines[TARGET].poll_transmit() {
            if let Some(cookies) = t.data.get(..16) {
                let (i, r) = cookies.split_at(8);
                self.cookies = Some((
                    i.try_into().unwrap_or([0; 8]),
                    r.try_into().unwrap_or([0; 8]),
                ));
            }
            let local = SocketAddr::new(self.addrs[INITIATOR], t.local_port);
            let remote = SocketAddr::new(self.addrs[TARGET], t.local_port);
            self.engines[INITIATOR].handle_datagram(self.now, local, remote, &t.data);
        }
    }

    /// Both engines talk for up to `n` rounds, or until quiet.
    fn rounds(&mut self, n: usize) {
        for _ in 0..n {
            self.collect();
            if self.from_peer.is_empty() {
                self.answer();
                self.collect();
                if self.from_peer.is_empty() {
                    return;
                }
            }
            while !self.from_peer.is_empty() {
                self.forward(|_| {});
            }
            self.answer();
        }
    }

    /// A message in the clear behind the responder's cookies (or a fresh initiator cookie),
    /// with the exchange, flags, message ID and payload chain from the input.
    fn clear(&mut self, c: &mut Cursor<'_>) {
        let (icookie, rcookie) = match (c.u8() % 3, self.cookies) {
            (0, Some(k)) => k,
            (1, Some((i, _))) => (i, [0; 8]),
            _ => (
                c.u32().to_be_bytes().repeat(2).try_into().unwrap_or([1; 8]),
                [0; 8],
            ),
        };
        let hdr = HeaderRepr {
            icookie,
            rcookie,
            next_payload: PayloadType::NONE,
            exchange: ExchangeType(c.u8()),
            flags: Flags(c.u8() & 0x07),
            message_id: c.u32(),
        };
        let rest = chain(c);
        let (first, bytes) = rest.into_parts();
        let msg = HeaderRepr {
            next_payload: first,
            ..hdr
        }
        .emit_with_body(&bytes);
        self.send_to_target(500, &msg);
    }

    /// An input payload chain sealed with the target's established ISAKMP SA: a Quick Mode,
    /// Informational, Transaction or any exchange, behind a correct HASH or none.
    fn sealed(&mut self, c: &mut Cursor<'_>) {
        let exchange = match c.u8() % 4 {
            0 => ExchangeType::QUICK_MODE,
            1 => ExchangeType::INFORMATIONAL,
            2 => ExchangeType::TRANSACTION,
            _ => ExchangeType(c.u8()),
        };
        let mid = c.u32();
        let with_hash = c.u8() & 1 == 0;
        let rest = chain(c);
        let Some(sa) = self.engines[TARGET].newest_isakmp_sa() else {
            return;
        };
        let iv = sa.keys.message_iv(&sa.last_block, mid);
        let hdr = HeaderRepr {
            icookie: sa.icookie,
            rcookie: sa.rcookie,
            next_payload: PayloadType::HASH,
            exchange,
            flags: Flags(Flags::ENCRYPTION),
            message_id: mid,
        };
        let msg = if with_hash {
            let hash = sa.keys.prf_a(&[&mid.to_be_bytes(), rest.bytes()]);
            seal_with_hash(sa, hdr, &iv, &hash, rest).0
        } else {
            let (first, bytes) = rest.into_parts();
            let (ct, _) = sa.keys.encrypt(&iv, &bytes);
            HeaderRepr {
                next_payload: first,
                ..hdr
            }
            .emit_with_body(&ct)
        };
        self.send_to_target(500, &msg);
    }

    /// Runs every deadline at or before `now` on both engines; a deadline `handle_timeout`
    /// does not clear is a busy loop in the daemon.
    fn settle(&mut self) {
        let now = self.now;
        for (i, e) in self.engines.iter_mut().enumerate() {
            let mut stuck = 0;
            while let Some(t) = e.poll_timeout().filter(|t| *t <= now) {
                stuck += 1;
                assert!(
                    stuck <= MAX_STUCK,
                    "engine {i}: deadline {:?} before now is not cleared by handle_timeout \
                     (busy loop)",
                    now.saturating_duration_since(t),
                );
                e.handle_timeout(now);
            }
            while e.poll_event().is_some() {}
        }
        self.collect();
        // Keep the initiator's queue to the target bounded when the script never answers.
        let mut dropped = 0;
        while let Some(t) = self.engines[TARGET].poll_transmit() {
            dropped += t.data.len();
            if dropped > 1 << 20 {
                break;
            }
        }
    }
}

/// Up to four payloads from the input: type, then a length-prefixed body.
fn chain(c: &mut Cursor<'_>) -> PayloadChain {
    let mut rest = PayloadChain::new();
    for _ in 0..c.u8() % 5 {
        let kind = PayloadType(c.u8());
        rest.push(kind, c.chunk());
    }
    rest
}

/// What an operator (or the daemon) does to an engine.
fn operator(e: &mut Engine, now: Instant, c: &mut Cursor<'_>) {
    match c.u8() % 7 {
        0 => e.initiate(now),
        1 => e.rekey(now),
        2 => e.reset(now),
        3 => e.shutdown(now),
        4 => {
            e.unknown_spi(now, c.u32());
        }
        5 => {
            let bytes = u64::from(c.u32()) << 8;
            e.child_traffic(now, c.u32(), bytes, bytes);
        }
        _ => {
            let _ = (e.status(), e.export_phase1_keys());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::v2::fuzzing::tests::{random_inputs, seeds};

    #[test]
    fn message_survives_seeds_and_random_inputs() {
        for s in seeds("isakmp_message") {
            message(&s);
        }
        for s in random_inputs(61, 3000, 600) {
            message(&s);
        }
    }

    #[test]
    fn responder_survives_seeds_and_random_scripts() {
        for s in seeds("ikev1_responder") {
            responder(&s);
        }
        for s in random_inputs(62, 200, 600) {
            responder(&s);
        }
    }

    /// The duel reaches an established ISAKMP SA and an IPsec SA in Main and in Aggressive
    /// Mode, and a sealed Informational with the right HASH (an empty DPD-less chain) is read
    /// and counted, not dropped as undecryptable.
    #[test]
    fn the_harness_reaches_established_sas_and_sealed_exchanges() {
        for variant in [0x20, 0x21, 0x22] {
            let mut d = Duel::new(variant);
            d.engines[INITIATOR].initiate(d.now);
            d.rounds(MAX_ROUNDS);
            d.settle();
            for e in &d.engines {
                let s = e.status();
                assert!(
                    !s.phase1.is_empty() && !s.children.is_empty(),
                    "{variant:#x}: {s:?}"
                );
            }
            assert!(d.engines[TARGET].newest_isakmp_sa().is_some());
            let before = d.engines[TARGET].status().stats;
            let spi = d.engines[TARGET]
                .newest_isakmp_sa()
                .map(|sa| sa.cookie_pair());
            // A DPD R-U-THERE (Informational, message ID 7, with HASH, one Notify payload).
            let notify = NotifyPayload::emit(
                1,
                crate::wire::isakmp::ProtocolId::ISAKMP,
                crate::wire::isakmp::NotifyType::R_U_THERE,
                &spi.unwrap_or_default(),
                &[0, 0, 0, 1],
            );
            let mut script = vec![1u8, 0, 0, 0, 7, 0, 1, PayloadType::NOTIFY.0];
            script.extend_from_slice(&(notify.len() as u16).to_be_bytes());
            script.extend_from_slice(&notify);
            d.sealed(&mut Cursor(&script));
            let after = d.engines[TARGET].status().stats;
            assert_eq!(after.received, before.received + 1);
            assert!(
                d.engines[TARGET].poll_transmit().is_some(),
                "no R-U-THERE-ACK"
            );
            assert_eq!(after.dropped_bad_hash, before.dropped_bad_hash, "{after:?}");
            assert_eq!(
                after.dropped_malformed, before.dropped_malformed,
                "{after:?}"
            );
        }
    }
}
