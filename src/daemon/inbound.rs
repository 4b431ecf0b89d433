//! The receive side of one outer address: a task per socket (UDP 4500, raw ESP, UDP 500), so
//! that a flood at one port keeps one core busy, not the ESP of the others. ESP is opened and
//! written to the TUN devices in batches; IKE is handed on. Each task waits by polling its
//! socket's readiness and boxes a batch while it runs, so an idle task is small: a gateway with
//! an outer address per tunnel pays for an address's tasks in each tunnel's memory (issue 17).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::Interest;
use tun_rs::{GROTable, VIRTIO_NET_HDR_LEN};

use super::dataplane::{tun_gone, DataPlane, Inbound, RateLimit, Transport, LOG_TUN_ERR};
use super::pool::Pool;
use crate::esp::{Encap, RebuiltHeader};
use crate::io::batch::{self, RecvMeta};
use crate::io::socket::RawEsp;
use crate::io::tun::HEADROOM;
use crate::wire::tcp_mss;
use crate::wire::udp_encap::{classify, Encapsulated};

/// Where IKE messages go: (local port, sender, message without the non-ESP marker) → an answer
/// to send back at once (a COOKIE), if any.
pub type IkeHandler = dyn FnMut(u16, SocketAddr, &[u8]) -> Option<Vec<u8>> + Send;

/// Receives on the address's UDP 4500 forever, with `recvmmsg` and UDP GRO (one coalesced
/// message carries many ESP datagrams of one flow); IKE messages are passed to `ike`. Ends when
/// the runtime shuts down.
pub async fn udp4500_loop(dp: Arc<DataPlane>, tr: Arc<Transport>, mut ike: Box<IkeHandler>) {
    let sock = &tr.udp4500;
    let gro = batch::enable_udp_gro(sock.as_raw_fd());
    tracing::debug!(local = %tr.local, gro, "UDP 4500 receive path");
    while std::future::poll_fn(|cx| sock.poll_recv_ready(cx))
        .await
        .is_ok()
    {
        // Boxed: a batch's state exists only while it runs, not in every idle address's task.
        Box::pin(udp_inbound_batch(&dp, sock, &mut *ike)).await;
    }
}

/// Receives raw ESP (IP protocol 50) on the address forever, `recvmmsg` batches at a time.
pub async fn raw_loop(dp: Arc<DataPlane>, tr: Arc<Transport>) {
    let Some(raw) = &tr.raw else { return };
    let size = raw_buffer_size(&dp);
    while std::future::poll_fn(|cx| raw.poll_readable(cx))
        .await
        .is_ok()
    {
        // Boxed, as UDP 4500's batch.
        Box::pin(raw_inbound_batch(&dp, raw, size)).await;
    }
}

/// Receives IKE on the address's UDP 500 forever, passing it to `ike` and sending its answers.
pub async fn udp500_loop(dp: Arc<DataPlane>, tr: Arc<Transport>, mut ike: Box<IkeHandler>) {
    let Some(sock) = &tr.udp500 else { return };
    while std::future::poll_fn(|cx| sock.poll_recv_ready(cx))
        .await
        .is_ok()
    {
        if port500_burst(&dp, tr.local, sock, &mut *ike) {
            tokio::task::yield_now().await;
        }
    }
}

/// Receive buffer of a raw ESP datagram: outer datagrams reassembled by the kernel can exceed
/// the MTU, so big enough for any tunnel's MTU.
fn raw_buffer_size(dp: &DataPlane) -> usize {
    let max_mtu = dp
        .tunnels
        .iter()
        .map(|t| t.mtu as usize)
        .max()
        .unwrap_or(1500);
    (max_mtu + 512).max(2048)
}

/// `recvmmsg` calls one UDP 500 burst makes before the task lets other tasks run.
const IKE_RECV_CALLS: usize = 4;
static LOG_UDP500_ERR: RateLimit = RateLimit::new();
static LOG_PEER_MOVE: RateLimit = RateLimit::new();

