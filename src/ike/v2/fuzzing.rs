//! Fuzz harnesses for the IKEv2 engine, shared by the cargo-fuzz targets in `fuzz/` and by the
//! `cargo test` replay below (so CI runs the same code without nightly).
//!
//! Not an API: `#[doc(hidden)] pub` only so that the fuzz crate can call in. Each harness takes
//! arbitrary bytes and must never panic; a panic is a bug in the engine (or the harness).
//!
//! The engine harnesses are structure-aware: two engines (an initiator and a responder) talk on
//! a virtual clock, and the fuzz input is a script of steps that deliver their real datagrams
//! (as is, with flipped bytes, or decrypted, mutated and sealed again with the IKE SA's real
//! keys), hostile datagrams of its own (raw, in the clear with correct SPIs, or sealed as SK or
//! SKF fragments with the real keys), operator actions and time. One of the two engines is the
//! target whose input is hostile; the other is a genuine peer that reaches the encrypted
//! exchanges (IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL) for the fuzzer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::crypto::dh::DhGroup;
use crate::crypto::ikev2::Ikev2Cipher;
use crate::crypto::mlkem::KemAlg;
use crate::crypto::{EncAlg, IntegAlg};
use crate::ike::policy::{DpdPolicy, IkePolicy, IkeVersion, Phase1Policy, Phase2Policy};
use crate::ike::policy::{ProxyId, Subnet};
use crate::ike::SeededRandom;
use crate::wire::ikev2::{
    ExchangeType, Flags, Header, HeaderRepr, MessageWriter, PayloadType, SaRepr, Side, TsRepr,
};

use super::message::{self, Protected, Reassembly};
use super::{proposal, ts, Engine};

/// Most script steps one input runs (keeps one execution short).
const MAX_STEPS: usize = 48;
/// `handle_timeout(now)` calls in a row after which a deadline still at or before `now` is a
/// busy loop.
const MAX_STUCK: u32 = 8;

/// An IKEv2 responder fed hostile datagrams from an initiator it has (possibly) negotiated with.
pub fn responder(data: &[u8]) {
    Duel::run(data, 1);
}

/// An IKEv2 initiator whose peer's datagrams (IKE_SA_INIT answer, IKE_AUTH answer and every
/// later request or response, whole or as SKF fragments) come from the fuzz input.
pub fn initiator(data: &[u8]) {
    Duel::run(data, 0);
}

/// A peer's AUTH payload body as the certificate path reads it: the method (first byte), the
/// key kind of its certificate (second byte), then the data (RFC 7427: an AlgorithmIdentifier
/// length, the DER, the signature). What parses names a scheme that fits the key kind.
pub fn auth_payload(data: &[u8]) {
    use crate::ike::auth::KeyKind;
    let [method, kind, rest @ ..] = data else {
        return;
    };
    let kind = [
        KeyKind::Rsa(2048),
        KeyKind::EcdsaP256,
        KeyKind::EcdsaP384,
        KeyKind::Ed25519,
    ][usize::from(*kind) % 4];
    if let Ok((scheme, sig)) =
        super::auth_sig::peer_scheme(crate::wire::ikev2::AuthMethod(*method), rest, kind)
    {
        assert!(sig.len() <= rest.len());
        let _ = scheme.to_string();
    }
}

/// The engine's building blocks on parsed fuzz payloads: proposal choice (IKE and ESP, as
/// responder and as initiator checking an answer), traffic-selector narrowing and CIDR
/// decomposition, SK/SKF location and fragment reassembly.
pub fn parts(data: &[u8]) {
    let mut c = Cursor(data);
    let variant = c.u8();
    let sa_body = c.chunk();
    let ts_body = c.chunk();
    let policy = fuzz_policy(true, variant);
    if let Ok(sa) = SaRepr::parse(sa_body) {
        proposals(&sa, &policy, c.u16());
    }
    if let Ok(t) = TsRepr::parse(Side::Initiator, ts_body) {
        selectors(&t, &policy);
    }
    let msg = c.chunk();
    if let Ok(h) = Header::new_checked(msg) {
        let _ = message::protected(h.message(), h.next_payload());
    }
    let mut r = Reassembly::default();
    while !c.is_empty() {
        let (mid, number, total) = (u32::from(c.u8() & 3), u16::from(c.u8()), u16::from(c.u8()));
        let first = PayloadType(c.u8());
        let part = zeroize::Zeroizing::new(c.chunk().to_vec());
        if let Some((_, whole)) = r.add(mid, number, total, first, part) {
            assert!(whole.len() <= data.len(), "reassembly invents bytes");
        }
    }
}

