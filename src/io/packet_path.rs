//! The packet-socket path for raw ESP (see [`super::packet_tx`]): per peer, the next hop
//! resolved in the background and refreshed; a batch goes through the TX ring when the peer's
//! next hop is known and through the raw IP socket otherwise (the caller's fallback), which also
//! lets the kernel resolve and re-confirm the neighbour entry.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::batch::Slot;
use super::next_hop::{self, NextHop, NoFastPath};
use super::packet_tx::{PacketSender, TxRing};
use crate::wire::outer_frame::ETHER_HEADER_LEN;

/// How long a resolved next hop is used before it is asked again (one batch then takes the raw
/// socket, so the kernel re-confirms the neighbour; a changed MAC is followed within this).
const REFRESH: Duration = Duration::from_secs(5);

/// What is known about the path to one peer.
enum Hop {
    /// A query is under way and nothing is known yet.
    Resolving,
    /// Resolved at `at`; `refreshing` while the next query runs.
    Ready {
        hop: NextHop,
        at: Instant,
        refreshing: bool,
    },
    /// The last query found no fast path (asked again after [`REFRESH`]).
    Unavailable { at: Instant, why: NoFastPath },
}

/// The packet-socket sender of one local address.
pub struct PacketPath {
    local: IpAddr,
    mark: Option<u32>,
    handle: rtnetlink::Handle,
    hops: Arc<Mutex<HashMap<IpAddr, Hop>>>,
    ring: Mutex<RingState>,
    use_ring: bool,
}

/// The packet socket: `sendmmsg` (copies each frame) or a TX ring.
enum Tx {
    Mmsg(PacketSender),
    Ring(TxRing),
}

impl Tx {
    fn open(ring: bool, ifindex: u32) -> io::Result<Tx> {
        Ok(if ring {
            Tx::Ring(TxRing::open(ifindex)?)
        } else {
            Tx::Mmsg(PacketSender::open(ifindex)?)
        })
    }

    fn ifindex(&self) -> u32 {
        match self {
            Tx::Mmsg(s) => s.ifindex(),
            Tx::Ring(r) => r.ifindex(),
        }
    }
}

enum RingState {
    /// Not opened yet (no peer resolved).
    Closed,
    Open {
        tx: Tx,
        ident: u16,
    },
    /// Opening failed: the fast path is off for this address for good.
    Failed,
}

impl PacketPath {
    /// A sender for ESP from `local` (marked `mark` for route lookups). Opens the netlink
    /// connection; the packet socket itself is opened at the first resolved peer.
    pub fn new(local: IpAddr, mark: Option<u32>, use_ring: bool) -> io::Result<PacketPath> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(PacketPath {
            local,
            mark,
            handle,
            hops: Arc::new(Mutex::new(HashMap::new())),
            ring: Mutex::new(RingState::Closed),
            use_ring,
        })
    }

    /// Queues packets `bufs[i][range]` for `to` on the TX ring. `None` when this batch must take
    /// the raw socket (next hop unknown or being refreshed, ring full, a packet too big for a
    /// frame, the fast path off); otherwise how many from the start of `pkts` were queued.
    pub fn send(&self, to: IpAddr, bufs: &[Vec<u8>], pkts: &[Slot]) -> Option<usize> {
        let hop = self.hop(to)?;
        let ip_header = hop.frame.header_len() - ETHER_HEADER_LEN;
        let max_esp = (hop.mtu as usize).saturating_sub(ip_header);
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if let RingState::Open { tx, .. } = &*ring {
            if tx.ifindex() != hop.ifindex {
                *ring = RingState::Closed;
            }
        }
        if matches!(*ring, RingState::Closed) {
            *ring = match Tx::open(self.use_ring, hop.ifindex) {
                Ok(tx) => RingState::Open { tx, ident: 0 },
                Err(e) => {
                    tracing::warn!(
                        "raw ESP from {}: packet socket unavailable ({e}); sending through the raw IP socket",
                        self.local
                    );
                    RingState::Failed
                }
            };
        }
        let RingState::Open { tx, ident } = &mut *ring else {
            return None;
        };
        let sent = match tx {
            Tx::Mmsg(s) => s.send(&hop.frame, max_esp, ident, bufs, pkts),
            Tx::Ring(r) => r.send(&hop.frame, max_esp, ident, bufs, pkts),
        };
        match sent {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(e) => {
                tracing::debug!("raw ESP from {} to {to}: TX ring send: {e}", self.local);
                None
            }
        }
    }

    /// The next hop to `to` if it is known and fresh; starts a query otherwise.
    fn hop(&self, to: IpAddr) -> Option<NextHop> {
        let mut hops = self.hops.lock().unwrap_or_else(|p| p.into_inner());
        match hops.get_mut(&to) {
            Some(Hop::Ready {
                hop,
                at,
                refreshing,
            }) => {
                if *refreshing || at.elapsed() < REFRESH {
                    return Some(*hop);
                }
                *refreshing = true;
            }
            Some(Hop::Resolving) => return None,
            Some(Hop::Unavailable { at, .. }) if at.elapsed() < REFRESH => return None,
            _ => {
                hops.insert(to, Hop::Resolving);
            }
        }
        self.spawn_query(to);
        None
    }

    fn spawn_query(&self, to: IpAddr) {
        let (handle, hops, local, mark) = (
            self.handle.clone(),
            self.hops.clone(),
            self.local,
            self.mark,
        );
        tokio::spawn(async move {
            let r = next_hop::resolve(&handle, local, to, mark).await;
            let mut hops = hops.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let next = match r {
                Ok(hop) => {
                    if !matches!(hops.get(&to), Some(Hop::Ready { hop: old, .. }) if *old == hop) {
                        tracing::info!(
                            "raw ESP {local} → {to}: packet socket on interface {} (next hop {})",
                            hop.ifindex,
                            mac(&hop.frame.dst_mac)
                        );
                    }
                    Hop::Ready {
                        hop,
                        at: now,
                        refreshing: false,
                    }
                }
                Err(why) => {
                    if !matches!(hops.get(&to), Some(Hop::Unavailable { why: old, .. }) if *old == why)
                    {
                        tracing::info!(
                            "raw ESP {local} → {to}: no packet-socket fast path ({why}); sending through the raw IP socket"
                        );
                    }
                    Hop::Unavailable { at: now, why }
                }
            };
            hops.insert(to, next);
        });
    }
}

fn mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A peer behind loopback never takes the TX ring: the first batch goes to the raw socket
    /// while the next hop is asked, and every later one too once the answer says why not.
    #[tokio::test]
    async fn loopback_peer_falls_back_to_the_raw_socket() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let path = PacketPath::new(lo, None, false).expect("netlink");
        let bufs = vec![vec![0u8; 100]];
        let pkts = [(0, 0..100)];
        assert_eq!(path.send(lo, &bufs, &pkts), None, "nothing known yet");
        for _ in 0..200 {
            if !matches!(path.hops.lock().unwrap().get(&lo), Some(Hop::Resolving)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            matches!(
                path.hops.lock().unwrap().get(&lo),
                Some(Hop::Unavailable {
                    why: NoFastPath::NotEthernet { .. },
                    ..
                })
            ),
            "the query must have answered NotEthernet"
        );
        assert_eq!(path.send(lo, &bufs, &pkts), None, "still the raw socket");
        assert!(
            matches!(*path.ring.lock().unwrap(), RingState::Closed),
            "no ring opened"
        );
    }
}
