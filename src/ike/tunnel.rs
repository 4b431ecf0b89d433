//! One interface over both IKE versions (after rustls' enum over protocol versions): the daemon
//! drives a tunnel's engine through [`TunnelEngine`] whichever version its policy names.

use std::net::SocketAddr;
use std::time::Instant;

use super::policy::{IkePolicy, IkeVersion};
use super::random::{OsRandom, RandomSource};
use super::status::EngineStatus;
use super::{v2, Engine, Event, SpiTaken, Transmit};

/// The IKE engine of one tunnel: IKEv1 or IKEv2.
#[derive(Debug)]
pub enum TunnelEngine {
    /// IKEv1 (Main/Aggressive Mode, Quick Mode).
    V1(Box<Engine>),
    /// IKEv2.
    V2(Box<v2::Engine>),
}

/// Calls the same method on whichever engine it is.
macro_rules! both {
    ($self:expr, $e:ident => $call:expr) => {
        match $self {
            TunnelEngine::V1($e) => $call,
            TunnelEngine::V2($e) => $call,
        }
    };
}

impl TunnelEngine {
    /// The engine `policy.version` names.
    pub fn new(
        policy: impl Into<std::sync::Arc<IkePolicy>>,
        rng: Box<dyn RandomSource + Send>,
    ) -> TunnelEngine {
        let policy = policy.into();
        match policy.version {
            IkeVersion::V1 => TunnelEngine::V1(Box::new(Engine::new(policy, rng))),
            IkeVersion::V2 => TunnelEngine::V2(Box::new(v2::Engine::new(policy, rng))),
        }
    }

    /// The IKE version it speaks.
    pub fn version(&self) -> IkeVersion {
        match self {
            TunnelEngine::V1(_) => IkeVersion::V1,
            TunnelEngine::V2(_) => IkeVersion::V2,
        }
    }

    /// See [`Engine::set_spi_taken`].
    pub fn set_spi_taken(&mut self, taken: SpiTaken) {
        both!(self, e => e.set_spi_taken(taken))
    }

    /// IKEv2: see [`v2::Engine::share_cookie_jar`] (IKEv1 has no COOKIE exchange).
    pub fn share_cookie_jar(&mut self, jar: std::sync::Arc<super::limits::CookieJar>) {
        if let TunnelEngine::V2(e) = self {
            e.share_cookie_jar(jar);
        }
    }

    /// IKEv2: see [`v2::Engine::wants_cookies`] (IKEv1 has no COOKIE exchange: never).
    pub fn wants_cookies(&self) -> bool {
        matches!(self, TunnelEngine::V2(e) if e.wants_cookies())
    }

    /// The wall-clock time certificates are judged by (see [`Engine::set_wall_clock`]).
    pub fn set_wall_clock(&mut self, clock: super::auth::WallClock) {
        both!(self, e => e.set_wall_clock(clock))
    }

    /// The policy it runs.
    pub fn policy(&self) -> &IkePolicy {
        both!(self, e => e.policy())
    }

    /// See [`Engine::initiate`].
    pub fn initiate(&mut self, now: Instant) {
        both!(self, e => e.initiate(now))
    }

    /// See [`Engine::handle_datagram`].
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        both!(self, e => e.handle_datagram(now, local, remote, data))
    }

    /// See [`Engine::handle_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        both!(self, e => e.handle_timeout(now))
    }

    /// See [`Engine::poll_transmit`].
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        both!(self, e => e.poll_transmit())
    }

    /// See [`Engine::poll_event`].
    pub fn poll_event(&mut self) -> Option<Event> {
        both!(self, e => e.poll_event())
    }

    /// See [`Engine::poll_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        both!(self, e => e.poll_timeout())
    }

    /// See [`Engine::shutdown`].
    pub fn shutdown(&mut self, now: Instant) {
        both!(self, e => e.shutdown(now))
    }

    /// See [`Engine::rekey`].
    pub fn rekey(&mut self, now: Instant) {
        both!(self, e => e.rekey(now))
    }

    /// See [`Engine::reset`].
    pub fn reset(&mut self, now: Instant) {
        both!(self, e => e.reset(now))
    }

    /// Replaces the policy. A change of IKE version deletes every SA of the old engine (Delete
    /// to the peer) and starts an engine of the new version, initiating unless responder-only.
    pub fn set_policy(&mut self, policy: impl Into<std::sync::Arc<IkePolicy>>, now: Instant) {
        let policy = policy.into();
        if policy.version == self.version() {
            return both!(self, e => e.set_policy(policy));
        }
        self.shutdown(now);
        let mut old = std::mem::replace(self, TunnelEngine::new(policy, Box::new(OsRandom)));
        // The old engine's Deletes and ChildSaDown events go out before anything new.
        let transmits: Vec<Transmit> = std::iter::from_fn(|| old.poll_transmit()).collect();
        let events: Vec<Event> = std::iter::from_fn(|| old.poll_event()).collect();
        for t in transmits.into_iter().rev() {
            self.carry_transmit(t);
        }
        for ev in events.into_iter().rev() {
            self.carry_event(ev);
        }
        self.initiate(now);
    }

    fn carry_transmit(&mut self, t: Transmit) {
        both!(self, e => e.io_mut().transmits.push_front(t))
    }

    fn carry_event(&mut self, ev: Event) {
        both!(self, e => e.io_mut().events.push_front(ev))
    }

    /// The answer to an `Event::Login` this engine emitted (see [`crate::ra::login`]).
    pub fn login_answer(
        &mut self,
        now: Instant,
        ticket: crate::ra::login::LoginTicket,
        answer: crate::ra::login::LoginAnswer,
    ) {
        match self {
            TunnelEngine::V2(e) => e.login_answer(now, ticket, answer),
            TunnelEngine::V1(e) => e.login_answer(now, ticket, answer),
        }
    }

    /// See [`Engine::child_traffic`].
    pub fn child_traffic(&mut self, now: Instant, inbound_spi: u32, in_bytes: u64, out_bytes: u64) {
        both!(self, e => e.child_traffic(now, inbound_spi, in_bytes, out_bytes))
    }

    /// See [`Engine::unknown_spi`].
    pub fn unknown_spi(&mut self, now: Instant, spi: u32) -> bool {
        both!(self, e => e.unknown_spi(now, spi))
    }

    /// The negotiation transcript: its last exchanges, times on the Unix clock (`now` ≙
    /// `unix_now`).
    pub fn transcript(
        &self,
        now: Instant,
        unix_now: std::time::Duration,
    ) -> Vec<super::transcript::Exchange> {
        both!(self, e => e.transcript().snapshot(now, unix_now))
    }

    /// A snapshot for the admin API.
    pub fn status(&self) -> EngineStatus {
        both!(self, e => e.status())
    }

    /// Wireshark key lines of the established IKE SAs: `ikev1_decryption_table`
    /// (`"cookie","key"`) for IKEv1, `ikev2_decryption_table` for IKEv2 (explicit export).
    pub fn export_ike_keys(&self) -> Vec<String> {
        match self {
            TunnelEngine::V1(e) => e
                .export_phase1_keys()
                .iter()
                .map(|(c, k)| format!("\"{}\",\"{}\"", hex(c), hex(k)))
                .collect(),
            TunnelEngine::V2(e) => e.export_ike_keys(),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