fn proposals(sa: &SaRepr, policy: &IkePolicy, group: u16) {
    let _ = proposal::describe(sa);
    let p1 = &policy.phase1;
    let ke = (group != 0).then_some(group);
    if let Some((answer, choice)) = proposal::choose_ike(sa, p1, ke) {
        let _ = choice.name();
        // What we answer, we would accept as initiator with the same policy.
        let echoed = SaRepr {
            proposals: vec![answer],
        };
        let back = proposal::accept_ike_answer(&echoed, p1).map(|(c, _)| c);
        assert_eq!(
            back,
            Some(choice),
            "our IKE answer is not acceptable to ourselves"
        );
    }
    let _ = proposal::accept_ike_answer(sa, p1);
    for pfs in [None, Some(DhGroup::Curve25519), DhGroup::from_id(group)] {
        let p2 = &policy.phase2;
        if let Some((answer, choice, _peer)) = proposal::choose_esp(sa, p2, pfs, 0x1234_5678) {
            let _ = choice.name();
            let echoed = SaRepr {
                proposals: vec![answer],
            };
            let back = proposal::accept_esp_answer(&echoed, p2, pfs);
            assert_eq!(
                back,
                Some((choice, 0x1234_5678)),
                "our ESP answer is not acceptable to ourselves"
            );
        }
        let _ = proposal::accept_esp_answer(sa, p2, pfs);
    }
}

fn selectors(t: &TsRepr, policy: &IkePolicy) {
    let (local, remote) = ts::configured(&policy.phase2.proxy_ids);
    let _ = ts::words(&t.selectors);
    let subnets = ts::subnets(&t.selectors);
    let _ = ts::subnet_words(&subnets);
    let _ = ts::pairs(&subnets, &remote);
    for ours in [&local, &remote, &subnets] {
        let narrowed = ts::narrow(&t.selectors, ours);
        assert!(
            narrowed.is_empty() || ts::within(&narrowed, ours),
            "narrowed selectors leave our subnets"
        );
        let _ = ts::within(&t.selectors, ours);
    }
}

