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

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::dataplane::{DataPlane, Tunnel};
use super::ike::{self, now, Command, IkeDatagram, Inbox, KeyLog, Outbounds};
use crate::config::{InterfaceConfig, RemoteAccessConfig, UserSource};
use crate::ike::{Event, IkePolicy, IkeVersion, OsRandom};
use crate::ra::acceptor::{ClientId, Dispatch, RaAcceptor};
use crate::ra::board::{self, RaBoard, RaCommand};
use crate::ra::login::{LocalLogins, LoginBackend, LoginRequest, LoginTicket};
use crate::ra::radius::{ClientConfig, RadiusLogins};
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
    let backend: Box<dyn LoginBackend> = match &ra.users {
        Some(UserSource::File(path)) => {
            let users = Arc::new(UsersFile::load(path)?);
            Box::new(LocalLogins::new(users, ra.eap_method(), &cfg.name))
        }
        Some(UserSource::Radius { server, .. }) => {
            radius_address(server)?;
            let config = radius_config(cfg, ra.users.as_ref())?;
            Box::new(RadiusLogins::new(config, ra.eap_method()))
        }
        // `auth: psk`: clients are admitted under their identity, nobody is looked up.
        None => Box::new(LocalLogins::new(
            Arc::new(UsersFile::default()),
            ra.eap_method(),
            &cfg.name,
        )),
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
    Ok(RaAcceptor::new(
        &cfg.name,
        for_version(IkeVersion::V1),
        for_version(IkeVersion::V2),
        ClientRegistry::new(pool(ra)),
        backend,
        Throttle::new(ThrottleConfig::default()),
    ))
}

/// The RADIUS client's settings from a `radius:` block: the shared secret read from its
/// file, NAS-Identifier (the interface's name unless given), timeout and retries.
fn radius_config(
    cfg: &InterfaceConfig,
    users: Option<&UserSource>,
) -> Result<ClientConfig, String> {
    let Some(UserSource::Radius {
        server,
        secret_file,
        nas_identifier,
        timeout,
        retries,
    }) = users
    else {
        return Err("no `radius:` block".into());
    };
    let secret = crate::ra::radius::secret_file(secret_file).map_err(|e| e.to_string())?;
    let mut c = ClientConfig::new(server.clone(), secret);
    c.nas_identifier = nas_identifier.clone().unwrap_or_else(|| cfg.name.clone());
    c.initial_timeout = *timeout;
    c.max_timeout = *timeout * 4;
    c.max_attempts = retries + 1;
    Ok(c)
}

/// `radius.server` resolved (a name is looked up once, at start).
fn radius_address(server: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let err = |why: String| format!("radius.server {server}: {why}");
    server
        .to_socket_addrs()
        .map_err(|e| err(e.to_string()))?
        .next()
        .ok_or_else(|| err("the name has no address".into()))
}

/// A UDP socket connected to the interface's RADIUS server, if it has one.
fn radius_socket(cfg: &InterfaceConfig) -> Option<Arc<UdpSocket>> {
    let ra = cfg.remote_access.as_ref()?;
    let Some(UserSource::Radius { server, .. }) = &ra.users else {
        return None;
    };
    let open = || -> Result<UdpSocket, String> {
        let to = radius_address(server)?;
        let any: SocketAddr = if to.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let s = std::net::UdpSocket::bind(any).map_err(|e| e.to_string())?;
        s.connect(to).map_err(|e| e.to_string())?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        UdpSocket::from_std(s).map_err(|e| e.to_string())
    };
    match open() {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            tracing::error!(
                tunnel = %cfg.name,
                "no socket to RADIUS server {server}: {e}; logins will fail as the directory \
                 being unavailable"
            );
            None
        }
    }
}

