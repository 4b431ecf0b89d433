//! The per-tunnel IKEv1 engine (quinn-proto style): feed it datagrams and timeouts, drain
//! datagrams, events and the next deadline. It owns every phase-1 and phase-2 exchange with
//! its one configured peer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, info};

use crate::wire::isakmp::{ExchangeType, Header, HeaderRepr, PayloadType, ProtocolId};

pub(crate) use super::core::child::ChildTable;
pub(crate) use super::core::{backoff, later, Outputs, Retx};
use super::event::{DownReason, Event, Role, Transmit};
use super::policy::IkePolicy;
use super::random::{random_u32, RandomSource};
use super::status::{EngineStatus, NatStatus, Phase1Status};
use super::v1::fragment::{self, Reassembled, Reassembly};
use super::v1::informational;
use super::v1::isakmp_sa::IsakmpSa;
use super::v1::main_mode::{
    AmInitiatorSent, AmResponderSent, MmInitiatorSentAuth, MmInitiatorSentKe, MmInitiatorSentSa,
    MmResponderSentKe, MmResponderSentSa,
};
use super::v1::nat::NatTMethod;
use super::v1::quick_mode::{QuickModeInitiatorSent, QuickModeResponderSent};
use super::v1::DropReason;

mod aggressive;
mod dpd;
mod fragments;
mod info;
mod lifecycle;
mod phase1;
mod phase2;
mod remote_access;
mod timers;

/// Most Quick Modes in flight per ISAKMP SA.
const MAX_QUICK_MODES: usize = 16;
/// Completed exchanges remembered per ISAKMP SA (duplicates, replays).
const MAX_DONE: usize = 64;

/// The IKEv1 engine of one tunnel.
pub struct Engine {
    /// Shared with the configuration and the admin API (copied only when a remote-access
    /// client's proxy-ids are set: [`std::sync::Arc::make_mut`]).
    policy: std::sync::Arc<IkePolicy>,
    rng: Box<dyn RandomSource + Send>,
    p1: Vec<P1Entry>,
    children: ChildTable,
    io: Outputs,
    /// `initiate` was called and no `shutdown` since.
    want_up: bool,
    reinit_at: Option<Instant>,
    /// The peer's current address (configured, then followed from authenticated messages).
    peer: SocketAddr,
    last_now: Option<Instant>,
    /// Failures since the last success (re-initiation backs off).
    consecutive_failures: u32,
    dpd: dpd::Dpd,
    /// When we last sent something that refreshes our NAT mapping (keepalive or ESP).
    nat_keepalive_last: Option<Instant>,
    /// Last reaction to ESP for an unknown SPI (rate limit).
    unknown_spi_at: Option<Instant>,
    /// SPIs taken elsewhere in the process (other tunnels' inbound SAs), never chosen here.
    spi_taken: Option<SpiTaken>,
    /// The peer's fragmented messages being put back together.
    reassembly: Reassembly,
    /// New ISAKMP SAs from the peer, paced ([`crate::ike::limits`]).
    new_sa_rate: crate::ike::limits::NegotiationRate,
    /// Fragments of a message cut by `poll_transmit`, still to be handed out.
    fragments_out: VecDeque<Transmit>,
    /// The wall-clock time certificates are judged by (set by the daemon).
    wall_clock: Option<crate::ike::auth::WallClock>,
}

/// Says whether an inbound SPI is already taken outside this engine (by another tunnel).
pub type SpiTaken = std::sync::Arc<dyn Fn(u32) -> bool + Send + Sync>;

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("peer", &self.peer)
            .field("phase1", &self.p1.len())
            .field("children", &self.children.list.len())
            .finish_non_exhaustive()
    }
}