/// The policy of side `initiator` (10.88.0.1, else 10.88.0.2): IKEv2 with fast groups, a
/// child with IPv4 and IPv6 selectors, liveness checks; `variant` bits pick AEAD or CBC, PFS,
/// small fragments.
fn fuzz_policy(initiator: bool, variant: u8) -> IkePolicy {
    let (me, peer) = if initiator { (1, 2) } else { (2, 1) };
    let mut p = IkePolicy::seil_defaults(
        IpAddr::V4(Ipv4Addr::new(10, 88, 0, me)),
        IpAddr::V4(Ipv4Addr::new(10, 88, 0, peer)),
        b"fuzz-psk",
    );
    p.version = IkeVersion::V2;
    p.phase1 = Phase1Policy {
        dh_group: DhGroup::Curve25519,
        dh_groups: vec![DhGroup::Curve25519, DhGroup::Ecp256],
        ikev2_encryption: if variant & 1 != 0 {
            vec![Ikev2Cipher::Aes128Gcm16, Ikev2Cipher::Aes256Cbc]
        } else {
            vec![Ikev2Cipher::Aes256Cbc, Ikev2Cipher::ChaCha20Poly1305]
        },
        ..p.phase1
    };
    let sub = |s: String| -> Subnet { s.parse().unwrap_or_else(|_| Subnet::any_v4()) };
    let ids = [
        (
            sub(format!("10.{me}.0.0/16")),
            sub(format!("10.{peer}.0.0/16")),
        ),
        (sub(format!("fd0{me}::/48")), sub(format!("fd0{peer}::/48"))),
    ];
    p.phase2 = Phase2Policy {
        proxy_ids: ids
            .iter()
            .map(|&(local, remote)| ProxyId { local, remote })
            .collect(),
        encryption: vec![EncAlg::Aes128Gcm16, EncAlg::Aes256Cbc],
        authentication: vec![IntegAlg::HmacSha256_128],
        pfs_group: (variant & 2 != 0).then_some(DhGroup::Curve25519),
        ..p.phase2
    };
    p.dpd = Some(DpdPolicy {
        interval: Duration::from_secs(10),
        retries: 2,
    });
    if variant & 4 != 0 {
        p.fragment_size = 576;
    }
    p.responder_only = !initiator && variant & 8 != 0;
    if variant & 0x80 != 0 {
        // Post-quantum: an ML-KEM-512 round over IKE_INTERMEDIATE, and with PFS another over
        // IKE_FOLLOWUP_KE in every CREATE_CHILD_SA.
        p.phase1.additional_kes = vec![vec![Some(KemAlg::MlKem512)]];
        p.post_quantum = crate::ike::policy::PostQuantum::Required;
        if p.phase2.pfs_group.is_some() {
            p.phase2.additional_kes = vec![vec![Some(KemAlg::MlKem512)]];
        }
    }
    p
}

/// Reads the fuzz input; past its end every read yields zeros (shared with the IKEv1
/// harness).
pub(crate) struct Cursor<'a>(pub(crate) &'a [u8]);

impl<'a> Cursor<'a> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }

    /// A length-prefixed (u16) run of bytes.
    pub(crate) fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.bytes(n)
    }
}

/// Two engines on a virtual clock; `target` (0 initiator, 1 responder) gets the hostile input.
struct Duel {
    engines: [Engine; 2],
    addrs: [SocketAddr; 2],
    now: Instant,
    target: usize,
    iv: u64,
}

impl Duel {
    fn run(data: &[u8], target: usize) {
        let mut c = Cursor(data);
        let variant = c.u8();
        let mut d = Duel::new(target, variant);
        // Where the script starts: before anything, IKE_SA_INIT answered, or established.
        match (variant >> 4) % 3 {
            0 => {}
            1 => {
                d.deliver_all(0);
                d.deliver_all(1);
            }
            _ => d.pump(),
        }
        for _ in 0..MAX_STEPS {
            if c.is_empty() {
                break;
            }
            d.step(&mut c);
            d.settle();
        }
    }

