//! Security associations of the data plane: the outbound SA (sequence counter, peer) and the
//! inbound SA (anti-replay window), each with its counters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::replay::{ReplayError, ReplayWindow};
use super::transform::{EspTransform, OpenError, Opened, SealError};
use crate::crypto::EspKeys;
use crate::ike::ProxyId;

/// Where ESP packets of an SA travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encap {
    /// Raw ESP, IP protocol 50, to the peer's address.
    Raw(std::net::IpAddr),
    /// ESP in UDP (RFC 3948) to the peer's current NAT-T address and port.
    Udp(SocketAddr),
}

impl Encap {
    /// The peer's address the packets go to.
    pub fn peer_ip(&self) -> std::net::IpAddr {
        match self {
            Encap::Raw(a) => *a,
            Encap::Udp(s) => s.ip(),
        }
    }
}

/// Packet and byte counters of one direction.
#[derive(Debug, Default)]
pub struct Counters {
    /// Packets processed successfully.
    pub packets: AtomicU64,
    /// Bytes of inner (plaintext) packets processed successfully.
    pub bytes: AtomicU64,
}

impl Counters {
    /// Counts one packet of `len` bytes.
    pub fn add(&self, len: usize) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// (packets, bytes).
    pub fn get(&self) -> (u64, u64) {
        (
            self.packets.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Why an inbound packet was dropped: one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Sequence number replayed or too old.
    Replay,
    /// ICV did not verify.
    Icv,
    /// Too short, not block-aligned, bad padding, or the inner packet is not a sane IP packet.
    Malformed,
    /// No inbound SA with that SPI.
    NoSa,
    /// The inner packet's addresses are outside the SA's proxy-ids.
    Policy,
    /// A dummy packet (next header 59, RFC 4303 §2.6), dropped by design.
    Dummy,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 6] = [
        DropReason::Replay,
        DropReason::Icv,
        DropReason::Malformed,
        DropReason::NoSa,
        DropReason::Policy,
        DropReason::Dummy,
    ];

    /// Name used in logs, the API and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Replay => "replay",
            DropReason::Icv => "icv",
            DropReason::Malformed => "malformed",
            DropReason::NoSa => "no_sa",
            DropReason::Policy => "policy",
            DropReason::Dummy => "dummy",
        }
    }
}

/// Drop counters, one per [`DropReason`].
#[derive(Debug, Default)]
pub struct DropCounters([AtomicU64; 6]);

impl DropCounters {
    /// Counts one drop.
    pub fn add(&self, r: DropReason) {
        self.0[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The count for one reason.
    pub fn get(&self, r: DropReason) -> u64 {
        self.0[r as usize].load(Ordering::Relaxed)
    }
}

/// An outbound SA: seals inner packets of one tunnel.
#[derive(Debug)]
pub struct OutboundSa {
    /// SPI the peer chose (host order).
    pub spi: u32,
    /// Cipher and integrity state.
    pub transform: EspTransform,
    /// Raw ESP or UDP encapsulation; the UDP destination follows the peer's NAT mapping
    /// ([`OutboundSa::set_udp_remote`]) without touching the sequence numbers.
    encap: arc_swap::ArcSwap<Encap>,
    seq: AtomicU64,
    /// Packets and inner bytes sealed.
    pub counters: Counters,
    /// Negotiated selectors (local ⇄ remote pairs, sorted, no duplicates): the tunnel's
    /// [`super::SelectorTable`] sends inner packets inside them to this SA.
    selectors: Vec<ProxyId>,
    keys: EspKeys,
    /// Transport mode: only the payload of each packet is sealed (RFC 4303 §3.1.1).
    transport: bool,
}

/// Every IPv4 and every IPv6 packet: the selectors of an SA that was given none (manual keys).
pub fn any_selectors() -> Vec<ProxyId> {
    let any6 = crate::ike::Subnet::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0);
    vec![
        ProxyId::any_v4(),
        ProxyId {
            local: any6,
            remote: any6,
        },
    ]
}

/// Sorts and deduplicates a selector set, so that two sets compare equal as sets.
fn normalize(mut v: Vec<ProxyId>) -> Vec<ProxyId> {
    let key = |p: &ProxyId| {
        (
            p.local.addr(),
            p.local.prefix(),
            p.remote.addr(),
            p.remote.prefix(),
        )
    };
    v.sort_by_key(key);
    v.dedup();
    v
}

/// Whether an inner packet from `src` to `dst` is inside one of `sel` (seen from our side).
#[inline]
fn admitted(sel: &[ProxyId], src: std::net::IpAddr, dst: std::net::IpAddr) -> bool {
    sel.iter()
        .any(|s| s.local.contains(src) && s.remote.contains(dst))
}

impl OutboundSa {
    /// Highest sequence number IKEv1 SAs may use (no extended sequence numbers): at 2^32 − 1
    /// the SA must be replaced.
    pub const SEQ_LIMIT: u64 = u32::MAX as u64;

