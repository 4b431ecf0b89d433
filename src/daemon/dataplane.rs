//! The packet path: TUN → seal → socket, and socket → SA by SPI → open → TUN. No allocation per
//! packet: buffers are allocated once per task and reused.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tun_rs::{AsyncDevice, GROTable, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

use crate::config::{InterfaceConfig, NatTraversal};
use crate::esp::sa::{Counters, DropCounters};
use crate::esp::{DropReason, Encap, OutboundSa, SaTable};
use crate::io::socket::RawEsp;
use crate::io::tun::HEADROOM;
use crate::wire::ip::{IpPacket, PROTO_IPIP, PROTO_IPV6, PROTO_NONE};
use crate::wire::tcp_mss;
use crate::wire::udp_encap::{classify, Encapsulated};

/// The sockets of one local outer address.
pub struct Transport {
    /// The local address.
    pub local: IpAddr,
    /// UDP port 4500: ESP-in-UDP and IKE behind the non-ESP marker.
    pub udp4500: tokio::net::UdpSocket,
    /// Raw IP protocol 50, unless every tunnel on this address forces UDP encapsulation.
    pub raw: Option<RawEsp>,
    /// UDP port 500 for IKE, when an IKE tunnel uses this address.
    pub udp500: Option<tokio::net::UdpSocket>,
}

/// Counters of one tunnel interface.
#[derive(Debug, Default)]
pub struct TunnelStats {
    /// Inner packets sealed and sent.
    pub tx: Counters,
    /// Inner packets opened and written to the TUN.
    pub rx: Counters,
    /// Inbound drops by reason.
    pub rx_drops: DropCounters,
    /// Outbound packets dropped because no SA is installed yet.
    pub tx_no_sa: AtomicU64,
    /// Outbound packets from the TUN that were not sane IP packets.
    pub tx_malformed: AtomicU64,
    /// Outbound packets outside the SA's proxy-ids.
    pub tx_policy: AtomicU64,
    /// Send or TUN-write errors from the OS.
    pub io_errors: AtomicU64,
    /// Times ESP-in-UDP followed the peer to a new NAT mapping seen on authenticated ESP.
    pub peer_moves: AtomicU64,
}

/// One tunnel interface as the data plane sees it.
pub struct Tunnel {
    /// Position in [`DataPlane::tunnels`] (the `tunnel` field of its inbound SAs).
    pub index: usize,
    /// Validated configuration.
    pub cfg: InterfaceConfig,
    /// The TUN device.
    pub tun: Arc<AsyncDevice>,
    /// Interface MTU.
    pub mtu: u16,
    /// MSS clamp for IPv4 / IPv6 SYNs (None: off).
    pub mss: Option<(u16, u16)>,
    /// The SA outbound packets are sealed with (None: drop and count).
    pub outbound: ArcSwapOption<OutboundSa>,
    /// The sockets of this tunnel's local address.
    pub transport: Arc<Transport>,
    /// Counters.
    pub stats: TunnelStats,
    /// IKE state for status displays (None for manual keys).
    pub ike_status: ArcSwapOption<crate::ike::EngineStatus>,
}

/// Counters not attributable to one tunnel.
#[derive(Debug, Default)]
pub struct GlobalStats {
    /// ESP packets for SPIs we do not have.
    pub no_sa: AtomicU64,
    /// The SPI of the latest such packet (for the IKE control tasks).
    pub last_unknown_spi: std::sync::atomic::AtomicU32,
    /// Runts: datagrams too short to carry an SPI and sequence number.
    pub malformed: AtomicU64,
    /// NAT keepalives received.
    pub keepalives: AtomicU64,
    /// IKE messages received (handed to the IKE engine when one runs).
    pub ike_messages: AtomicU64,
}

/// Everything the packet path needs, shared by all tasks.
pub struct DataPlane {
    /// Tunnels by index.
    pub tunnels: Vec<Arc<Tunnel>>,
    /// Inbound SAs by SPI.
    pub sas: SaTable,
    /// Global counters.
    pub stats: GlobalStats,
}

/// Log at most once per second per call site kind, so a flood cannot flood the log.
pub struct RateLimit(AtomicU64);