impl Outputs {
    fn drop_reason(&mut self, r: DropReason) {
        match r {
            DropReason::Malformed => self.stats.dropped_malformed += 1,
            DropReason::BadHash => self.stats.dropped_bad_hash += 1,
            DropReason::Unexpected => self.stats.dropped_unexpected += 1,
            DropReason::AwaitingCrl => self.stats.dropped_awaiting_crl += 1,
        }
    }
}

/// Phase-1 state of one ISAKMP SA negotiation.
enum P1State {
    ISentSa(MmInitiatorSentSa),
    ISentKe(MmInitiatorSentKe),
    ISentAuth(MmInitiatorSentAuth),
    RSentSa(MmResponderSentSa),
    RSentKe(MmResponderSentKe),
    /// Aggressive Mode initiator, message 1 sent.
    AmISent(AmInitiatorSent),
    /// Aggressive Mode responder, message 2 sent.
    AmRSent(Box<AmResponderSent>),
    Established(Box<IsakmpSa>),
    /// We refused message 1; kept until expiry to answer its retransmissions.
    Rejected,
    /// Placeholder while a transition runs.
    Gone,
}

impl P1State {
    fn name(&self) -> &'static str {
        match self {
            P1State::ISentSa(_) => "sent message 1",
            P1State::ISentKe(_) => "sent message 3",
            P1State::ISentAuth(_) => "sent message 5",
            P1State::RSentSa(_) => "sent message 2",
            P1State::RSentKe(_) => "sent message 4",
            P1State::AmISent(_) => "sent Aggressive Mode message 1",
            P1State::AmRSent(_) => "sent Aggressive Mode message 2",
            P1State::Established(_) => "established",
            P1State::Rejected => "rejected",
            P1State::Gone => "gone",
        }
    }

    fn sa(&self) -> Option<&IsakmpSa> {
        match self {
            P1State::Established(sa) => Some(sa),
            _ => None,
        }
    }

    /// The keys once derived (what encrypts and decrypts this exchange's messages).
    fn keys(&self) -> Option<&super::v1::keys::Phase1Keys> {
        match self {
            P1State::ISentAuth(s) => Some(s.keys()),
            P1State::RSentKe(s) => Some(s.keys()),
            P1State::AmRSent(s) => Some(s.keys()),
            P1State::Established(sa) => Some(&sa.keys),
            _ => None,
        }
    }
}

/// One phase-1 exchange or ISAKMP SA, with its Quick Modes.
struct P1Entry {
    icookie: [u8; 8],
    rcookie: [u8; 8],
    role: Role,
    state: P1State,
    peer: SocketAddr,
    local_port: u16,
    established_at: Option<Instant>,
    expires_at: Option<Instant>,
    rekey_at: Option<Instant>,
    retx: Option<Retx>,
    /// The peer's last message and our answer to it (to answer duplicates).
    last_in: Vec<u8>,
    last_out: Option<Vec<u8>>,
    qm: Vec<QmEntry>,
    done: VecDeque<DoneExchange>,
    floated: bool,
    /// The peer announced IKEv1 fragmentation: our messages to it larger than the fragment size
    /// go out in fragments (when enabled here too).
    peer_fragmentation: bool,
    /// A remote-access client's XAUTH and mode-config, once phase 1 is up.
    ra: Option<Box<remote_access::RaState>>,
}

impl P1Entry {
    /// Answers a retransmission of the peer's last message with our last answer again;
    /// false if `whole` is not that message or we had no answer.
    fn answer_duplicate(&self, whole: &[u8], io: &mut Outputs) -> bool {
        match &self.last_out {
            Some(out) if self.last_in == whole => {
                io.stats.duplicates_answered += 1;
                io.send(self.local_port, self.peer, out.clone());
                true
            }
            _ => false,
        }
    }

    /// Answers the peer's message `whole` with `out` (sent now, and again for a duplicate of
    /// `whole`); `retx` resends it on a timer until the peer's next message.
    fn answer(&mut self, whole: &[u8], out: Vec<u8>, retx: Option<Retx>, io: &mut Outputs) {
        self.retx = retx;
        self.last_in = whole.to_vec();
        self.last_out = Some(out.clone());
        io.send(self.local_port, self.peer, out);
    }