    /// Creates an outbound SA from its keys.
    pub fn new(keys: &EspKeys, encap: Encap, iv_seed: [u8; 16]) -> Result<OutboundSa, String> {
        Ok(OutboundSa {
            spi: keys.spi,
            transform: EspTransform::new(keys, iv_seed)?,
            encap: arc_swap::ArcSwap::from_pointee(encap),
            seq: AtomicU64::new(0),
            counters: Counters::default(),
            selectors: any_selectors(),
            keys: keys.clone(),
            transport: false,
        })
    }

    /// The same SA in transport mode: [`crate::esp::transport::outbound_payload`] of each
    /// packet is sealed, with its protocol as next header.
    pub fn with_transport(mut self) -> OutboundSa {
        self.transport = true;
        self
    }

    /// Whether the SA is in transport mode.
    #[inline]
    pub fn is_transport(&self) -> bool {
        self.transport
    }

    /// The same SA limited to these selectors (local ⇄ remote pairs; an empty set admits
    /// nothing). [`OutboundSa::new`] starts with [`any_selectors`].
    pub fn with_selectors(mut self, selectors: Vec<ProxyId>) -> OutboundSa {
        self.selectors = normalize(selectors);
        self
    }

    /// The selector set, sorted and without duplicates.
    pub fn selectors(&self) -> &[ProxyId] {
        &self.selectors
    }

    /// The SA's keys, for the explicit, opt-in Wireshark key export only (never logged: the
    /// `Debug` of [`EspKeys`] hides the key bytes).
    pub fn export_keys(&self) -> &EspKeys {
        &self.keys
    }

    /// Seals `buf[payload]` (see [`EspTransform::seal`]); `None` when the sequence space is used up.
    pub fn seal(
        &self,
        buf: &mut [u8],
        payload: std::ops::Range<usize>,
        next_header: u8,
    ) -> Option<Result<std::ops::Range<usize>, SealError>> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if seq > Self::SEQ_LIMIT {
            return None;
        }
        let len = payload.len();
        let r = self
            .transform
            .seal(self.spi, seq, buf, payload, next_header);
        if r.is_ok() {
            self.counters.add(len);
        }
        Some(r)
    }

    /// Whether an outbound inner packet from `src` to `dst` is inside one of this SA's
    /// selectors.
    pub fn admits(&self, src: std::net::IpAddr, dst: std::net::IpAddr) -> bool {
        admitted(&self.selectors, src, dst)
    }

    /// Sequence number of the last sealed packet.
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// Where sealed packets go now: raw ESP or ESP-in-UDP to an address.
    pub fn encap(&self) -> Encap {
        **self.encap.load()
    }

    /// Sends ESP-in-UDP to `to` from now on (the peer's NAT mapping changed). Returns whether
    /// anything changed; raw ESP SAs are left alone.
    pub fn set_udp_remote(&self, to: std::net::SocketAddr) -> bool {
        match **self.encap.load() {
            Encap::Udp(cur) if cur != to => {
                self.encap.store(std::sync::Arc::new(Encap::Udp(to)));
                true
            }
            _ => false,
        }
    }
}

/// An inbound SA: opens packets for one tunnel.
#[derive(Debug)]
pub struct InboundSa {
    /// Our SPI (host order).
    pub spi: u32,
    /// Index of the tunnel (interface) the inner packets go to.
    pub tunnel: usize,
    /// Cipher and integrity state.
    pub transform: EspTransform,
    replay: Mutex<ReplayWindow>,
    /// Packets and inner bytes opened.
    pub counters: Counters,
    /// Drops attributed to this SA.
    pub drops: DropCounters,
    /// Negotiated selectors (local ⇄ remote, sorted, no duplicates): inner packets inside
    /// none of them are dropped (`policy`).
    selectors: Vec<ProxyId>,
    keys: EspKeys,
    /// Transport mode: the two hosts, whose addresses the rebuilt IP header carries.
    transport: Option<super::transport::Hosts>,
    /// Remote access: the pool offset of the client it belongs to (inner packets must come
    /// from that client's virtual address).
    client: Option<u32>,
}

