//! Sending ESP through an `AF_PACKET` socket with a `PACKET_TX_RING` (TPACKET_V2, memory-mapped)
//! and `PACKET_QDISC_BYPASS`: ikegate writes the Ethernet and outer IP headers itself, so the
//! kernel skips the IP output path (route lookup, netfilter, neighbour output, qdisc) that a raw
//! IP socket takes for every packet. The frames of one call go to the driver in one `send`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use super::batch::Slot;
use crate::wire::outer_frame::OuterFrame;

/// `TPACKET_V2` in `enum tpacket_versions`.
const TPACKET_V2: libc::c_int = 1;
/// Where a TX frame's data starts: `TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)`, i.e. the
/// 32-byte `tpacket2_hdr` aligned to `TPACKET_ALIGNMENT` (the kernel's default without
/// `PACKET_TX_HAS_OFF`).
const TX_DATA_OFFSET: usize = 32;
/// Byte offset of `tp_len` in `struct tpacket2_hdr` (after `tp_status`).
const TP_LEN_OFFSET: usize = 4;
/// Ring geometry: frames of 4 KiB (a 1500-byte MTU and far more), 64 KiB blocks, 1024 frames.
const FRAME_SIZE: usize = 4096;
const BLOCK_SIZE: usize = 1 << 16;
const FRAME_COUNT: usize = 1024;

/// A packet socket with a mapped TX ring, bound to one interface.
pub struct TxRing {
    fd: OwnedFd,
    map: NonNull<u8>,
    map_len: usize,
    next: usize,
    ifindex: u32,
}

// SAFETY: the mapping is owned by this value alone (only reached through `&mut self`) and the
// kernel side synchronises through each frame's status word.
unsafe impl Send for TxRing {}