/// Handles what UDP 500 has, up to [`IKE_RECV_CALLS`] `recvmmsg` batches (the buffers are UDP
/// 4500's, taken from the same pool only while the burst runs); true when it stopped at that
/// limit (more may be waiting). Under a flood, one system call per message would leave most of
/// them, and a new peer's among them, to overflow the socket's buffer.
fn port500_burst(
    dp: &DataPlane,
    local: IpAddr,
    sock: &tokio::net::UdpSocket,
    ike: &mut IkeHandler,
) -> bool {
    let mut rb = RecvBufs::take_udp();
    let mut more = false;
    for _ in 0..IKE_RECV_CALLS {
        let n = match rb.recv_udp(sock) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => {
                // The error is consumed by the failed receive; the next readiness retries.
                if LOG_UDP500_ERR.allow() {
                    tracing::warn!("receiving on UDP 500 of {local}: {e}");
                }
                break;
            }
        };
        for (buf, m) in rb.bufs.iter().zip(rb.meta.iter()).take(n) {
            dp.stats.ike_messages.fetch_add(1, Ordering::Relaxed);
            let msg = buf.get(HEADROOM..HEADROOM + m.len);
            let (Some(from), Some(msg), false) = (m.from, msg, m.truncated) else {
                dp.stats.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if let Some(answer) = ike(500, from, msg) {
                // Best effort, like any answer to a first message: a full socket buffer
                // drops it and the initiator retransmits.
                let _ = sock.try_send_to(&answer, from);
            }
        }
        more = n == UDP_RECV_BATCH;
        if !more {
            break;
        }
    }
    RECV_POOL.give(rb);
    more
}

/// Where the inbound path writes inner packets: up to [`WRITE_BATCH`] of them, of any tunnels,
/// flushed per tunnel through the TUN's GRO so that runs of TCP segments reach the kernel as one
/// superpacket. Buffers are reused, so after warm-up nothing is allocated here (tun-rs's
/// `tcp_gro` still copies each packet into a fresh Vec; see the README's Performance section).
struct TunWriters {
    bufs: Vec<Vec<u8>>,
    /// Tunnel of each queued buffer.
    owner: Vec<usize>,
    used: usize,
    gro: GROTable,
}

/// Bytes before each inner packet in a write batch (the virtio-net header goes there).
const WRITE_OFFSET: usize = VIRTIO_NET_HDR_LEN + 6;
/// Packets gathered before a flush.
const WRITE_BATCH: usize = 64;
/// Room of each write buffer: a whole GRO superpacket with its header space.
const WRITE_ROOM: usize = 2 * WRITE_OFFSET + 65535;

impl TunWriters {
    fn new() -> TunWriters {
        TunWriters {
            // Each buffer gets its room when first used (`push`): a set taken by a loop that
            // only ever sees IKE, or a few packets at a time, does not grow the heap by 4 MiB.
            bufs: (0..WRITE_BATCH).map(|_| Vec::new()).collect(),
            owner: vec![0; WRITE_BATCH],
            used: 0,
            gro: GROTable::default(),
        }
    }

    /// Queues a packet: `header` (empty, or a transport-mode header) followed by `pkt`; true
    /// when the batch is full and should be flushed.
    fn push(&mut self, tunnel: usize, header: &[u8], pkt: &[u8]) -> bool {
        if let (Some(buf), Some(o)) = (self.bufs.get_mut(self.used), self.owner.get_mut(self.used))
        {
            // GRO appends a run's segments to its first buffer and refuses to coalesce into
            // one that would have to grow, so each can hold a whole 64 KiB superpacket (only
            // the pages actually written become resident).
            buf.clear();
            if buf.capacity() < WRITE_ROOM {
                buf.reserve_exact(WRITE_ROOM);
            }
            buf.resize(WRITE_OFFSET, 0);
            buf.extend_from_slice(header);
            buf.extend_from_slice(pkt);
            *o = tunnel;
            self.used += 1;
        }
        self.used >= WRITE_BATCH
    }