impl InboundSa {
    /// Creates an inbound SA from its keys.
    pub fn new(keys: &EspKeys, tunnel: usize) -> Result<InboundSa, String> {
        Ok(InboundSa {
            spi: keys.spi,
            tunnel,
            transform: EspTransform::opener(keys)?,
            replay: Mutex::new(ReplayWindow::new()),
            counters: Counters::default(),
            drops: DropCounters::default(),
            selectors: any_selectors(),
            keys: keys.clone(),
            transport: None,
            client: None,
        })
    }

    /// The same SA for the remote-access client at pool offset `offset`.
    pub fn with_client(mut self, offset: u32) -> InboundSa {
        self.client = Some(offset);
        self
    }

    /// The remote-access client's pool offset (`None`: a site-to-site SA).
    #[inline]
    pub fn client(&self) -> Option<u32> {
        self.client
    }

    /// The same SA in transport mode between `hosts`: opened payloads get an IP header from
    /// the peer's address to ours ([`crate::esp::transport::rebuild_header`]).
    pub fn with_transport(mut self, hosts: super::transport::Hosts) -> InboundSa {
        self.transport = Some(hosts);
        self
    }

    /// The two hosts of a transport-mode SA (`None`: tunnel mode).
    #[inline]
    pub fn transport(&self) -> Option<super::transport::Hosts> {
        self.transport
    }

    /// The same SA limited to these selectors (local ⇄ remote pairs, our view; an empty set
    /// admits nothing). [`InboundSa::new`] starts with [`any_selectors`].
    pub fn with_selectors(mut self, selectors: Vec<ProxyId>) -> InboundSa {
        self.selectors = normalize(selectors);
        self
    }

    /// The selector set, sorted and without duplicates.
    pub fn selectors(&self) -> &[ProxyId] {
        &self.selectors
    }

    /// The SA's keys, for the explicit, opt-in Wireshark key export only (never logged: the
    /// `Debug` of [`EspKeys`] hides the key bytes).
    pub fn export_keys(&self) -> &EspKeys {
        &self.keys
    }

    /// Replay check, ICV check and decryption of the ESP packet `buf` (from the SPI on).
    pub fn open(&self, buf: &mut [u8]) -> Result<Opened, DropReason> {
        let seq = match buf.get(4..8) {
            Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64,
            None => return Err(self.count_drop(DropReason::Malformed)),
        };
        if self.window().check(seq).is_err() {
            return Err(self.count_drop(DropReason::Replay));
        }
        let opened = self.transform.open(buf).map_err(|e| {
            self.count_drop(match e {
                OpenError::Icv => DropReason::Icv,
                OpenError::Malformed | OpenError::BadPadding => DropReason::Malformed,
            })
        })?;
        // Only an authenticated packet may move the window; a concurrent twin may have won.
        if let Err(ReplayError::Duplicate | ReplayError::TooOld | ReplayError::Zero) =
            self.window().accept(seq)
        {
            return Err(self.count_drop(DropReason::Replay));
        }
        Ok(opened)
    }

    /// Counts a drop on this SA and returns the reason, for `map_err` chains.
    pub fn count_drop(&self, r: DropReason) -> DropReason {
        self.drops.add(r);
        r
    }

    /// Whether an inbound inner packet from `src` (the peer's side) to `dst` (ours) is inside
    /// one of this SA's selectors.
    pub fn admits(&self, src: std::net::IpAddr, dst: std::net::IpAddr) -> bool {
        admitted(&self.selectors, dst, src)
    }

    /// Highest sequence number received.
    pub fn last_seq(&self) -> u64 {
        self.window().top()
    }

    fn window(&self) -> std::sync::MutexGuard<'_, ReplayWindow> {
        // A poisoned lock only means another thread panicked mid-update; the window is still
        // a valid bitmap.
        self.replay.lock().unwrap_or_else(|p| p.into_inner())
    }
}