    fn new(target: usize, variant: u8) -> Duel {
        let addr = |last| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 88, 0, last)), 500);
        let now = Instant::now();
        let mut init = Engine::new(fuzz_policy(true, variant), Box::new(SeededRandom::new(1)));
        let resp = Engine::new(fuzz_policy(false, variant), Box::new(SeededRandom::new(2)));
        init.initiate(now);
        Duel {
            engines: [init, resp],
            addrs: [addr(1), addr(2)],
            now,
            target,
            iv: 0,
        }
    }

    fn peer(&self) -> usize {
        1 - self.target
    }

    /// One step of the script.
    fn step(&mut self, c: &mut Cursor<'_>) {
        match c.u8() % 10 {
            0 => self.forward_mutated(c),
            1 => self.deliver_all(self.target),
            2 => {
                let bytes = c.chunk().to_vec();
                self.deliver(c.u8() & 1 != 0, &bytes);
            }
            3 => self.plain(c),
            4 => self.sealed(c),
            5 => self.fragments(c),
            6 => self.advance(c),
            7 => operator(&mut self.engines[self.target], self.now, c),
            8 => self.pump(),
            _ => operator(&mut self.engines[1 - self.target], self.now, c),
        }
    }

    /// Delivers one datagram to the target, from the peer's address (port 500 or 4500).
    fn deliver(&mut self, nat_t: bool, bytes: &[u8]) {
        let port = if nat_t { 4500 } else { 500 };
        let mut local = self.addrs[self.target];
        let mut remote = self.addrs[self.peer()];
        local.set_port(port);
        remote.set_port(port);
        self.engines[self.target].handle_datagram(self.now, local, remote, bytes);
    }

    /// Delivers everything engine `from` has queued to the other engine.
    fn deliver_all(&mut self, from: usize) {
        let to = 1 - from;
        let mut n = 0;
        while let Some(t) = self.engines[from].poll_transmit() {
            n += 1;
            if t.data == [0xff] || n > 64 {
                continue;
            }
            let local = SocketAddr::new(self.addrs[to].ip(), t.remote.port());
            let remote = SocketAddr::new(self.addrs[from].ip(), t.local_port);
            self.engines[to].handle_datagram(self.now, local, remote, &t.data);
        }
        self.drain_events();
    }

    /// Lets the two engines talk until both are quiet (bounded).
    fn pump(&mut self) {
        for _ in 0..16 {
            self.deliver_all(0);
            self.deliver_all(1);
        }
    }

    fn drain_events(&mut self) {
        for e in &mut self.engines {
            while e.poll_event().is_some() {}
        }
    }

    /// The peer's next datagram to the target: as is, with a byte flipped, or decrypted,
    /// mutated in the clear and sealed again with the IKE SA's keys.
    fn forward_mutated(&mut self, c: &mut Cursor<'_>) {
        let Some(t) = self.engines[self.peer()].poll_transmit() else {
            return;
        };
        let mut data = t.data;
        let nat_t = t.local_port == 4500;
        match c.u8() % 4 {
            0 => {}
            1 => {
                let at = usize::from(c.u16());
                if let Some(len) = std::num::NonZeroUsize::new(data.len()) {
                    data[at % len.get()] ^= c.u8() | 1;
                }
            }
            2 => data.truncate(usize::from(c.u16())),
            _ => {
                if let Some(d) = self.remutate(&data, c) {
                    data = d;
                }
            }
        }
        self.deliver(nat_t, &data);
    }

    /// Decrypts an SK/SKF datagram of the peer with the target's keys, changes the plaintext
    /// (flip, splice, truncate) and seals it again.
    fn remutate(&mut self, data: &[u8], c: &mut Cursor<'_>) -> Option<Vec<u8>> {
        let h = Header::new_checked(data).ok()?;
        let hdr = HeaderRepr::parse(&h);
        let e = &self.engines[self.target];
        let sa = e.sas.get(e.find_sa((hdr.ispi, hdr.rspi))?)?;
        let keys = sa.keys.as_ref()?;
        let from_initiator = hdr.flags.initiator();
        let (first, fragment, aad, body) =
            match message::protected(h.message(), hdr.next_payload).ok()?? {
                Protected::Sk { first, aad, body } => (first, None, aad, body),
                Protected::Fragment {
                    first,
                    number,
                    total,
                    aad,
                    body,
                } => (first, Some((number, total)), aad, body),
            };
        let mut plain = message::decrypt(keys, from_initiator, aad, body)?.to_vec();
        let at = usize::from(c.u16()) % (plain.len() + 1);
        match c.u8() % 3 {
            0 => {
                if let Some(b) = plain.get_mut(at) {
                    *b ^= c.u8() | 1;
                }
            }
            1 => plain.truncate(at),
            _ => {
                let insert = c.chunk();
                plain.splice(at..at, insert.iter().copied());
            }
        }
        self.iv = self.iv.wrapping_add(1);
        let iv = iv_bytes(self.iv, keys.suite.cipher.iv_len());
        let key = keys.sk_key(from_initiator);
        message::sealed(&hdr, first, fragment, &plain, &key, &iv).ok()
    }

    /// The header of a message from the peer on one of the target's IKE SAs (or on fuzz SPIs),
    /// with the message ID the target expects or one near it, or any.
    fn header(&self, c: &mut Cursor<'_>) -> HeaderRepr {
        let e = &self.engines[self.target];
        let sa = match e.sas.len() {
            0 => None,
            n => e.sas.get(usize::from(c.u8()) % n),
        };
        let exchange = match c.u8() {
            x @ 0..=3 => ExchangeType(34 + x),
            4 => ExchangeType::IKE_INTERMEDIATE,
            5 => ExchangeType::IKE_FOLLOWUP_KE,
            x => ExchangeType(x),
        };
        let flags = c.u8();
        let response = flags & 1 != 0;
        let (ispi, rspi, original_initiator, expected) = match sa {
            Some(sa) => {
                let mid = if response {
                    sa.request
                        .as_ref()
                        .map_or(sa.next_request_id, |r| r.message_id)
                } else {
                    sa.expected_request_id
                };
                (sa.spi_i, sa.spi_r, sa.original_initiator, mid)
            }
            None => ([1; 8], [0; 8], false, 0),
        };
        let mut rspi = rspi;
        if flags & 2 != 0 {
            rspi.copy_from_slice(&c.u32().to_be_bytes().repeat(2));
        }
        let message_id = match c.u8() {
            0..=191 => expected,
            192..=223 => expected.wrapping_sub(1),
            224..=239 => expected.wrapping_add(1),
            _ => c.u32(),
        };
        let mut f = if original_initiator {
            0
        } else {
            Flags::INITIATOR
        };
        if response {
            f |= Flags::RESPONSE;
        }
        if flags & 4 != 0 {
            f = flags & 0xf8;
        }
        HeaderRepr {
            ispi,
            rspi,
            next_payload: PayloadType::NO_NEXT,
            minor_version: 0,
            exchange,
            flags: Flags(f),
            message_id,
        }
    }

    /// A message in the clear (IKE_SA_INIT and what must be refused unencrypted): the fuzz
    /// payload chain behind a header with the target's SPIs.
    fn plain(&mut self, c: &mut Cursor<'_>) {
        let hdr = self.header(c);
        let first = PayloadType(c.u8());
        let chain = c.chunk();
        let mut buf = Vec::new();
        let Ok(w) = MessageWriter::new(&mut buf, &hdr) else {
            return;
        };
        w.finish_plain();
        if let Some(b) = buf.get_mut(16) {
            *b = first.0;
        }
        buf.extend_from_slice(chain);
        let Ok(len) = u32::try_from(buf.len()) else {
            return;
        };
        if let Some(l) = buf.get_mut(24..28) {
            l.copy_from_slice(&len.to_be_bytes());
        }
        self.deliver(false, &buf);
    }

    /// The fuzz payload chain sealed in an SK payload with the IKE SA's real keys.
    fn sealed(&mut self, c: &mut Cursor<'_>) {
        let hdr = self.header(c);
        let first = PayloadType(c.u8());
        let chain = c.chunk().to_vec();
        if let Some(d) = self.seal(&hdr, first, None, &chain) {
            self.deliver(c.u8() & 1 != 0, &d);
        }
    }

    /// The fuzz payload chain in SKF fragments (numbers and order partly from the input).
    fn fragments(&mut self, c: &mut Cursor<'_>) {
        let hdr = self.header(c);
        let first = PayloadType(c.u8());
        let chain = c.chunk().to_vec();
        let total = u16::from(c.u8() % 5 + 1);
        let size = chain.len().div_ceil(usize::from(total)).max(1);
        let mut parts: Vec<(u16, &[u8])> = chain
            .chunks(size)
            .enumerate()
            .map(|(i, p)| (i as u16 + 1, p))
            .collect();
        if parts.is_empty() {
            parts.push((1, &[]));
        }
        let claimed = match c.u8() {
            0..=200 => parts.len() as u16,
            x => u16::from(x - 200),
        };
        let order = c.u8();
        if order & 1 != 0 {
            parts.reverse();
        }
        if order & 2 != 0 {
            parts.pop();
        }
        if order & 4 != 0 {
            if let Some(&p) = parts.first() {
                parts.push(p);
            }
        }
        for (n, p) in parts {
            let inner = if n == 1 { first } else { PayloadType::NO_NEXT };
            if let Some(d) = self.seal(&hdr, inner, Some((n, claimed)), p) {
                self.deliver(false, &d);
            }
        }
    }

    fn seal(
        &mut self,
        hdr: &HeaderRepr,
        first: PayloadType,
        fragment: Option<(u16, u16)>,
        plain: &[u8],
    ) -> Option<Vec<u8>> {
        let e = &self.engines[self.target];
        let sa = e.sas.get(e.find_sa((hdr.ispi, hdr.rspi))?)?;
        let keys = sa.keys.as_ref()?;
        self.iv = self.iv.wrapping_add(1);
        let iv = iv_bytes(self.iv, keys.suite.cipher.iv_len());
        let key = keys.sk_key(!sa.original_initiator);
        message::sealed(hdr, first, fragment, plain, &key, &iv).ok()
    }

    /// Advances the virtual clock by up to 255 s, running every deadline on the way.
    fn advance(&mut self, c: &mut Cursor<'_>) {
        let secs = u64::from(c.u8());
        let end = self.now + Duration::from_secs(secs) + Duration::from_millis(u64::from(c.u8()));
        for _ in 0..64 {
            let next = self.engines.iter().filter_map(Engine::poll_timeout).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.settle();
                    if c.u8() & 1 == 0 {
                        self.pump();
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
        self.settle();
    }

    /// Runs the deadlines due now and checks that running them clears them: a deadline at
    /// or before `now` that `handle_timeout(now)` does not move is a busy loop in the caller.
    fn settle(&mut self) {
        let now = self.now;
        for (i, e) in self.engines.iter_mut().enumerate() {
            let mut stuck = 0;
            while let Some(t) = e.poll_timeout().filter(|t| *t <= now) {
                stuck += 1;
                assert!(
                    stuck <= MAX_STUCK,
                    "engine {i}: deadline {:?} before now is not cleared by handle_timeout \
                     (busy loop); {:?}",
                    now.saturating_duration_since(t),
                    e
                );
                e.handle_timeout(now);
            }
            // Keep the peer's queue bounded when the script never delivers it.
            while e.io.transmits.len() > 256 {
                e.io.transmits.pop_front();
            }
        }
        self.drain_events();
    }
}

/// What an operator (or the daemon) does to an engine: bring up, rekey, reset, shut down,
/// report unknown ESP, report traffic.
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
            let spi = e.children.list.first().map_or(0, |ch| ch.inbound_spi);
            let bytes = u64::from(c.u32()) << 8;
            e.child_traffic(now, spi, bytes, bytes);
        }
        _ => {
            let _ = (e.status(), e.export_ike_keys());
        }
    }
}

