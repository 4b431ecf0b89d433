//! The packet path: TUN → seal → socket, and socket → SA by SPI → open → TUN. No allocation per
//! packet: buffers are allocated once per task and reused.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use arc_swap::ArcSwapOption;
use tokio::io::Interest;
use tun_rs::{AsyncDevice, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

use super::pool::Pool;
use crate::config::{InterfaceConfig, NatTraversal};
use crate::esp::sa::{Counters, DropCounters};
use crate::esp::selector::SelectorTable;
use crate::esp::transport::{outbound_payload, rebuild_header};
use crate::esp::{
    DropReason, Encap, Hosts, Opened, OutboundRoutes, OutboundSa, RebuiltHeader, SaTable,
};
use crate::io::batch::{self, Slot};
use crate::io::socket::RawEsp;
use crate::io::tun::HEADROOM;
use crate::ra::routes::ClientView;
use crate::wire::ip::{IpPacket, PROTO_IPIP, PROTO_IPV6, PROTO_NONE};
use crate::wire::tcp_mss;

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
    /// Outbound packets dropped because no outbound SA is in use yet (or its sequence numbers
    /// ran out).
    pub tx_no_sa: AtomicU64,
    /// Outbound packets from the TUN that were not sane IP packets.
    pub tx_malformed: AtomicU64,
    /// Outbound packets inside no selector of the SAs in use (`policy` in metrics).
    pub tx_policy: AtomicU64,
    /// Send or TUN-write errors from the OS.
    pub io_errors: AtomicU64,
    /// Times ESP-in-UDP followed the peer to a new NAT mapping seen on authenticated ESP.
    pub peer_moves: AtomicU64,
    /// Sends failing since the last one that worked (the outer address gone, no route): the
    /// first failure of such a run is logged, the rest counted, and the first success again
    /// says how many were lost.
    pub tx_failing: AtomicU64,
    /// The TUN device was deleted under us (reads or writes answer EBADFD/ENODEV).
    pub device_gone: std::sync::atomic::AtomicBool,
}

/// One tunnel interface as the data plane sees it.
pub struct Tunnel {
    /// Position in [`DataPlane::tunnels`] (the `tunnel` field of its inbound SAs).
    pub index: usize,
    /// Validated configuration (shared with the gateway's list of running tunnels).
    pub cfg: Arc<InterfaceConfig>,
    /// The TUN device.
    pub tun: Arc<AsyncDevice>,
    /// Interface MTU.
    pub mtu: u16,
    /// MSS clamp for IPv4 / IPv6 SYNs (None: off).
    pub mss: Option<(u16, u16)>,
    /// The outbound SAs in use and their selectors: each packet is sealed with the SA whose
    /// selectors contain its addresses (empty: drop and count).
    pub outbound: OutboundRoutes,
    /// The sockets of this tunnel's local address.
    pub transport: Arc<Transport>,
    /// Counters.
    pub stats: TunnelStats,
    /// IKE state for status displays (None for manual keys).
    pub ike_status: ArcSwapOption<crate::ike::EngineStatus>,
    /// Woken (shared by every tunnel of the gateway) when a TUN device disappears.
    pub device_lost: Arc<tokio::sync::Notify>,
    /// A remote-access interface's clients: the outbound SA of each by its virtual address
    /// (then `outbound` stays empty).
    pub ra: Option<Arc<RaRoutes>>,
}

/// A remote-access interface's outbound SAs, by client.
pub type RaRoutes = crate::ra::routes::ClientTable<OutboundSa>;

/// Whether an OS error from a TUN read or write means the device itself is gone (deleted with
/// `ip link del`, or its netns torn down): EBADFD, ENODEV or EBADF.
pub fn tun_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EBADFD | libc::ENODEV | libc::EBADF)
    )
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
    /// IKE messages dropped because their tunnel's IKE task queue was full (a flood).
    pub ike_queue_full: AtomicU64,
    /// IKE messages from addresses no tunnel has as its peer.
    pub ike_unknown_peer: AtomicU64,
    /// IKE_SA_INIT requests answered with a COOKIE by the receive loop, their tunnel's queue
    /// being half full ([`crate::ike::front_door`]).
    pub ike_cookies_sent: AtomicU64,
    /// First messages dropped by the receive loop, their tunnel's queue being half full.
    pub ike_first_messages_shed: AtomicU64,
}