impl RateLimit {
    /// A limiter that has never fired.
    pub const fn new() -> RateLimit {
        RateLimit(AtomicU64::new(0))
    }

    /// True if the caller may log now.
    pub fn allow(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.0.load(Ordering::Relaxed);
        now > last
            && self
                .0
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::new()
    }
}

static LOG_TX_ERR: RateLimit = RateLimit::new();
static LOG_TUN_ERR: RateLimit = RateLimit::new();
static LOG_PEER_MOVE: RateLimit = RateLimit::new();

/// What became of one inbound ESP packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Deliver `buf[range]` to tunnel `tunnel`.
    Deliver {
        /// Tunnel index.
        tunnel: usize,
        /// Inner packet range in the caller's buffer.
        range: std::ops::Range<usize>,
    },
    /// Dropped (and counted).
    Dropped(DropReason),
}

impl DataPlane {
    /// Opens one ESP packet `buf[start..end]` (starting at the SPI) in place.
    pub fn receive_esp(&self, buf: &mut [u8], start: usize, end: usize) -> Inbound {
        let Some(pkt) = buf.get_mut(start..end) else {
            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
            return Inbound::Dropped(DropReason::Malformed);
        };
        let Some(spi) = pkt
            .get(..4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        else {
            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
            return Inbound::Dropped(DropReason::Malformed);
        };
        let Some(sa) = self.sas.get(spi) else {
            self.stats.no_sa.fetch_add(1, Ordering::Relaxed);
            self.stats.last_unknown_spi.store(spi, Ordering::Relaxed);
            return Inbound::Dropped(DropReason::NoSa);
        };
        let Some(tunnel) = self.tunnels.get(sa.tunnel) else {
            return Inbound::Dropped(sa.count_drop(DropReason::NoSa));
        };
        let drop = |r: DropReason| {
            tunnel.stats.rx_drops.add(r);
            Inbound::Dropped(r)
        };
        let opened = match sa.open(pkt) {
            Ok(o) => o,
            Err(r) => return drop(r),
        };
        let inner = &pkt[opened.payload.clone()];
        let ok = match IpPacket::new_checked(inner) {
            Ok(ip) => {
                let version_ok = match opened.next_header {
                    PROTO_IPIP => ip.version() == 4,
                    PROTO_IPV6 => ip.version() == 6,
                    _ => false,
                };
                if version_ok && !sa.admits(ip.src(), ip.dst()) {
                    return drop(sa.count_drop(DropReason::Policy));
                }
                version_ok
            }
            Err(_) if opened.next_header == PROTO_NONE => {
                return drop(sa.count_drop(DropReason::Dummy))
            }
            Err(_) => false,
        };
        if !ok {
            return drop(sa.count_drop(DropReason::Malformed));
        }
        let range = start + opened.payload.start..start + opened.payload.end;
        if let Some((m4, m6)) = tunnel.mss {
            tcp_mss::clamp(&mut buf[range.clone()], m4, m6);
        }
        sa.counters.add(range.len());
        tunnel.stats.rx.add(range.len());
        Inbound::Deliver {
            tunnel: tunnel.index,
            range,
        }
    }
}

impl Tunnel {
    /// Where to send ESP for this tunnel when the SA says UDP but carries no address.
    pub fn peer_nat_t(&self) -> SocketAddr {
        SocketAddr::new(self.cfg.destination, 4500)
    }

    /// The encapsulation manual SAs use.
    pub fn manual_encap(&self) -> Encap {
        match self.cfg.nat_traversal {
            NatTraversal::Force => Encap::Udp(self.peer_nat_t()),
            NatTraversal::Disable | NatTraversal::Enable => Encap::Raw,
        }
    }

