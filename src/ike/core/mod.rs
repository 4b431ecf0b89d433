//! What both IKE versions share: the engine's outputs (datagrams, events, counters, the last
//! error), retransmission with backoff, and deadline arithmetic. IKEv1 (`ike/engine`, `ike/v1`)
//! and IKEv2 (`ike/v2`) both build on it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub(crate) mod child;

use super::diagnostic::Diagnostic;
use super::event::{Event, Transmit};
use super::policy::RetransmitPolicy;
use super::status::EngineStats;

/// What an engine produced and counted, drained by `poll_transmit` / `poll_event`.
#[derive(Default)]
pub(crate) struct Outputs {
    pub transmits: VecDeque<Transmit>,
    pub events: VecDeque<Event>,
    pub stats: EngineStats,
    pub last_error: Option<String>,
    /// The negotiation transcript (what was sent and received, decoded; see
    /// [`crate::ike::transcript`]).
    pub transcript: crate::ike::transcript::Transcript,
}

impl Outputs {
    /// The next event, if any; an emptied queue gives its memory back (thousands of tunnels
    /// wait most of their time).
    pub fn next_event(&mut self) -> Option<Event> {
        let e = self.events.pop_front();
        if e.is_none() {
            self.events = VecDeque::new();
        }
        e
    }

    /// Queues one datagram from our port `local_port` to `remote`.
    pub fn send(&mut self, local_port: u16, remote: SocketAddr, data: Vec<u8>) {
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            local_port,
            remote,
            data,
        });
    }

    /// The next datagram to send, recorded in the transcript (at `now`, the engine's last
    /// time; the caller has staged the plaintexts of what it encrypted).
    pub fn next_transmit(&mut self, now: Option<Instant>) -> Option<Transmit> {
        let Some(t) = self.transmits.pop_front() else {
            // Idle tunnels hold no queue (thousands of tunnels wait most of their time).
            self.transmits = VecDeque::new();
            return None;
        };
        if let Some(now) = now {
            self.transcript.outbound(now, &t.data);
        }
        Some(t)
    }

    /// Reports a failed negotiation: counted, kept as `last_error`, and an event (which the
    /// daemon logs once, with the tunnel's name; here only at debug level).
    pub fn fail(&mut self, cause: Diagnostic) {
        tracing::debug!(%cause, "IKE negotiation failed");
        self.stats.failures += 1;
        self.last_error = Some(cause.to_string());
        self.transcript.fail(&cause.to_string());
        self.events.push_back(Event::Failed { cause });
    }
}

/// A request we wait to be answered, resent on a timer with backoff.
pub(crate) struct Retx {
    pub data: Vec<u8>,
    pub next_at: Instant,
    pub interval: Duration,
    pub count: u32,
    pub exchange: &'static str,
    pub message: u8,
}

impl Retx {
    /// The first send of `data` happened at `now`; the first retransmission is due after
    /// `p.initial`.
    pub fn new(
        data: Vec<u8>,
        now: Instant,
        p: &RetransmitPolicy,
        exchange: &'static str,
        message: u8,
    ) -> Retx {
        Retx {
            data,
            next_at: later(now, p.initial),
            interval: p.initial,
            count: 0,
            exchange,
            message,
        }
    }
}

/// `now + d`, saturating far in the future instead of panicking on overflow.
pub(crate) fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(10 * 365 * 86400)))
        .unwrap_or(now)
}

/// The next retransmission interval: times `backoff`, at most `max`.
pub(crate) fn backoff(interval: Duration, p: &RetransmitPolicy) -> Duration {
    interval
        .checked_mul(p.backoff.max(1))
        .unwrap_or(p.max_interval)
        .min(p.max_interval)
}

/// The earliest of two optional deadlines.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
