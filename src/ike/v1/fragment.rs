//! IKEv1 fragmentation as strongSwan 5.9 does it (`fragmentation = yes`): the FRAGMENTATION
//! vendor ID, how large our fragments may be, and the bounded reassembly of the peer's
//! fragments (the wire format is in [`crate::wire::isakmp::fragment`]).
//!
//! Fragments are not authenticated: anyone who knows the cookies can send them. So reassembly is
//! bounded in every dimension (fragments per message, bytes per message, messages at once, age)
//! and anything inconsistent (a second "last" flag, a number past the last, a message that does
//! not parse back with the fragments' cookies) drops the whole message, counted. The peer's
//! retransmission (all fragments again) then starts over cleanly. The reassembled message is
//! handled exactly like one that arrived whole, so its authentication is what protects it.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::crypto::prf::HashAlg;
use crate::wire::isakmp::{be32, FragmentPayload, Header, PayloadType, HEADER_LEN};

/// The FRAGMENTATION vendor ID: MD5("FRAGMENTATION") followed by the capability word 0x80000000
/// (fragmentation of Main and Aggressive Mode messages), as strongSwan and racoon send it.
pub(crate) const VID_FRAGMENTATION: [u8; 20] = [
    0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3,
    0x80, 0x00, 0x00, 0x00,
];
/// The capability bit for phase-1 (Main/Aggressive Mode) fragmentation.
const CAPABILITY_IKE: u32 = 0x8000_0000;

/// Most fragments we accept for one message (strongSwan sends about 2 KB per 1,280-byte
/// fragment; 64 of the smallest, 576-byte ones still carry 32 KB).
pub(crate) const MAX_FRAGMENTS: u8 = 64;
/// Largest message we reassemble (a certificate chain of three RSA-4096 certificates fits).
pub(crate) const MAX_MESSAGE: usize = 16 * 1024;
/// Messages being reassembled at once (per tunnel); a new one evicts the oldest.
pub(crate) const MAX_PENDING: usize = 4;
/// How long an incomplete message is kept (the peer retransmits every fragment well within it).
pub(crate) const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(30);

/// True when a vendor ID payload announces phase-1 fragmentation: the bare 16-byte hash (as
/// Windows sends it), or the hash with a capability word that has the IKE bit.
pub(crate) fn announces_fragmentation(vid: &[u8]) -> bool {
    let Some(hash) = vid.get(..16) else {
        return false;
    };
    if hash != &VID_FRAGMENTATION[..16] {
        return false;
    }
    match vid.len() {
        16 => true,
        20 => be32(vid, 16).is_some_and(|c| c & CAPABILITY_IKE != 0),
        _ => false,
    }
}

/// Largest fragment data per datagram so that each fragment message, in its IP datagram, stays
/// within `fragment_size` bytes: IP (20/40), UDP (8), the non-ESP marker on port 4500 (4),
/// the ISAKMP header (28) and the fragment payload's header (8). `None` when nothing fits.
pub(crate) fn chunk_len(fragment_size: u16, ipv6: bool, nat_t_port: bool) -> Option<usize> {
    let ip = if ipv6 { 40 } else { 20 };
    let marker = if nat_t_port { 4 } else { 0 };
    usize::from(fragment_size)
        .checked_sub(ip + 8 + marker + HEADER_LEN + 8)
        .filter(|n| *n >= 64)
}

/// The fragment ID for a message: derived from its bytes, so that a retransmission is cut into
/// exactly the same fragments, and two different messages (almost always) get different IDs (a
/// receiver that keeps a partial message starts over when the ID changes).
pub(crate) fn fragment_id(message: &[u8]) -> u16 {
    let h = HashAlg::Sha1.hash(&[message]);
    match h.get(..2) {
        Some([a, b]) => u16::from_be_bytes([*a, *b]),
        _ => 1,
    }
}

/// What one fragment did to the reassembly.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reassembled {
    /// Kept (or a duplicate, ignored); more fragments are needed.
    Incomplete,
    /// The last missing piece: the whole message, checked to be an ISAKMP message with the
    /// fragments' cookies that is not itself a fragment.
    Complete(Vec<u8>),
    /// Dropped with everything gathered for its message, for the reason given.
    Dropped(&'static str),
}

/// Which message a fragment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    from: IpAddr,
    icookie: [u8; 8],
    rcookie: [u8; 8],
    id: u16,
}

/// One message being put back together.
struct Pending {
    key: Key,
    started: Instant,
    /// Number of the fragment flagged last, once seen.
    last: Option<u8>,
    /// (number, data), sorted by number, no duplicates.
    parts: Vec<(u8, Vec<u8>)>,
    len: usize,
}

/// The peer's fragmented messages being reassembled (see the module comment for the bounds).
#[derive(Default)]
pub(crate) struct Reassembly {
    pending: Vec<Pending>,
}