/// Everything the packet path needs, shared by all tasks.
pub struct DataPlane {
    /// Tunnels by index.
    pub tunnels: Vec<Arc<Tunnel>>,
    /// Inbound SAs by SPI.
    pub sas: SaTable,
    /// Global counters.
    pub stats: GlobalStats,
    /// Live events for the admin API (`GET /api/v1/events`).
    pub events: super::events::EventBus,
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

pub(crate) static LOG_TUN_ERR: RateLimit = RateLimit::new();

/// What became of one inbound ESP packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Deliver `buf[range]` to tunnel `tunnel`.
    Deliver {
        /// Tunnel index.
        tunnel: usize,
        /// Inner packet range in the caller's buffer (transport mode: the payload after
        /// `header`).
        range: std::ops::Range<usize>,
        /// Transport mode: the IP header to write before `range`.
        header: Option<RebuiltHeader>,
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
        if let Some(hosts) = sa.transport() {
            return match transport_header(hosts, &opened) {
                Ok(header) => {
                    let range = start + opened.payload.start..start + opened.payload.end;
                    let len = range.len() + header.as_bytes().len();
                    sa.counters.add(len);
                    tunnel.stats.rx.add(len);
                    Inbound::Deliver {
                        tunnel: tunnel.index,
                        range,
                        header: Some(header),
                    }
                }
                Err(r) => drop(sa.count_drop(r)),
            };
        }
        let inner = &pkt[opened.payload.clone()];
        let ok = match IpPacket::new_checked(inner) {
            Ok(ip) => {
                let version_ok = match opened.next_header {
                    PROTO_IPIP => ip.version() == 4,
                    PROTO_IPV6 => ip.version() == 6,
                    _ => false,
                };
                if version_ok
                    && !(sa.admits(ip.src(), ip.dst()) && tunnel.client_source_ok(&sa, ip.src()))
                {
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
            header: None,
        }
    }
}

/// The IP header of an opened transport-mode packet (from the peer's address to ours), or why
/// it is dropped: next header 59 is a dummy packet (RFC 4303 §2.6).
fn transport_header(hosts: Hosts, opened: &Opened) -> Result<RebuiltHeader, DropReason> {
    if opened.next_header == PROTO_NONE {
        return Err(DropReason::Dummy);
    }
    rebuild_header(
        hosts.remote,
        hosts.local,
        opened.next_header,
        opened.payload.len(),
    )
    .ok_or(DropReason::Malformed)
}

impl Tunnel {
    /// Where to send ESP for this tunnel when the SA says UDP but carries no address.
    pub fn peer_nat_t(&self) -> SocketAddr {
        SocketAddr::new(self.cfg.destination, 4500)
    }

    /// The peer's outer address: the configured one, or for `destination: dynamic` the one the
    /// newest outbound SA in use goes to (unspecified while there is none).
    pub fn peer_ip(&self) -> std::net::IpAddr {
        let table = self.outbound.peek();
        match table.sas().last() {
            Some(o) if self.cfg.dynamic_peer => o.encap().peer_ip(),
            _ => self.cfg.destination,
        }
    }

    /// Puts an outbound SA in service: in the selector table, or on a remote-access interface
    /// as the SA of the client its selectors name. Returns the SA it replaces.
    pub fn use_outbound(&self, sa: Arc<OutboundSa>) -> Option<Arc<OutboundSa>> {
        let Some(ra) = &self.ra else {
            return self.outbound.use_sa(sa);
        };
        let offset = self.client_offset(sa.selectors())?;
        let old = ra.get(offset);
        ra.insert(offset, sa);
        old
    }

    /// Takes the outbound SA `spi` (`sa` when known) out of service, if it is still in use;
    /// true when it was.
    pub fn remove_outbound(&self, spi: u32, sa: Option<&OutboundSa>) -> bool {
        let Some(ra) = &self.ra else {
            return self.outbound.remove(spi);
        };
        sa.and_then(|s| self.client_offset(s.selectors()))
            .is_some_and(|o| ra.remove_if(o, |cur| cur.spi == spi))
    }

    /// On a remote-access interface, the pool offset of the client a child SA's selectors
    /// name (its side is its virtual address alone).
    pub fn client_offset(&self, selectors: &[crate::ike::ProxyId]) -> Option<u32> {
        let ra = self.ra.as_ref()?;
        selectors.iter().find_map(|p| {
            let host = p.remote.prefix() == if p.remote.addr().is_ipv4() { 32 } else { 128 };
            host.then(|| ra.offset_of(p.remote.addr())).flatten()
        })
    }

    /// On a remote-access interface, whether a packet from `src` opened by `sa` comes from the
    /// virtual address of the SA's client; always true elsewhere.
    #[inline]
    fn client_source_ok(&self, sa: &crate::esp::InboundSa, src: IpAddr) -> bool {
        match (&self.ra, sa.client()) {
            (None, _) => true,
            (Some(ra), Some(offset)) => ra.source_allowed(offset, src),
            (Some(_), None) => false,
        }
    }

    /// The encapsulation manual SAs use.
    pub fn manual_encap(&self) -> Encap {
        match self.cfg.nat_traversal {
            NatTraversal::Force => Encap::Udp(self.peer_nat_t()),
            NatTraversal::Disable | NatTraversal::Enable => Encap::Raw(self.cfg.destination),
        }
    }

    /// Records that the TUN device is gone: logged once, and the gateway is told (it stops, so
    /// that its service manager starts it again with a fresh device).
    pub fn mark_device_gone(&self, e: &io::Error) {
        if !self.stats.device_gone.swap(true, Ordering::Relaxed) {
            tracing::error!(
                tunnel = %self.cfg.name,
                "the TUN device {} was deleted under us ({e}): no packet can enter or leave \
                 this tunnel any more; ikegate stops so that it is started again with a new \
                 device (systemd Restart=, a container restart policy)",
                self.cfg.name
            );
            self.device_lost.notify_one();
        }
    }

    /// A send failed: the first failure of a run is logged with the likely causes, the rest
    /// only counted.
    fn send_failed(&self, e: &io::Error) {
        self.stats.io_errors.fetch_add(1, Ordering::Relaxed);
        if self.stats.tx_failing.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!(
                tunnel = %self.cfg.name,
                "sending ESP from {} failed: {e} (is that address still on this host, with a \
                 route to the peer?); packets are dropped and counted until sending works again",
                self.transport.local
            );
        }
    }

    /// A send worked: ends a run of failures, saying how long it was.
    fn send_worked(&self) {
        let failed = self.stats.tx_failing.swap(0, Ordering::Relaxed);
        if failed > 0 {
            tracing::info!(
                tunnel = %self.cfg.name,
                "sending ESP from {} works again ({failed} packet(s) dropped meanwhile)",
                self.transport.local
            );
        }
    }

    /// Sends the sealed packets `bufs[i][range]` of one batch, counting each sent packet's inner
    /// length from `lens`. UDP runs of equal-size packets go out as UDP GSO messages while
    /// `gso` holds; a refusal (EIO: the device cannot checksum-offload) turns it off for good,
    /// EINVAL/EMSGSIZE only for this batch. A packet the OS refuses otherwise is counted and
    /// skipped, so one bad packet never stalls the rest.
    async fn send_batch(
        &self,
        encap: Encap,
        bufs: &[Vec<u8>],
        pkts: &[Slot],
        lens: &[usize],
        gso: &mut bool,
    ) {
        let mut done = 0;
        let mut gso_now = *gso;
        while done < pkts.len() {
            let rest = &pkts[done..];
            let r = match encap {
                Encap::Udp(to) => send_udp(&self.transport.udp4500, to, bufs, rest, gso_now).await,
                Encap::Raw(to) => match &self.transport.raw {
                    Some(raw) => raw.send_many(to, bufs, rest).await,
                    None => Err(io::Error::other("no raw ESP socket (nat-traversal: force)")),
                },
            };
            match r {
                Ok(k) if k > 0 => {
                    for &len in lens.iter().skip(done).take(k) {
                        self.stats.tx.add(len);
                    }
                    done += k;
                    self.send_worked();
                }
                Err(e)
                    if gso_now
                        && matches!(
                            e.raw_os_error(),
                            Some(libc::EIO | libc::EINVAL | libc::EMSGSIZE)
                        ) =>
                {
                    gso_now = false;
                    if e.raw_os_error() == Some(libc::EIO) {
                        *gso = false;
                        tracing::info!(tunnel = %self.cfg.name, "UDP GSO refused ({e}); sending datagram by datagram");
                    }
                }
                r => {
                    let e = r.err().unwrap_or_else(|| io::Error::other("nothing sent"));
                    self.send_failed(&e);
                    if matches!(encap, Encap::Raw(_)) && self.transport.raw.is_none() {
                        return;
                    }
                    done += 1;
                }
            }
        }
    }
}

/// One `sendmmsg` on a UDP socket, waiting while its buffer is full.
async fn send_udp(
    sock: &tokio::net::UdpSocket,
    to: SocketAddr,
    bufs: &[Vec<u8>],
    pkts: &[Slot],
    gso: bool,
) -> io::Result<usize> {
    loop {
        sock.writable().await?;
        match sock.try_io(Interest::WRITABLE, || {
            batch::send_batch(sock.as_raw_fd(), to, bufs, pkts, gso)
        }) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

/// Packets per TUN read: a TSO superpacket splits into at most this many segments.
const READ_BATCH: usize = IDEAL_BATCH_SIZE;
/// TUN reads gathered into one send batch when packets are already waiting.
const MAX_READS: usize = 16;

/// What the outbound path of one batch works in.
struct OutBufs {
    /// One TUN read (virtio-net header and superpacket).
    original: Vec<u8>,
    /// Segments, each with [`HEADROOM`] before it; twice a read's worth, so that a further read
    /// always has room for a whole superpacket.
    bufs: Vec<Vec<u8>>,
    sizes: Vec<usize>,
    sealed: Vec<Slot>,
    /// Inner length of each sealed packet, for the counters.
    lens: Vec<usize>,
}

impl OutBufs {
    fn new(seg: usize) -> OutBufs {
        OutBufs {
            original: vec![0u8; VIRTIO_NET_HDR_LEN + 65535],
            // Zeroed apart, as `RecvBufs`'s: no copy touching every page.
            bufs: (0..2 * READ_BATCH).map(|_| vec![0u8; seg]).collect(),
            sizes: vec![0usize; 2 * READ_BATCH],
            sealed: Vec::with_capacity(2 * READ_BATCH),
            lens: Vec::with_capacity(2 * READ_BATCH),
        }
    }

    fn seg(&self) -> usize {
        self.bufs.first().map_or(0, Vec::len)
    }
}

static OUT_POOL: Pool<OutBufs> = Pool::new();

/// The outbound path of one tunnel: TUN → seal → socket, for the task that reads the tunnel's
/// TUN (its IKE task, between IKE work, or [`outbound_loop`]). Polled for readiness rather than
/// awaited, so that it adds next to nothing to that task's state.
pub struct TunReader {
    /// Room of a segment buffer.
    seg: usize,
    /// Whether UDP GSO still works for this tunnel's sends.
    gso: bool,
    /// The device is gone: never readable again.
    gone: bool,
}

impl TunReader {
    pub fn new(t: &Tunnel) -> TunReader {
        TunReader {
            seg: HEADROOM + (t.mtu as usize).max(1500) + 256,
            gso: true,
            gone: false,
        }
    }

    /// `Ready(true)` when the TUN has packets, `Ready(false)` once the device is gone (logged,
    /// and the gateway told, when that is first seen).
    pub fn poll_readable(&mut self, t: &Tunnel, cx: &mut std::task::Context<'_>) -> Poll<bool> {
        if self.gone {
            return Poll::Ready(false);
        }
        match t.tun.poll_readable(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(true),
            Poll::Ready(Err(e)) => {
                t.mark_device_gone(&e);
                self.gone = true;
                Poll::Ready(false)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Reads what the TUN has, seals it and sends it.
    pub async fn batch(&mut self, t: &Tunnel) {
        let seg = self.seg;
        let mut b = OUT_POOL.take(|b| b.seg() >= seg, || OutBufs::new(seg));
        // Boxed: the batch's state (its sends in flight) exists only while it runs, not in
        // every idle tunnel's task.
        self.gone |= Box::pin(outbound_batch(t, &mut b, &mut self.gso)).await;
        OUT_POOL.give(b);
    }
}

/// Reads the TUN of a tunnel without IKE task (manual keys, remote access) until the device goes
/// away: seals each packet with the current outbound SA and sends the batch with one
/// `sendmmsg` (UDP GSO for ESP-in-UDP).
pub async fn outbound_loop(t: Arc<Tunnel>) {
    let mut reader = TunReader::new(&t);
    while std::future::poll_fn(|cx| reader.poll_readable(&t, cx)).await {
        reader.batch(&t).await;
    }
}

/// Reads what the TUN has (up to [`MAX_READS`] reads), seals and sends it. True when the device
/// is gone.
async fn outbound_batch(t: &Tunnel, b: &mut OutBufs, gso: &mut bool) -> bool {
    let OutBufs {
        original,
        bufs,
        sizes,
        sealed,
        lens,
    } = b;
    let mut n = 0;
    for _ in 0..MAX_READS {
        if n >= READ_BATCH {
            break;
        }
        match t.tun.try_recv_multiple(
            original,
            &mut bufs[n..n + READ_BATCH],
            &mut sizes[n..n + READ_BATCH],
            HEADROOM,
        ) {
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => {
                t.stats.io_errors.fetch_add(1, Ordering::Relaxed);
                if tun_gone(&e) {
                    t.mark_device_gone(&e);
                    return true;
                }
                if LOG_TUN_ERR.allow() {
                    tracing::warn!(tunnel = %t.cfg.name, "reading the TUN device failed: {e}");
                }
                break;
            }
        }
    }
    if n == 0 {
        return false;
    }
    let table = t.outbound.load();
    let clients = t.ra.as_ref().map(|r| r.view());
    if table.is_empty() && clients.is_none() {
        t.stats.tx_no_sa.fetch_add(n as u64, Ordering::Relaxed);
        return false;
    }
    sealed.clear();
    lens.clear();
    // Packets go out in runs of one encapsulation (all SAs of a tunnel normally share it);
    // `last` caches the previous packet's SA so its encapsulation is read once per change.
    let mut run: Option<Encap> = None;
    let mut last: Option<&Arc<OutboundSa>> = None;
    for i in 0..n {
        let (Some(buf), Some(&len)) = (bufs.get_mut(i), sizes.get(i)) else {
            break;
        };
        let packet = HEADROOM..HEADROOM + len;
        let (sa, nh) = match buf.get(packet.clone()).map(IpPacket::new_checked) {
            Some(Ok(p)) => match outbound_sa(&table, clients.as_ref(), p.src(), p.dst()) {
                Some(sa) => (sa, p.tunnel_next_header()),
                None => {
                    t.stats.tx_policy.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            },
            _ => {
                t.stats.tx_malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        if !last.is_some_and(|l| Arc::ptr_eq(l, sa)) {
            last = Some(sa);
            let encap = sa.encap();
            if run.is_some_and(|r| r != encap) && !sealed.is_empty() {
                if let Some(r) = run {
                    t.send_batch(r, bufs, sealed, lens, gso).await;
                }
                sealed.clear();
                lens.clear();
            }
            run = Some(encap);
        }
        let Some(buf) = bufs.get_mut(i) else { break };
        if let Some((m4, m6)) = t.mss {
            tcp_mss::clamp(&mut buf[packet.clone()], m4, m6);
        }
        // Tunnel mode seals the whole packet; transport mode its payload, after the header.
        let (payload, nh) = if sa.is_transport() {
            match outbound_payload(&buf[packet.clone()]) {
                Ok((hl, proto)) => (packet.start + hl..packet.end, proto),
                Err(_) => {
                    t.stats.tx_malformed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        } else {
            (packet, nh)
        };
        match sa.seal(buf, payload, nh) {
            Some(Ok(r)) => {
                sealed.push((i, r));
                lens.push(len);
            }
            Some(Err(_)) | None => {
                t.stats.tx_no_sa.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    if let (Some(r), false) = (run, sealed.is_empty()) {
        t.send_batch(r, bufs, sealed, lens, gso).await;
    }
    false
}

/// The SA a packet from `src` to `dst` is sealed with: by selectors, or on a remote-access
/// interface by the client whose virtual address is `dst` (public for `benches/ra_lookup.rs`,
/// which measures this per-packet choice).
pub fn outbound_sa<'a>(
    table: &'a SelectorTable,
    clients: Option<&'a ClientView<'_, OutboundSa>>,
    src: IpAddr,
    dst: IpAddr,
) -> Option<&'a Arc<OutboundSa>> {
    match clients {
        Some(c) => c.lookup(dst),
        None => table.lookup(src, dst),
    }
}
