//! The control task of one remote-access interface: owns its [`RaAcceptor`] (one responder
//! engine per client), feeds the engines datagrams and time like [`super::ike::run`] does for
//! one tunnel, answers their logins from the interface's directory, and keeps the data plane's
//! client table ([`super::dataplane::RaRoutes`]) in step:
//!
//! - a child SA up: its inbound SA, tagged with the client's pool offset, goes into the SPI
//!   table; its outbound SA becomes the client's entry (found by virtual address);
//! - a child SA down: both go; the client's entry only if it is still that SA (rekeys);
//! - the client's last IKE SA gone (Delete, DPD death, failure): the client is removed from
//!   the acceptor and its lease released ([`RaAcceptor::remove`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::dataplane::{DataPlane, Tunnel};
use super::ike::{self, now, Command, IkeDatagram, KeyLog, Outbounds};
use crate::config::{InterfaceConfig, RemoteAccessConfig, UserSource};
use crate::ike::{Event, IkePolicy, IkeVersion, OsRandom};
use crate::ra::acceptor::{ClientId, Dispatch, RaAcceptor};
use crate::ra::board::{self, RaBoard, RaCommand};
use crate::ra::login::{LocalLogins, LoginRequest, LoginTicket};
use crate::ra::throttle::{Throttle, ThrottleConfig};
use crate::ra::timers::DeadlineQueue;
use crate::ra::{AddressPool, ClientRegistry, Departure, UsersFile};

/// How long a departed client's address stays reserved for its user.
pub const LEASE_RETENTION: Duration = Duration::from_secs(3600);

/// The address pool of a `remote-access:` block.
pub fn pool(ra: &RemoteAccessConfig) -> AddressPool {
    AddressPool::new(ra.pool_ipv4, ra.pool_ipv6, LEASE_RETENTION)
}

/// The acceptor of interface `cfg`, whose `ike:` block is `policy` and `remote-access:` block
/// `ra`: IKEv1 clients get engines of `policy` as IKEv1 when `auth` serves them, IKEv2 clients
/// likewise; users come from the users file.
pub fn acceptor(
    cfg: &InterfaceConfig,
    policy: &IkePolicy,
    ra: &RemoteAccessConfig,
) -> Result<RaAcceptor, String> {
    let directory = match &ra.users {
        Some(UserSource::File(path)) => Arc::new(UsersFile::load(path)?),
        Some(UserSource::Radius { .. }) => {
            return Err("`radius:` is not served yet: use a `users-file:`".into())
        }
        // `auth: psk`: clients are admitted under their identity, nobody is looked up.
        None => Arc::new(UsersFile::default()),
    };
    let mut template = policy.clone();
    template.remote_access = Some(Arc::new(crate::ike::policy::RaPolicy {
        config: ra.clone(),
        eap: ra.eap_method(),
    }));
    let for_version = |v: IkeVersion| {
        ra.auth_for(v, policy.version).map(|_| {
            let mut p = template.clone();
            p.version = v;
            // As responder, `aggressive` accepts Main Mode too: vpnc and the RTX use
            // Aggressive Mode, strongSwan either.
            p.exchange_mode = crate::ike::ExchangeMode::Aggressive;
            // A group key beside the certificate is the IKEv1 clients' (phase 1 by the key,
            // then XAUTH); IKEv2 clients check the certificate.
            if v == IkeVersion::V1 && !p.psk.is_empty() {
                p.auth = crate::ike::auth::AuthChoice::Psk;
            }
            p
        })
    };
    let backend = LocalLogins::new(directory, ra.eap_method(), &cfg.name);
    Ok(RaAcceptor::new(
        &cfg.name,
        for_version(IkeVersion::V1),
        for_version(IkeVersion::V2),
        ClientRegistry::new(pool(ra)),
        Box::new(backend),
        Throttle::new(ThrottleConfig::default()),
    ))
}

/// One remote-access interface's task state.
struct RaTask {
    dp: Arc<DataPlane>,
    t: Arc<Tunnel>,
    acceptor: RaAcceptor,
    outs: HashMap<ClientId, Outbounds>,
    keylog: Option<KeyLog>,
    /// What the admin API shows (published once a second and after a disconnect).
    board: Arc<RaBoard>,
    /// Inner bytes (in, out) of each client's current pairs, as of the last tick.
    traffic: HashMap<ClientId, (u64, u64)>,
    /// A client the admin disconnects: its departure is said as such.
    disconnecting: Option<ClientId>,
    /// Each client engine's next deadline, re-armed after every call into the engine.
    timers: DeadlineQueue<ClientId>,
}

/// The admin API's side of the task: its board and the commands posted on it.
pub struct RaAdmin {
    /// Published snapshots.
    pub board: Arc<RaBoard>,
    /// Disconnect requests.
    pub commands: mpsc::Receiver<RaCommand>,
}