    /// Queues what [`DataPlane::receive_esp`] delivered from `buf`. A transport-mode packet
    /// is whole only here (header + payload), so its TCP MSS is clamped here.
    fn deliver(
        &mut self,
        dp: &DataPlane,
        tunnel: usize,
        buf: &[u8],
        range: std::ops::Range<usize>,
        header: Option<RebuiltHeader>,
    ) -> bool {
        let Some(h) = header else {
            return self.push(tunnel, &[], &buf[range]);
        };
        let slot = self.used;
        let full = self.push(tunnel, h.as_bytes(), &buf[range]);
        let mss = dp.tunnels.get(tunnel).and_then(|t| t.mss);
        if let (Some((m4, m6)), Some(b)) = (mss, self.bufs.get_mut(slot)) {
            if let Some(pkt) = b.get_mut(WRITE_OFFSET..) {
                tcp_mss::clamp(pkt, m4, m6);
            }
        }
        full
    }

    async fn flush(&mut self, dp: &DataPlane) {
        let used = std::mem::take(&mut self.used);
        let mut start = 0;
        while start < used {
            // Gather this tunnel's packets right after `start`, keeping every tunnel's order.
            let tunnel = self.owner[start];
            let mut end = start + 1;
            for j in start + 1..used {
                if self.owner[j] == tunnel {
                    self.bufs[end..=j].rotate_right(1);
                    self.owner[end..=j].rotate_right(1);
                    end += 1;
                }
            }
            if let Some(t) = dp.tunnels.get(tunnel) {
                if let Err(e) = t
                    .tun
                    .send_multiple(&mut self.gro, &mut self.bufs[start..end], WRITE_OFFSET)
                    .await
                {
                    t.stats.io_errors.fetch_add(1, Ordering::Relaxed);
                    if tun_gone(&e) {
                        t.mark_device_gone(&e);
                    } else if LOG_TUN_ERR.allow() {
                        tracing::warn!(tunnel = %t.cfg.name, "writing to the TUN device failed: {e}");
                    }
                }
            }
            start = end;
        }
    }
}

static WRITER_POOL: Pool<TunWriters> = Pool::new();

/// Receive buffers of one inbound batch: `bufs[i][HEADROOM..]` per datagram.
struct RecvBufs {
    bufs: Vec<Vec<u8>>,
    meta: Vec<RecvMeta>,
}

impl RecvBufs {
    fn new(count: usize, size: usize) -> RecvBufs {
        RecvBufs {
            // Each zeroed apart (calloc: untouched pages stay unmapped); `vec![buf; count]`
            // would copy the first into every other and so touch every page of all of them.
            bufs: (0..count).map(|_| vec![0u8; size]).collect(),
            meta: vec![RecvMeta::default(); count],
        }
    }

    fn fits(&self, count: usize, size: usize) -> bool {
        self.bufs.len() >= count && self.bufs.first().is_some_and(|b| b.len() >= size)
    }

    /// A set for a UDP socket (4500 or 500): [`UDP_RECV_BATCH`] buffers of 64 KiB after
    /// [`HEADROOM`], from the pool.
    fn take_udp() -> Box<RecvBufs> {
        let size = HEADROOM + 65536;
        RECV_POOL.take(
            |b| b.fits(UDP_RECV_BATCH, size),
            || RecvBufs::new(UDP_RECV_BATCH, size),
        )
    }

    /// One `recvmmsg` on `sock` into a [`RecvBufs::take_udp`] set; `WouldBlock` clears the
    /// socket's readiness.
    fn recv_udp(&mut self, sock: &tokio::net::UdpSocket) -> std::io::Result<usize> {
        let fd = sock.as_raw_fd();
        sock.try_io(Interest::READABLE, || {
            batch::recv_batch(
                fd,
                &mut self.bufs[..UDP_RECV_BATCH],
                HEADROOM,
                &mut self.meta,
            )
        })
    }
}

static RECV_POOL: Pool<RecvBufs> = Pool::new();

/// Handles a datagram received on UDP 4500: ESP is opened and queued; IKE goes to `ike`.
fn on_udp_datagram(
    dp: &DataPlane,
    writers: &mut TunWriters,
    buf: &mut [u8],
    start: usize,
    n: usize,
    from: SocketAddr,
    ike: &mut IkeHandler,
) -> bool {
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
            // A COOKIE for an IKE_SA_INIT sent to 4500 is not sent (they come to 500): the
            // request is then dropped as under a full queue.
            let _ = ike(4500, from, msg);
            false
        }
        Encapsulated::Malformed => {
            dp.stats.malformed.fetch_add(1, Ordering::Relaxed);
            false
        }
        Encapsulated::Esp(_) => match dp.receive_esp(buf, start, start + n) {
            Inbound::Deliver {
                tunnel,
                range,
                header,
            } => {
                follow_nat_mapping(dp, tunnel, from);
                writers.deliver(dp, tunnel, buf, range, header)
            }
            Inbound::Dropped(_) => false,
        },
    }
}

