//! The running gateway: opens TUN devices and sockets, installs routes and SAs, runs the packet
//! tasks, and tears everything down again.

mod crl_fetch;
pub mod dataplane;
pub mod events;
pub mod ike;
mod inbound;
pub mod mailbox;
pub mod pacing;
mod pool;
pub mod privileges;
pub mod ra;
mod transport_routes;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tokio::task::JoinHandle;

use crate::config::{Config, InterfaceConfig, Keying, Mtu, NatTraversal, Subnet, TcpMss};
use crate::crypto::{EspKeys, IntegAlg};
use crate::esp::{InboundSa, OutboundSa, SaTable};
use crate::io::route::Netlink;
use crate::io::socket::{udp, RawEsp};
use crate::io::tun;
use crate::wire::tcp_mss::mss_for_mtu;
use dataplane::{DataPlane, GlobalStats, Transport, Tunnel, TunnelStats};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Opening a TUN device failed.
    #[error("cannot create TUN device {name}: {source} (run as root, or with CAP_NET_ADMIN)")]
    Tun {
        /// Interface name.
        name: String,
        /// OS error.
        source: std::io::Error,
    },
    /// Binding a socket failed.
    #[error("cannot open sockets on {addr}: {source} (is the address configured on this host?)")]
    Socket {
        /// Local address.
        addr: IpAddr,
        /// OS error.
        source: std::io::Error,
    },
    /// Installing a route failed.
    #[error("cannot add route {dest} via {dev}: {source}")]
    Route {
        /// Destination.
        dest: Subnet,
        /// Interface.
        dev: String,
        /// OS error.
        source: std::io::Error,
    },
    /// Setting up transport-mode routing failed.
    #[error("interface {dev} (mode: transport): cannot add {what}: {source}")]
    TransportRouting {
        /// Interface.
        dev: String,
        /// The rule or route, in words.
        what: String,
        /// OS error.
        source: std::io::Error,
    },
    /// Keys could not be installed.
    #[error("interface {name}: {msg}")]
    Keys {
        /// Interface name.
        name: String,
        /// What is wrong.
        msg: String,
    },
}

/// A running gateway.
pub struct Gateway {
    /// The packet path's shared state (for status and tests).
    pub dp: Arc<DataPlane>,
    netlink: Netlink,
    routes: Vec<(Subnet, u32)>,
    /// Interface index of every TUN device, to delete them in one batch at shutdown.
    devices: Vec<u32>,
    transport_routes: transport_routes::TransportRoutes,
    tasks: Vec<JoinHandle<()>>,
    ike: Vec<(ike::Control, JoinHandle<()>)>,
    controls: Vec<(usize, ike::Control)>,
    /// Configuration of each tunnel as running, with its IKE control channel (if IKE).
    running: Vec<(Arc<InterfaceConfig>, Option<ike::Control>)>,
    /// What each remote-access interface shows the admin API.
    ra_boards: Vec<Arc<crate::ra::board::RaBoard>>,
}

/// Options of a running gateway that are not part of the configuration file.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Append the keys of every negotiated ESP SA to this file in Wireshark's `esp_sa` format
    /// (explicit, opt-in key export for decrypting captures).
    pub wireshark_keylog: Option<std::path::PathBuf>,
}

/// Worst-case ESP overhead of a suite on the wire, outer IP header included.
pub fn esp_overhead(keys: &EspKeys, outer_v6: bool, udp_encap: bool) -> usize {
    let t_hdr = 8 + keys.enc.iv_len();
    let trailer = keys.enc.block_len() - 1 + 2 + keys.enc.aead_icv_len() + keys.integ.icv_len();
    (if outer_v6 { 40 } else { 20 }) + if udp_encap { 8 } else { 0 } + t_hdr + trailer
}

/// The MTU an interface gets: fixed, or 1500 minus the worst-case overhead of every suite the
/// interface may use (its manual SA, or each phase-2 proposal IKE may pick).
pub fn interface_mtu(cfg: &InterfaceConfig) -> u16 {
    match cfg.mtu {
        Mtu::Fixed(m) => m,
        Mtu::Auto => {
            let encap = cfg.nat_traversal != NatTraversal::Disable;
            let v6 = cfg.destination.is_ipv6();
            let worst = match &cfg.keying {
                Keying::Manual { outbound, .. } => esp_overhead(outbound, v6, encap),
                Keying::Ike(p) => p
                    .phase2
                    .encryption
                    .iter()
                    .flat_map(|e| {
                        let auths: Vec<IntegAlg> = if e.is_aead() {
                            vec![IntegAlg::None]
                        } else {
                            p.phase2.authentication.clone()
                        };
                        auths.into_iter().map(move |a| (*e, a))
                    })
                    .map(|(enc, integ)| {
                        let k = EspKeys {
                            spi: 0,
                            enc,
                            enc_key: Default::default(),
                            integ,
                            integ_key: Default::default(),
                        };
                        esp_overhead(&k, v6, encap)
                    })
                    .max()
                    .unwrap_or(100),
            };
            (1500 - worst) as u16
        }
    }
}

