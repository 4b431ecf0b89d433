//! The request/response machinery every IKEv2 exchange shares (RFC 7296 §2.1–2.3): routing a
//! message to its IKE SA, message IDs with a window of one, answering retransmitted requests
//! from the cached response, decryption and reassembly, sealing and fragmenting what we send,
//! retransmitting our requests.

use std::net::SocketAddr;
use std::time::Instant;

use tracing::debug;
use zeroize::Zeroizing;

use crate::ike::core::backoff;
use crate::wire::ikev2::{
    ExchangeType, Flags, HeaderRepr, Payload, PayloadRepr, PayloadType, HEADER_LEN,
};

use super::message::{self, Protected, Seal};
use super::{Engine, Pending, Request, RequestKind, SaState};

/// UDP 4500, where IKE moves when a NAT is detected.
pub(crate) const NAT_T_PORT: u16 = 4500;

/// A decrypted message body: the inner payload chain and its first type.
pub(super) struct Inner {
    pub first: PayloadType,
    pub plain: Zeroizing<Vec<u8>>,
}

impl Inner {
    /// Parses the inner payloads; `None` (malformed) on any error.
    pub fn payloads(&self) -> Option<Vec<Payload<'_>>> {
        Payload::parse_chain(&self.plain, self.first).ok()
    }
}

