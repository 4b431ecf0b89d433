//! Wires the process-wide [`Pacer`] into the IKE tasks: each task's [`Gate`] holds back the
//! opening message of a negotiation until its local address has a free half-open slot, and
//! frees the slot when the engine no longer has a phase 1 of its own half-open.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use crate::ike::pacing::{opening_initiation, Admission, Pacer};
use crate::ike::{EngineStatus, Role, Transmit};

/// Sends of one opening message (same initiator SPI) after which, unanswered, the log says
/// why the peer may be dropping it: the first try and two retransmissions.
const UNANSWERED_SENDS: u32 = 3;

/// The pacer shared by every IKE task, and how to wake each task when its turn comes.
pub struct Pacing {
    pacer: Mutex<Pacer<usize>>,
    wake: HashMap<usize, Arc<Notify>>,
}

impl Pacing {
    /// A pacer allowing `limit` half-open initiations per local address, for the IKE tunnels
    /// with these indices.
    pub fn new(limit: Option<usize>, tunnels: impl Iterator<Item = usize>) -> Arc<Pacing> {
        Arc::new(Pacing {
            pacer: Mutex::new(Pacer::new(limit)),
            wake: tunnels.map(|t| (t, Arc::new(Notify::new()))).collect(),
        })
    }

    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer<usize>> {
        self.pacer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The gate of tunnel `tunnel`, which initiates from `source`.
    pub fn gate(self: &Arc<Self>, tunnel: usize, source: IpAddr) -> Gate {
        let wake = self.wake.get(&tunnel).cloned().unwrap_or_default();
        Gate {
            pacing: self.clone(),
            tunnel,
            source,
            wake,
            held: None,
            queued_or_open: false,
            sent: None,
        }
    }
}

/// One tunnel's side of the pacer.
pub struct Gate {
    pacing: Arc<Pacing>,
    tunnel: usize,
    source: IpAddr,
    wake: Arc<Notify>,
    /// The opening message waiting for a slot (the latest copy the engine produced).
    held: Option<Transmit>,
    /// The tunnel asked the pacer and has not finished since.
    queued_or_open: bool,
    /// Initiator SPI of the opening message sent, and how often.
    sent: Option<([u8; 8], u32)>,
}

impl Gate {
    /// Notified when this tunnel gets a slot: then flush, which sends the held message.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The held opening message, if this tunnel holds a slot now.
    pub fn resume(&mut self) -> Option<Transmit> {
        if self.held.is_some() && self.pacing.pacer().holds(self.source, self.tunnel) {
            return self.held.take();
        }
        None
    }

    /// Whether `tx` may go out now; an opening message without a slot is held instead.
    pub fn admit(&mut self, now: Instant, tx: Transmit) -> Option<Transmit> {
        if !opening_initiation(&tx.data) {
            return Some(tx);
        }
        self.queued_or_open = true;
        let mut pacer = self.pacing.pacer();
        if pacer.request(now, self.source, self.tunnel) == Admission::Wait {
            self.held = Some(tx);
            return None;
        }
        let spi: [u8; 8] = tx.data.get(..8)?.try_into().ok()?;
        let n = match self.sent {
            Some((s, n)) if s == spi => n + 1,
            _ => 1,
        };
        self.sent = Some((spi, n));
        if n == UNANSWERED_SENDS {
            if let Some(line) = pacer.unanswered(now, self.source, self.tunnel, tx.remote.ip()) {
                tracing::warn!("{line}");
            }
        }
        Some(tx)
    }

    /// After the engine's events: without a half-open phase 1 of our own, the slot (or the
    /// place in the queue) is given up and the next waiting tunnels are woken.
    pub fn settle(&mut self, now: Instant, status: &EngineStatus) {
        let half_open = status
            .phase1
            .iter()
            .any(|p| p.role == Role::Initiator && p.established_at.is_none());
        if half_open || !self.queued_or_open {
            return;
        }
        self.release(now);
    }

    fn release(&mut self, now: Instant) {
        self.queued_or_open = false;
        self.held = None;
        self.sent = None;
        let granted = self.pacing.pacer().finished(now, self.source, self.tunnel);
        for t in granted {
            if let Some(w) = self.pacing.wake.get(&t) {
                w.notify_one();
            }
        }
    }
}

/// A stopped tunnel (shutdown, removed by a reload) gives its slot to the next one.
impl Drop for Gate {
    fn drop(&mut self) {
        if self.queued_or_open {
            self.release(Instant::now());
        }
    }
}
