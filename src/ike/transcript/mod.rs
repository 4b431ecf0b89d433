//! The negotiation transcript of one tunnel: a bounded ring of its last IKE exchanges (IKEv1 and
//! IKEv2), each message with its direction, time, exchange, message ID and decoded payload tree
//! *after decryption*, and the exchange's outcome and diagnostic. An operator reads why a
//! negotiation failed without capturing packets or exporting keys.
//!
//! The ring is bounded in exchanges ([`MAX_EXCHANGES`]) and in bytes ([`MAX_BYTES`]), and keeps
//! each message's payload tree packed into one byte string (`packed.rs`), unpacked when read: a
//! gateway with thousands of tunnels keeps thousands of transcripts.
//!
//! What is never kept: key material, nonce values, KE values, AUTH/HASH/signature contents
//! (only their lengths and methods). Plaintext handed over by the engines is decoded at once and
//! dropped (zeroized).
//!
//! Each engine records at its central places only: a datagram enters
//! ([`Transcript::inbound_begin`] / [`Transcript::inbound_end`] around its handling), a
//! datagram leaves (`poll_transmit`: [`Transcript::outbound`]), and where it encrypts or
//! decrypts it hands the plaintext over ([`Transcript::stage`]) keyed by the datagram's last
//! bytes, which the recording then picks up. Failures reported through the engine's outputs
//! attach their diagnostic to the exchange in progress ([`Transcript::fail`]).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use ring::FiledMessage;

mod decode_v1;
mod decode_v2;
/// Fuzz harness (not an API; public only for the `fuzz/` crate).
#[doc(hidden)]
pub mod fuzzing;
mod packed;
mod ring;
#[cfg(test)]
mod tests;
mod vendor;

/// A name from a fixed set (exchange types, who started it): kept without a copy on the heap
/// per exchange and message, thousands of tunnels each keeping a few.
pub type Name = Cow<'static, str>;

/// Exchanges kept per tunnel (oldest dropped first).
pub const MAX_EXCHANGES: usize = 32;
/// Heap bytes a tunnel's transcript keeps at most (oldest exchanges dropped first; the newest
/// is always kept): a few complete negotiations. Thousands of tunnels each keep one.
pub const MAX_BYTES: usize = 6 * 1024;
/// Messages kept per exchange (a long Informational run keeps its first ones).
pub const MAX_MESSAGES: usize = 12;
/// Plaintexts waiting to be matched with their datagram.
const MAX_STAGED: usize = 16;
/// Bytes of a datagram's end that identify it (the last cipher block or the ICV).
const TAIL: usize = 16;
/// Longest text kept for a notification's data or an identity.
pub(crate) const MAX_TEXT: usize = 256;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// We sent it.
    Out,
    /// The peer sent it.
    In,
}

/// One decoded payload (or part of one: a proposal, a transform, a selector, an attribute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Node {
    /// What it is: `SA`, `proposal 1`, `transform`, `N(NO_PROPOSAL_CHOSEN)`, `TSi`, …
    pub name: String,
    /// Its content in words (never a secret: lengths only for KE, nonces, AUTH, HASH).
    pub text: String,
    /// Its parts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub children: Vec<Node>,
}

impl Node {
    /// A leaf.
    pub fn leaf(name: impl Into<String>, text: impl Into<String>) -> Node {
        Node {
            name: name.into(),
            text: text.into(),
            children: Vec::new(),
        }
    }

    /// A node with parts.
    pub fn with(name: impl Into<String>, text: impl Into<String>, children: Vec<Node>) -> Node {
        Node {
            name: name.into(),
            text: text.into(),
            children,
        }
    }
}

/// One message of an exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// `out` (we sent it) or `in`.
    pub direction: Direction,
    /// Milliseconds since the Unix epoch (filled in when the transcript is read).
    pub time_unix_ms: u64,
    /// The exchange named in its header.
    #[schema(value_type = String)]
    pub exchange: Name,
    /// Its message ID.
    pub message_id: u32,
    /// IKEv2: whether it is a response (IKEv1 has no such flag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<bool>,
    /// Whether it travelled encrypted (its payloads are shown decrypted).
    pub encrypted: bool,
    /// Size of the (first) datagram in bytes.
    pub length: usize,
    /// Datagrams that carried it: 1, more for retransmissions and fragments.
    pub datagrams: u32,
    /// The decoded payloads, in order.
    pub payloads: Vec<Node>,
    /// What could not be shown, e.g. "encrypted; could not be decrypted".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One exchange (IKEv1 Main/Aggressive/Quick Mode or Informational; an IKEv2 request and its
