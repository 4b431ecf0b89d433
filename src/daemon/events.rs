//! Live gateway events (SA up/down, rekeys, DPD state, failures with their diagnostic, peers
//! connecting) on a bounded broadcast: the IKE tasks publish without ever waiting, and each
//! subscriber (`GET /api/v1/events`) reads at its own pace; one that falls more than
//! [`CAPACITY`] events behind loses the oldest and is told how many.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// Events kept for slow subscribers.
pub const CAPACITY: usize = 256;

/// One event as the API streams it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GatewayEvent {
    /// Sequence number (grows by one per event of this gateway run; a gap means lost events).
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// The tunnel (interface name).
    pub tunnel: String,
    /// `ike-up`, `ike-down`, `child-up`, `rekey`, `child-down`, `dpd`, `peer-moved`,
    /// `failure`, `client-connect`.
    pub kind: String,
    /// What happened, in words.
    pub message: String,
    /// For failures: the plain-words diagnostic (what was received, what is configured, which
    /// side to change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
}

/// The gateway's event bus.
pub struct EventBus {
    tx: broadcast::Sender<GatewayEvent>,
    seq: AtomicU64,
}

impl Default for EventBus {
    fn default() -> EventBus {
        EventBus {
            tx: broadcast::channel(CAPACITY).0,
            seq: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("subscribers", &self.tx.receiver_count())
            .finish()
    }
}

impl EventBus {
    /// Publishes an event (never blocks; without subscribers it is dropped).
    pub fn publish(&self, tunnel: &str, kind: &str, message: String, diagnostic: Option<String>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let time_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let _ = self.tx.send(GatewayEvent {
            seq,
            time_unix_ms,
            tunnel: tunnel.to_string(),
            kind: kind.to_string(),
            message,
            diagnostic,
        });
    }

    /// A new subscriber, seeing events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<GatewayEvent> {
        self.tx.subscribe()
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_subscriber_loses_the_oldest_and_is_told_how_many() {
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        for i in 0..CAPACITY + 10 {
            bus.publish("ipsec0", "dpd", format!("event {i}"), None);
        }
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 10),
            other => panic!("expected a lag report, got {other:?}"),
        }
        let next = rx.recv().await.expect("an event after the lag");
        assert_eq!(next.seq, 11);
        assert_eq!(next.message, "event 10");
    }
}