    async fn send(&self, encap: Encap, pkt: &[u8]) -> io::Result<()> {
        match encap {
            Encap::Udp(to) => self.transport.udp4500.send_to(pkt, to).await.map(|_| ()),
            Encap::Raw => match &self.transport.raw {
                Some(raw) => raw.send(pkt, self.cfg.destination).await,
                None => Err(io::Error::other("no raw ESP socket (nat-traversal: force)")),
            },
        }
    }
}

/// Reads the tunnel's TUN forever: seals each packet with the current outbound SA and sends it.
pub async fn outbound_loop(t: Arc<Tunnel>) {
    let mut original = vec![0u8; VIRTIO_NET_HDR_LEN + 65535];
    let seg = HEADROOM + (t.mtu as usize).max(1500) + 256;
    let mut bufs = vec![vec![0u8; seg]; IDEAL_BATCH_SIZE];
    let mut sizes = vec![0usize; IDEAL_BATCH_SIZE];
    loop {
        let n = match t
            .tun
            .recv_multiple(&mut original, &mut bufs, &mut sizes, HEADROOM)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                t.stats.io_errors.fetch_add(1, Ordering::Relaxed);
                if LOG_TUN_ERR.allow() {
                    tracing::warn!(tunnel = %t.cfg.name, "reading the TUN device failed: {e}");
                }
                if e.raw_os_error() == Some(libc::EBADF) || e.raw_os_error() == Some(libc::ENODEV) {
                    return;
                }
                continue;
            }
        };
        let sa = t.outbound.load_full();
        for (buf, &len) in bufs.iter_mut().zip(&sizes).take(n) {
            let payload = HEADROOM..HEADROOM + len;
            let Some(sa) = &sa else {
                t.stats.tx_no_sa.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let nh = match IpPacket::new_checked(&buf[payload.clone()]) {
                Ok(p) if sa.admits(p.src(), p.dst()) => p.tunnel_next_header(),
                Ok(_) => {
                    t.stats.tx_policy.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(_) => {
                    t.stats.tx_malformed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            if let Some((m4, m6)) = t.mss {
                tcp_mss::clamp(&mut buf[payload.clone()], m4, m6);
            }
            let range = match sa.seal(buf, payload, nh) {
                Some(Ok(r)) => r,
                Some(Err(_)) | None => {
                    t.stats.tx_no_sa.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            match t.send(sa.encap(), &buf[range]).await {
                Ok(()) => t.stats.tx.add(len),
                Err(e) => {
                    t.stats.io_errors.fetch_add(1, Ordering::Relaxed);
                    if LOG_TX_ERR.allow() {
                        tracing::warn!(tunnel = %t.cfg.name, "sending ESP failed: {e}");
                    }
                }
            }
        }
    }
}

/// Where the inbound path writes inner packets: one batch per tunnel, flushed through the TUN's
/// GRO so that runs of TCP segments reach the kernel as one superpacket.
struct TunWriters {
    batches: Vec<Batch>,
}

struct Batch {
    bufs: Vec<Vec<u8>>,
    used: usize,
    gro: GROTable,
}

/// Bytes before each inner packet in a write batch (the virtio-net header goes there).
const WRITE_OFFSET: usize = VIRTIO_NET_HDR_LEN + 6;
/// Packets gathered before a flush.
const WRITE_BATCH: usize = 64;

impl TunWriters {
    fn new(n: usize) -> TunWriters {
        TunWriters {
            batches: (0..n)
                .map(|_| Batch {
                    bufs: (0..WRITE_BATCH).map(|_| Vec::with_capacity(2048)).collect(),
                    used: 0,
                    gro: GROTable::default(),
                })
                .collect(),
        }
    }

    /// Queues a packet; true when that tunnel's batch is full and should be flushed.
    fn push(&mut self, tunnel: usize, pkt: &[u8]) -> bool {
        let Some(b) = self.batches.get_mut(tunnel) else {
            return false;
        };
        if let Some(buf) = b.bufs.get_mut(b.used) {
            buf.clear();
            buf.resize(WRITE_OFFSET, 0);
            buf.extend_from_slice(pkt);
            b.used += 1;
        }
        b.used >= WRITE_BATCH
    }

    async fn flush(&mut self, dp: &DataPlane) {
        for (i, b) in self.batches.iter_mut().enumerate() {
            if b.used == 0 {
                continue;
            }
            if let Some(t) = dp.tunnels.get(i) {
                if let Err(e) = t
                    .tun
                    .send_multiple(&mut b.gro, &mut b.bufs[..b.used], WRITE_OFFSET)
                    .await
                {
                    t.stats.io_errors.fetch_add(1, Ordering::Relaxed);
                    if LOG_TUN_ERR.allow() {
                        tracing::warn!(tunnel = %t.cfg.name, "writing to the TUN device failed: {e}");
                    }
                }
            }
            b.used = 0;
        }
    }
}

/// Handles a datagram received on UDP 4500: ESP is opened and queued; IKE goes to `ike`.
fn on_udp_datagram(
    dp: &DataPlane,
    writers: &mut TunWriters,
    buf: &mut [u8],
    n: usize,
    from: SocketAddr,
    ike: &mut dyn FnMut(SocketAddr, &[u8]),
) -> bool {
    let start = HEADROOM;
    let Some(d) = buf.get(start..start + n) else {
        return false;
    };
    match classify(d) {
        Encapsulated::Keepalive => {
            dp.stats.keepalives.fetch_add(1, Ordering::Relaxed);
            false
        }
        Encapsulated::Ike(msg) => {
            dp.stats.ike_messages.fetch_add(1, Ordering::Relaxed);
            ike(from, msg);
            false
        }
        Encapsulated::Malformed => {
            dp.stats.malformed.fetch_add(1, Ordering::Relaxed);
            false
        }
        Encapsulated::Esp(_) => match dp.receive_esp(buf, start, start + n) {
            Inbound::Deliver { tunnel, range } => {
                follow_nat_mapping(dp, tunnel, from);
                writers.push(tunnel, &buf[range])
            }
            Inbound::Dropped(_) => false,
        },
    }
}

/// An authenticated ESP-in-UDP packet of `tunnel` came from `from`: if the peer's NAT mapping
/// moved, ESP follows it at once (sequence numbers continue). Cheap when nothing changed.
fn follow_nat_mapping(dp: &DataPlane, tunnel: usize, from: SocketAddr) {
    let Some(t) = dp.tunnels.get(tunnel) else {
        return;
    };
    let guard = t.outbound.load();
    let Some(sa) = guard.as_ref() else { return };
    if matches!(sa.encap(), Encap::Udp(cur) if cur != from) && sa.set_udp_remote(from) {
        t.stats.peer_moves.fetch_add(1, Ordering::Relaxed);
        if LOG_PEER_MOVE.allow() {
            tracing::info!(tunnel = %t.cfg.name, "peer's NAT mapping moved to {from} (seen on authenticated ESP); ESP follows");
        }
    }
}

/// Where IKE messages received on port 4500 go (sender, message without the non-ESP marker).
pub type IkeSink = Box<dyn FnMut(SocketAddr, &[u8]) + Send>;

/// Receives on a transport's UDP 4500 socket forever. IKE messages are passed to `ike`.
pub async fn udp_inbound_loop(dp: Arc<DataPlane>, tr: Arc<Transport>, mut ike: IkeSink) {
    let mut buf = vec![0u8; HEADROOM + 65536];
    let mut writers = TunWriters::new(dp.tunnels.len());
    loop {
        if tr.udp4500.readable().await.is_err() {
            return;
        }
        for _ in 0..WRITE_BATCH {
            match tr.udp4500.try_recv_from(&mut buf[HEADROOM..]) {
                Ok((n, from)) => {
                    if on_udp_datagram(&dp, &mut writers, &mut buf, n, from, &mut *ike) {
                        writers.flush(&dp).await;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => break,
            }
        }
        writers.flush(&dp).await;
    }
}

/// Receives raw ESP (IP protocol 50) on a transport forever.
pub async fn raw_inbound_loop(dp: Arc<DataPlane>, tr: Arc<Transport>) {
    let Some(raw) = &tr.raw else { return };
    let mut buf = vec![0u8; 65536];
    let mut writers = TunWriters::new(dp.tunnels.len());
    loop {
        // A batch is at most WRITE_BATCH packets, so no tunnel's write batch overflows.
        let r = raw
            .recv_batch(&mut buf, WRITE_BATCH, &mut |pkt, off, n| {
                if let Inbound::Deliver { tunnel, range } = dp.receive_esp(pkt, off, n) {
                    writers.push(tunnel, &pkt[range]);
                }
            })
            .await;
        if r.is_err() {
            return;
        }
        writers.flush(&dp).await;
    }
}