/// response) with its messages, outcome and diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Exchange {
    /// Sequence number within the tunnel (grows; older ones drop out of the ring).
    pub id: u64,
    /// IKE version, 1 or 2.
    pub version: u8,
    /// `Main Mode`, `Quick Mode`, `IKE_SA_INIT`, `IKE_AUTH`, …
    #[schema(value_type = String)]
    pub exchange: Name,
    /// The message ID of the exchange.
    pub message_id: u32,
    /// The initiator's cookie / SPI, hex.
    pub initiator_spi: String,
    /// Who started it: `us` or `peer`.
    #[schema(value_type = String)]
    pub initiated_by: Name,
    /// `completed`, `failed`, `refused by the peer`, `refused by us`, `waiting for the peer`.
    pub outcome: String,
    /// The plain-words cause when it failed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
    /// Its messages in the order they were sent or received.
    pub messages: Vec<Message>,
}

/// What tells exchanges apart: version, initiator SPI, message ID, exchange type, and (IKEv2,
/// whose two sides number their requests apart) who sent the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ExchangeKey {
    version: u8,
    ispi: [u8; 8],
    message_id: u32,
    exchange: u8,
    requested_by_us: bool,
}

/// A decoded header and payload tree, before it is filed.
pub(crate) struct Decoded {
    key: ExchangeKey,
    exchange_name: Name,
    response: Option<bool>,
    encrypted: bool,
    payloads: Vec<Node>,
    note: Option<String>,
    /// Inner payload type of an encrypted message (what the plaintext starts with).
    first_inner: u8,
    /// IKEv2 SKF fragment number (1 for the first, 0 when not fragmented).
    fragment: u16,
}

/// A plaintext handed over by the engine at encryption or decryption, until its datagram is
/// recorded.
struct Staged {
    tail: Vec<u8>,
    plain: Zeroizing<Vec<u8>>,
}

/// The transcript of one tunnel's engine.
#[derive(Default)]
pub struct Transcript {
    exchanges: VecDeque<ring::Filed>,
    next_id: u64,
    staged: VecDeque<Staged>,
    /// The datagram being handled, decoded, until the engine says whether it kept it.
    pending: Option<(Instant, Decoded)>,
    /// A failure diagnosed while handling it.
    pending_diagnostic: Option<String>,
    /// The exchange a message was last filed into.
    last: Option<u64>,
}

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcript")
            .field("exchanges", &self.exchanges.len())
            .finish_non_exhaustive()
    }
}

impl Transcript {
    /// Hands over the plaintext of a message the engine just encrypted or decrypted: `datagram`
    /// is the encrypted message (or its last fragment) whose last bytes identify it.
    pub fn stage(&mut self, datagram: &[u8], plain: &[u8]) {
        let tail = tail_of(datagram);
        self.stage_tail(tail.to_vec(), plain);
    }

    /// Like [`Transcript::stage`] for IKEv1, where the encryption hands out the last cipher
    /// block (the end of the datagram) rather than the datagram.
    pub(crate) fn stage_tail(&mut self, tail: Vec<u8>, plain: &[u8]) {
        if tail.is_empty() {
            return;
        }
        if self.staged.len() == MAX_STAGED {
            self.staged.pop_front();
        }
        self.staged.push_back(Staged {
            tail,
            plain: Zeroizing::new(plain.to_vec()),
        });
    }

    /// A datagram from the peer is about to be handled: decoded now (unencrypted payloads),
    /// filed by [`Transcript::inbound_end`] once the engine has looked at it.
    pub fn inbound_begin(&mut self, now: Instant, datagram: &[u8]) {
        self.pending = decode(datagram, Direction::In).map(|d| (now, d));
        self.pending_diagnostic = None;
    }