/// Receives from the RADIUS server; never ready without one.
async fn recv_directory(socket: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<usize> {
    match socket {
        Some(s) => s.recv(buf).await,
        None => std::future::pending().await,
    }
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
    /// The socket to the RADIUS server, when users come from one.
    radius: Option<Arc<UdpSocket>>,
    /// The engine's ticket of each login the directory answers later.
    login_tickets: HashMap<ClientId, LoginTicket>,
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
    mut rx: super::mailbox::Receiver<Inbox>,
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
        radius: None,
        login_tickets: HashMap::new(),
    };
    task.radius = radius_socket(&task.t.cfg);
    let radius = task.radius.clone();
    let mut radius_buf = vec![0u8; crate::ra::radius::wire::MAX_PACKET_LEN];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = task.deadline();
        let sleep = ike::sleep_until(deadline);
        tokio::select! {
            m = rx.recv() => match m {
                Some(Inbox::Datagram(m)) => task.on_datagram(*m).await,
                Some(Inbox::Command(c)) => {
                    if task.on_command(Some(c)).await {
                        return;
                    }
                }
                None => {
                    let _ = task.on_command(None).await;
                    return;
                }
            },
            () = sleep => task.on_timeout().await,
            r = recv_directory(radius.as_deref(), &mut radius_buf) => {
                task.on_directory_datagram(r, &radius_buf).await;
            }
            _ = tick.tick() => task.on_tick(),
            Some(RaCommand::Disconnect { id, done }) = admin_rx.recv() => {
                let answer = task.disconnect(ClientId(id)).await;
                let _ = done.send(answer);
            }
        }
    }
}

impl RaTask {
    /// The earliest deadline of any client's engine or of the user directory.
    fn deadline(&mut self) -> Option<Instant> {
        self.timers
            .earliest()
            .into_iter()
            .chain(self.acceptor.directory_timeout())
            .min()
    }

    /// Records client `id`'s next deadline (none once it is gone).
    fn rearm(&mut self, id: ClientId) {
        let at = self.acceptor.engine_mut(id).and_then(|e| e.poll_timeout());
        self.timers.set(id, at);
    }

    /// A datagram (or a receive error) from the RADIUS server.
    async fn on_directory_datagram(&mut self, r: std::io::Result<usize>, buf: &[u8]) {
        match r {
            Ok(n) => {
                let data = buf.get(..n).unwrap_or_default();
                self.acceptor.directory_mut().handle_datagram(now(), data);
                self.directory_io().await;
            }
            // ICMP port unreachable and the like: the retries run out and say so.
            Err(e) => {
                tracing::debug!(tunnel = %self.t.cfg.name, "receiving from the RADIUS server: {e}")
            }
        }
    }

    /// Sends the directory's datagrams and hands its verdicts to the engines that asked.
    async fn directory_io(&mut self) {
        loop {
            self.send_directory().await;
            let at = now();
            let Some((id, answer)) = self.acceptor.poll_verdict(at) else {
                return;
            };
            let ticket = self.login_tickets.remove(&id);
            if let (Some(ticket), Some(e)) = (ticket, self.acceptor.engine_mut(id)) {
                e.login_answer(at, ticket, answer);
            }
            self.flush(id).await;
        }
    }

    /// Sends what the directory has for its server.
    async fn send_directory(&mut self) {
        while let Some(d) = self.acceptor.directory_mut().poll_transmit() {
            let Some(s) = &self.radius else { continue };
            if let Err(e) = s.send(&d).await {
                tracing::debug!(tunnel = %self.t.cfg.name, "sending to the RADIUS server: {e}");
            }
        }
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
        if self.acceptor.directory_timeout().is_some_and(|d| d <= at) {
            self.acceptor.directory_mut().handle_timeout(at);
            self.directory_io().await;
        }
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
        let acceptor = &self.acceptor;
        self.login_tickets
            .retain(|id, _| acceptor.clients().any(|(c, _)| c == *id));
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
            self.send_directory().await;
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
        let Some(answer) = self.acceptor.login(at, id, &req, &mut OsRandom) else {
            // The directory answers later (RADIUS): see directory_io.
            self.login_tickets.insert(id, engine_ticket);
            return;
        };
        if let Some(e) = self.acceptor.engine_mut(id) {
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
