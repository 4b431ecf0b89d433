//! The IKEv2 engine (RFC 7296) of one tunnel, sans-IO like the IKEv1 one: feed it datagrams and
//! time, drain datagrams, events and the next deadline. IKE_SA_INIT (with COOKIE and
//! INVALID_KE_PAYLOAD), IKE_AUTH with pre-shared keys and the first child SA, CREATE_CHILD_SA
//! (new children, child and IKE SA rekeys), INFORMATIONAL (Delete, liveness, INITIAL_CONTACT),
//! NAT-T (§2.23) and fragmentation (RFC 7383). The child-SA table with make-before-break lives
//! in [`crate::ike::core`], shared with IKEv1.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use crate::crypto::dh::DhPrivate;
use crate::crypto::ikev2::IkeSaKeys;
use crate::wire::ikev2::{ExchangeType, Header, HeaderRepr};

use super::core::child::{ChildTable, IkeSaId};
use super::core::{later, Outputs};
use super::event::{DownReason, Event, Role, Transmit};
use super::policy::{IkePolicy, RetransmitPolicy};
use super::random::{random_bytes, random_u32, RandomSource};
use super::status::{DpdStatus, EngineStatus, NatStatus, Phase1Status};
use super::SpiTaken;

mod auth;
mod auth_sig;
mod child_sa;
pub mod config_payload;
pub mod cookie;
mod diag;
mod exchange;
mod followup;
mod found;
/// Fuzz harnesses (not an API; public only for the `fuzz/` crate).
#[doc(hidden)]
pub mod fuzzing;
mod info;
mod intermediate;
mod message;
mod mode;
mod proposal;
mod ra_client;
mod remote_access;
mod sa_init;
mod timers;
mod ts;

pub use diag::V2Diagnostic;
/// Proposals in strongSwan's syntax (for the negotiation transcript).
pub(crate) use proposal::describe as describe_proposals;
use proposal::IkeChoice;

/// Nonce length we send (RFC 7296 §2.10: at least half the PRF key size; 32 covers SHA-512).
const NONCE_LEN: usize = 32;
/// Most IKE SAs (established or negotiating) kept per tunnel.
const MAX_IKE_SAS: usize = 16;
/// Half-open IKE SAs (IKE_SA_INIT answered, no IKE_AUTH yet) above which we ask for a COOKIE.
const COOKIE_THRESHOLD: usize = 8;
/// Rekey responder: start using the new outbound SA at the latest this long after the
/// exchange, if the initiator neither deleted the old pair nor sent on the new one before.
const RESPONDER_SWITCH_DELAY: Duration = Duration::from_secs(5);
/// Rekey initiator: the old pair is deleted this long after the new one is up.
const INITIATOR_DELETE_DELAY: Duration = Duration::from_secs(2);
/// A replaced pair we delete stays installed this long after our Delete goes out: the peer
/// may send on it until the Delete reaches it (strongSwan, as rekey responder, switches its
/// outbound only then), and those packets are still on their way.
const REPLACED_INBOUND_LINGER: Duration = Duration::from_secs(2);

/// The IKEv2 engine of one tunnel.
pub struct Engine {
    /// Shared with the configuration and the admin API.
    policy: std::sync::Arc<IkePolicy>,
    rng: Box<dyn RandomSource + Send>,
    io: Outputs,
    sas: Vec<IkeSa>,
    children: ChildTable,
    want_up: bool,
    reinit_at: Option<Instant>,
    peer: SocketAddr,
    last_now: Option<Instant>,
    consecutive_failures: u32,
    spi_taken: Option<SpiTaken>,
    /// Liveness (RFC 7296 §2.4, what IKEv1 calls DPD).
    live: Liveness,
    nat_keepalive_last: Option<Instant>,
    unknown_spi_at: Option<Instant>,
    /// Counter for AEAD IVs of SK payloads (never repeats under one key).
    iv_counter: u64,
    /// Secret of the COOKIE we hand out under load (§2.6), shared with the daemon's receive
    /// loops and the other tunnels ([`Engine::share_cookie_jar`]).
    cookies: std::sync::Arc<crate::ike::limits::CookieJar>,
    /// New IKE SAs from the peer, paced ([`crate::ike::limits`]).
    new_sa_rate: crate::ike::limits::NegotiationRate,
    /// One "speaks IKEv1" report per engine, not per message.
    reported_v1: bool,
    /// `ChildSaDown` of replaced pairs we deleted, held back until the time beside each.
    lingering: Vec<(Instant, Event)>,
    /// Wall-clock time for certificate validity, set by the caller.
    wall_clock: Option<crate::ike::auth::WallClock>,
    /// Remote access: the login ticket, the client's lease (responder) or its virtual
    /// addresses (initiator).
    ra: remote_access::RaState,
}