fn iv_bytes(counter: u64, len: usize) -> Vec<u8> {
    let mut iv = vec![0u8; len];
    for (b, x) in iv.iter_mut().rev().zip(counter.to_le_bytes()) {
        *b = x;
    }
    iv
}

#[cfg(test)]
pub(crate) mod tests {
    //! The CI form of the fuzz targets: the committed seeds and a few thousand random inputs
    //! through the same harnesses (no nightly, no libFuzzer).

    use super::*;
    use crate::ike::random::{random_bytes, RandomSource};

    /// The committed seeds of `target`, and the local libFuzzer corpus when there is one (not
    /// committed: replaying it here adds the overflow checks the `-O` fuzz build lacks).
    pub(crate) fn seeds(target: &str) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        for kind in ["seeds", "corpus"] {
            let dir = format!("{}/fuzz/{kind}/{target}", env!("CARGO_MANIFEST_DIR"));
            if let Ok(rd) = std::fs::read_dir(&dir) {
                files.extend(rd.flatten().map(|e| e.path()));
            }
        }
        files.sort();
        files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    pub(crate) fn random_inputs(seed: u64, n: usize, max_len: usize) -> Vec<Vec<u8>> {
        let mut rng = SeededRandom::new(seed);
        (0..n)
            .map(|_| {
                let mut l = [0u8; 2];
                rng.fill(&mut l);
                random_bytes(&mut rng, usize::from(u16::from_be_bytes(l)) % max_len)
            })
            .collect()
    }