    fn new(
        role: Role,
        icookie: [u8; 8],
        state: P1State,
        peer: SocketAddr,
        local_port: u16,
    ) -> P1Entry {
        P1Entry {
            icookie,
            rcookie: [0; 8],
            role,
            state,
            peer,
            local_port,
            established_at: None,
            expires_at: None,
            rekey_at: None,
            retx: None,
            last_in: Vec::new(),
            last_out: None,
            qm: Vec::new(),
            done: VecDeque::new(),
            floated: false,
            peer_fragmentation: false,
            ra: None,
        }
    }

    fn remember_done(&mut self, d: DoneExchange) {
        if self.done.len() >= MAX_DONE {
            self.done.pop_front();
        }
        self.done.push_back(d);
    }

    fn nat_status(&self) -> NatStatus {
        let mut s = NatStatus {
            nat_t: "off",
            floated: self.floated,
            ..NatStatus::default()
        };
        if let Some(sa) = self.state.sa() {
            s.nat_t = match sa.nat_t {
                NatTMethod::None => "off",
                NatTMethod::Rfc3947 => "rfc3947",
                NatTMethod::Draft => "draft",
            };
            s.local_behind_nat = sa.nat.local_behind;
            s.peer_behind_nat = sa.nat.peer_behind;
        }
        s
    }
}

/// A Quick Mode in flight.
struct QmEntry {
    mid: u32,
    state: QmState,
    retx: Option<Retx>,
    last_in: Vec<u8>,
    last_out: Option<Vec<u8>>,
}

enum QmState {
    ISent(QuickModeInitiatorSent),
    RSent(QuickModeResponderSent),
    Gone,
}

impl QmState {
    fn spi(&self) -> Option<u32> {
        match self {
            QmState::ISent(s) => Some(s.spi()),
            QmState::RSent(s) => Some(s.spi()),
            QmState::Gone => None,
        }
    }
}

/// A finished exchange under an ISAKMP SA, remembered by message ID.
struct DoneExchange {
    mid: u32,
    last_in: Vec<u8>,
    reply: Option<Vec<u8>>,
}

/// An established ESP SA pair (the table both IKE versions share).
type Child = super::core::child::ChildSa;

impl Engine {
    /// A new engine for one tunnel. It does nothing until [`Engine::initiate`] is called or a
    /// datagram arrives.
    pub fn new(
        policy: impl Into<std::sync::Arc<IkePolicy>>,
        rng: Box<dyn RandomSource + Send>,
    ) -> Engine {
        let policy = policy.into();
        let peer = SocketAddr::new(policy.remote, policy.remote_port);
        Engine {
            policy,
            rng,
            p1: Vec::new(),
            children: ChildTable::default(),
            io: Outputs::default(),
            want_up: false,
            reinit_at: None,
            peer,
            last_now: None,
            consecutive_failures: 0,
            dpd: dpd::Dpd::default(),
            nat_keepalive_last: None,
            unknown_spi_at: None,
            spi_taken: None,
            reassembly: Reassembly::default(),
            new_sa_rate: Default::default(),
            fragments_out: VecDeque::new(),
            wall_clock: None,
        }
    }

    /// Sets the wall-clock time certificates are judged by (`unix` since the epoch at `at`).
    /// Without it, certificate authentication refuses every peer certificate (there is no time
    /// to check its validity at).
    pub fn set_wall_clock(&mut self, clock: crate::ike::auth::WallClock) {
        self.wall_clock = Some(clock);
    }

    /// Seconds since the Unix epoch at `now`, when the wall clock is known.
    fn now_unix(&self, now: Instant) -> Option<i64> {
        self.wall_clock.map(|w| w.unix_at(now))
    }