#[derive(Debug, Default)]
struct Liveness {
    last_seen: Option<Instant>,
    probes: u32,
    last_ack: Option<Instant>,
    dead_since: Option<Instant>,
    deaths: u64,
    sequence: u32,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ikev2::Engine")
            .field("peer", &self.peer)
            .field("ike_sas", &self.sas.len())
            .field("children", &self.children.list.len())
            .finish_non_exhaustive()
    }
}

/// One IKE SA, from IKE_SA_INIT to deletion.
struct IkeSa {
    spi_i: [u8; 8],
    spi_r: [u8; 8],
    /// We are the original initiator (we sent its IKE_SA_INIT or rekeyed it into being).
    original_initiator: bool,
    state: SaState,
    peer: SocketAddr,
    local_port: u16,
    choice: Option<IkeChoice>,
    keys: Option<IkeSaKeys>,
    /// Message ID of our next request.
    next_request_id: u32,
    /// Message ID we expect on the peer's next request.
    expected_request_id: u32,
    /// Our request in flight (window size 1).
    request: Option<Request>,
    /// Requests waiting for the window.
    queued: VecDeque<Pending>,
    /// Our last response, per datagram, to answer retransmissions of the peer's request.
    last_response: Option<(u32, Vec<Vec<u8>>)>,
    reassembly: message::Reassembly,
    nat: NatStatus,
    /// Both ends announced IKEV2_FRAGMENTATION_SUPPORTED.
    fragmentation: bool,
    created_at: Instant,
    established_at: Option<Instant>,
    rekey_at: Option<Instant>,
    expires_at: Option<Instant>,
    peer_identity: Option<String>,
    /// The certificate the peer authenticated with (certificate authentication).
    peer_cert: Option<crate::ike::status::PeerCertificate>,
    /// The peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427) from IKE_SA_INIT; empty = not announced.
    peer_sig_hashes: Vec<u16>,
    /// Replaced by a rekeyed IKE SA or being deleted: no new requests but Delete.
    retiring: bool,
    /// Created by a rekey of this IKE SA, with the lowest nonce of that exchange (to settle a
    /// simultaneous rekey, §2.8.2).
    rekeyed_from: Option<(IkeSaId, Vec<u8>)>,
    /// Responder: a CREATE_CHILD_SA waiting for its IKE_FOLLOWUP_KE exchanges (RFC 9370).
    followup: Option<Box<followup::Followup>>,
}

enum SaState {
    /// Initiator: IKE_SA_INIT sent.
    InitSent(Box<sa_init::InitSent>),
    /// Initiator: IKE_INTERMEDIATE sent (an additional key exchange, RFC 9370).
    IntermediateSent(Box<intermediate::IntermediateSent>),
    /// Initiator: IKE_AUTH sent.
    AuthSent(Box<auth::AuthSent>),
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH.
    InitAnswered(Box<auth::InitAnswered>),
    /// Responder of a remote-access interface: a client logging in over IKE_AUTH (EAP rounds,
    /// or its admission after PSK authentication).
    Login(Box<remote_access::RaLogin>),
    /// Authenticated.
    Established,
}

impl SaState {
    fn name(&self) -> &'static str {
        match self {
            SaState::InitSent(_) => "sent IKE_SA_INIT",
            SaState::IntermediateSent(_) => "sent IKE_INTERMEDIATE",
            SaState::AuthSent(_) => "sent IKE_AUTH",
            SaState::InitAnswered(_) => "answered IKE_SA_INIT",
            SaState::Login(_) => "remote-access login",
            SaState::Established => "established",
        }
    }
}

/// A request of ours in flight.
struct Request {
    message_id: u32,
    exchange: ExchangeType,
    datagrams: Vec<Vec<u8>>,
    next_at: Instant,
    interval: Duration,
    retransmits: u32,
    max_retransmits: u32,
    kind: RequestKind,
}