impl Engine {
    /// The payloads of a decrypted message; a chain that does not parse is dropped and counted.
    pub(super) fn payloads_of<'a>(&mut self, inner: &'a Inner) -> Option<Vec<Payload<'a>>> {
        let payloads = inner.payloads();
        if payloads.is_none() {
            self.io.stats.dropped_malformed += 1;
        }
        payloads
    }

    pub(super) fn on_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        h: &HeaderRepr,
        msg: &[u8],
    ) {
        if h.exchange == ExchangeType::IKE_SA_INIT && h.rspi == [0; 8] {
            return self.on_sa_init_request(now, local, remote, h, msg);
        }
        let Some(i) = self.find_sa((h.ispi, h.rspi)) else {
            debug!(%remote, "IKEv2 request for an unknown IKE SA");
            self.io.stats.dropped_unknown_cookie += 1;
            return;
        };
        let sa = &self.sas[i];
        // The I flag names the original initiator: it must be the peer.
        if h.flags.initiator() == sa.original_initiator {
            self.io.stats.dropped_unexpected += 1;
            return;
        }
        let mid = h.message_id;
        if mid.wrapping_add(1) == sa.expected_request_id {
            if let Some((m, dgrams)) = &sa.last_response {
                if *m == mid {
                    // The peer did not get our response: send it again (only on its first
                    // fragment or whole message, not once per retransmitted fragment).
                    if is_first_datagram(msg) {
                        self.io.stats.duplicates_answered += 1;
                        let (port, peer) = (sa.local_port, sa.peer);
                        for d in dgrams.clone() {
                            self.io.send(port, peer, d);
                        }
                    }
                    return;
                }
            }
        }
        if mid != sa.expected_request_id {
            self.io.stats.dropped_replay += 1;
            return;
        }
        let Some(inner) = self.open(i, h, msg) else {
            return;
        };
        self.authenticated_from(i, now, local, remote);
        match h.exchange {
            ExchangeType::IKE_INTERMEDIATE => self.on_intermediate_request(i, h, &inner),
            ExchangeType::IKE_AUTH => self.on_auth_request(now, i, h, &inner),
            ExchangeType::CREATE_CHILD_SA => self.on_create_child_request(now, i, h, &inner),
            ExchangeType::IKE_FOLLOWUP_KE => self.on_followup_request(now, i, h, &inner),
            ExchangeType::INFORMATIONAL => self.on_informational_request(now, i, h, &inner),
            other => {
                debug!(exchange = %other, "unsupported IKEv2 exchange");
                self.io.stats.dropped_unsupported += 1;
            }
        }
    }

    pub(super) fn on_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        h: &HeaderRepr,
        msg: &[u8],
    ) {
        let idx = if h.exchange == ExchangeType::IKE_SA_INIT {
            self.sas.iter().position(|s| {
                s.spi_i == h.ispi && s.original_initiator && matches!(s.state, SaState::InitSent(_))
            })
        } else {
            self.find_sa((h.ispi, h.rspi))
        };
        let Some(i) = idx else {
            self.io.stats.dropped_unknown_cookie += 1;
            return;
        };
        let sa = &self.sas[i];
        let expected = sa.request.as_ref().map(|r| (r.message_id, r.exchange));
        if expected != Some((h.message_id, h.exchange))
            || h.flags.initiator() == sa.original_initiator
        {
            self.io.stats.dropped_unexpected += 1;
            return;
        }
        if h.exchange == ExchangeType::IKE_SA_INIT {
            return self.on_sa_init_response(now, i, remote, h, msg);
        }
        let Some(inner) = self.open(i, h, msg) else {
            return;
        };
        self.authenticated_from(i, now, local, remote);
        let Some(req) = self.sas[i].request.take() else {
            return;
        };
        self.live.last_ack = Some(now);
        match req.kind {
            RequestKind::Intermediate => self.on_intermediate_response(now, i, h, &inner),
            RequestKind::Auth => {
                if !self.on_auth_response(now, i, &inner) {
                    // Set aside until a CRL is fetched: keep waiting (and retransmitting).
                    self.sas[i].request = Some(req);
                }
            }
            RequestKind::Child(c) => self.on_create_child_response(now, i, *c, &inner),
            RequestKind::RekeyIke(r) => self.on_ike_rekey_response(now, i, *r, &inner),
            RequestKind::Followup(f) => self.on_followup_response(now, i, *f, &inner),
            RequestKind::Delete { ike } => self.on_delete_response(now, i, ike),
            RequestKind::Liveness | RequestKind::SaInit => {}
        }
    }

    /// Decrypts (and reassembles) the protected part of `msg` under IKE SA `i`.
    fn open(&mut self, i: usize, h: &HeaderRepr, msg: &[u8]) -> Option<Inner> {
        let from_initiator = h.flags.initiator();
        let sa = self.sas.get_mut(i)?;
        let keys = sa.keys.as_ref()?;
        let prot = match message::protected(msg, h.next_payload) {
            Ok(Some(p)) => p,
            Ok(None) | Err(_) => {
                self.io.stats.dropped_malformed += 1;
                return None;
            }
        };
        match prot {
            Protected::Sk { first, aad, body } => {
                match message::decrypt(keys, from_initiator, aad, body) {
                    Some(plain) => {
                        self.io.transcript.stage(msg, &plain);
                        Some(Inner { first, plain })
                    }
                    None => {
                        self.io.stats.dropped_bad_hash += 1;
                        None
                    }
                }
            }
            Protected::Fragment {
                first,
                number,
                total,
                aad,
                body,
            } => {
                let Some(plain) = message::decrypt(keys, from_initiator, aad, body) else {
                    self.io.stats.dropped_bad_hash += 1;
                    return None;
                };
                let (first, plain) =
                    sa.reassembly
                        .add(h.message_id, number, total, first, plain)?;
                self.io.transcript.stage(msg, &plain);
                Some(Inner { first, plain })
            }
        }
    }

    /// An authenticated message arrived: the peer is alive, and NAT rebinding is followed.
    fn authenticated_from(
        &mut self,
        i: usize,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        self.saw_peer(now);
        let Some(sa) = self.sas.get_mut(i) else {
            return;
        };
        if local.port() == NAT_T_PORT {
            sa.local_port = NAT_T_PORT;
        }
        if sa.peer != remote {
            let floated_only = sa.peer.ip() == remote.ip() && remote.port() == NAT_T_PORT;
            sa.peer = remote;
            self.peer = remote;
            if !floated_only && sa.established() {
                self.io
                    .events
                    .push_back(crate::ike::Event::PeerAddressChanged { remote });
            }
        }
    }

    /// Seals and sends our response to the peer's request `h` under IKE SA `i`, and caches it.
    pub(super) fn respond(&mut self, i: usize, h: &HeaderRepr, payloads: &[&dyn PayloadRepr]) {
        let header = self.header(i, h.exchange, h.message_id, true);
        let Some(dgrams) = self.seal(i, &header, payloads) else {
            return;
        };
        let Some(sa) = self.sas.get_mut(i) else {
            return;
        };
        sa.expected_request_id = h.message_id.wrapping_add(1);
        sa.last_response = Some((h.message_id, dgrams.clone()));
        let (port, peer) = (sa.local_port, sa.peer);
        for d in dgrams {
            self.io.send(port, peer, d);
        }
    }

    /// The header of a message of ours under IKE SA `i`.
    pub(super) fn header(
        &self,
        i: usize,
        exchange: ExchangeType,
        message_id: u32,
        response: bool,
    ) -> HeaderRepr {
        let sa = &self.sas[i];
        let mut flags = 0;
        if sa.original_initiator {
            flags |= Flags::INITIATOR;
        }
        if response {
            flags |= Flags::RESPONSE;
        }
        HeaderRepr {
            ispi: sa.spi_i,
            rspi: sa.spi_r,
            next_payload: PayloadType::NO_NEXT,
            minor_version: 0,
            exchange,
            flags: Flags(flags),
            message_id,
        }
    }

    /// Encrypts payloads into datagrams under IKE SA `i` (fragments when negotiated and needed).
    pub(super) fn seal(
        &mut self,
        i: usize,
        header: &HeaderRepr,
        payloads: &[&dyn PayloadRepr],
    ) -> Option<Vec<Vec<u8>>> {
        let frag = self.fragment_chunk(i);
        let Engine {
            sas,
            rng,
            iv_counter,
            ..
        } = self;
        let sa = sas.get(i)?;
        let keys = sa.keys.as_ref()?;
        let aead = keys.suite.cipher.is_aead();
        let mut ivs = |n: usize| {
            let mut iv = vec![0u8; n];
            if aead {
                *iv_counter = iv_counter.wrapping_add(1);
                let c = iv_counter.to_be_bytes();
                let k = n.min(8);
                iv[n - k..].copy_from_slice(&c[8 - k..]);
            } else {
                rng.fill(&mut iv);
            }
            iv
        };
        let mut s = Seal {
            keys,
            original_initiator: sa.original_initiator,
            ivs: &mut ivs,
            fragment_chunk: frag,
        };
        match message::encrypted(header, payloads, &mut s) {
            Ok(d) => {
                if let (Some(first), Ok((_, plain))) = (d.first(), message::inner_chain(payloads)) {
                    self.io.transcript.stage(first, &Zeroizing::new(plain));
                }
                Some(d)
            }
            Err(e) => {
                debug!(error = %e, "cannot build an IKEv2 message");
                None
            }
        }
    }

    /// Largest inner chunk per SKF fragment so that each datagram stays within
    /// `fragment_size` (IP + UDP + marker + IKE + SKF headers, IV, ICV, padding).
    fn fragment_chunk(&self, i: usize) -> Option<usize> {
        let sa = self.sas.get(i)?;
        let keys = sa.keys.as_ref()?;
        if !(sa.fragmentation && self.policy.fragmentation) {
            return None;
        }
        let ip = if sa.peer.is_ipv4() { 20 } else { 40 };
        let marker = if sa.local_port == NAT_T_PORT { 4 } else { 0 };
        let c = keys.suite.cipher;
        let icv = if c.is_aead() {
            c.aead_icv_len()
        } else {
            keys.suite.integ.icv_len()
        };
        let overhead = ip + 8 + marker + HEADER_LEN + 8 + c.iv_len() + icv + c.block_len() + 1;
        usize::from(self.policy.fragment_size)
            .checked_sub(overhead)
            .filter(|n| *n >= 64)
    }

    /// Queues a request on IKE SA `i` (sent when the window is free).
    pub(super) fn queue(&mut self, i: usize, p: Pending) {
        if let Some(sa) = self.sas.get_mut(i) {
            if !sa.queued.contains(&p) {
                sa.queued.push_back(p);
            }
        }
    }

    /// Sends the next queued request of every IKE SA whose window is free.
    pub(super) fn pump_all(&mut self, now: Instant) {
        for i in 0..self.sas.len() {
            while self
                .sas
                .get(i)
                .is_some_and(|s| s.request.is_none() && s.established())
            {
                let Some(p) = self.sas[i].queued.pop_front() else {
                    break;
                };
                self.start_request(now, i, p);
            }
        }
    }

    fn start_request(&mut self, now: Instant, i: usize, p: Pending) {
        match p {
            Pending::Child(rekey) => self.start_create_child(now, i, rekey),
            Pending::RekeyIke => self.start_ike_rekey(now, i),
            Pending::DeleteChildren(spis) => self.start_delete(now, i, &spis),
            Pending::DeleteIke => self.start_delete_ike(now, i),
            Pending::Liveness => self.start_liveness(now, i),
        }
    }

    /// Seals and sends a request of ours under IKE SA `i` and keeps it for retransmission.
    pub(super) fn send_request(
        &mut self,
        now: Instant,
        i: usize,
        exchange: ExchangeType,
        payloads: &[&dyn PayloadRepr],
        kind: RequestKind,
    ) {
        let Some(mid) = self.sas.get(i).map(|s| s.next_request_id) else {
            return;
        };
        let header = self.header(i, exchange, mid, false);
        let Some(dgrams) = self.seal(i, &header, payloads) else {
            return;
        };
        let rp = self.retransmit_policy();
        let (interval, max) = match (&kind, self.policy.dpd) {
            (RequestKind::Liveness, Some(d)) => (d.interval, d.retries.saturating_sub(1)),
            _ => (rp.initial, rp.max_retransmits),
        };
        self.sas[i].next_request_id = mid.wrapping_add(1);
        self.put_request(
            i,
            Request {
                message_id: mid,
                exchange,
                datagrams: dgrams,
                next_at: crate::ike::core::later(now, interval),
                interval,
                retransmits: 0,
                max_retransmits: max,
                kind,
            },
        );
    }

    /// Sends a request's datagrams and keeps it in flight.
    pub(super) fn put_request(&mut self, i: usize, req: Request) {
        let Some(sa) = self.sas.get_mut(i) else {
            return;
        };
        let (port, peer) = (sa.local_port, sa.peer);
        for d in &req.datagrams {
            self.io.send(port, peer, d.clone());
        }
        sa.request = Some(req);
    }

    /// Retransmits due requests; a request out of retransmissions kills its IKE SA.
    pub(super) fn run_retransmits(&mut self, now: Instant) {
        let rp = self.retransmit_policy();
        let mut dead = Vec::new();
        for (i, sa) in self.sas.iter_mut().enumerate() {
            let Some(r) = sa.request.as_mut() else {
                continue;
            };
            if r.next_at > now {
                continue;
            }
            if r.retransmits >= r.max_retransmits {
                dead.push((
                    i,
                    r.exchange,
                    r.retransmits,
                    matches!(r.kind, RequestKind::Liveness),
                ));
                continue;
            }
            r.retransmits += 1;
            if !matches!(r.kind, RequestKind::Liveness) {
                r.interval = backoff(r.interval, &rp);
            } else {
                self.live.probes = r.retransmits + 1;
            }
            r.next_at = crate::ike::core::later(now, r.interval);
            self.io.stats.retransmits += 1;
            for d in &r.datagrams {
                self.io.stats.sent += 1;
                self.io.transmits.push_back(crate::ike::Transmit {
                    local_port: sa.local_port,
                    remote: sa.peer,
                    data: d.clone(),
                });
            }
        }
        for (i, exchange, retransmits, liveness) in dead.into_iter().rev() {
            self.request_failed(now, i, exchange, retransmits, liveness);
        }
    }
}

/// True for a whole message or the first fragment (SKF number 1): what we answer a
/// retransmission on.
fn is_first_datagram(msg: &[u8]) -> bool {
    match message::protected(msg, PayloadType(msg.get(16).copied().unwrap_or(0))) {
        Ok(Some(Protected::Fragment { number, .. })) => number == 1,
        _ => true,
    }
}
