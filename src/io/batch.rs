//! Batched datagram I/O: `sendmmsg` / `recvmmsg`, UDP GSO (`UDP_SEGMENT`) on send and UDP GRO
//! on receive. Each call builds its message headers on the stack from the caller's buffers, so
//! no pointer outlives the call and nothing is allocated per packet.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::ops::Range;
use std::os::fd::RawFd;

/// Most messages (and iovecs) one `sendmmsg` / `recvmmsg` call handles.
pub const MAX_BATCH: usize = 256;
/// Most segments in one UDP GSO message (the kernel's `UDP_MAX_SEGMENTS` before 6.9).
pub const MAX_GSO_SEGMENTS: usize = 64;
/// Largest UDP payload of one GSO message.
const MAX_GSO_BYTES: usize = 65_000;

/// One packet of an outgoing batch: `bufs[index][range]`.
pub type Slot = (usize, Range<usize>);

/// What one received message was.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecvMeta {
    /// Bytes received (several GRO segments when `segment` is smaller).
    pub len: usize,
    /// Size of each coalesced segment (the last may be shorter); equals `len` without GRO.
    pub segment: usize,
    /// Sender (UDP only; raw sockets report the address too).
    pub from: Option<SocketAddr>,
    /// The datagram did not fit the buffer and was cut.
    pub truncated: bool,
}

/// Space for one control message carrying a `u16` (UDP_SEGMENT) or an `int` (UDP_GRO).
type CmsgBuf = [u64; 4];