    /// A transition set its input aside until a CRL is fetched (`Ctx::fetch_crl`): ask the
    /// daemon for it.
    fn request_crl(&mut self, url: Option<String>) {
        let (Some(url), Some(creds)) = (url, self.policy.auth.certificate()) else {
            return;
        };
        let crls = creds.trust.crls.clone();
        if crls.request(&url) {
            self.io.events.push_back(Event::FetchCrl { url, crls });
        }
    }

    /// Makes the engine avoid the inbound SPIs `taken` reports (the gateway's other tunnels
    /// share one SPI → SA table).
    pub fn set_spi_taken(&mut self, taken: SpiTaken) {
        self.spi_taken = Some(taken);
    }

    pub(crate) fn io_mut(&mut self) -> &mut Outputs {
        &mut self.io
    }

    /// The policy this engine runs.
    pub fn policy(&self) -> &IkePolicy {
        &self.policy
    }

    /// Brings the tunnel up: starts Main Mode (then Quick Mode for every proxy-id), or only the
    /// missing Quick Modes when an ISAKMP SA exists. Does nothing with `responder_only`.
    pub fn initiate(&mut self, now: Instant) {
        self.last_now = Some(now);
        if self.policy.responder_only {
            debug!("responder-only: not initiating");
            return;
        }
        self.want_up = true;
        self.reinit_at = None;
        self.ensure_up(now);
    }