/// What a request in flight was for.
enum RequestKind {
    SaInit,
    Intermediate,
    Auth,
    Child(Box<child_sa::ChildRequest>),
    RekeyIke(Box<child_sa::IkeRekeyRequest>),
    /// An additional key exchange of a CREATE_CHILD_SA (IKE_FOLLOWUP_KE).
    Followup(Box<followup::FollowupRequest>),
    /// Delete of children (our inbound SPIs) or of the IKE SA (`ike`).
    Delete {
        ike: bool,
    },
    Liveness,
}

/// A request waiting for the window.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    /// A new child SA (`None`) or a rekey of the child with this inbound SPI.
    Child(Option<u32>),
    RekeyIke,
    /// Delete these children (our inbound SPIs).
    DeleteChildren(Vec<u32>),
    DeleteIke,
    Liveness,
}

impl IkeSa {
    fn new(
        spi_i: [u8; 8],
        original_initiator: bool,
        state: SaState,
        peer: SocketAddr,
        now: Instant,
    ) -> IkeSa {
        IkeSa {
            spi_i,
            spi_r: [0; 8],
            original_initiator,
            state,
            peer,
            local_port: 500,
            choice: None,
            keys: None,
            next_request_id: 0,
            expected_request_id: 0,
            request: None,
            queued: VecDeque::new(),
            last_response: None,
            reassembly: message::Reassembly::default(),
            nat: NatStatus {
                nat_t: "off",
                ..NatStatus::default()
            },
            fragmentation: false,
            created_at: now,
            established_at: None,
            rekey_at: None,
            expires_at: None,
            peer_identity: None,
            peer_cert: None,
            peer_sig_hashes: Vec::new(),
            retiring: false,
            rekeyed_from: None,
            followup: None,
        }
    }

    fn id(&self) -> IkeSaId {
        (self.spi_i, self.spi_r)
    }

    fn established(&self) -> bool {
        matches!(self.state, SaState::Established)
    }

    /// UDP encapsulation of ESP: when a NAT was detected, to the peer's current address.
    fn udp_encap(&self) -> Option<SocketAddr> {
        (self.nat.local_behind_nat || self.nat.peer_behind_nat).then_some(self.peer)
    }
}

impl Engine {
    /// A new engine for one tunnel; it does nothing until [`Engine::initiate`] or a datagram.
    pub fn new(
        policy: impl Into<std::sync::Arc<IkePolicy>>,
        mut rng: Box<dyn RandomSource + Send>,
    ) -> Engine {
        let policy = policy.into();
        let peer = SocketAddr::new(policy.remote, policy.remote_port);
        let cookies = std::sync::Arc::new(crate::ike::limits::CookieJar::new(&mut *rng));
        Engine {
            policy,
            rng,
            io: Outputs::default(),
            sas: Vec::new(),
            children: ChildTable::default(),
            want_up: false,
            reinit_at: None,
            peer,
            last_now: None,
            consecutive_failures: 0,
            spi_taken: None,
            live: Liveness::default(),
            nat_keepalive_last: None,
            unknown_spi_at: None,
            iv_counter: 0,
            cookies,
            new_sa_rate: Default::default(),
            reported_v1: false,
            lingering: Vec::new(),
            wall_clock: None,
            ra: remote_access::RaState::default(),
        }
    }

    /// Sets the wall-clock time certificates are judged by (`unix` since the epoch at `at`).
    /// The daemon sets it from the system clock; without it, certificate authentication
    /// refuses every peer certificate (there is no time to check its validity at).
    pub fn set_wall_clock(&mut self, clock: crate::ike::auth::WallClock) {
        self.wall_clock = Some(clock);
    }

    /// Makes the engine avoid inbound SPIs that other tunnels use.
    pub fn set_spi_taken(&mut self, taken: SpiTaken) {
        self.spi_taken = Some(taken);
    }

    /// Hands out and checks COOKIEs with `jar`'s secrets (one jar per daemon: a COOKIE the
    /// receive loop asked for passes here).
    pub fn share_cookie_jar(&mut self, jar: std::sync::Arc<crate::ike::limits::CookieJar>) {
        self.cookies = jar;
    }

