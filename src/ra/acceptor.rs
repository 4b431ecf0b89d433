//! One remote-access interface's clients (sans-IO): one IKE engine per client, created when a
//! new client's first message arrives (after quinn-proto's `Incoming`), found again by its IKE
//! SA's initiator SPI (IKEv2) or cookie (IKEv1); logins answered through the
//! [`super::login`] seam, addresses leased from the [`ClientRegistry`].
//!
//! The daemon's `ike::Endpoint` hands this acceptor every message from an unknown peer on the
//! interface's local address ([`crate::ike::Endpoint::add_remote_access`]); the acceptor then:
//!
//! 1. [`RaAcceptor::route`]: a known client, a new one ([`Dispatch::Incoming`]: call
//!    [`RaAcceptor::accept`]) or a message to drop;
//! 2. the caller drives the client's [`TunnelEngine`] ([`RaAcceptor::engine_mut`]); on
//!    `Event::Phase1Up` it calls [`RaAcceptor::learn`] (a rekeyed IKE SA has new SPIs); on
//!    `Event::Login` it calls [`RaAcceptor::login`] and, when an answer is there, feeds it to
//!    the engine (`TunnelEngine::login_answer`); an asynchronous backend's verdict comes back
//!    through [`RaAcceptor::verdict`];
//! 3. [`RaAcceptor::remove`] on Delete of the IKE SA, DPD death or an admin disconnect: the
//!    lease is released (kept for the user for the retention time).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use super::directory::LoginFailure;
use super::login::{
    record, throttled, Admission, BackendVerdict, LoginAnswer, LoginBackend, LoginRequest,
    LoginTicket,
};
use super::registry::{ClientInfo, ClientRegistry, Departure};
use super::throttle::Throttle;
use crate::ike::endpoint::major_version;
use crate::ike::random::RandomSource;
use crate::ike::{IkePolicy, TunnelEngine};

/// Most clients (IKE negotiations included) one interface holds.
pub const MAX_CLIENTS: usize = 65_536;

/// A client of the interface (also its [`LoginTicket`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// To this client's engine.
    Client(ClientId),
    /// A new client's first message: [`RaAcceptor::accept`] it, or drop it.
    Incoming(Incoming),
    /// Nowhere: the reason, for the drop counters.
    Drop(&'static str),
}

impl Dispatch {
    /// The [`Incoming`] inside (tests).
    #[cfg(test)]
    fn incoming_of(d: Dispatch) -> Incoming {
        match d {
            Dispatch::Incoming(i) => i,
            other => panic!("{other:?} is not a new client"),
        }
    }
}

/// A new client's first message (an IKEv2 IKE_SA_INIT request, an IKEv1 first phase-1
/// message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming {
    /// IKE version (1 or 2).
    pub version: u8,
    /// The initiator's SPI (cookie), which names the client from now on.
    pub spi_i: [u8; 8],
    /// Where it came from.
    pub remote: SocketAddr,
}

/// One client.
#[derive(Debug)]
pub struct RaClient {
    /// Its IKE engine (responder only).
    pub engine: TunnelEngine,
    /// Its outer address when it first came.
    pub remote: SocketAddr,
    /// The user it logged in as, once admitted.
    pub user: Option<String>,
}

/// The clients of one remote-access interface.
pub struct RaAcceptor {
    name: String,
    v1: Option<IkePolicy>,
    v2: Option<IkePolicy>,
    clients: HashMap<ClientId, RaClient>,
    by_spi: HashMap<[u8; 8], ClientId>,
    by_user: HashMap<String, ClientId>,
    next_id: u64,
    registry: ClientRegistry,
    backend: Box<dyn LoginBackend>,
    throttle: Throttle,
    dropped: HashMap<&'static str, u64>,
    /// Clients whose user connected again, until the caller takes them to delete their SAs.
    replaced: Vec<(ClientId, RaClient)>,
    /// Logins an asynchronous backend is answering (the request without its credential).
    awaiting: HashMap<ClientId, LoginRequest>,
}