/// Runs the interface's clients until told to shut down.
pub async fn run(
    dp: Arc<DataPlane>,
    t: Arc<Tunnel>,
    acceptor: RaAcceptor,
    mut rx: mpsc::Receiver<Box<IkeDatagram>>,
    mut cmd: mpsc::Receiver<Command>,
    keylog: Option<KeyLog>,
    admin: RaAdmin,
) {
    let RaAdmin {
        board,
        commands: mut admin_rx,
    } = admin;
    let mut task = RaTask {
        dp,
        t,
        acceptor,
        outs: HashMap::new(),
        keylog,
        board,
        traffic: HashMap::new(),
        disconnecting: None,
        timers: DeadlineQueue::default(),
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = task.deadline();
        let sleep = ike::sleep_until(deadline);
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => task.on_datagram(*m).await,
                None => return,
            },
            () = sleep => task.on_timeout().await,
            _ = tick.tick() => task.on_tick(),
            Some(RaCommand::Disconnect { id, done }) = admin_rx.recv() => {
                let answer = task.disconnect(ClientId(id)).await;
                let _ = done.send(answer);
            }
            c = cmd.recv() => {
                if task.on_command(c).await {
                    return;
                }
            }
        }
    }
}

impl RaTask {
    /// The earliest deadline of any client's engine.
    fn deadline(&mut self) -> Option<Instant> {
        self.timers.earliest()
    }

    /// Records client `id`'s next deadline (none once it is gone).
    fn rearm(&mut self, id: ClientId) {
        let at = self.acceptor.engine_mut(id).and_then(|e| e.poll_timeout());
        self.timers.set(id, at);
    }

    async fn on_datagram(&mut self, m: IkeDatagram) {
        let id = match self.acceptor.route(m.from, &m.data) {
            Dispatch::Client(id) => id,
            Dispatch::Incoming(incoming) => {
                let id = self.acceptor.accept(incoming, Box::new(OsRandom));
                if let Some(e) = self.acceptor.engine_mut(id) {
                    let table = self.dp.clone();
                    e.set_spi_taken(Arc::new(move |spi| table.sas.contains(spi)));
                }
                id
            }
            Dispatch::Drop(why) => {
                tracing::debug!(tunnel = %self.t.cfg.name, "IKE message from {} dropped: {why}", m.from);
                return;
            }
        };
        let local = SocketAddr::new(self.t.cfg.source, m.local_port);
        if let Some(e) = self.acceptor.engine_mut(id) {
            e.set_wall_clock(ike::wall_clock());
            e.handle_datagram(now(), local, m.from, &m.data);
        }
        self.flush(id).await;
    }

    async fn on_timeout(&mut self) {
        let at = now();
        for id in self.timers.take_due(at) {
            if let Some(e) = self.acceptor.engine_mut(id) {
                e.handle_timeout(at);
            }
            self.flush(id).await;
        }
    }

    /// Once a second: the data plane's byte counters to each engine (DPD idleness, volume
    /// lifetimes), and expired address reservations freed.
    fn on_tick(&mut self) {
        let ids: Vec<ClientId> = self.acceptor.clients().map(|(id, _)| id).collect();
        self.traffic.clear();
        for id in ids {
            let (Some(e), Some(out)) = (self.acceptor.engine_mut(id), self.outs.get(&id)) else {
                continue;
            };
            let bytes = ike::report_traffic(&self.dp, e, out);
            let next = e.poll_timeout();
            self.traffic.insert(id, bytes);
            self.timers.set(id, next);
        }
        self.acceptor.expire(now());
        self.publish();
    }

    /// Shows the clients, pool and failures on the admin API's board.
    fn publish(&self) {
        let traffic = |id| self.traffic.get(&id).copied().unwrap_or_default();
        let s = board::snapshot(&self.t.cfg.name, &self.acceptor, now(), traffic);
        self.board.publish(s);
    }

    /// The admin disconnects client `id`: Delete for its IKE SA (and so its children), its
    /// lease released (kept for its user while the lease lasts).
    async fn disconnect(&mut self, id: ClientId) -> Result<String, String> {
        let Some(c) = self
            .acceptor
            .clients()
            .find(|(i, _)| *i == id)
            .map(|(_, c)| c)
        else {
            return Err(format!("no client {} (it may have left meanwhile)", id.0));
        };
        let who = c.user.clone().unwrap_or_else(|| c.remote.to_string());
        if let Some(e) = self.acceptor.engine_mut(id) {
            e.shutdown(now());
        }
        self.disconnecting = Some(id);
        self.flush(id).await;
        self.disconnecting = None;
        if self.acceptor.engine_mut(id).is_some() {
            self.acceptor.remove(now(), id, Departure::Disconnected);
            self.outs.remove(&id);
            self.timers.set(id, None);
        }
        self.traffic.remove(&id);
        self.publish();
        tracing::info!(tunnel = %self.t.cfg.name, "client {} ({who}) disconnected by the admin", id.0);
        Ok(format!(
            "client {} ({who}) disconnected: Delete sent, address released",
            id.0
        ))
    }