    #[test]
    fn responder_survives_seeds_and_random_scripts() {
        for s in seeds("ikev2_responder") {
            responder(&s);
        }
        for s in random_inputs(11, 300, 600) {
            responder(&s);
        }
    }

    #[test]
    fn initiator_survives_seeds_and_random_scripts() {
        for s in seeds("ikev2_initiator") {
            initiator(&s);
        }
        for s in random_inputs(12, 300, 600) {
            initiator(&s);
        }
    }

    #[test]
    fn parts_survive_seeds_and_random_inputs() {
        for s in seeds("ikev2_parts") {
            parts(&s);
        }
        for s in random_inputs(13, 5000, 400) {
            parts(&s);
        }
    }

    /// The `real-sa-ts` seed holds an SA payload with an IKE and an ESP proposal and a TS
    /// payload that parse and are chosen: the fuzzer starts from the interesting paths.
    #[test]
    fn parts_seed_reaches_choice_and_narrowing() {
        let path = format!(
            "{}/fuzz/seeds/ikev2_parts/real-sa-ts",
            env!("CARGO_MANIFEST_DIR")
        );
        let data = std::fs::read(path).expect("seed");
        let mut c = Cursor(&data);
        let policy = fuzz_policy(true, c.u8());
        let sa = SaRepr::parse(c.chunk()).expect("seed SA parses");
        let t = TsRepr::parse(Side::Initiator, c.chunk()).expect("seed TS parses");
        assert!(proposal::choose_ike(&sa, &policy.phase1, None).is_some());
        assert!(proposal::choose_esp(&sa, &policy.phase2, None, 1).is_some());
        let (local, _) = ts::configured(&policy.phase2.proxy_ids);
        assert_eq!(ts::narrow(&t.selectors, &local).len(), 3);
    }