impl std::fmt::Debug for RaAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaAcceptor")
            .field("name", &self.name)
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

impl RaAcceptor {
    /// The acceptor of interface `name`: IKEv1 clients get engines of policy `v1`, IKEv2 ones
    /// of `v2` (`None`: that version is not served), leased from `registry`, logged in by
    /// `backend` behind `throttle`.
    pub fn new(
        name: &str,
        v1: Option<IkePolicy>,
        v2: Option<IkePolicy>,
        registry: ClientRegistry,
        backend: Box<dyn LoginBackend>,
        throttle: Throttle,
    ) -> RaAcceptor {
        RaAcceptor {
            name: name.to_string(),
            v1,
            v2,
            clients: HashMap::new(),
            by_spi: HashMap::new(),
            by_user: HashMap::new(),
            next_id: 1,
            registry,
            backend,
            throttle,
            dropped: HashMap::new(),
            replaced: Vec::new(),
            awaiting: HashMap::new(),
        }
    }

    /// Where the message `msg` from `remote` goes.
    pub fn route(&mut self, remote: SocketAddr, msg: &[u8]) -> Dispatch {
        let d = self.dispatch(remote, msg);
        if let Dispatch::Drop(why) = d {
            *self.dropped.entry(why).or_default() += 1;
        }
        d
    }

    fn dispatch(&self, remote: SocketAddr, msg: &[u8]) -> Dispatch {
        let Some(spi_i) = msg.get(..8).and_then(|s| <[u8; 8]>::try_from(s).ok()) else {
            return Dispatch::Drop("runt");
        };
        if let Some(&id) = self.by_spi.get(&spi_i) {
            return Dispatch::Client(id);
        }
        let version = major_version(msg).unwrap_or(0);
        let served = match version {
            1 => self.v1.is_some(),
            2 => self.v2.is_some(),
            _ => return Dispatch::Drop("unknown IKE version"),
        };
        if !served {
            return Dispatch::Drop("IKE version not served by this interface's `auth`");
        }
        if !is_first_message(version, msg) {
            return Dispatch::Drop("unknown IKE SA");
        }
        if self.clients.len() >= MAX_CLIENTS {
            return Dispatch::Drop("too many clients");
        }
        Dispatch::Incoming(Incoming {
            version,
            spi_i,
            remote,
        })
    }

    /// Creates the engine of a new client; the caller then feeds it the message.
    pub fn accept(&mut self, incoming: Incoming, rng: Box<dyn RandomSource + Send>) -> ClientId {
        let template = match incoming.version {
            1 => self.v1.as_ref(),
            _ => self.v2.as_ref(),
        };
        let mut policy = template.cloned().unwrap_or_else(|| {
            IkePolicy::seil_defaults(incoming.remote.ip(), incoming.remote.ip(), b"")
        });
        policy.remote = incoming.remote.ip();
        policy.remote_port = incoming.remote.port();
        policy.responder_only = true;
        policy.reinitiate_after = None;
        let id = ClientId(self.next_id);
        self.next_id += 1;
        let mut engine = TunnelEngine::new(policy, rng);
        if let TunnelEngine::V2(e) = &mut engine {
            e.set_login_ticket(LoginTicket(id.0));
        }
        self.clients.insert(
            id,
            RaClient {
                engine,
                remote: incoming.remote,
                user: None,
            },
        );
        self.by_spi.insert(incoming.spi_i, id);
        id
    }

    /// The engine of `id`.
    pub fn engine_mut(&mut self, id: ClientId) -> Option<&mut TunnelEngine> {
        self.clients.get_mut(&id).map(|c| &mut c.engine)
    }

    /// Every client (for timers and status).
    pub fn clients(&self) -> impl Iterator<Item = (ClientId, &RaClient)> {
        self.clients.iter().map(|(k, v)| (*k, v))
    }

    /// Every client's engine, mutably (for timers).
    pub fn engines_mut(&mut self) -> impl Iterator<Item = (ClientId, &mut TunnelEngine)> {
        self.clients.iter_mut().map(|(k, v)| (*k, &mut v.engine))
    }