    /// True when the task is to stop.
    async fn on_command(&mut self, c: Option<Command>) -> bool {
        let done = match c {
            Some(Command::Shutdown(done)) => Some(done),
            None => None,
            Some(Command::ExportPhase1Keys(reply)) => {
                let lines = self
                    .acceptor
                    .clients()
                    .flat_map(|(_, c)| c.engine.export_ike_keys())
                    .collect();
                let _ = reply.send(lines);
                return false;
            }
            Some(Command::Transcript(reply)) => {
                let _ = reply.send(Vec::new());
                return false;
            }
            Some(_) => {
                tracing::warn!(
                    tunnel = %self.t.cfg.name,
                    "a remote-access interface takes no per-tunnel IKE command (initiate, rekey, \
                     reset, a new policy): restart ikegate to apply a changed configuration"
                );
                return false;
            }
        };
        let ids: Vec<ClientId> = self.acceptor.clients().map(|(id, _)| id).collect();
        for id in ids {
            if let Some(e) = self.acceptor.engine_mut(id) {
                e.shutdown(now());
            }
            self.flush(id).await;
        }
        tracing::info!(tunnel = %self.t.cfg.name, "remote access stopped (Delete sent to every client)");
        if let Some(d) = done {
            let _ = d.send(());
        }
        true
    }

    /// Sends what client `id`'s engine has to send and applies its events, answering its
    /// logins, until it has nothing left; removes the client when its last IKE SA is gone;
    /// re-arms its deadline.
    async fn flush(&mut self, id: ClientId) {
        self.drain(id).await;
        self.rearm(id);
    }

    async fn drain(&mut self, id: ClientId) {
        let mut departure = (self.disconnecting == Some(id)).then_some(Departure::Disconnected);
        loop {
            let Some(e) = self.acceptor.engine_mut(id) else {
                return;
            };
            let pending: Vec<_> = std::iter::from_fn(|| e.poll_transmit()).collect();
            for tx in pending {
                ike::send(&self.t, tx).await;
            }
            let logins = self.apply_events(id, &mut departure);
            if logins.is_empty() {
                break;
            }
            for req in logins {
                self.login(id, req);
            }
            self.delete_replaced().await;
        }
        let gone = self.acceptor.engine_mut(id).is_some_and(|e| {
            let s = e.status();
            s.phase1.is_empty() && s.children.is_empty()
        });
        if gone {
            self.outs.remove(&id);
            let why = departure.unwrap_or(Departure::Deleted);
            self.acceptor.remove(now(), id, why);
        }
    }

    /// Applies client `id`'s events; returns its login requests (answered by the caller).
    fn apply_events(
        &mut self,
        id: ClientId,
        departure: &mut Option<Departure>,
    ) -> Vec<LoginRequest> {
        let mut logins = Vec::new();
        let mut learned = Vec::new();
        let out = self.outs.entry(id).or_default();
        let Some(e) = self.acceptor.engine_mut(id) else {
            return logins;
        };
        let mut first = |ev: Event| match ev {
            Event::Login(req) => {
                logins.push(req);
                None
            }
            ev => {
                match &ev {
                    Event::Phase1Up { icookie, .. } => learned.push(*icookie),
                    Event::PeerDead { .. } => *departure = Some(Departure::DpdDead),
                    _ => {}
                }
                Some(ev)
            }
        };
        ike::apply_events(&self.dp, &self.t, e, out, self.keylog.as_ref(), &mut first);
        for spi in learned {
            self.acceptor.learn(id, spi);
        }
        logins
    }

    /// Asks the directory about `req`; a known answer goes to the engine at once. The
    /// directory knows the conversation by the client (its EAP state), the engine by its own
    /// ticket.
    fn login(&mut self, id: ClientId, mut req: LoginRequest) {
        let at = now();
        let engine_ticket = std::mem::replace(&mut req.ticket, LoginTicket(id.0));
        let answer = self.acceptor.login(at, id, &req, &mut OsRandom);
        if let (Some(answer), Some(e)) = (answer, self.acceptor.engine_mut(id)) {
            e.login_answer(at, engine_ticket, answer);
        }
    }

    /// Deletes the SAs of clients whose user connected again.
    async fn delete_replaced(&mut self) {
        for (old, mut c) in self.acceptor.take_replaced() {
            self.timers.set(old, None);
            c.engine.shutdown(now());
            let mut out = self.outs.remove(&old).unwrap_or_default();
            let pending: Vec<_> = std::iter::from_fn(|| c.engine.poll_transmit()).collect();
            for tx in pending {
                ike::send(&self.t, tx).await;
            }
            let keylog = self.keylog.as_ref();
            ike::apply_events(
                &self.dp,
                &self.t,
                &mut c.engine,
                &mut out,
                keylog,
                &mut Some,
            );
        }
    }
}