    /// Feeds one ISAKMP message received on `local` from `remote` (on port 4500 without the
    /// non-ESP marker). `local`'s IP is not used (the policy's address is), only its port.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        let junk = self.io.stats.dropped_as_junk();
        self.io.transcript.inbound_begin(now, data);
        self.on_datagram(now, local, remote, data);
        self.stage_plaintexts();
        let junk = self.io.stats.dropped_as_junk() > junk;
        self.io.transcript.inbound_end(data, junk);
    }

    /// Hands the plaintexts the ISAKMP SAs' keys encrypted or decrypted to the transcript.
    fn stage_plaintexts(&mut self) {
        for e in &self.p1 {
            for (tail, plain) in e
                .state
                .keys()
                .map(|k| k.take_plaintexts())
                .unwrap_or_default()
            {
                self.io.transcript.stage_tail(tail, &plain);
            }
        }
    }

    fn on_datagram(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        self.last_now = Some(now);
        self.io.stats.received += 1;
        let h = match Header::new_checked(data) {
            Ok(h) => h,
            Err(e) => {
                debug!(%remote, error = %e, "dropping unparsable ISAKMP header");
                self.io.stats.dropped_malformed += 1;
                return;
            }
        };
        if h.major_version() != 1 {
            debug!(%remote, version = h.major_version(), "dropping non-IKEv1 message");
            self.io.stats.dropped_unsupported += 1;
            if h.major_version() == 2 {
                self.on_ikev2_message(now, remote, data);
            }
            return;
        }
        let hdr = h.repr();
        if hdr.next_payload == PayloadType::FRAGMENT {
            self.on_fragment(now, local, remote, &hdr, h.body());
            return;
        }
        self.on_message(now, local, remote, &hdr, h.body(), h.message());
    }

    /// One whole ISAKMP message (as received, or reassembled from fragments), by exchange.
    fn on_message(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
        whole: &[u8],
    ) {
        match hdr.exchange {
            ExchangeType::IDENTITY_PROTECTION => {
                self.on_main_mode(now, local, remote, hdr, body, whole)
            }
            ExchangeType::QUICK_MODE => self.on_quick_mode(now, remote, hdr, body, whole),
            ExchangeType::INFORMATIONAL => self.on_informational(now, remote, hdr, body, whole),
            ExchangeType::AGGRESSIVE => {
                self.on_aggressive_mode(now, local, remote, hdr, body, whole)
            }
            ExchangeType::TRANSACTION => self.on_transaction(now, remote, hdr, body, whole),
            other => {
                debug!(%remote, exchange = %other, "dropping unsupported exchange");
                self.io.stats.dropped_unsupported += 1;
            }
        }
    }

    /// An IKEv2 message reached this IKEv1 engine. An IKEv2-only peer answers our Main or
    /// Aggressive Mode message 1 with an IKEv2 INVALID_MAJOR_VERSION notification that carries our
    /// initiator cookie as the IKE SA initiator SPI: that exchange can never succeed, so it stops
    /// retransmitting and fails with a diagnostic naming the fix. Anything else (the peer
    /// initiating IKEv2 to us, a message for no exchange of ours) only leaves a hint.
    fn on_ikev2_message(&mut self, now: Instant, remote: SocketAddr, data: &[u8]) {
        let answered = invalid_major_version_answer(data).and_then(|ispi| {
            self.p1.iter().position(|e| {
                e.role == Role::Initiator
                    && e.established_at.is_none()
                    && e.icookie == ispi
                    && e.peer.ip() == remote.ip()
            })
        });
        match answered {
            Some(i) => {
                self.p1.remove(i);
                self.io
                    .fail(super::Diagnostic::PeerIkev2Only { peer: remote.ip() });
                self.schedule_reinit_if_idle(now);
            }
            None => {
                let hint = format!(
                    "peer ({}) sent an IKEv2 message; this tunnel runs IKEv1 — set `ike.version: 2` on this tunnel, or IKEv1 on the peer",
                    remote.ip()
                );
                // Logged once, not per retransmission of the peer.
                if self.io.last_error.as_deref() != Some(hint.as_str()) {
                    tracing::warn!("{hint}");
                }
                self.io.last_error = Some(hint);
            }
        }
    }

    /// Runs the timers due at `now`: retransmissions, give-ups, expiries, rekeying.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = Some(now);
        self.run_retransmits(now);
        self.run_expiries(now);
        self.run_dpd(now);
        self.run_nat_keepalive(now);
        self.run_remote_access(now);
        self.expire_fragments(now);
        if self.reinit_at.is_some_and(|t| t <= now) {
            self.reinit_at = None;
            if self.want_up {
                info!("re-initiating");
                self.ensure_up(now);
            }
        }
    }

    /// The next datagram to send. A message larger than the fragment size for a peer that
    /// announced IKEv1 fragmentation comes out as its fragments, one per call (a retransmission
    /// is cut the same way again, so the peer receives every fragment again).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.fragments_out.pop_front() {
            return Some(t);
        }
        self.stage_plaintexts();
        let t = self.io.next_transmit(self.last_now)?;
        let Some(mut frags) = self.cut_into_fragments(&t) else {
            return Some(t);
        };
        let n = frags.len() as u64;
        self.io.stats.sent += n.saturating_sub(1);
        self.io.stats.fragments_sent += n;
        let first = frags.pop_front();
        self.fragments_out = frags;
        first.or(Some(t))
    }

    /// The negotiation transcript (see [`crate::ike::transcript`]).
    pub fn transcript(&self) -> &crate::ike::transcript::Transcript {
        &self.io.transcript
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.io.next_event()
    }

    /// When [`Engine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = self.reinit_at;
        let ra = self.remote_access_deadline();
        for d in [self.dpd_deadline(), self.keepalive_deadline(), ra]
            .into_iter()
            .flatten()
        {
            t = Some(t.map_or(d, |t| t.min(d)));
        }
        let mut take = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for e in &self.p1 {
            take(e.retx.as_ref().map(|r| r.next_at));
            take(e.expires_at);
            take(e.rekey_at);
            for q in &e.qm {
                take(q.retx.as_ref().map(|r| r.next_at));
            }
        }
        take(self.children.deadline());
        t
    }

    /// Deletes every ESP SA and ISAKMP SA (Delete payloads to the peer, `ChildSaDown` events)
    /// and stops initiating.
    pub fn shutdown(&mut self, now: Instant) {
        self.last_now = Some(now);
        self.want_up = false;
        self.reinit_at = None;
        self.teardown(DownReason::Shutdown, true);
    }

    /// (initiator cookie, encryption key) of every established ISAKMP SA, for the explicit,
    /// opt-in Wireshark `ikev1_decryption_table` export (admin API with `allow-key-export`).
    pub fn export_phase1_keys(&self) -> Vec<([u8; 8], zeroize::Zeroizing<Vec<u8>>)> {
        self.p1
            .iter()
            .filter_map(|e| {
                let sa = e.state.sa()?;
                Some((
                    e.icookie,
                    zeroize::Zeroizing::new(sa.keys.export_enc_key().to_vec()),
                ))
            })
            .collect()
    }

    /// The newest established ISAKMP SA: the fuzz harness (`ike::v1_fuzzing::responder`)
    /// seals its messages with the SA's real keys.
    pub(crate) fn newest_isakmp_sa(&self) -> Option<&crate::ike::v1::isakmp_sa::IsakmpSa> {
        self.p1.iter().rev().find_map(|e| e.state.sa())
    }

    /// A snapshot for the admin API.
    pub fn status(&self) -> EngineStatus {
        let now = self.last_now;
        let age = |t: Instant| {
            now.map(|n| n.saturating_duration_since(t))
                .unwrap_or_default()
        };
        EngineStatus {
            phase1: self
                .p1
                .iter()
                .map(|e| Phase1Status {
                    role: e.role,
                    state: e.state.name(),
                    icookie: e.icookie,
                    rcookie: e.rcookie,
                    proposal: match &e.state {
                        P1State::Established(sa) => Some(sa.proposal.to_string()),
                        P1State::ISentKe(s) => Some(s.proposal().to_string()),
                        P1State::RSentSa(s) => Some(s.proposal().to_string()),
                        _ => None,
                    },
                    peer: e.peer,
                    local_port: e.local_port,
                    established_at: e.established_at,
                    age: e.established_at.map(age),
                    peer_identity: e.state.sa().map(|s| s.peer_identity.to_string()),
                    nat: e.nat_status(),
                    peer_dpd: e.state.sa().is_some_and(|s| s.peer_dpd),
                    key_exchanges: None,
                    post_quantum: false,
                    peer_certificate: e.state.sa().and_then(|s| s.peer_cert.clone()),
                })
                .collect(),
            children: self.children.status(now),
            peer: self.peer,
            last_error: self.io.last_error.clone(),
            stats: self.io.stats,
            dpd: self.dpd_status(),
        }
    }

    /// Starts what is missing: Main Mode if no ISAKMP SA exists (and none is being negotiated
    /// by us), otherwise the Quick Modes for proxy-ids without an ESP SA.
    fn ensure_up(&mut self, now: Instant) {
        if self.newest_established().is_some() {
            self.ensure_children(now);
            return;
        }
        let negotiating = self.p1.iter().any(|e| {
            e.role == Role::Initiator
                && matches!(
                    e.state,
                    P1State::ISentSa(_)
                        | P1State::ISentKe(_)
                        | P1State::ISentAuth(_)
                        | P1State::AmISent(_)
                )
        });
        if !negotiating {
            self.start_phase1(now);
        }
    }

    /// Index of the most recently established ISAKMP SA.
    fn newest_established(&self) -> Option<usize> {
        self.p1
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.state, P1State::Established(_)))
            .max_by_key(|(_, e)| e.established_at)
            .map(|(i, _)| i)
    }

    fn schedule_reinit(&mut self, now: Instant) {
        if self.want_up && !self.policy.responder_only {
            if let Some(d) = self.policy.reinitiate_after {
                // Back off on consecutive failures: d, 2d, 4d … up to 32d.
                let n = self.consecutive_failures.min(5);
                self.reinit_at = Some(later(now, d.saturating_mul(1 << n)));
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            }
        }
    }

    fn send_child_delete(&mut self, c: &Child) {
        let idx = self
            .p1
            .iter()
            .position(|e| (e.icookie, e.rcookie) == c.ike_sa && e.state.sa().is_some())
            .or_else(|| self.newest_established());
        let Some(e) = idx.and_then(|i| self.p1.get(i)) else {
            return;
        };
        let spi = c.inbound_spi.to_be_bytes();
        send_delete(
            &mut *self.rng,
            &mut self.io,
            e,
            ProtocolId::IPSEC_ESP,
            &[&spi],
        );
    }

    /// A fresh inbound SPI (≥ 256, unused here and not taken by another tunnel).
    fn new_spi(&mut self) -> u32 {
        loop {
            let s = random_u32(&mut *self.rng);
            let used = self.children.get(s).is_some()
                || self
                    .p1
                    .iter()
                    .any(|e| e.qm.iter().any(|q| q.state.spi() == Some(s)))
                || self.spi_taken.as_ref().is_some_and(|taken| taken(s));
            if s >= 256 && !used {
                return s;
            }
        }
    }
}