fn sockaddr(to: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid (AF_UNSPEC) value.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match to {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn from_sockaddr(ss: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match ss.ss_family as libc::c_int {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and it is long enough.
            let sin = unsafe { &*(ss as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*(ss as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Asks the kernel to coalesce received UDP datagrams (UDP GRO). False when refused.
pub fn enable_udp_gro(fd: RawFd) -> bool {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live local.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_UDP,
            libc::UDP_GRO,
            &one as *const _ as *const libc::c_void,
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    r == 0
}

/// How many packets from the start of `pkts` form one GSO message: a run of equal sizes, the
/// last of which may be shorter, within the kernel's segment and byte limits.
fn gso_run<B: AsRef<[u8]>>(bufs: &[B], pkts: &[Slot]) -> usize {
    let Some((_, first)) = pkts.first() else {
        return 0;
    };
    let size = first.len();
    let mut total = size;
    let mut n = 1;
    for (i, r) in pkts.iter().skip(1) {
        let len = r.len();
        if n >= MAX_GSO_SEGMENTS || len > size || total + len > MAX_GSO_BYTES || *i >= bufs.len() {
            break;
        }
        n += 1;
        total += len;
        if len < size {
            break;
        }
    }
    n
}

/// Sends `pkts` (at most [`MAX_BATCH`]) to `to` with one `sendmmsg`. With `gso`, each run of
/// equal-size packets becomes one UDP GSO message. Returns how many packets (from the start of
/// `pkts`) the kernel took; `WouldBlock` when none; `EIO` / `EINVAL` when GSO was refused.
pub fn send_batch<B: AsRef<[u8]>>(
    fd: RawFd,
    to: SocketAddr,
    bufs: &[B],
    pkts: &[Slot],
    gso: bool,
) -> io::Result<usize> {
    let pkts = &pkts[..pkts.len().min(MAX_BATCH)];
    let (mut addr, addr_len) = sockaddr(to);
    // SAFETY: all-zero iovec / mmsghdr / cmsg buffers are valid (null, empty) values.
    let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { zeroed() };
    let mut cmsgs: [CmsgBuf; MAX_BATCH] = [[0; 4]; MAX_BATCH];
    // Packets per message, to map the kernel's message count back to packets.
    let mut per_msg = [0u16; MAX_BATCH];
    let mut msgs = 0;
    let mut p = 0;
    while p < pkts.len() {
        let run = if gso { gso_run(bufs, &pkts[p..]) } else { 1 };
        for (k, (i, r)) in pkts[p..p + run].iter().enumerate() {
            // A slot outside its buffer (a caller bug) is sent as nothing rather than panic.
            let data = bufs.get(*i).and_then(|b| b.as_ref().get(r.clone()));
            let data = data.unwrap_or(&[]);
            iovs[p + k] = libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            };
        }
        let h = &mut hdrs[msgs].msg_hdr;
        h.msg_name = &mut addr as *mut _ as *mut libc::c_void;
        h.msg_namelen = addr_len;
        h.msg_iov = iovs[p..].as_mut_ptr();
        h.msg_iovlen = run as _;
        if run > 1 {
            let seg = pkts[p].1.len() as u16;
            let c = &mut cmsgs[msgs];
            h.msg_control = c.as_mut_ptr() as *mut libc::c_void;
            // SAFETY: CMSG_SPACE of a u16 (24 bytes) fits the 32-byte, 8-aligned buffer, and the
            // header points into it for the CMSG_* accessors below.
            unsafe {
                h.msg_controllen = libc::CMSG_SPACE(size_of::<u16>() as u32) as _;
                let cm = libc::CMSG_FIRSTHDR(h);
                (*cm).cmsg_level = libc::SOL_UDP;
                (*cm).cmsg_type = libc::UDP_SEGMENT;
                (*cm).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(cm) as *mut u16, seg);
            }
        }
        per_msg[msgs] = run as u16;
        msgs += 1;
        p += run;
    }
    // SAFETY: every header points at iovecs, an address and a control buffer that live on this
    // stack frame until the call returns; iovecs point into `bufs`, borrowed for the call.
    let n = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), msgs as libc::c_uint, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(per_msg[..n as usize].iter().map(|&k| k as usize).sum())
}

/// Receives up to `bufs.len()` (at most [`MAX_BATCH`]) datagrams with one `recvmmsg`, each into
/// `bufs[i][offset..]`, describing them in `meta`. Returns how many; `WouldBlock` when none.
pub fn recv_batch(
    fd: RawFd,
    bufs: &mut [Vec<u8>],
    offset: usize,
    meta: &mut [RecvMeta],
) -> io::Result<usize> {
    let n = bufs.len().min(meta.len()).min(MAX_BATCH);
    // SAFETY: all-zero values are valid for these C structs.
    let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { zeroed() };
    let mut names: [libc::sockaddr_storage; MAX_BATCH] = unsafe { zeroed() };
    let mut cmsgs: [CmsgBuf; MAX_BATCH] = [[0; 4]; MAX_BATCH];
    for i in 0..n {
        let Some(room) = bufs[i].get_mut(offset..) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "offset"));
        };
        iovs[i] = libc::iovec {
            iov_base: room.as_mut_ptr() as *mut libc::c_void,
            iov_len: room.len(),
        };
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = &mut names[i] as *mut _ as *mut libc::c_void;
        h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        h.msg_iov = &mut iovs[i];
        h.msg_iovlen = 1;
        h.msg_control = cmsgs[i].as_mut_ptr() as *mut libc::c_void;
        h.msg_controllen = size_of::<CmsgBuf>() as _;
    }
    // SAFETY: every header points at live stack buffers and into `bufs`, borrowed mutably for
    // the duration of the call; MSG_DONTWAIT never blocks.
    let got = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    let got = got as usize;
    for i in 0..got {
        let h = &hdrs[i].msg_hdr;
        let len = hdrs[i].msg_len as usize;
        let mut segment = len;
        // SAFETY: the kernel filled msg_control/msg_controllen; CMSG_* walk within them.
        unsafe {
            let mut cm = libc::CMSG_FIRSTHDR(h);
            while !cm.is_null() {
                if (*cm).cmsg_level == libc::SOL_UDP && (*cm).cmsg_type == libc::UDP_GRO {
                    let s = std::ptr::read_unaligned(libc::CMSG_DATA(cm) as *const libc::c_int);
                    if s > 0 {
                        segment = s as usize;
                    }
                }
                cm = libc::CMSG_NXTHDR(h, cm);
            }
        }
        meta[i] = RecvMeta {
            len,
            segment: segment.min(len).max(1),
            from: from_sockaddr(&names[i], h.msg_namelen),
            truncated: h.msg_flags & libc::MSG_TRUNC != 0,
        };
    }
    Ok(got)
}

/// The address of `to` as a raw-socket destination (port 0).
pub fn raw_dest(to: IpAddr) -> SocketAddr {
    SocketAddr::new(to, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gso_runs_split_on_size_changes() {
        let bufs = vec![vec![0u8; 2000]; 8];
        let s = |i: usize, len: usize| (i, 0..len);
        assert_eq!(gso_run(&bufs, &[s(0, 100), s(1, 100), s(2, 100)]), 3);
        // A shorter packet ends a run (and belongs to it); a longer one starts a new run.
        assert_eq!(gso_run(&bufs, &[s(0, 100), s(1, 60), s(2, 100)]), 2);
        assert_eq!(gso_run(&bufs, &[s(0, 100), s(1, 200)]), 1);
        assert_eq!(gso_run(&bufs, &[]), 0);
        let many: Vec<Slot> = (0..100).map(|i| (i % 8, 0..10)).collect();
        assert_eq!(gso_run(&bufs, &many), MAX_GSO_SEGMENTS);
    }

    #[test]
    fn loopback_gso_send_and_gro_receive() {
        use std::os::fd::AsRawFd;
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let gro = enable_udp_gro(rx.as_raw_fd());
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let bufs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 300]).collect();
        let pkts: Vec<Slot> = vec![
            (0, 0..300),
            (1, 0..300),
            (2, 0..300),
            (3, 0..300),
            (4, 0..7),
        ];
        let to = rx.local_addr().unwrap();
        let sent = match send_batch(tx.as_raw_fd(), to, &bufs, &pkts, true) {
            Ok(n) => n,
            // A kernel without UDP GSO on loopback: plain batches must work.
            Err(_) => send_batch(tx.as_raw_fd(), to, &bufs, &pkts, false).unwrap(),
        };
        assert_eq!(sent, 5);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut rbufs = vec![vec![0u8; 65536]; 8];
        let mut meta = [RecvMeta::default(); 8];
        let mut segs = Vec::new();
        while let Ok(n) = recv_batch(rx.as_raw_fd(), &mut rbufs, 16, &mut meta) {
            for (b, m) in rbufs.iter().zip(&meta[..n]) {
                assert!(!m.truncated);
                assert_eq!(m.from, Some(tx.local_addr().unwrap()));
                for c in b[16..16 + m.len].chunks(m.segment) {
                    segs.push((c[0], c.len()));
                }
            }
        }
        assert_eq!(
            segs,
            vec![(0, 300), (1, 300), (2, 300), (3, 300), (4, 7)],
            "gro {gro}"
        );
    }
}
