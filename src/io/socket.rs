//! Sockets of one local (outer) address: UDP 4500 for ESP-in-UDP (and IKE behind the non-ESP
//! marker), UDP 500 for IKE, and a raw socket for IP protocol 50.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

use nix::sys::socket::{recvfrom, sendto, MsgFlags, SockaddrStorage};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::net::UdpSocket;

use super::batch::{self, RecvMeta, Slot};
use super::packet_path::PacketPath;
use crate::wire::ip::PROTO_ESP;

/// Marks a socket's packets with `SO_MARK` (the transport-mode routing rule lets marked packets
/// bypass the TUN: see [`super::route::TRANSPORT_FWMARK`]).
fn set_mark(s: &Socket, mark: Option<u32>) -> io::Result<()> {
    match mark {
        Some(m) => s
            .set_mark(m)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot set SO_MARK {m:#x}: {e}"))),
        None => Ok(()),
    }
}

/// Binds a UDP socket to `addr:port` (IPv6 sockets are v6-only), with `SO_MARK` `mark`.
pub fn udp(addr: IpAddr, port: u16, mark: Option<u32>) -> io::Result<UdpSocket> {
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    set_mark(&s, mark)?;
    // Large buffers: bursts of sealed packets must not overflow at multi-gigabit rates.
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&SocketAddr::new(addr, port).into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind UDP {addr}:{port}: {e}")))?;
    UdpSocket::from_std(s.into())
}

/// The environment variable that chooses how raw ESP is sent: unset or `socket`, the raw IP
/// socket; `packet`, an `AF_PACKET` socket with `PACKET_QDISC_BYPASS` and `sendmmsg`; `ring`,
/// the same with a `PACKET_TX_RING`. Peers without an Ethernet next hop in the neighbour table
/// (loopback, TUN, not resolved yet) take the raw IP socket either way. See the README's
/// performance section for what each measured.
pub const RAW_ESP_TX_ENV: &str = "IKEGATE_RAW_ESP_TX";

/// A raw IP socket for ESP (protocol 50) bound to one local address.
pub struct RawEsp {
    fd: AsyncFd<Socket>,
    v4: bool,
    /// Sends through a packet socket where the peer's next hop is known (opt-in).
    fast: Option<PacketPath>,
}

impl RawEsp {
    /// Opens and binds the socket (needs CAP_NET_RAW), with `SO_MARK` `mark`.
    pub fn bind(addr: IpAddr, mark: Option<u32>) -> io::Result<RawEsp> {
        let domain = if addr.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let s = Socket::new(domain, Type::RAW, Some(Protocol::from(PROTO_ESP as i32)))
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open a raw ESP socket: {e}")))?;
        s.set_nonblocking(true)?;
        set_mark(&s, mark)?;
        let _ = s.set_recv_buffer_size(4 << 20);
        let _ = s.set_send_buffer_size(4 << 20);
        s.bind(&SocketAddr::new(addr, 0).into())?;
        // SAFETY: `Socket` owns its descriptor; it stays open and the same for as long as the
        // AsyncFd owns the Socket.
        #[allow(unsafe_code)]
        let fd = unsafe { AsyncFd::register(s) }.map_err(|e| io::Error::other(e.to_string()))?;
        let fast = match std::env::var(RAW_ESP_TX_ENV).as_deref() {
            Ok("packet") => Some(PacketPath::new(addr, mark, false)?),
            Ok("ring") => Some(PacketPath::new(addr, mark, true)?),
            Ok(other) if other != "socket" => {
                tracing::warn!(
                    "{RAW_ESP_TX_ENV}={other:?} is not one of socket, packet, ring: raw ESP from {addr} uses the raw IP socket"
                );
                None
            }
            _ => None,
        };
        if fast.is_some() {
            tracing::info!("raw ESP from {addr}: packet-socket send path on ({RAW_ESP_TX_ENV})");
        }
        Ok(RawEsp {
            fd,
            v4: addr.is_ipv4(),
            fast,
        })
    }

    /// Waits until packets arrive, then receives up to `max` of them without blocking, calling
    /// `f(buf, start, end)` for each: `buf[start..end]` is the ESP packet from its SPI on (IPv4
    /// raw sockets include the IP header, which is skipped; IPv6 ones do not).
    pub async fn recv_batch(
        &self,
        buf: &mut [u8],
        max: usize,
        f: &mut (dyn FnMut(&mut [u8], usize, usize) + Send),
    ) -> io::Result<()> {
        let mut guard = self.fd.readable().await?;
        for _ in 0..max {
            match guard.try_io(|s| {
                recvfrom::<SockaddrStorage>(s.get_ref().as_raw_fd(), buf).map_err(io::Error::from)
            }) {
                Ok(Ok((n, _from))) => {
                    let off = if self.v4 {
                        match buf.first() {
                            Some(b) if n >= 20 => ((b & 0x0f) as usize) * 4,
                            _ => n,
                        }
                    } else {
                        0
                    };
                    f(buf, off.min(n), n);
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => break,
            }
        }
        Ok(())
    }

    /// Whether a packet can be received; if not, `cx`'s waker is woken when one can. Polled, so a
    /// waiting task keeps no readiness future in its state.
    pub fn poll_readable(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.fd.poll_read_ready(cx).map(|r| r.map(|_| ()))
    }

    /// Where the ESP packet starts in a received datagram of `n` bytes: IPv4 raw sockets
    /// include the IP header, IPv6 ones do not.
    pub fn esp_offset(&self, datagram: &[u8]) -> usize {
        if !self.v4 {
            return 0;
        }
        match datagram.first() {
            Some(b) if datagram.len() >= 20 => (((b & 0x0f) as usize) * 4).min(datagram.len()),
            _ => datagram.len(),
        }
    }

    /// Waits until packets arrive, then receives up to `bufs.len()` of them with one
    /// `recvmmsg` (datagram `i` in `bufs[i][..meta[i].len]`, see [`Self::esp_offset`]).
    pub async fn recv_many(
        &self,
        bufs: &mut [Vec<u8>],
        meta: &mut [RecvMeta],
    ) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|s| batch::recv_batch(s.get_ref().as_raw_fd(), bufs, 0, meta)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives up to `bufs.len()` packets with one `recvmmsg` if any are waiting (after
    /// [`Self::readable`]); `WouldBlock` when none.
    pub fn try_recv_many(&self, bufs: &mut [Vec<u8>], meta: &mut [RecvMeta]) -> io::Result<usize> {
        self.fd.try_io(tokio::io::Interest::READABLE, |s| {
            batch::recv_batch(s.as_raw_fd(), bufs, 0, meta)
        })
    }

    /// Sends ESP packets `bufs[i][range]` to `to` with one `sendmmsg` (waiting while the socket
    /// buffer is full). Returns how many from the start of `pkts` the kernel took.
    pub async fn send_many(
        &self,
        to: IpAddr,
        bufs: &[Vec<u8>],
        pkts: &[Slot],
    ) -> io::Result<usize> {
        if let Some(n) = self.fast.as_ref().and_then(|f| f.send(to, bufs, pkts)) {
            return Ok(n);
        }
        let dest = batch::raw_dest(to);
        loop {
            let mut guard = self.fd.writable().await?;
            match guard
                .try_io(|s| batch::send_batch(s.get_ref().as_raw_fd(), dest, bufs, pkts, false))
            {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends one ESP packet to `to` (the kernel adds the IP header).
    pub async fn send(&self, pkt: &[u8], to: IpAddr) -> io::Result<()> {
        let addr: SockaddrStorage = SocketAddr::new(to, 0).into();
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|s| {
                sendto(s.get_ref().as_raw_fd(), pkt, &addr, MsgFlags::empty())
                    .map_err(io::Error::from)
            }) {
                Ok(r) => return r.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }
}