/// A fresh non-zero message ID unused under `e`.
/// Sends an encrypted Delete for `spis` of `protocol` under the ISAKMP SA of `e`, if it is
/// established (RFC 2408 §3.15): the one place every teardown, expiry and reaction builds one.
fn send_delete(
    rng: &mut dyn RandomSource,
    io: &mut Outputs,
    e: &P1Entry,
    protocol: ProtocolId,
    spis: &[&[u8]],
) {
    if let Some(sa) = e.state.sa() {
        let mid = new_mid(rng, e);
        let msg = informational::encrypted_delete(sa, mid, protocol, spis);
        io.send(e.local_port, e.peer, msg);
    }
}

/// The ISAKMP SA of `e` is gone: a Delete for it to the peer when `tell_peer`, and
/// `Phase1Down` with `reason`, both only if it was established.
fn isakmp_sa_gone(
    rng: &mut dyn RandomSource,
    io: &mut Outputs,
    e: &P1Entry,
    reason: DownReason,
    tell_peer: bool,
) {
    let Some(sa) = e.state.sa() else { return };
    if tell_peer {
        send_delete(rng, io, e, ProtocolId::ISAKMP, &[&sa.cookie_pair()]);
    }
    io.events.push_back(Event::Phase1Down {
        icookie: e.icookie,
        rcookie: e.rcookie,
        reason,
    });
}

