//! What the ring keeps of an exchange and its messages: only what cannot be derived when the
//! transcript is read (the API's [`Exchange`] and [`Message`] are built then). Thousands of
//! tunnels each keep two or three exchanges, so every field here is in each tunnel's memory.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use super::{hex, outcome, packed, Decoded, Direction, Exchange, ExchangeKey, Message, Name};

/// An exchange as kept in the ring.
pub(super) struct Filed {
    pub id: u64,
    pub key: ExchangeKey,
    pub exchange: Name,
    pub diagnostic: Option<Box<str>>,
    pub messages: Vec<FiledMessage>,
}

/// A message as kept in the ring.
pub(super) struct FiledMessage {
    pub at: Instant,
    pub fingerprint: u64,
    /// The payload tree, packed.
    pub packed: packed::Packed,
    pub note: Option<Box<str>>,
    pub exchange: Name,
    pub length: u32,
    pub datagrams: u32,
    pub message_id: u32,
    pub response: Option<bool>,
    pub direction: Direction,
    pub encrypted: bool,
}

impl FiledMessage {
    pub fn new(
        now: Instant,
        length: usize,
        direction: Direction,
        fingerprint: u64,
        d: Decoded,
    ) -> Self {
        FiledMessage {
            at: now,
            fingerprint,
            packed: packed::pack(d.payloads),
            note: d.note.map(String::into_boxed_str),
            exchange: d.exchange_name,
            length: u32::try_from(length).unwrap_or(u32::MAX),
            datagrams: 1,
            message_id: d.key.message_id,
            response: d.response,
            direction,
            encrypted: d.encrypted,
        }
    }

    /// The message as the API shows it, its time on the Unix clock (`now` ≙ `unix_now`).
    fn to_api(&self, now: Instant, unix_now: Duration) -> Message {
        let unix = unix_now.saturating_sub(now.saturating_duration_since(self.at));
        Message {
            direction: self.direction,
            time_unix_ms: u64::try_from(unix.as_millis()).unwrap_or(u64::MAX),
            exchange: self.exchange.clone(),
            message_id: self.message_id,
            response: self.response,
            encrypted: self.encrypted,
            length: self.length as usize,
            datagrams: self.datagrams,
            payloads: packed::unpack(&self.packed),
            note: self.note.as_deref().map(str::to_string),
        }
    }
}

impl Filed {
    /// The exchange as the API shows it.
    pub fn to_api(&self, now: Instant, unix_now: Duration) -> Exchange {
        let first = self.messages.first().map(|m| m.direction);
        let k = &self.key;
        let mut e = Exchange {
            id: self.id,
            version: k.version,
            exchange: self.exchange.clone(),
            message_id: k.message_id,
            initiator_spi: hex(&k.ispi),
            initiated_by: match (k.version, k.requested_by_us, first) {
                (2, true, _) | (1, _, Some(Direction::Out)) => "us",
                _ => "peer",
            }
            .into(),
            outcome: String::new(),
            diagnostic: self.diagnostic.as_deref().map(str::to_string),
            messages: self
                .messages
                .iter()
                .map(|m| m.to_api(now, unix_now))
                .collect(),
        };
        e.outcome = outcome(&e);
        e
    }

    /// About what it holds on the heap: its messages, their payloads, notes and names.
    pub fn heap_bytes(&self) -> usize {
        let name = |n: &Name| match n {
            Cow::Borrowed(_) => 0,
            Cow::Owned(s) => s.capacity(),
        };
        std::mem::size_of::<Filed>()
            + name(&self.exchange)
            + self.diagnostic.as_ref().map_or(0, |d| d.len())
            + self
                .messages
                .iter()
                .map(|m| {
                    std::mem::size_of::<FiledMessage>()
                        + m.packed.heap_bytes()
                        + name(&m.exchange)
                        + m.note.as_ref().map_or(0, |n| n.len())
                })
                .sum::<usize>()
    }
}