    /// Client `id` established an IKE SA with initiator SPI `spi_i` (a rekey brings new SPIs).
    pub fn learn(&mut self, id: ClientId, spi_i: [u8; 8]) {
        if self.clients.contains_key(&id) {
            self.by_spi.insert(spi_i, id);
        }
    }

    /// A login question from client `id`'s engine; `Some` when the answer is known now (feed
    /// it to the engine), `None` when the backend answers later ([`RaAcceptor::verdict`]).
    pub fn login(
        &mut self,
        now: Instant,
        id: ClientId,
        req: &LoginRequest,
        rng: &mut dyn RandomSource,
    ) -> Option<LoginAnswer> {
        let hint = user_hint(req);
        if let Err(failure) = throttled(&mut self.throttle, now, req, &hint) {
            return Some(self.reject(now, req, failure, None));
        }
        let Some(v) = self.backend.check(now, req, rng) else {
            self.awaiting.insert(id, req.without_credential());
            return None;
        };
        Some(self.verdict(now, id, req, v))
    }

    /// The user directory, for the caller to carry an asynchronous backend's datagrams and
    /// timers ([`LoginBackend::poll_transmit`] …).
    pub fn directory_mut(&mut self) -> &mut dyn LoginBackend {
        self.backend.as_mut()
    }

    /// When the user directory wants [`LoginBackend::handle_timeout`].
    pub fn directory_timeout(&self) -> Option<Instant> {
        self.backend.poll_timeout()
    }

    /// The next verdict an asynchronous backend reached, as the answer for client `id`'s
    /// engine (through [`RaAcceptor::verdict`], as an immediate one).
    pub fn poll_verdict(&mut self, now: Instant) -> Option<(ClientId, LoginAnswer)> {
        loop {
            let (ticket, v) = self.backend.poll_verdict()?;
            let id = ClientId(ticket.0);
            // A client gone meanwhile has no request left.
            if let Some(req) = self.awaiting.remove(&id) {
                return Some((id, self.verdict(now, id, &req, v)));
            }
        }
    }

    /// The backend's verdict on `req` (asked by client `id`): given at once by a synchronous
    /// backend, later by an asynchronous one.
    pub fn verdict(
        &mut self,
        now: Instant,
        id: ClientId,
        req: &LoginRequest,
        v: BackendVerdict,
    ) -> LoginAnswer {
        match v {
            BackendVerdict::Continue(eap) => LoginAnswer::Continue(eap),
            BackendVerdict::Rejected { failure, eap } => self.reject(now, req, failure, eap),
            BackendVerdict::Accepted { user, msk, eap } => {
                let connected =
                    self.registry
                        .connect(&user, &req.identity, req.source, req.ike_version, now);
                let (lease, old) = match connected {
                    Ok(x) => x,
                    Err(e) => {
                        let failure = LoginFailure::Unavailable {
                            detail: e.to_string(),
                        };
                        return self.reject(now, req, failure, None);
                    }
                };
                record(&mut self.throttle, now, (req.source, ""), Ok(&user));
                self.replace(id, &user, old);
                tracing::info!(
                    "{}: user \"{user}\" ({}) logged in from {} with IKEv{}: virtual address {:?} {:?}",
                    self.name,
                    req.identity,
                    req.source,
                    req.ike_version,
                    lease.ipv4,
                    lease.ipv6
                );
                LoginAnswer::Accepted(Admission {
                    user,
                    msk,
                    eap,
                    lease,
                })
            }
        }
    }

    /// The user's previous client (a reconnect without Delete) is replaced by `id`.
    fn replace(&mut self, id: ClientId, user: &str, old: Option<ClientInfo>) {
        if let Some(prev) = self.by_user.insert(user.to_string(), id) {
            if prev != id && old.is_some() {
                tracing::info!(
                    "{}: user \"{user}\" connected again: its previous IKE SA is replaced",
                    self.name
                );
                if let Some(c) = self.forget(prev) {
                    self.replaced.push((prev, c));
                }
            }
        }
        if let Some(c) = self.clients.get_mut(&id) {
            c.user = Some(user.to_string());
        }
    }

