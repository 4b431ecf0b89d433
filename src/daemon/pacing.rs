//! Wires the process-wide [`Pacer`] into the IKE tasks: each task's [`TaskGate`] (around the
//! sans-IO [`Gate`]) holds back the opening message of a negotiation until its local address
//! has a free half-open slot, and wakes the tunnels whose turn came (after the pacer's reuse
//! delay).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use crate::ike::pacing::{Gate, GateOutput, Pacer};
use crate::ike::{EngineStatus, Role, Transmit};

/// The pacer shared by every IKE task, and how to wake each task when its turn comes.
pub struct Pacing {
    pacer: Mutex<Pacer<usize>>,
    wake: HashMap<usize, Arc<Notify>>,
}

impl Pacing {
    /// A pacer with the `initiation:` settings, for the IKE tunnels with these indices.
    pub fn new(
        cfg: &crate::config::InitiationConfig,
        tunnels: impl Iterator<Item = usize>,
    ) -> Arc<Pacing> {
        let pacer = Pacer::new(cfg.max_half_open_per_source).with_reuse_delay(cfg.slot_reuse_delay);
        Arc::new(Pacing {
            pacer: Mutex::new(pacer),
            wake: tunnels.map(|t| (t, Arc::new(Notify::new()))).collect(),
        })
    }

    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer<usize>> {
        self.pacer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the tunnels granted a slot once they may send with it: after the reuse delay, on
    /// a timer task (at once when no runtime is left, at shutdown).
    fn wake(&self, granted: Vec<usize>) {
        let wakers: Vec<Arc<Notify>> = granted
            .iter()
            .filter_map(|t| self.wake.get(t).cloned())
            .collect();
        if wakers.is_empty() {
            return;
        }
        let delay = self.pacer().reuse_delay();
        let notify = move || wakers.iter().for_each(|w| w.notify_one());
        match tokio::runtime::Handle::try_current() {
            Ok(rt) if !delay.is_zero() => {
                rt.spawn(async move {
                    tokio::time::sleep(delay).await;
                    notify();
                });
            }
            _ => notify(),
        }
    }

    /// The gate of tunnel `tunnel`, which initiates from `source`.
    pub fn gate(self: &Arc<Self>, tunnel: usize, source: IpAddr) -> TaskGate {
        TaskGate {
            pacing: self.clone(),
            wake: self.wake.get(&tunnel).cloned().unwrap_or_default(),
            gate: Gate::new(tunnel, source),
        }
    }
}

/// One IKE task's gate.
pub struct TaskGate {
    pacing: Arc<Pacing>,
    wake: Arc<Notify>,
    gate: Gate<usize>,
}

impl TaskGate {
    /// Notified when this tunnel gets a slot: then flush, which sends the held message.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The held opening message, if this tunnel holds a slot it may send with now.
    pub fn resume(&mut self, now: Instant) -> Option<Transmit> {
        self.gate.resume(&self.pacing.pacer(), now)
    }

    /// Whether `tx` may go out now (see [`Gate::admit`]).
    pub fn admit(&mut self, now: Instant, tx: Transmit) -> Option<Transmit> {
        let out = self.gate.admit(&mut self.pacing.pacer(), now, tx);
        self.finish(out)
    }

    fn finish(&self, out: GateOutput<usize>) -> Option<Transmit> {
        if let Some(w) = out.warning {
            tracing::warn!("{w}");
        }
        self.pacing.wake(out.granted);
        out.send
    }

    /// After the engine's events: without an IKE SA of our own half-open, the slot is freed.
    pub fn settle(&mut self, now: Instant, status: &EngineStatus) {
        let half_open = status
            .phase1
            .iter()
            .any(|p| p.role == Role::Initiator && p.established_at.is_none());
        let granted = self.gate.settle(&mut self.pacing.pacer(), now, half_open);
        self.pacing.wake(granted);
    }
}

/// A stopped tunnel (shutdown, removed by a reload) gives its slot to the next one.
impl Drop for TaskGate {
    fn drop(&mut self) {
        let granted = self.gate.release(&mut self.pacing.pacer(), Instant::now());
        self.pacing.wake(granted);
    }
}