/// An authenticated ESP-in-UDP packet of `tunnel` came from `from`: if the peer's NAT mapping
/// moved, ESP of every outbound SA in use follows it at once (sequence numbers continue). Cheap
/// when nothing changed: one load per SA in use.
fn follow_nat_mapping(dp: &DataPlane, tunnel: usize, from: SocketAddr) {
    let Some(t) = dp.tunnels.get(tunnel) else {
        return;
    };
    let table = t.outbound.peek();
    let mut moved = false;
    for sa in table.sas() {
        if matches!(sa.encap(), Encap::Udp(cur) if cur != from) {
            moved |= sa.set_udp_remote(from);
        }
    }
    if moved {
        t.stats.peer_moves.fetch_add(1, Ordering::Relaxed);
        if LOG_PEER_MOVE.allow() {
            tracing::info!(tunnel = %t.cfg.name, "peer's NAT mapping moved to {from} (seen on authenticated ESP); ESP follows");
        }
    }
}

/// Receives what UDP 4500 has (up to four `recvmmsg` batches) and hands it on.
async fn udp_inbound_batch(dp: &DataPlane, sock: &tokio::net::UdpSocket, ike: &mut IkeHandler) {
    let nobody = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let mut rb = RecvBufs::take_udp();
    let mut writers = WRITER_POOL.take(|_| true, TunWriters::new);
    for _ in 0..4 {
        let Ok(n) = rb.recv_udp(sock) else { break };
        let RecvBufs { bufs, meta } = &mut *rb;
        for (buf, m) in bufs.iter_mut().zip(meta.iter()).take(n) {
            if m.truncated {
                dp.stats.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let from = m.from.unwrap_or(nobody);
            let mut off = 0;
            while off < m.len {
                let seg = m.segment.min(m.len - off);
                let start = HEADROOM + off;
                if on_udp_datagram(dp, &mut writers, buf, start, seg, from, &mut *ike) {
                    writers.flush(dp).await;
                }
                off += seg;
            }
        }
        if n < UDP_RECV_BATCH {
            break;
        }
    }
    writers.flush(dp).await;
    WRITER_POOL.give(writers);
    RECV_POOL.give(rb);
}

/// Messages per `recvmmsg` on UDP 4500 (each up to 64 KiB: a GRO batch or one datagram).
const UDP_RECV_BATCH: usize = 16;
/// Datagrams per `recvmmsg` on the raw ESP socket.
const RAW_RECV_BATCH: usize = 32;

/// Receives what the raw ESP socket has (up to four `recvmmsg` batches of `size`-byte
/// buffers) and hands it on.
async fn raw_inbound_batch(dp: &DataPlane, raw: &RawEsp, size: usize) {
    let mut rb = RECV_POOL.take(
        |b| b.fits(RAW_RECV_BATCH, size),
        || RecvBufs::new(RAW_RECV_BATCH, size),
    );
    let mut writers = WRITER_POOL.take(|_| true, TunWriters::new);
    let RecvBufs { bufs, meta } = &mut *rb;
    for _ in 0..4 {
        let Ok(n) = raw.try_recv_many(&mut bufs[..RAW_RECV_BATCH], meta) else {
            break;
        };
        for (buf, m) in bufs.iter_mut().zip(meta.iter()).take(n) {
            if m.truncated {
                dp.stats.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let Some(d) = buf.get(..m.len) else { continue };
            let off = raw.esp_offset(d);
            if let Inbound::Deliver {
                tunnel,
                range,
                header,
            } = dp.receive_esp(buf, off, m.len)
            {
                if writers.deliver(dp, tunnel, buf, range, header) {
                    writers.flush(dp).await;
                }
            }
        }
        if n < RAW_RECV_BATCH {
            break;
        }
    }
    writers.flush(dp).await;
    WRITER_POOL.give(writers);
    RECV_POOL.give(rb);
}