    /// With the post-quantum variant the harness runs IKE_INTERMEDIATE and, on rekeys with
    /// PFS, IKE_FOLLOWUP_KE: the engines reach an established post-quantum IKE SA.
    #[test]
    fn the_harness_reaches_post_quantum_sas() {
        let mut d = Duel::new(1, 0x82);
        d.pump();
        for e in &d.engines {
            let s = e.status();
            assert!(s.phase1.iter().any(|p| p.post_quantum), "{s:?}");
            assert!(!e.children.list.is_empty());
        }
        d.engines[0].rekey(d.now);
        d.pump();
        let children = d.engines[1].status().children;
        assert!(
            children
                .iter()
                .any(|c| c.proposal.ends_with("ke1_mlkem512")),
            "{children:?}"
        );
    }

    /// The structure-aware steps reach an established IKE SA and the encrypted exchanges: a
    /// script that only lets the engines talk brings a child up.
    #[test]
    fn the_harness_reaches_established_sas() {
        let mut d = Duel::new(1, 0);
        d.pump();
        assert!(d.engines.iter().all(|e| e.newest_established().is_some()));
        assert!(d.engines.iter().all(|e| !e.children.list.is_empty()));
        // A sealed INFORMATIONAL request with an empty chain is answered.
        let mut c = Cursor(&[0, 3, 0, 0, 0, 0, 0]);
        d.sealed(&mut c);
        let before = d.engines[1].status().stats.received;
        assert!(before > 0);
        assert!(
            d.engines[1].poll_transmit().is_some(),
            "no answer to a sealed request"
        );
    }
}