pub(crate) fn random_seed() -> [u8; 16] {
    let mut s = [0u8; 16];
    // getrandom only fails if the OS has no entropy source at all; then refuse to run.
    getrandom::fill(&mut s).expect("the OS random number generator is unavailable");
    s
}

impl Gateway {
    /// Opens everything the configuration describes and starts the packet tasks. On error,
    /// whatever was opened is closed again (TUN devices vanish with their descriptors).
    pub async fn start(cfg: &Config, opts: &Options) -> Result<Gateway, StartError> {
        let netlink = Netlink::new().map_err(|e| StartError::Socket {
            addr: IpAddr::from([0, 0, 0, 0]),
            source: e,
        })?;
        // Sockets per local address.
        let mut transports: HashMap<IpAddr, Arc<Transport>> = HashMap::new();
        for i in &cfg.interfaces {
            if transports.contains_key(&i.source) {
                continue;
            }
            let all_forced = cfg
                .interfaces
                .iter()
                .filter(|j| j.source == i.source)
                .all(|j| j.nat_traversal == NatTraversal::Force);
            let sock_err = |e| StartError::Socket {
                addr: i.source,
                source: e,
            };
            let mark = transport_routes::socket_mark(cfg, i.source);
            let udp4500 = udp(i.source, 4500, mark).map_err(sock_err)?;
            let raw = if all_forced {
                None
            } else {
                Some(RawEsp::bind(i.source, mark).map_err(sock_err)?)
            };
            let any_ike = cfg
                .interfaces
                .iter()
                .any(|j| j.source == i.source && matches!(j.keying, Keying::Ike(_)));
            let udp500 = if any_ike {
                Some(udp(i.source, 500, mark).map_err(sock_err)?)
            } else {
                None
            };
            transports.insert(
                i.source,
                Arc::new(Transport {
                    local: i.source,
                    udp4500,
                    raw,
                    udp500,
                }),
            );
        }
        let sas = SaTable::new();
        let device_lost = Arc::new(tokio::sync::Notify::new());
        let mut tunnels = Vec::new();
        for (index, i) in cfg.interfaces.iter().enumerate() {
            let mtu = interface_mtu(i);
            let t = tun::open(&i.name, mtu).map_err(|e| StartError::Tun {
                name: i.name.clone(),
                source: e,
            })?;
            let mss = match i.tcp_mss {
                TcpMss::Auto => Some((mss_for_mtu(mtu, false), mss_for_mtu(mtu, true))),
                TcpMss::Fixed(m) => Some((m, m)),
                TcpMss::Disable => None,
            };
            tracing::info!(
                tunnel = %i.name, mtu, offload = t.offload, if_index = t.if_index,
                "{} ⇄ {} ({:?})", i.source,
                if i.dynamic_peer { "dynamic".to_string() } else { i.destination.to_string() },
                i.nat_traversal
            );
            let tunnel = Tunnel {
                index,
                cfg: Arc::new(i.clone()),
                tun: t.dev,
                mtu,
                mss,
                outbound: crate::esp::OutboundRoutes::new(),
                transport: transports[&i.source].clone(),
                stats: TunnelStats::default(),
                ike_status: ArcSwapOption::empty(),
                device_lost: device_lost.clone(),
                ra: i.remote_access.as_ref().map(|r| {
                    let size = ra::pool(r).size();
                    Arc::new(dataplane::RaRoutes::new(r.pool_ipv4, r.pool_ipv6, size))
                }),
            };
            if let Keying::Manual { outbound, inbound } = &i.keying {
                let keys_err = |msg| StartError::Keys {
                    name: i.name.clone(),
                    msg,
                };
                let out = OutboundSa::new(outbound, tunnel.manual_encap(), random_seed())
                    .map_err(keys_err)?;
                // Manual SAs carry every IPv4 and IPv6 packet (no selectors negotiated).
                tunnel.outbound.use_sa(Arc::new(out));
                sas.insert(Arc::new(InboundSa::new(inbound, index).map_err(keys_err)?));
            }
            tunnels.push((Arc::new(tunnel), t.if_index));
        }
        let mut routes = Vec::new();
        for r in &cfg.routes {
            let Some((t, idx)) = tunnels.iter().find(|(t, _)| t.cfg.name == r.gateway) else {
                continue;
            };
            netlink
                .add_route(r.destination, *idx, r.source)
                .await
                .map_err(|e| StartError::Route {
                    dest: r.destination,
                    dev: t.cfg.name.clone(),
                    source: e,
                })?;
            routes.push((r.destination, *idx));
        }
        for (t, idx) in &tunnels {
            let Some(r) = &t.cfg.remote_access else {
                continue;
            };
            // The clients' virtual addresses are reached through the interface.
            for dest in [r.pool_ipv4, r.pool_ipv6].into_iter().flatten() {
                netlink
                    .add_route(dest, *idx, None)
                    .await
                    .map_err(|e| StartError::Route {
                        dest,
                        dev: t.cfg.name.clone(),
                        source: e,
                    })?;
                routes.push((dest, *idx));
            }
        }
        let transport_routes =
            transport_routes::install(&netlink, tunnels.iter().map(|(t, i)| (&*t.cfg, *i))).await?;
        let dp = Arc::new(DataPlane {
            tunnels: tunnels.iter().map(|(t, _)| t.clone()).collect(),
            sas,
            stats: GlobalStats::default(),
            events: events::EventBus::default(),
        });
        // An IKE tunnel's task reads its TUN too; the others get a task of their own for it.
        let mut tasks = Vec::new();
        for t in &dp.tunnels {
            if !matches!(t.cfg.keying, Keying::Ike(_)) || t.cfg.remote_access.is_some() {
                tasks.push(tokio::spawn(dataplane::outbound_loop(t.clone())));
            }
        }
        // IKE: one control task per IKE tunnel; datagrams are routed to it by peer address.
        let mut ike_tasks = Vec::new();
        let mut controls = Vec::new();
        let mut running = Vec::new();
        let mut ike_routes = IkeRoutes::default();
        let mut ra_boards = Vec::new();
        let cookie_jar = Arc::new(crate::ike::limits::CookieJar::new(
            &mut crate::ike::OsRandom,
        ));
        let pacing = pacing::Pacing::new(&cfg.initiation, dp.tunnels.iter().map(|t| t.index));
        for t in &dp.tunnels {
            let Keying::Ike(policy) = &t.cfg.keying else {
                running.push((t.cfg.clone(), None));
                continue;
            };
            let (tx, rx) = mailbox::channel(256);
            let ctx = ike::Control::new(tx.clone());
            if let Some(r) = &t.cfg.remote_access {
                let acceptor = ra::acceptor(&t.cfg, policy, r).map_err(|msg| StartError::Keys {
                    name: t.cfg.name.clone(),
                    msg,
                })?;
                ike_routes.add_remote_access(t.cfg.source, tx);
                let keylog = opts.wireshark_keylog.clone().map(ike::KeyLog);
                let (board, commands) = crate::ra::board::RaBoard::new(&t.cfg.name);
                ra_boards.push(board.clone());
                let admin = ra::RaAdmin { board, commands };
                let h = tokio::spawn(ra::run(dp.clone(), t.clone(), acceptor, rx, keylog, admin));
                running.push((t.cfg.clone(), Some(ctx.clone())));
                ike_tasks.push((ctx, h));
                continue;
            }
            add_route(&mut ike_routes, &t.cfg, policy, tx);
            let mut engine =
                crate::ike::TunnelEngine::new(policy.clone(), Box::new(crate::ike::OsRandom));
            let table = dp.clone();
            engine.set_spi_taken(Arc::new(move |spi| table.sas.contains(spi)));
            engine.share_cookie_jar(cookie_jar.clone());
            let keylog = opts.wireshark_keylog.clone().map(ike::KeyLog);
            let gate = pacing.gate(t.index, t.cfg.source);
            let h = tokio::spawn(ike::run(dp.clone(), t.clone(), engine, rx, keylog, gate));
            controls.push((t.index, ctx.clone()));
            running.push((t.cfg.clone(), Some(ctx.clone())));
            ike_tasks.push((ctx, h));
        }
        tasks.push(tokio::spawn(trim_after_ike_bursts(dp.clone())));
        let inbox = Arc::new(IkeInbox {
            peers: ike_routes,
            door: crate::ike::front_door::FrontDoor::new(cookie_jar),
        });
        for tr in transports.values() {
            let handler = || -> Box<inbound::IkeHandler> {
                let (peers, local, dp) = (inbox.clone(), tr.local, dp.clone());
                Box::new(move |port, from, msg| {
                    dispatch_ike(&peers, &dp.stats, local, port, from, msg)
                })
            };
            tasks.push(tokio::spawn(inbound::udp4500_loop(
                dp.clone(),
                tr.clone(),
                handler(),
            )));
            if tr.raw.is_some() {
                tasks.push(tokio::spawn(inbound::raw_loop(dp.clone(), tr.clone())));
            }
            if tr.udp500.is_some() {
                tasks.push(tokio::spawn(inbound::udp500_loop(
                    dp.clone(),
                    tr.clone(),
                    handler(),
                )));
            }
        }
        Ok(Gateway {
            devices: tunnels.iter().map(|(_, i)| *i).collect(),
            dp,
            netlink,
            routes,
            transport_routes,
            tasks,
            ike: ike_tasks,
            controls,
            running,
            ra_boards,
        })
    }