fn new_mid(rng: &mut dyn RandomSource, e: &P1Entry) -> u32 {
    loop {
        let m = random_u32(rng);
        if m != 0 && !e.qm.iter().any(|q| q.mid == m) && !e.done.iter().any(|d| d.mid == m) {
            return m;
        }
    }
}

/// A cookie as hex, for logs.
fn hex8(c: &[u8; 8]) -> String {
    c.iter().map(|b| format!("{b:02x}")).collect()
}

/// If `data` is an IKEv2 response carrying an INVALID_MAJOR_VERSION notification, the IKE SA
/// initiator SPI it answers (our IKEv1 initiator cookie when it answers our message 1).
fn invalid_major_version_answer(data: &[u8]) -> Option<[u8; 8]> {
    use crate::wire::ikev2::{Header as V2Header, NotifyRepr, NotifyType, PayloadType, Payloads};
    let h = V2Header::new_checked(data).ok()?;
    if !h.flags().response() {
        return None;
    }
    let invalid_major = Payloads::new(h.body(), h.next_payload())
        .map_while(Result::ok)
        .filter(|p| p.kind == PayloadType::N)
        .filter_map(|p| NotifyRepr::parse(p.body).ok())
        .any(|n| n.kind == NotifyType::INVALID_MAJOR_VERSION);
    invalid_major.then(|| h.ispi())
}