    /// Whether a new IKE_SA_INIT request must bring a COOKIE (RFC 7296 §2.6): as many IKE SAs
    /// half-open as [`COOKIE_THRESHOLD`], or the tunnel's IKE SAs at their limit. The daemon
    /// then lets its receive loop ask for COOKIEs itself, before the queue.
    pub fn wants_cookies(&self) -> bool {
        let half_open = self
            .sas
            .iter()
            .filter(|s| matches!(s.state, SaState::InitAnswered(_)))
            .count();
        half_open >= COOKIE_THRESHOLD || self.sas.len() >= MAX_IKE_SAS
    }

    pub(crate) fn io_mut(&mut self) -> &mut Outputs {
        &mut self.io
    }

    /// The policy this engine runs.
    pub fn policy(&self) -> &IkePolicy {
        &self.policy
    }

    /// Brings the tunnel up: IKE_SA_INIT + IKE_AUTH with the first child, or only a missing
    /// child when an IKE SA exists. Does nothing with `responder_only`.
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

    /// Feeds one IKE message received on `local` from `remote` (non-ESP marker removed).
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
        let junk = self.io.stats.dropped_as_junk() > junk;
        self.io.transcript.inbound_end(data, junk);
    }

    /// Keeps a new IKE SA. A tunnel holds one, two while it is rekeyed: the list grows by one
    /// slot, not by `Vec`'s first four (an `IkeSa` is several hundred bytes, thousands of
    /// tunnels each keep one).
    fn add_ike_sa(&mut self, sa: IkeSa) {
        self.sas.reserve_exact(1);
        self.sas.push(sa);
    }

    fn on_datagram(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        self.last_now = Some(now);
        self.io.stats.received += 1;
        let h = match Header::new_checked(data) {
            Ok(h) => h,
            Err(crate::wire::ikev2::Error::BadVersion(1)) => return self.on_ikev1(remote),
            Err(e) => {
                debug!(%remote, error = %e, "dropping unparsable IKEv2 message");
                self.io.stats.dropped_malformed += 1;
                return;
            }
        };
        let hdr = HeaderRepr::parse(&h);
        let msg = h.message();
        if hdr.flags.response() {
            self.on_response(now, local, remote, &hdr, msg);
        } else {
            self.on_request(now, local, remote, &hdr, msg);
        }
        self.pump_all(now);
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = Some(now);
        self.run_timers(now);
        self.pump_all(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.io.next_transmit(self.last_now)
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
        self.deadline()
    }

    /// Deletes every child and IKE SA (Delete to the peer, `ChildSaDown` events) and stops.
    pub fn shutdown(&mut self, now: Instant) {
        self.last_now = Some(now);
        self.want_up = false;
        self.reinit_at = None;
        self.teardown(DownReason::Shutdown, true);
    }

    /// Rekeys every child now (make-before-break).
    pub fn rekey(&mut self, now: Instant) {
        self.last_now = Some(now);
        info!("rekeying the child SAs (operator request)");
        let spis: Vec<u32> = self
            .children
            .list
            .iter_mut()
            .filter(|c| c.delete_at.is_none() && !c.rekeying)
            .map(|c| {
                c.rekeying = true;
                c.rekey_at = None;
                c.inbound_spi
            })
            .collect();
        match self.newest_established() {
            Some(i) => {
                for s in spis {
                    self.queue(i, Pending::Child(Some(s)));
                }
            }
            None if !self.policy.responder_only => {
                self.want_up = true;
                self.ensure_up(now);
            }
            None => {}
        }
        self.pump_all(now);
    }

    /// Deletes every SA and starts over (unless responder-only).
    pub fn reset(&mut self, now: Instant) {
        self.last_now = Some(now);
        info!("resetting the tunnel (operator request)");
        self.teardown(DownReason::Reset, true);
        self.reinit_at = None;
        if !self.policy.responder_only {
            self.want_up = true;
            self.ensure_up(now);
        }
    }

    /// Replaces the policy; established SAs stay, the new one applies from the next exchange.
    pub fn set_policy(&mut self, policy: impl Into<std::sync::Arc<IkePolicy>>) {
        let policy = policy.into();
        if policy.remote != self.policy.remote || policy.remote_port != self.policy.remote_port {
            self.peer = SocketAddr::new(policy.remote, policy.remote_port);
        }
        self.policy = policy;
    }

    /// The data plane's cumulative byte counters of the pair with inbound SPI `spi`.
    pub fn child_traffic(&mut self, now: Instant, inbound_spi: u32, in_bytes: u64, out_bytes: u64) {
        self.last_now = Some(now);
        let t = self
            .children
            .traffic(inbound_spi, in_bytes, out_bytes, &mut self.io.events);
        if t.got_inbound {
            self.saw_peer(now);
        }
        if t.sent && self.nat_keepalive_last.is_some() {
            self.nat_keepalive_last = Some(now);
        }
        if t.rekey {
            if let Some(i) = self.newest_established() {
                self.queue(i, Pending::Child(Some(inbound_spi)));
            }
        }
        if let Some(c) = t.expired {
            self.delete_children_of(now, &[c]);
        }
        self.pump_all(now);
    }

    /// ESP arrived for an SPI no SA has: rate-limited, bring the tunnel up if it is down.
    pub fn unknown_spi(&mut self, now: Instant, spi: u32) -> bool {
        self.last_now = Some(now);
        self.io.stats.unknown_spi_reports += 1;
        if self
            .unknown_spi_at
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(10))
            || self.children.get(spi).is_some()
        {
            return false;
        }
        self.unknown_spi_at = Some(now);
        self.io.stats.unknown_spi_reactions += 1;
        info!(spi = %format_args!("{spi:08x}"), "peer sends ESP on an SA we do not have");
        if !self.policy.responder_only {
            self.want_up = true;
            self.ensure_up(now);
            self.pump_all(now);
        }
        true
    }

    /// Wireshark `ikev2_decryption_table` lines of the established IKE SAs (explicit, opt-in
    /// key export).
    pub fn export_ike_keys(&self) -> Vec<String> {
        self.sas
            .iter()
            .filter_map(|sa| {
                Some(crate::keys::ikev2_decryption_line(
                    &sa.spi_i,
                    &sa.spi_r,
                    sa.keys.as_ref()?,
                ))
            })
            .collect()
    }

    /// A snapshot for the admin API.
    pub fn status(&self) -> EngineStatus {
        let now = self.last_now;
        EngineStatus {
            phase1: self.sas.iter().map(|sa| self.sa_status(sa, now)).collect(),
            children: self.children.status(now),
            peer: self.peer,
            last_error: self.io.last_error.clone(),
            stats: self.io.stats,
            dpd: self.liveness_status(),
        }
    }

    fn sa_status(&self, sa: &IkeSa, now: Option<Instant>) -> Phase1Status {
        Phase1Status {
            role: if sa.original_initiator {
                Role::Initiator
            } else {
                Role::Responder
            },
            state: sa.state.name(),
            icookie: sa.spi_i,
            rcookie: sa.spi_r,
            proposal: sa.choice.map(|c| c.name()),
            peer: sa.peer,
            local_port: sa.local_port,
            established_at: sa.established_at,
            age: sa
                .established_at
                .zip(now)
                .map(|(e, n)| n.saturating_duration_since(e)),
            peer_identity: sa.peer_identity.clone(),
            nat: sa.nat,
            peer_dpd: sa.established(),
            key_exchanges: sa.choice.map(|c| c.key_exchanges()),
            post_quantum: sa.choice.is_some_and(|c| c.post_quantum()),
            peer_certificate: sa.peer_cert.clone(),
        }
    }

    fn liveness_status(&self) -> DpdStatus {
        let cfg = self.policy.dpd;
        let state = match (cfg, self.newest_established()) {
            (None, _) => "off",
            (Some(_), None) if self.live.dead_since.is_some() => "dead",
            (Some(_), None) => "idle",
            (Some(_), Some(_)) if self.live.probes > 0 => "probing",
            _ => "alive",
        };
        DpdStatus {
            state,
            probes_unanswered: self.live.probes,
            retries: cfg.map_or(0, |c| c.retries),
            interval: cfg.map(|c| c.interval),
            sequence: self.live.sequence,
            last_ack: self.live.last_ack,
            last_seen: self.live.last_seen,
            dead_since: self.live.dead_since,
            deaths: self.live.deaths,
        }
    }

    /// An IKEv1 message reached this IKEv2 tunnel: say so once, in words.
    fn on_ikev1(&mut self, remote: SocketAddr) {
        self.io.stats.dropped_unsupported += 1;
        if !self.reported_v1 {
            self.reported_v1 = true;
            self.io
                .fail(super::Diagnostic::Ikev2(V2Diagnostic::PeerSpeaksIkev1 {
                    peer: remote.ip(),
                }));
        }
    }

    /// Starts what is missing: an IKE SA, or the child when the IKE SA has none.
    fn ensure_up(&mut self, now: Instant) {
        if let Some(i) = self.newest_established() {
            let has_child = self.children.list.iter().any(|c| c.delete_at.is_none());
            let child_pending = self.sas[i]
                .queued
                .iter()
                .any(|p| matches!(p, Pending::Child(None)))
                || matches!(
                    self.sas[i].request.as_ref().map(|r| &r.kind),
                    Some(RequestKind::Child(_))
                );
            if !has_child && !child_pending {
                self.queue(i, Pending::Child(None));
            }
            return;
        }
        let negotiating = self.sas.iter().any(|s| {
            s.original_initiator
                && matches!(
                    s.state,
                    SaState::InitSent(_) | SaState::IntermediateSent(_) | SaState::AuthSent(_)
                )
        });
        if !negotiating {
            let group = self
                .policy
                .phase1
                .dh_groups
                .first()
                .copied()
                .unwrap_or(self.policy.phase1.dh_group);
            self.start_ike_sa(now, group, None, None);
        }
    }

    /// Index of the most recently established IKE SA that is not retiring.
    fn newest_established(&self) -> Option<usize> {
        self.sas
            .iter()
            .enumerate()
            .filter(|(_, s)| s.established() && !s.retiring)
            .max_by_key(|(_, s)| s.established_at)
            .map(|(i, _)| i)
    }

    fn find_sa(&self, id: IkeSaId) -> Option<usize> {
        self.sas.iter().position(|s| s.id() == id)
    }

    fn schedule_reinit(&mut self, now: Instant) {
        if self.want_up && !self.policy.responder_only {
            if let Some(d) = self.policy.reinitiate_after {
                let n = self.consecutive_failures.min(5);
                self.reinit_at = Some(later(now, d.saturating_mul(1 << n)));
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            }
        }
    }

    /// A sign of life from the peer.
    fn saw_peer(&mut self, now: Instant) {
        self.live.last_seen = Some(now);
        self.live.probes = 0;
    }

    /// A fresh inbound ESP SPI (≥ 256, unused here and elsewhere in the process).
    fn new_spi(&mut self) -> u32 {
        loop {
            let s = random_u32(&mut *self.rng);
            let used = self.children.get(s).is_some()
                || self.lingering.iter().any(|(_, e)| {
                    matches!(e, Event::ChildSaDown { inbound_spi, .. } if *inbound_spi == s)
                })
                || self.spi_taken.as_ref().is_some_and(|taken| taken(s))
                || self.sas.iter().any(|sa| sa.request_spi() == Some(s));
            if s >= 256 && !used {
                return s;
            }
        }
    }

    /// A fresh non-zero IKE SPI.
    fn new_ike_spi(&mut self) -> [u8; 8] {
        loop {
            let mut s = [0u8; 8];
            self.rng.fill(&mut s);
            if s != [0; 8] && !self.sas.iter().any(|sa| sa.spi_i == s || sa.spi_r == s) {
                return s;
            }
        }
    }

    fn nonce(&mut self) -> Vec<u8> {
        random_bytes(&mut *self.rng, NONCE_LEN)
    }

    fn dh(&mut self, group: crate::crypto::dh::DhGroup) -> DhPrivate {
        let secret = zeroize::Zeroizing::new(random_bytes(&mut *self.rng, group.secret_len()));
        DhPrivate::from_secret(group, &secret)
    }

    fn retransmit_policy(&self) -> RetransmitPolicy {
        self.policy.retransmit
    }
}

impl IkeSa {
    /// The inbound SPI a child request in flight reserved.
    fn request_spi(&self) -> Option<u32> {
        match &self.request.as_ref()?.kind {
            RequestKind::Child(c) => Some(c.our_spi()),
            RequestKind::Followup(f) => f.our_spi(),
            RequestKind::Auth => match &self.state {
                SaState::AuthSent(a) => Some(a.child.our_spi),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_limits;