    /// Applies a re-read configuration (SIGHUP): unchanged tunnels keep their SAs; a tunnel
    /// whose IKE settings changed gets the new policy and renegotiates (Delete, then a fresh
    /// Main Mode); a tunnel removed from the file has its SAs deleted. Changes that need new
    /// devices, sockets or routes (new interfaces, addresses, MTU, manual keys) are reported
    /// and take effect at the next restart. Returns one line per tunnel, in plain words.
    pub async fn reload(&mut self, cfg: &Config) -> Vec<String> {
        let mut report = Vec::new();
        for (old, cmd) in self.running.iter_mut() {
            let Some(new) = cfg.interfaces.iter().find(|i| i.name == old.name) else {
                if let Some(c) = cmd.take() {
                    let (done, wait) = tokio::sync::oneshot::channel();
                    if c.send(ike::Command::Shutdown(done)).await.is_ok() {
                        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), wait).await;
                    }
                }
                report.push(format!(
                    "{}: removed from the configuration: its SAs were deleted (the device goes away at the next restart)",
                    old.name
                ));
                continue;
            };
            match reload_change(old, new) {
                Change::None => report.push(format!("{}: unchanged, SAs kept", old.name)),
                Change::Ike(policy) => match cmd {
                    Some(c) => {
                        let ok = c.send(ike::Command::SetPolicy(policy)).await.is_ok()
                            && c.send(ike::Command::Reset).await.is_ok();
                        *old = Arc::new(new.clone());
                        report.push(if ok {
                            format!("{}: IKE settings changed, renegotiating", old.name)
                        } else {
                            format!(
                                "{}: IKE settings changed but its IKE task is gone",
                                old.name
                            )
                        });
                    }
                    None => report.push(format!(
                        "{}: IKE settings changed on a stopped tunnel; restart to apply",
                        old.name
                    )),
                },
                Change::NeedsRestart(what) => report.push(format!(
                    "{}: {what} changed; this needs a restart (kept running with the old settings)",
                    old.name
                )),
            }
        }
        for i in &cfg.interfaces {
            if !self.running.iter().any(|(o, _)| o.name == i.name) {
                report.push(format!(
                    "{}: new interface; it starts at the next restart",
                    i.name
                ));
            }
        }
        report
    }

    /// Sends Delete for every IKE-negotiated SA, stops the tasks, removes the routes and closes
    /// the TUN devices.
    pub async fn shutdown(self) {
        // Every tunnel at once, then up to 2 s for all of them (one after the other, 2,000
        // tunnels took longer than a service manager waits).
        let mut sent = Vec::new();
        for (cmd, _) in &self.ike {
            let (done, wait) = tokio::sync::oneshot::channel();
            if cmd.send(ike::Command::Shutdown(done)).await.is_ok() {
                sent.push(wait);
            }
        }
        let all = futures::future::join_all(sent);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), all).await;
        for (_, h) in &self.ike {
            h.abort();
        }
        for t in &self.tasks {
            t.abort();
        }
        for (dest, idx) in &self.routes {
            if let Err(e) = self.netlink.del_route(*dest, *idx).await {
                tracing::warn!("removing route {dest}: {e}");
            }
        }
        self.transport_routes.remove(&self.netlink).await;
        for t in self.tasks {
            let _ = t.await;
        }
        let [a, b, c, d, ..] = random_seed();
        let group = u32::from_le_bytes([a, b, c, d]) | 1;
        // Not a device deleted under us: its index may have gone to another device since.
        let ours: Vec<u32> = (self.dp.tunnels.iter().zip(&self.devices))
            .filter(|(t, _)| {
                !t.stats
                    .device_gone
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .map(|(_, i)| *i)
            .collect();
        if let Err(e) = self.netlink.delete_links(&ours, group).await {
            tracing::debug!("TUN devices not deleted in one batch ({e}): they go one by one");
        }
        // Dropping the last reference to each device closes it; the kernel then deletes it.
        drop(self.dp);
    }

    /// Woken when a TUN device of this gateway disappears (see [`Gateway::lost_devices`]).
    pub fn device_lost_signal(&self) -> Arc<tokio::sync::Notify> {
        self.dp
            .tunnels
            .first()
            .map(|t| t.device_lost.clone())
            .unwrap_or_default()
    }

    /// The tunnels whose TUN device was deleted under us.
    pub fn lost_devices(&self) -> Vec<String> {
        self.dp
            .tunnels
            .iter()
            .filter(|t| {
                t.stats
                    .device_gone
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .map(|t| t.cfg.name.clone())
            .collect()
    }

    /// The IKE policy each IKE tunnel runs with now (after reloads), by name.
    pub fn running_policies(&self) -> Vec<(String, Arc<crate::ike::IkePolicy>)> {
        self.running
            .iter()
            .filter_map(|(c, _)| match &c.keying {
                Keying::Ike(p) => Some((c.name.clone(), p.clone())),
                Keying::Manual { .. } => None,
            })
            .collect()
    }

    /// The admin API's view of this gateway: published snapshots and the IKE tasks' command
    /// channels.
    pub fn admin_state(&self) -> crate::api::GatewayState {
        crate::api::GatewayState::new(self.dp.clone(), self.controls.clone())
            .with_remote_access(self.ra_boards.clone())
    }

    /// A human-readable table of tunnels and counters.
    pub fn status_text(&self) -> String {
        status_text(&self.dp)
    }
}

/// Which tunnel's IKE task a message goes to (see [`crate::ike::Endpoint`]).
type IkeRoutes = crate::ike::Endpoint<mailbox::Sender<ike::Inbox>>;

/// Registers a tunnel's IKE task: by its (local, peer) address pair, or by its
/// `peers-identifier` when its destination is `dynamic`.
fn add_route(
    r: &mut IkeRoutes,
    cfg: &InterfaceConfig,
    policy: &crate::ike::IkePolicy,
    tx: mailbox::Sender<ike::Inbox>,
) {
    match (&policy.peer_id, cfg.dynamic_peer) {
        (Some(id), true) => r.add_dynamic(&cfg.name, cfg.source, id.clone(), tx),
        _ => r.add_fixed(cfg.source, cfg.destination, tx),
    }
}

/// The receive loops' view of where IKE messages go: the tunnels' queues and the gate in front
/// of them.
struct IkeInbox {
    peers: IkeRoutes,
    door: crate::ike::front_door::FrontDoor,
}

/// Hands an IKE message to the tunnel whose peer sent it (dropped, with a rate-limited log line,
/// when no tunnel has that peer). The tunnel's queue is bounded: when it is half full, new
/// negotiations go through the front door first (a COOKIE to send back, returned here, or a
/// drop: see [`crate::ike::front_door`]); when it is full, the message is dropped and counted
/// (`ike_queue_full`), never buffered.
fn dispatch_ike(
    inbox: &IkeInbox,
    stats: &dataplane::GlobalStats,
    local: IpAddr,
    local_port: u16,
    from: std::net::SocketAddr,
    msg: &[u8],
) -> Option<Vec<u8>> {
    use crate::ike::front_door::{Admission, QueueRoom};
    use std::sync::atomic::Ordering::Relaxed;
    static UNKNOWN: dataplane::RateLimit = dataplane::RateLimit::new();
    match inbox.peers.route(local, from.ip(), msg) {
        Some(tx) => {
            let room = QueueRoom {
                free: tx.capacity(),
                capacity: tx.max_capacity(),
            };
            let now = std::time::Instant::now();
            let (door, rng) = (&inbox.door, &mut crate::ike::OsRandom);
            match door.admit(now, rng, from, msg, room, tx.shedding()) {
                Admission::Queue => {}
                Admission::Answer(cookie) => {
                    stats.ike_cookies_sent.fetch_add(1, Relaxed);
                    return Some(cookie);
                }
                Admission::Drop(_) => {
                    stats.ike_first_messages_shed.fetch_add(1, Relaxed);
                    return None;
                }
            }
            // Boxed: a queue slot is then a pointer, and an idle tunnel's queue small.
            let sent = tx.try_send(ike::Inbox::Datagram(Box::new(ike::IkeDatagram {
                local_port,
                from,
                data: msg.to_vec(),
            })));
            if sent.is_err() {
                stats.ike_queue_full.fetch_add(1, Relaxed);
            }
        }
        None => {
            stats.ike_unknown_peer.fetch_add(1, Relaxed);
            if !UNKNOWN.allow() {
                return None;
            }
            if let Some(id) = crate::ike::aggressive_initiator_identity(msg) {
                tracing::warn!(
                    "Aggressive Mode from {from} to {local} with identity {id}: no interface has \
                     destination {} or, with `destination: dynamic`, `peers-identifier` {id}: \
                     add one, or check the peer's my-identifier",
                    from.ip()
                );
            } else {
                tracing::warn!(
                    "IKE message from {from} to {local}:{local_port}, but no interface has \
                     destination {}: add one, or check the peer's address",
                    from.ip()
                );
            }
        }
    }
    None
}

/// Gives the heap's free pages back to the OS once IKE has been quiet for a moment after some
/// activity (startup, a burst of tunnels coming up, a wave of rekeys): see [`crate::io::heap`].
async fn trim_after_ike_bursts(dp: Arc<DataPlane>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = 0;
    let mut trimmed_at = None;
    loop {
        tick.tick().await;
        let now = dp
            .stats
            .ike_messages
            .load(std::sync::atomic::Ordering::Relaxed);
        if now == seen && trimmed_at != Some(now) {
            crate::io::heap::release_free_memory();
            trimmed_at = Some(now);
        }
        seen = now;
    }
}

/// A tunnel's IKE counters, one line: what came, what went, and what was dropped at which check.
fn ike_counters_text(e: &crate::ike::status::EngineStats) -> String {
    format!(
        "ike: ike-received {}, ike-sent {}, ike-retransmits {}; dropped: ike-malformed {}, \
         ike-unknown-spi {}, ike-unsupported {}, ike-bad-hash {}, ike-unexpected {}, \
         ike-half-open-limit {}, ike-rate-limit {}, ike-replay {}; ike-half-open-expired {}, \
         ike-duplicates-answered {}",
        e.received,
        e.sent,
        e.retransmits,
        e.dropped_malformed,
        e.dropped_unknown_cookie,
        e.dropped_unsupported,
        e.dropped_bad_hash,
        e.dropped_unexpected,
        e.dropped_half_open_limit,
        e.dropped_rate_limit,
        e.dropped_replay,
        e.half_open_expired,
        e.duplicates_answered
    )
}

/// Formats counters of every tunnel (for `demo` and logs).
pub fn status_text(dp: &DataPlane) -> String {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let mut s = String::new();
    for t in &dp.tunnels {
        let (tp, tb) = t.stats.tx.get();
        let (rp, rb) = t.stats.rx.get();
        let out: Vec<String> = t
            .outbound
            .all()
            .iter()
            .map(|o| {
                format!(
                    "0x{:08x} ({})",
                    o.spi,
                    crate::crypto::suite_name(o.transform.enc(), o.transform.integ())
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "{:<8} {} ⇄ {}  mtu {}  out spi {}  tx {tp} pkts/{tb} B  rx {rp} pkts/{rb} B",
            t.cfg.name,
            t.cfg.source,
            t.peer_ip(),
            t.mtu,
            if out.is_empty() {
                "-".into()
            } else {
                out.join(", ")
            },
        );
        let drops: Vec<String> = crate::esp::DropReason::ALL
            .iter()
            .map(|r| format!("{} {}", r.name(), t.stats.rx_drops.get(*r)))
            .collect();
        let _ = writeln!(
            s,
            "         drops: {}, tx-no-sa {}, tx-policy {}, io-errors {}",
            drops.join(", "),
            t.stats.tx_no_sa.load(Relaxed),
            t.stats.tx_policy.load(Relaxed),
            t.stats.io_errors.load(Relaxed)
        );
        if let Some(st) = t.ike_status.load_full() {
            let _ = writeln!(s, "         {}", ike_counters_text(&st.stats));
        }
    }
    let _ = writeln!(
        s,
        "global: unknown-spi {}, runt {}, keepalives {}, ike {}, ike-queue-full {}, \
         ike-unknown-peer {}, ike-cookies-sent {}, ike-first-messages-shed {}",
        dp.stats.no_sa.load(Relaxed),
        dp.stats.malformed.load(Relaxed),
        dp.stats.keepalives.load(Relaxed),
        dp.stats.ike_messages.load(Relaxed),
        dp.stats.ike_queue_full.load(Relaxed),
        dp.stats.ike_unknown_peer.load(Relaxed),
        dp.stats.ike_cookies_sent.load(Relaxed),
        dp.stats.ike_first_messages_shed.load(Relaxed)
    );
    s
}

/// What a reload changes for one tunnel.
enum Change {
    None,
    /// Only the IKE policy: applied live.
    Ike(Arc<crate::ike::IkePolicy>),
    /// Something the running data plane cannot change.
    NeedsRestart(&'static str),
}

fn reload_change(old: &InterfaceConfig, new: &InterfaceConfig) -> Change {
    if old.source != new.source || old.destination != new.destination {
        return Change::NeedsRestart("the outer addresses");
    }
    if old.nat_traversal != new.nat_traversal {
        return Change::NeedsRestart("nat-traversal");
    }
    if old.mode != new.mode {
        return Change::NeedsRestart("mode (the transport-mode routes and socket marks)");
    }
    if format!("{:?}{:?}", old.mtu, old.tcp_mss) != format!("{:?}{:?}", new.mtu, new.tcp_mss) {
        return Change::NeedsRestart("the MTU or MSS setting");
    }
    match (&old.keying, &new.keying) {
        (Keying::Ike(a), Keying::Ike(b)) => {
            let same = format!("{a:?}") == format!("{b:?}")
                && a.psk == b.psk
                && a.initial_contact == b.initial_contact
                && a.reinitiate_after == b.reinitiate_after;
            if same {
                Change::None
            } else {
                Change::Ike(b.clone())
            }
        }
        (Keying::Manual { .. }, Keying::Manual { .. }) => {
            if format!("{:?}", old.keying) == format!("{:?}", new.keying) {
                Change::None
            } else {
                Change::NeedsRestart("the manual SA")
            }
        }
        _ => Change::NeedsRestart("the keying method"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Aggressive Mode message 1 of an initiator calling itself `id`, with initiator cookie
    /// from `seed`.
    fn am1(id: &str, seed: u64) -> Vec<u8> {
        use crate::ike::{Engine, ExchangeMode, Identity, IkePolicy, SeededRandom};
        let mut p = IkePolicy::seil_defaults(
            "10.9.0.2".parse().unwrap(),
            "10.9.0.1".parse().unwrap(),
            b"k",
        );
        p.exchange_mode = ExchangeMode::Aggressive;
        p.my_id = Some(Identity::Fqdn(id.into()));
        let mut e = Engine::new(p, Box::new(SeededRandom::new(seed)));
        e.initiate(std::time::Instant::now());
        e.poll_transmit().expect("message 1").data
    }

    /// A later message of the exchange `am1` started: same initiator cookie and IKEv1 version
    /// byte, anything after.
    fn later(am1: &[u8]) -> Vec<u8> {
        let mut m = am1[..18].to_vec();
        m.extend_from_slice(&[0x55; 40]);
        m
    }

    fn routes() -> (IkeRoutes, Vec<mailbox::Sender<ike::Inbox>>) {
        let yaml = |name: &str, dst: &str, extra: &str| {
            format!(
                "  {name}:\n    ipv4: {{ source: 10.9.0.1, destination: {dst} }}\n    preshared-key: k\n    responder-only: enable\n    ike:\n      exchange-mode: aggressive\n{extra}"
            )
        };
        let text = format!(
            "interfaces:\n{}{}{}",
            yaml("ipsec0", "10.9.0.7", ""),
            yaml(
                "ipsec1",
                "dynamic",
                "      peers-identifier: { fqdn: alice }\n"
            ),
            yaml(
                "ipsec2",
                "dynamic",
                "      peers-identifier: { fqdn: bob }\n"
            ),
        );
        let cfg = crate::config::parse(&text, std::path::Path::new(".")).unwrap();
        let mut r = IkeRoutes::default();
        let mut txs = Vec::new();
        for i in &cfg.interfaces {
            let Keying::Ike(p) = &i.keying else { panic!() };
            let (tx, _) = mailbox::channel(1);
            add_route(&mut r, i, p, tx.clone());
            txs.push(tx);
        }
        (r, txs)
    }

    /// Which configured interface (by index) a sender belongs to.
    fn which(
        r: &IkeRoutes,
        txs: &[mailbox::Sender<ike::Inbox>],
        from: &str,
        msg: &[u8],
    ) -> Option<usize> {
        let local: IpAddr = "10.9.0.1".parse().unwrap();
        let tx = r.route(local, from.parse().unwrap(), msg)?;
        txs.iter().position(|t| tx.same_channel(t))
    }

    #[test]
    fn dynamic_tunnels_are_chosen_by_identity_and_remembered() {
        let (r, txs) = routes();
        let alice = am1("alice", 1);
        let bob = am1("bob", 2);
        // The configured address wins, whatever the message says.
        assert_eq!(which(&r, &txs, "10.9.0.7", b"x"), Some(0));
        assert_eq!(which(&r, &txs, "10.9.0.7", &bob), Some(0));
        // Unknown address: only an Aggressive Mode message 1 with a known identity routes.
        assert_eq!(which(&r, &txs, "10.9.0.20", b"garbage"), None);
        assert_eq!(which(&r, &txs, "10.9.0.20", &later(&alice)), None);
        assert_eq!(which(&r, &txs, "10.9.0.20", &am1("mallory", 3)), None);
        // Two road warriors behind one NAT address, each to its own tunnel.
        assert_eq!(which(&r, &txs, "10.9.0.20", &alice), Some(1));
        assert_eq!(which(&r, &txs, "10.9.0.20", &bob), Some(2));
        // Later messages follow their ISAKMP SA's cookie, from any address (NAT rebinding).
        assert_eq!(which(&r, &txs, "10.9.0.20", &later(&alice)), Some(1));
        assert_eq!(which(&r, &txs, "10.9.0.20", &later(&bob)), Some(2));
        assert_eq!(which(&r, &txs, "10.9.0.99", &later(&bob)), Some(2));
        // Bounded: after DYNAMIC_COOKIES more exchanges of alice, the oldest is forgotten
        // (bob's is kept).
        for k in 0..crate::ike::endpoint::DYNAMIC_COOKIES as u64 {
            assert_eq!(which(&r, &txs, "10.9.0.20", &am1("alice", 10 + k)), Some(1));
        }
        assert_eq!(which(&r, &txs, "10.9.0.20", &later(&alice)), None);
        assert_eq!(which(&r, &txs, "10.9.0.20", &later(&bob)), Some(2));
    }

    /// The size of the future an async fn of six (or one) arguments returns, without calling it.
    fn future_size6<A, B, C, D, E, G, F, Fut>(_: F) -> usize
    where
        F: FnOnce(A, B, C, D, E, G) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    fn future_size1<A, F: FnOnce(A) -> Fut, Fut>(_: F) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// An IKE tunnel has one task for its whole life (IKE, and reading its TUN), a tunnel without
    /// IKE a TUN reader, so their state is part of a tunnel's memory (issue 17: 10 kB per
    /// tunnel). A batch of packets and a flush are boxed while they run; before that, the TUN
    /// reader's task was 768 bytes. The IKE task took over reading the TUN in session 12.
    #[test]
    fn per_tunnel_tasks_stay_small() {
        let (tun, ike) = (
            future_size1(dataplane::outbound_loop),
            future_size6(ike::run),
        );
        assert!(tun <= 320, "TUN reader task state: {tun} bytes");
        assert!(ike <= 1024, "IKE task state: {ike} bytes");
    }

    /// A gateway with an outer address per tunnel has these tasks per address too. Before they
    /// waited by polling and boxed their batches, they took 896 (UDP 4500), 768 (raw ESP) and
    /// 384 bytes (UDP 500) in a release build, task header included (heaptrack).
    #[test]
    fn per_address_tasks_stay_small() {
        let sizes = [
            ("UDP 4500", future_size3(inbound::udp4500_loop)),
            ("raw ESP", future_size2(inbound::raw_loop)),
            ("UDP 500", future_size3(inbound::udp500_loop)),
        ];
        for (task, size) in sizes {
            assert!(size <= 96, "{task} receive task state: {size} bytes");
        }
    }

    fn future_size2<A, B, F: FnOnce(A, B) -> Fut, Fut>(_: F) -> usize {
        std::mem::size_of::<Fut>()
    }

    fn future_size3<A, B, C, F: FnOnce(A, B, C) -> Fut, Fut>(_: F) -> usize {
        std::mem::size_of::<Fut>()
    }
}