impl Reassembly {
    /// Adds one fragment that arrived at `now` from `from` in a message with the given cookies.
    pub fn add(
        &mut self,
        now: Instant,
        from: IpAddr,
        cookies: ([u8; 8], [u8; 8]),
        frag: &FragmentPayload<'_>,
    ) -> Reassembled {
        self.expire(now);
        let key = Key {
            from,
            icookie: cookies.0,
            rcookie: cookies.1,
            id: frag.id,
        };
        if frag.number > MAX_FRAGMENTS {
            self.pending.retain(|p| p.key != key);
            return Reassembled::Dropped("more fragments than we accept");
        }
        let i = match self.pending.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => self.start(now, key),
        };
        let Some(p) = self.pending.get_mut(i) else {
            return Reassembled::Dropped("no room");
        };
        if let Err(why) = p.insert(frag) {
            self.pending.remove(i);
            return Reassembled::Dropped(why);
        }
        if !p.complete() {
            return Reassembled::Incomplete;
        }
        let p = self.pending.remove(i);
        let whole: Vec<u8> = p.parts.into_iter().flat_map(|(_, d)| d).collect();
        match check_whole(&whole, cookies) {
            Ok(()) => Reassembled::Complete(whole),
            Err(why) => Reassembled::Dropped(why),
        }
    }

    /// Forgets incomplete messages older than [`REASSEMBLY_TIMEOUT`]; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.pending.len();
        self.pending
            .retain(|p| now.saturating_duration_since(p.started) < REASSEMBLY_TIMEOUT);
        before - self.pending.len()
    }

    /// Messages being reassembled.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Starts a message, evicting the oldest one when [`MAX_PENDING`] are in progress.
    fn start(&mut self, now: Instant, key: Key) -> usize {
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push(Pending {
            key,
            started: now,
            last: None,
            parts: Vec::new(),
            len: 0,
        });
        self.pending.len() - 1
    }
}