impl TxRing {
    /// Opens the socket (needs CAP_NET_RAW), switches it to TPACKET_V2 with
    /// `PACKET_QDISC_BYPASS` and `PACKET_LOSS` (a frame the kernel refuses is dropped, not a
    /// stall), maps the ring and binds it to interface `ifindex` with protocol 0 (it receives
    /// nothing).
    pub fn open(ifindex: u32) -> io::Result<TxRing> {
        // SAFETY: plain socket(2); the descriptor is owned right after.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(with_context(
                io::Error::last_os_error(),
                "open a packet socket",
            ));
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        setsockopt(&fd, libc::PACKET_VERSION, TPACKET_V2, "set TPACKET_V2")?;
        setsockopt(&fd, libc::PACKET_QDISC_BYPASS, 1, "set PACKET_QDISC_BYPASS")?;
        setsockopt(&fd, libc::PACKET_LOSS, 1, "set PACKET_LOSS")?;
        let req = libc::tpacket_req {
            tp_block_size: BLOCK_SIZE as u32,
            tp_block_nr: (FRAME_SIZE * FRAME_COUNT / BLOCK_SIZE) as u32,
            tp_frame_size: FRAME_SIZE as u32,
            tp_frame_nr: FRAME_COUNT as u32,
        };
        // SAFETY: `req` is a valid tpacket_req for the given length.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_TX_RING,
                &req as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::tpacket_req>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(with_context(
                io::Error::last_os_error(),
                "set up PACKET_TX_RING",
            ));
        }
        let map_len = FRAME_SIZE * FRAME_COUNT;
        // SAFETY: maps the ring the kernel just allocated for this descriptor; unmapped in Drop.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(with_context(io::Error::last_os_error(), "map the TX ring"));
        }
        let map = NonNull::new(p as *mut u8).ok_or_else(|| io::Error::other("mmap gave null"))?;
        let ring = TxRing {
            fd,
            map,
            map_len,
            next: 0,
            ifindex,
        };
        ring.bind()?;
        Ok(ring)
    }

    fn bind(&self) -> io::Result<()> {
        bind(&self.fd, self.ifindex)
    }

    /// The interface the ring sends on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Largest ESP packet one frame holds behind `frame`'s headers.
    pub fn max_esp_len(frame: &OuterFrame) -> usize {
        FRAME_SIZE - TX_DATA_OFFSET - frame.header_len()
    }

    /// Copies packets `bufs[i][range]` behind `frame`'s headers into free frames, in order,
    /// stopping at the first longer than `max_esp` or a frame, or when the ring is full, then
    /// hands them to the driver with one `send`. `ident` numbers the IPv4 headers. Returns how
    /// many packets from the start of `pkts` were queued.
    pub fn send(
        &mut self,
        frame: &OuterFrame,
        max_esp: usize,
        ident: &mut u16,
        bufs: &[Vec<u8>],
        pkts: &[Slot],
    ) -> io::Result<usize> {
        let mut queued = 0;
        for (i, range) in pkts {
            let Some(esp) = bufs.get(*i).and_then(|b| b.get(range.clone())) else {
                break;
            };
            if esp.len() > max_esp.min(Self::max_esp_len(frame)) || !self.fill(frame, *ident, esp) {
                break;
            }
            *ident = ident.wrapping_add(1);
            queued += 1;
        }
        if queued > 0 {
            self.kick()?;
        }
        Ok(queued)
    }

    /// Writes one frame into the next slot if the kernel has released it.
    fn fill(&mut self, frame: &OuterFrame, ident: u16, esp: &[u8]) -> bool {
        // SAFETY: `next < FRAME_COUNT`, so the slot lies inside the mapping; its first 4 bytes
        // are the 4-byte aligned status word (frames are 4 KiB aligned), shared with the kernel
        // and only touched atomically; no other reference to them exists.
        let slot = unsafe { self.map.as_ptr().add(self.next * FRAME_SIZE) };
        // SAFETY: see above.
        let status = unsafe { &*(slot as *const AtomicU32) };
        if status.load(Ordering::Acquire) != libc::TP_STATUS_AVAILABLE {
            return false;
        }
        // SAFETY: the bytes after the status word of a slot whose status is AVAILABLE are ours
        // until we mark it SEND_REQUEST; they do not overlap the status word.
        let rest = unsafe {
            std::slice::from_raw_parts_mut(slot.add(TP_LEN_OFFSET), FRAME_SIZE - TP_LEN_OFFSET)
        };
        let (tp_len, rest) = rest.split_at_mut(4);
        let data = &mut rest[TX_DATA_OFFSET - TP_LEN_OFFSET - 4..];
        let Some(h) = frame.emit(data, esp.len(), ident) else {
            return false;
        };
        let Some(dst) = data.get_mut(h..h + esp.len()) else {
            return false;
        };
        dst.copy_from_slice(esp);
        tp_len.copy_from_slice(&((h + esp.len()) as u32).to_ne_bytes());
        status.store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.next = (self.next + 1) % FRAME_COUNT;
        true
    }

    /// Asks the kernel to send every frame marked SEND_REQUEST, without waiting for them to
    /// leave (their slots come back AVAILABLE when the driver frees them).
    fn kick(&self) -> io::Result<()> {
        // SAFETY: a zero-length send on our own descriptor; no buffer is passed.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(with_context(e, "send the TX ring"));
            }
        }
        Ok(())
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`; nothing refers to it any more.
        unsafe { libc::munmap(self.map.as_ptr() as *mut libc::c_void, self.map_len) };
    }
}

fn setsockopt(fd: &OwnedFd, opt: libc::c_int, val: libc::c_int, what: &str) -> io::Result<()> {
    // SAFETY: an int option of the right size on our own descriptor.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            opt,
            &val as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(with_context(io::Error::last_os_error(), what));
    }
    Ok(())
}

fn with_context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {what}: {e}"))
}

/// A packet socket bound to one interface that sends with `sendmmsg` (`PACKET_QDISC_BYPASS`):
/// the kernel copies each frame into a fresh skb, so no buffer of ours is referenced after the
/// call (a TX ring's frames are: see the module notes in the README).
pub struct PacketSender {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSender {
    /// Opens the socket (needs CAP_NET_RAW) with `PACKET_QDISC_BYPASS`, bound to `ifindex` with
    /// protocol 0 (it receives nothing).
    pub fn open(ifindex: u32) -> io::Result<PacketSender> {
        // SAFETY: plain socket(2); the descriptor is owned right after.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            return Err(with_context(
                io::Error::last_os_error(),
                "open a packet socket",
            ));
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        setsockopt(&fd, libc::PACKET_QDISC_BYPASS, 1, "set PACKET_QDISC_BYPASS")?;
        let s = socket2::SockRef::from(&fd);
        let _ = s.set_send_buffer_size(4 << 20);
        bind(&fd, ifindex)?;
        Ok(PacketSender { fd, ifindex })
    }

    /// The interface the socket sends on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends packets `bufs[i][range]` behind `frame`'s headers with one `sendmmsg`, stopping
    /// before the first longer than `max_esp`. Returns how many from the start of `pkts` the
    /// kernel took (0 when its buffer is full).
    pub fn send(
        &self,
        frame: &OuterFrame,
        max_esp: usize,
        ident: &mut u16,
        bufs: &[Vec<u8>],
        pkts: &[Slot],
    ) -> io::Result<usize> {
        const N: usize = super::batch::MAX_BATCH;
        let mut heads = [[0u8; 64]; N];
        // SAFETY: all-zero iovec / mmsghdr are valid (null, empty) values.
        let mut iovs: [[libc::iovec; 2]; N] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; N] = unsafe { std::mem::zeroed() };
        let mut n = 0;
        for ((i, range), head) in pkts.iter().take(N).zip(heads.iter_mut()) {
            let Some(esp) = bufs.get(*i).and_then(|b| b.get(range.clone())) else {
                break;
            };
            if esp.len() > max_esp {
                break;
            }
            let Some(h) = frame.emit(head, esp.len(), ident.wrapping_add(n as u16)) else {
                break;
            };
            iovs[n] = [
                libc::iovec {
                    iov_base: head.as_mut_ptr() as *mut libc::c_void,
                    iov_len: h,
                },
                libc::iovec {
                    iov_base: esp.as_ptr() as *mut libc::c_void,
                    iov_len: esp.len(),
                },
            ];
            n += 1;
        }
        for (h, iov) in hdrs.iter_mut().zip(iovs.iter_mut()).take(n) {
            h.msg_hdr.msg_iov = iov.as_mut_ptr();
            h.msg_hdr.msg_iovlen = 2;
        }
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: `hdrs[..n]` point at iovecs and buffers that live until the call returns.
        let r = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                n as u32,
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(0);
            }
            return Err(with_context(e, "send on the packet socket"));
        }
        *ident = ident.wrapping_add(r as u16);
        Ok(r as usize)
    }
}

fn bind(fd: &OwnedFd, ifindex: u32) -> io::Result<()> {
    // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: `sll` is a valid sockaddr_ll of the given length.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(with_context(
            io::Error::last_os_error(),
            "bind the packet socket",
        ));
    }
    Ok(())
}