    fn reject(
        &mut self,
        now: Instant,
        req: &LoginRequest,
        failure: LoginFailure,
        eap: Option<Vec<u8>>,
    ) -> LoginAnswer {
        self.registry.login_failed(&failure);
        let who = (req.source, user_hint(req));
        let who = (who.0, who.1.as_str());
        if let Some(line) = record(&mut self.throttle, now, who, Err(&failure)) {
            tracing::warn!("{}: {line}", self.name);
        }
        LoginAnswer::Rejected { failure, eap }
    }

    /// Client `id` is gone (`why`): its lease is released and its engine dropped. Returns
    /// the engine (the caller may still drain its last transmits and events).
    pub fn remove(&mut self, now: Instant, id: ClientId, why: Departure) -> Option<RaClient> {
        let c = self.forget(id)?;
        if let Some(user) = &c.user {
            if self.by_user.get(user) == Some(&id) {
                self.by_user.remove(user);
                self.registry.disconnect(user, why, now);
            }
        }
        Some(c)
    }

    fn forget(&mut self, id: ClientId) -> Option<RaClient> {
        self.by_spi.retain(|_, v| *v != id);
        self.awaiting.remove(&id);
        self.backend.forget(LoginTicket(id.0));
        self.clients.remove(&id)
    }

    /// The clients replaced by a new login of their user since the last call: the caller
    /// deletes their SAs ([`TunnelEngine::shutdown`]) and drops them.
    pub fn take_replaced(&mut self) -> Vec<(ClientId, RaClient)> {
        std::mem::take(&mut self.replaced)
    }

    /// The registry (connected clients, pool usage, failures by reason).
    pub fn registry(&self) -> &ClientRegistry {
        &self.registry
    }

    /// Frees expired address reservations; returns when to call again.
    pub fn expire(&mut self, now: Instant) -> Option<Instant> {
        self.registry.expire(now)
    }

    /// Messages dropped, by reason.
    pub fn dropped(&self) -> &HashMap<&'static str, u64> {
        &self.dropped
    }
}

/// True for the first message of a new IKE SA: IKEv2 IKE_SA_INIT request (responder SPI
/// zero, message ID 0); IKEv1 phase-1 message 1 (responder cookie zero).
fn is_first_message(version: u8, msg: &[u8]) -> bool {
    let rspi_zero = crate::ike::endpoint::responder_spi_is_zero(msg);
    match version {
        2 => {
            const IKE_SA_INIT: u8 = 34;
            let msg_id_zero = msg.get(20..24).is_some_and(|m| m.iter().all(|b| *b == 0));
            rspi_zero && msg.get(18) == Some(&IKE_SA_INIT) && msg_id_zero
        }
        _ => rspi_zero,
    }
}

/// The user a request is about as far as known: the name given, or the identity of an
/// EAP-Response/Identity.
fn user_hint(req: &LoginRequest) -> String {
    if req.user.is_empty() {
        eap_identity(&req.check).unwrap_or_default()
    } else {
        req.user.clone()
    }
}

/// The identity inside an EAP-Response/Identity (for the throttle's per-user key before the
/// backend has read it).
fn eap_identity(check: &super::login::LoginCheck) -> Option<String> {
    let super::login::LoginCheck::Eap(m) = check else {
        return None;
    };
    // Code 2 (Response), type 1 (Identity): the rest is the identity.
    if m.first() == Some(&2) && m.get(4) == Some(&1) {
        let len = usize::from(u16::from_be_bytes([*m.get(2)?, *m.get(3)?]));
        let data = m.get(5..len.min(m.len()))?;
        return Some(super::throttle::printable(data));
    }
    None
}

#[cfg(test)]
#[path = "acceptor_tests.rs"]
mod tests;