impl Pending {
    /// Files a fragment by number; a duplicate number is ignored (the first copy stays).
    fn insert(&mut self, frag: &FragmentPayload<'_>) -> Result<(), &'static str> {
        let n = frag.number;
        if frag.last {
            match self.last {
                Some(l) if l != n => return Err("two fragments flagged last"),
                _ => self.last = Some(n),
            }
            if self.parts.last().is_some_and(|(m, _)| *m > n) {
                return Err("a fragment numbered past the last one");
            }
        } else if self.last.is_some_and(|l| n >= l) {
            return Err("a fragment numbered past the last one");
        }
        let at = match self.parts.binary_search_by_key(&n, |(m, _)| *m) {
            Ok(_) => return Ok(()),
            Err(at) => at,
        };
        self.len = self.len.saturating_add(frag.data.len());
        if self.len > MAX_MESSAGE {
            return Err("reassembled message too large");
        }
        self.parts.insert(at, (n, frag.data.to_vec()));
        Ok(())
    }

    fn complete(&self) -> bool {
        self.last
            .is_some_and(|l| self.parts.len() == usize::from(l))
    }
}

/// The reassembled bytes must be one ISAKMP message, exactly, under the fragments' cookies, and
/// not a fragment again (no nesting).
fn check_whole(whole: &[u8], cookies: ([u8; 8], [u8; 8])) -> Result<(), &'static str> {
    let h =
        Header::new_checked(whole).map_err(|_| "reassembled bytes are not an ISAKMP message")?;
    if h.length() != whole.len() {
        return Err("reassembled message length differs from its header");
    }
    if (h.icookie(), h.rcookie()) != cookies {
        return Err("reassembled message has other cookies than its fragments");
    }
    if h.next_payload() == PayloadType::FRAGMENT {
        return Err("a fragment inside a fragment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::isakmp::fragment::split;
    use crate::wire::isakmp::{ExchangeType, Flags, HeaderRepr, Payloads};

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
    const COOKIES: ([u8; 8], [u8; 8]) = ([1; 8], [2; 8]);

    fn message(len: usize) -> Vec<u8> {
        let h = HeaderRepr {
            icookie: COOKIES.0,
            rcookie: COOKIES.1,
            next_payload: PayloadType::ID,
            exchange: ExchangeType::IDENTITY_PROTECTION,
            flags: Flags(Flags::ENCRYPTION),
            message_id: 0,
        };
        h.emit_with_body(&(0..len - 28).map(|i| (i * 7) as u8).collect::<Vec<_>>())
    }

    /// The fragment payloads (owned) of fragment messages.
    fn bodies(frags: &[Vec<u8>]) -> Vec<Vec<u8>> {
        frags
            .iter()
            .map(|f| {
                let h = Header::new_checked(&f[..]).unwrap();
                let p = Payloads::new(h.body(), h.next_payload())
                    .next()
                    .unwrap()
                    .unwrap();
                p.body.to_vec()
            })
            .collect()
    }

    fn feed(r: &mut Reassembly, now: Instant, body: &[u8]) -> Reassembled {
        r.add(now, PEER, COOKIES, &FragmentPayload::parse(body).unwrap())
    }

    #[test]
    fn vendor_id() {
        assert_eq!(
            HashAlg::Md5.hash(&[b"FRAGMENTATION"]),
            VID_FRAGMENTATION[..16].to_vec()
        );
        assert!(announces_fragmentation(&VID_FRAGMENTATION));
        assert!(announces_fragmentation(&VID_FRAGMENTATION[..16]));
        let mut cisco = VID_FRAGMENTATION;
        cisco[16] = 0xc0;
        assert!(announces_fragmentation(&cisco));
        cisco[16] = 0x40;
        assert!(!announces_fragmentation(&cisco), "base ISAKMP only");
        assert!(!announces_fragmentation(&VID_FRAGMENTATION[..15]));
        assert!(!announces_fragmentation(&[0; 20]));
    }

    #[test]
    fn chunk_lengths() {
        // 576 - 20 - 8 - 28 - 8, as strongSwan computes its IKEv1 fragment data length.
        assert_eq!(chunk_len(576, false, false), Some(512));
        assert_eq!(chunk_len(576, false, true), Some(508));
        assert_eq!(chunk_len(1280, true, true), Some(1192));
        assert_eq!(chunk_len(100, true, true), None);
    }

    #[test]
    fn out_of_order_and_duplicates_reassemble() {
        let now = Instant::now();
        let m = message(3000);
        let b =
            bodies(&split(&m, 512, fragment_id(&m), ExchangeType::IDENTITY_PROTECTION).unwrap());
        assert_eq!(b.len(), 6);
        let mut r = Reassembly::default();
        for i in [5, 0, 2, 2, 1, 4] {
            assert_eq!(feed(&mut r, now, &b[i]), Reassembled::Incomplete, "{i}");
        }
        assert_eq!(feed(&mut r, now, &b[3]), Reassembled::Complete(m.clone()));
        assert_eq!(r.len(), 0);
        // The peer's retransmission of every fragment reassembles again (a duplicate message
        // then answered by the exchange).
        for x in &b[..5] {
            assert_eq!(feed(&mut r, now, x), Reassembled::Incomplete);
        }
        assert_eq!(feed(&mut r, now, &b[5]), Reassembled::Complete(m));
    }

    #[test]
    fn inconsistent_fragments_drop_the_message() {
        let now = Instant::now();
        let frag = |n: u8, last: bool, len: usize| {
            FragmentPayload {
                id: 1,
                number: n,
                last,
                data: &vec![0u8; len],
            }
            .emit()
        };
        let mut r = Reassembly::default();
        assert_eq!(
            feed(&mut r, now, &frag(3, true, 10)),
            Reassembled::Incomplete
        );
        assert!(matches!(
            feed(&mut r, now, &frag(2, true, 10)),
            Reassembled::Dropped("two fragments flagged last")
        ));
        assert_eq!(r.len(), 0);
        feed(&mut r, now, &frag(3, true, 10));
        assert!(matches!(
            feed(&mut r, now, &frag(4, false, 10)),
            Reassembled::Dropped(_)
        ));
        feed(&mut r, now, &frag(5, false, 10));
        assert!(matches!(
            feed(&mut r, now, &frag(2, true, 10)),
            Reassembled::Dropped(_)
        ));
        assert!(matches!(
            feed(&mut r, now, &frag(65, false, 10)),
            Reassembled::Dropped("more fragments than we accept")
        ));
        // Too many bytes.
        for n in 1..=16 {
            let out = feed(&mut r, now, &frag(n, false, 1024));
            assert_eq!(out, Reassembled::Incomplete, "{n}");
        }
        assert!(matches!(
            feed(&mut r, now, &frag(17, false, 1)),
            Reassembled::Dropped("reassembled message too large")
        ));
        // Complete, but the bytes are no ISAKMP message.
        feed(&mut r, now, &frag(1, false, 10));
        assert!(matches!(
            feed(&mut r, now, &frag(2, true, 10)),
            Reassembled::Dropped("reassembled bytes are not an ISAKMP message")
        ));
    }

    #[test]
    fn other_cookies_inside_are_refused() {
        let now = Instant::now();
        let mut m = message(1000);
        m[0] = 9;
        let b = bodies(&split(&m, 512, 7, ExchangeType::IDENTITY_PROTECTION).unwrap());
        let mut r = Reassembly::default();
        feed(&mut r, now, &b[0]);
        assert_eq!(
            feed(&mut r, now, &b[1]),
            Reassembled::Dropped("reassembled message has other cookies than its fragments")
        );
    }

    #[test]
    fn bounded_in_count_and_age() {
        let now = Instant::now();
        let mut r = Reassembly::default();
        for id in 0..10u16 {
            let f = FragmentPayload {
                id,
                number: 1,
                last: false,
                data: b"x",
            }
            .emit();
            feed(&mut r, now, &f);
        }
        assert_eq!(r.len(), MAX_PENDING);
        assert_eq!(r.expire(now + REASSEMBLY_TIMEOUT / 2), 0);
        assert_eq!(r.expire(now + REASSEMBLY_TIMEOUT), MAX_PENDING);
    }
}