    /// The datagram given to [`Transcript::inbound_begin`] was handled. `junk`: the engine
    /// dropped it as not belonging to any exchange (unknown cookies or SPIs, unsupported,
    /// replayed, over the half-open limit), so it is not filed: a flood of such datagrams
    /// cannot push the real exchanges out of the ring. Otherwise it is filed with the
    /// payloads the engine decrypted, and any failure diagnosed meanwhile.
    pub fn inbound_end(&mut self, datagram: &[u8], junk: bool) {
        let diagnostic = self.pending_diagnostic.take();
        let Some((now, d)) = self.pending.take() else {
            return;
        };
        if junk {
            let _ = self.take_staged(datagram);
            return;
        }
        let Some((id, idx)) = self.file(now, datagram, Direction::In, d) else {
            return;
        };
        let plain = self.take_staged(datagram);
        let Some(e) = self.exchanges.iter_mut().find(|e| e.id == id) else {
            return;
        };
        if let Some(diag) = diagnostic {
            e.diagnostic = Some(truncate(&diag, 4 * MAX_TEXT).into_boxed_str());
        }
        let (Some(plain), Some(m)) = (plain, e.messages.get_mut(idx)) else {
            return;
        };
        if m.encrypted && m.packed.is_empty() {
            if let Some((first, version)) = inner_of(datagram) {
                m.packed = packed::pack(decode_plain(version, first, &plain));
                m.note = None;
            }
        }
        self.trim_to_budget();
    }

    /// A datagram of ours leaves (called from `poll_transmit`).
    pub fn outbound(&mut self, now: Instant, datagram: &[u8]) {
        let Some(mut d) = decode(datagram, Direction::Out) else {
            return;
        };
        if d.encrypted {
            match self.take_staged(datagram) {
                Some(plain) => {
                    d.payloads = decode_plain(d.key.version, d.first_inner, &plain);
                    d.note = None;
                }
                None => d.note = Some("encrypted; its plaintext was not recorded".into()),
            }
        }
        self.file(now, datagram, Direction::Out, d);
    }

    /// Attaches a failure's diagnostic to the exchange in progress: the one of the datagram
    /// being handled (once it is filed), else the one last touched (a timeout).
    pub fn fail(&mut self, diagnostic: &str) {
        if self.pending.is_some() {
            self.pending_diagnostic = Some(diagnostic.to_string());
            return;
        }
        let id = self.last;
        let target = self.exchanges.iter_mut().find(|e| Some(e.id) == id);
        if let Some(e) = target {
            e.diagnostic = Some(truncate(diagnostic, 4 * MAX_TEXT).into_boxed_str());
        }
    }

    /// The exchanges, oldest first, with times on the Unix clock (`now` ≙ `unix_now`).
    pub fn snapshot(&self, now: Instant, unix_now: Duration) -> Vec<Exchange> {
        self.exchanges
            .iter()
            .map(|e| e.to_api(now, unix_now))
            .collect()
    }

    fn take_staged(&mut self, datagram: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let i = self
            .staged
            .iter()
            .position(|s| datagram.ends_with(&s.tail))?;
        self.staged.remove(i).map(|s| s.plain)
    }

    /// Files a message into its exchange (a new one if needed); a datagram seen before (a
    /// retransmission) or a later fragment only counts. Returns where it went.
    fn file(
        &mut self,
        now: Instant,
        datagram: &[u8],
        dir: Direction,
        d: Decoded,
    ) -> Option<(u64, usize)> {
        let fingerprint = fnv1a(datagram);
        let key = self.v1_refused_exchange(&d).unwrap_or(d.key);
        if let Some(e) = self.exchanges.iter_mut().rev().find(|e| e.key == key) {
            let same = e.messages.iter().position(|m| {
                m.direction == dir
                    && (m.fingerprint == fingerprint
                        || (d.fragment > 1 && m.response == d.response))
            });
            self.last = Some(e.id);
            if let Some(i) = same {
                e.messages[i].datagrams = e.messages[i].datagrams.saturating_add(1);
                return Some((e.id, i));
            }
            if e.messages.len() >= MAX_MESSAGES {
                return None;
            }
            // Grown one at a time: a finished exchange keeps no spare room.
            e.messages.reserve_exact(1);
            e.messages
                .push(FiledMessage::new(now, datagram.len(), dir, fingerprint, d));
            let at = (e.id, e.messages.len() - 1);
            self.trim_to_budget();
            return Some(at);
        }
        if self.exchanges.len() == MAX_EXCHANGES {
            self.exchanges.pop_front();
        }
        // One slot at a time, as the messages: a tunnel keeps two or three exchanges.
        self.exchanges.reserve_exact(1);
        let id = self.next_id;
        self.next_id += 1;
        self.last = Some(id);
        self.exchanges.push_back(ring::Filed {
            id,
            key,
            exchange: d.exchange_name.clone(),
            diagnostic: None,
            messages: vec![FiledMessage::new(now, datagram.len(), dir, fingerprint, d)],
        });
        self.trim_to_budget();
        Some((id, 0))
    }

    /// Drops the oldest exchanges while the ring holds more than [`MAX_BYTES`] (the newest
    /// stays, whatever its size); its spare room is given back.
    fn trim_to_budget(&mut self) {
        let mut total: usize = self.exchanges.iter().map(ring::Filed::heap_bytes).sum();
        while total > MAX_BYTES && self.exchanges.len() > 1 {
            total -= self
                .exchanges
                .pop_front()
                .as_ref()
                .map_or(0, ring::Filed::heap_bytes);
        }
        if self.exchanges.capacity() > self.exchanges.len() + 4 {
            self.exchanges.shrink_to_fit();
        }
    }
}

impl Transcript {
    /// An IKEv1 Informational belongs to the unfinished exchange of the same ISAKMP SA it
    /// answers (a NO-PROPOSAL-CHOSEN or INVALID-ID-INFORMATION refusal): its key, if any.
    fn v1_refused_exchange(&self, d: &Decoded) -> Option<ExchangeKey> {
        const INFORMATIONAL: u8 = 5;
        if d.key.version != 1 || d.key.exchange != INFORMATIONAL {
            return None;
        }
        let unfinished = |e: &ring::Filed| match e.key.exchange {
            2 => e.messages.len() < 6,
            4 | 32 => e.messages.len() < 3,
            _ => false,
        };
        self.exchanges
            .iter()
            .rev()
            .find(|e| e.key.version == 1 && e.key.ispi == d.key.ispi && unfinished(e))
            .map(|e| e.key)
    }
}

/// Decodes a datagram's header and its unencrypted payloads (either version).
fn decode(datagram: &[u8], dir: Direction) -> Option<Decoded> {
    match datagram.get(17)? >> 4 {
        1 => decode_v1::message(datagram, dir),
        2 => decode_v2::message(datagram, dir),
        _ => None,
    }
}

/// The first inner payload type and the version of an encrypted datagram.
fn inner_of(datagram: &[u8]) -> Option<(u8, u8)> {
    let d = decode(datagram, Direction::In)?;
    Some((d.first_inner, d.key.version))
}

/// Decodes a decrypted payload chain.
fn decode_plain(version: u8, first: u8, plain: &[u8]) -> Vec<Node> {
    match version {
        1 => decode_v1::chain(first, plain),
        _ => decode_v2::chain(first, plain),
    }
}

/// What became of an exchange, in a word or three.
fn outcome(e: &Exchange) -> String {
    if e.diagnostic.is_some() {
        return "failed".into();
    }
    let error_from = |dir: Direction| {
        e.messages
            .iter()
            .filter(|m| m.direction == dir)
            .flat_map(|m| m.payloads.iter())
            .any(|p| p.name.starts_with("N(") && p.text.starts_with("error"))
    };
    if error_from(Direction::In) {
        return "refused by the peer".into();
    }
    if error_from(Direction::Out) {
        return "refused by us".into();
    }
    let complete = match (e.version, e.exchange.as_ref()) {
        (2, _) => e.messages.iter().any(|m| m.response == Some(true)),
        (_, "Main Mode") => e.messages.len() >= 6,
        (_, "Aggressive Mode" | "Quick Mode") => e.messages.len() >= 3,
        _ => !e.messages.is_empty(),
    };
    let last_in = e.messages.last().map(|m| m.direction) == Some(Direction::In);
    if complete {
        "completed".into()
    } else if last_in {
        "waiting for us".into()
    } else {
        "waiting for the peer".into()
    }
}

fn tail_of(datagram: &[u8]) -> &[u8] {
    datagram
        .get(datagram.len().saturating_sub(TAIL)..)
        .unwrap_or_default()
}

/// FNV-1a: tells a retransmitted datagram from a new one (not a security function).
fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Printable text of at most `max` characters (control characters escaped).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars().take(max) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// Bytes as text when they are printable UTF-8, else as hex; at most [`MAX_TEXT`].
pub(crate) fn text_or_hex(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if !s.is_empty() && s.chars().all(|c| !c.is_control()) => truncate(s, MAX_TEXT),
        _ => {
            let h = hex(b.get(..MAX_TEXT / 2).unwrap_or(b));
            if b.len() > MAX_TEXT / 2 {
                format!("{h}…")
            } else {
                h
            }
        }
    }
}
