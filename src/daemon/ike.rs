//! The control task of one IKE tunnel: owns the sans-IO [`Engine`], feeds it datagrams and time,
//! sends what it asks, and turns its events into data-plane changes (install/remove SAs).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::dataplane::{DataPlane, Tunnel};
use super::mailbox;
use super::pacing::TaskGate as Gate;
use crate::esp::{Encap, InboundSa, OutboundSa};
use crate::ike::{Event, TunnelEngine as Engine};
use crate::wire::udp_encap::NON_ESP_MARKER;

/// An IKE message received for this tunnel.
#[derive(Debug)]
pub struct IkeDatagram {
    /// Our port it arrived on (500 or 4500).
    pub local_port: u16,
    /// The sender.
    pub from: SocketAddr,
    /// The ISAKMP message (non-ESP marker already removed).
    pub data: Vec<u8>,
}

/// What the control task is told from outside (signals, the admin API).
pub enum Command {
    /// Send Delete for every SA, then stop; reply when done.
    Shutdown(oneshot::Sender<()>),
    /// Bring the tunnel up now ([`Engine::initiate`]).
    Initiate,
    /// Rekey phase 2 now, make-before-break ([`Engine::rekey`]).
    Rekey,
    /// Delete every SA and start over ([`Engine::reset`]).
    Reset,
    /// Delete every SA and stop initiating, keeping the task ([`Engine::shutdown`]).
    Terminate,
    /// Use this policy from the next negotiation on ([`Engine::set_policy`]).
    SetPolicy(Arc<crate::ike::IkePolicy>),
    /// Reply with Wireshark key lines of the established IKE SAs: `ikev1_decryption_table` for
    /// an IKEv1 tunnel, `ikev2_decryption_table` for an IKEv2 one (explicit key export; the admin
    /// API asks only with `allow-key-export`).
    ExportPhase1Keys(oneshot::Sender<Vec<String>>),
    /// Reply with the negotiation transcript (the last exchanges, decoded).
    Transcript(oneshot::Sender<Vec<crate::ike::transcript::Exchange>>),
}

/// What a tunnel's IKE task receives, all on one queue ([`mailbox`]): the datagrams routed to
/// it and the commands from outside.
pub enum Inbox {
    /// An IKE message (boxed: a queue slot stays two words).
    Datagram(Box<IkeDatagram>),
    /// A command from a signal or the admin API.
    Command(Command),
}

/// The IKE task is gone (its queue is closed).
#[derive(Debug)]
pub struct TaskGone;

/// Sends commands to one tunnel's IKE task, through its queue.
#[derive(Clone)]
pub struct Control(mailbox::Sender<Inbox>);

impl Control {
    /// The command side of the queue `tx`.
    pub fn new(tx: mailbox::Sender<Inbox>) -> Control {
        Control(tx)
    }

    /// Queues `c`, waiting for room; an error means the task has stopped.
    pub async fn send(&self, c: Command) -> Result<(), TaskGone> {
        self.0.send(Inbox::Command(c)).await.map_err(|_| TaskGone)
    }
}

/// Where the control task appends Wireshark `esp_sa` lines (opt-in: `run --wireshark-keylog`).
#[derive(Clone, Debug)]
pub struct KeyLog(pub PathBuf);

impl KeyLog {
    fn append(&self, lines: &[String]) {
        Self::append_to(&self.0, lines);
    }

    /// IKEv2 SA keys go beside the ESP lines, in Wireshark's `ikev2_decryption_table` format,
    /// to `FILE.ikev2`.
    fn append_ikev2(&self, lines: &[String]) {
        let mut p = self.0.clone().into_os_string();
        p.push(".ikev2");
        Self::append_to(std::path::Path::new(&p), lines);
    }

    fn append_to(path: &std::path::Path, lines: &[String]) {
        let r = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| {
                use std::os::unix::fs::PermissionsExt;
                let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
                lines.iter().try_for_each(|l| writeln!(f, "{l}"))
            });
        if let Err(e) = r {
            tracing::warn!("cannot write the key log {}: {e}", path.display());
        }
    }
}

pub(super) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

fn random_seed() -> [u8; 16] {
    super::random_seed()
}

/// The system clock paired with the monotonic one, for certificate validity (the engine is
/// given it; it reads no clock itself). Refreshed before each datagram, so a clock step is
/// followed.
pub(super) fn wall_clock() -> crate::ike::auth::WallClock {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::ike::auth::WallClock::new(now(), unix)
}

/// Sleeps until an engine's `deadline`, forever without one.
pub(super) async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// Runs the tunnel's IKE until told to shut down, and reads its TUN (the outbound packets) in
/// between: one task per tunnel.
pub async fn run(
    dp: Arc<DataPlane>,
    tunnel: Arc<Tunnel>,
    mut engine: Engine,
    mut rx: mailbox::Receiver<Inbox>,
    keylog: Option<KeyLog>,
    mut gate: Gate,
) {
    let name = tunnel.cfg.name.clone();
    let turn = gate.waker();
    let mut out = Outbounds::default();
    let mut seen_no_sa = dp.stats.no_sa.load(std::sync::atomic::Ordering::Relaxed);
    // The once-a-second look at the traffic counters shares the engine's timer: one sleep per
    // idle task, not a second (boxed) one for an interval.
    let mut next_tick = now() + TICK;
    let mut tun = super::dataplane::TunReader::new(&tunnel);
    engine.set_wall_clock(wall_clock());
    engine.initiate(now());
    loop {
        // Its half-open limit reached, the engine answers new IKE_SA_INITs with a COOKIE
        // request: the receive loop can do that itself, before the queue (ike::front_door).
        // Told before the flush, so that no answer sent leaves the flag behind the engine.
        rx.set_shedding(engine.wants_cookies());
        // Boxed: its state lives only while it runs, not in every idle tunnel's task.
        Box::pin(flush(
            &dp,
            &tunnel,
            &mut engine,
            &mut out,
            keylog.as_ref(),
            &mut gate,
        ))
        .await;
        let deadline = engine.poll_timeout();
        let sleep = sleep_until(Some(deadline.map_or(next_tick, |d| d.min(next_tick))));
        tokio::pin!(sleep);
        // Until the engine has something to do: the TUN's packets in between need no flush.
        loop {
            tokio::select! {
                m = rx.recv() => {
                    // `Some(reply)`: stop, Delete sent for every SA, then answer (if asked to).
                    let stop = match m {
                        Some(Inbox::Datagram(m)) => {
                            engine.set_wall_clock(wall_clock());
                            handle_queued_datagrams(&tunnel, &mut engine, &mut rx, m);
                            None
                        }
                        Some(Inbox::Command(Command::Shutdown(done))) => Some(Some(done)),
                        Some(Inbox::Command(c)) => {
                            command(&mut engine, c);
                            None
                        }
                        // Every sender gone.
                        None => Some(None),
                    };
                    if let Some(done) = stop {
                        engine.shutdown(now());
                        Box::pin(flush(&dp, &tunnel, &mut engine, &mut out, keylog.as_ref(), &mut gate)).await;
                        tracing::info!(tunnel = %name, "IKE stopped (Delete sent for every SA)");
                        if let Some(d) = done {
                            let _ = d.send(());
                        }
                        return;
                    }
                    break;
                }
                () = &mut sleep => {
                    let at = now();
                    if deadline.is_some_and(|d| d <= at) {
                        engine.handle_timeout(at);
                    }
                    if next_tick <= at {
                        next_tick = at + TICK;
                        seen_no_sa = on_tick(&dp, &mut engine, &out, seen_no_sa);
                    }
                    break;
                }
                // A half-open slot is ours now: the flush sends the held opening message.
                () = turn.notified() => break,
                // Outbound packets: the tunnel's one task reads its TUN too (`false`: the device
                // is gone, and this branch is left out of the wait).
                true = std::future::poll_fn(|cx| tun.poll_readable(&tunnel, cx)) => {
                    tun_turn(&tunnel, &mut tun).await;
                }
            }
        }
    }
}

/// TUN batches one turn of the IKE task sends while the device stays readable, before it looks
/// at its queue and timers again (at most a few milliseconds of IKE latency under load).
const TUN_BATCHES_PER_TURN: usize = 16;

/// Reads, seals and sends what the TUN has, batch after batch while it stays readable (up to
/// [`TUN_BATCHES_PER_TURN`]): a bulk transfer does not pay for re-arming the task's other
/// waits after every batch. After the last batch the task's own wait looks at the device.
async fn tun_turn(tunnel: &Tunnel, tun: &mut super::dataplane::TunReader) {
    for batch in 1..=TUN_BATCHES_PER_TURN {
        tun.batch(tunnel).await;
        if batch == TUN_BATCHES_PER_TURN {
            return;
        }
        let readable = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(tun.poll_readable(tunnel, cx) == std::task::Poll::Ready(true))
        });
        if !readable.await {
            return;
        }
    }
}

/// Datagrams one turn of the IKE task hands its engine before it flushes: under a flood, the
/// transmits and the status are built once for a batch, not once per datagram.
const DATAGRAMS_PER_FLUSH: usize = 64;

/// Hands the engine `first` and the datagrams queued behind it (up to [`DATAGRAMS_PER_FLUSH`];
/// a command stops the batch and waits for the next turn).
fn handle_queued_datagrams(
    tunnel: &Tunnel,
    engine: &mut Engine,
    rx: &mut mailbox::Receiver<Inbox>,
    first: Box<IkeDatagram>,
) {
    let mut m = first;
    for handled in 1.. {
        let local = SocketAddr::new(tunnel.cfg.source, m.local_port);
        engine.handle_datagram(now(), local, m.from, &m.data);
        if handled == DATAGRAMS_PER_FLUSH {
            return;
        }
        match rx.try_recv_if(|i| matches!(i, Inbox::Datagram(_))) {
            Some(Inbox::Datagram(next)) => m = next,
            _ => return,
        }
    }
}

/// How often the task tells the engine the traffic counters and checks for ESP to unknown SPIs.
const TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// The once-a-second work: the engine learns the traffic counters (DPD idleness, lifetimes) and
/// ESP for SPIs nobody has (it rate-limits its reaction). Returns the unknown-SPI count seen.
fn on_tick(dp: &DataPlane, engine: &mut Engine, out: &Outbounds, seen_no_sa: u64) -> u64 {
    use std::sync::atomic::Ordering::Relaxed;
    let _ = report_traffic(dp, engine, out);
    let no_sa = dp.stats.no_sa.load(Relaxed);
    if no_sa > seen_no_sa {
        engine.unknown_spi(now(), dp.stats.last_unknown_spi.load(Relaxed));
    }
    no_sa
}

/// Carries out a command other than [`Command::Shutdown`].
fn command(engine: &mut Engine, c: Command) {
    match c {
        Command::Initiate => engine.initiate(now()),
        Command::Rekey => engine.rekey(now()),
        Command::Reset => engine.reset(now()),
        Command::Terminate | Command::Shutdown(_) => engine.shutdown(now()),
        Command::SetPolicy(p) => engine.set_policy(p, now()),
        Command::ExportPhase1Keys(reply) => {
            let _ = reply.send(engine.export_ike_keys());
        }
        Command::Transcript(reply) => {
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let _ = reply.send(engine.transcript(now(), unix));
        }
    }
}

/// Every outbound SA negotiated and not yet removed, by SPI, in use or not: [`Event::UseOutbound`]
/// puts one in the tunnel's selector table, replacing the SA of the same selector set.
/// The second field remembers the IKEv2 key-log lines already written, the third the DPD state
/// last announced as an event.
#[derive(Default)]
pub(super) struct Outbounds(
    std::collections::HashMap<u32, Arc<OutboundSa>>,
    std::collections::HashSet<String>,
    &'static str,
);

/// Tells the engine the data plane's byte counters of every pair (DPD idleness, proof that the
/// peer uses a new pair, volume lifetimes); returns the inner bytes (in, out) of all its pairs.
pub(super) fn report_traffic(dp: &DataPlane, engine: &mut Engine, outs: &Outbounds) -> (u64, u64) {
    let now = now();
    let pairs: Vec<(u32, u32)> = engine
        .status()
        .children
        .iter()
        .map(|c| (c.inbound_spi, c.outbound_spi))
        .collect();
    let mut total = (0, 0);
    for (spi_in, spi_out) in pairs {
        let rx = dp.sas.get(spi_in).map_or(0, |s| s.counters.get().1);
        let tx = outs.0.get(&spi_out).map_or(0, |s| s.counters.get().1);
        engine.child_traffic(now, spi_in, rx, tx);
        total = (total.0 + rx, total.1 + tx);
    }
    total
}

/// Sends every pending transmit the pacing gate lets through (first a held opening message
/// whose turn came), applies every pending event, publishes the status.
async fn flush(
    dp: &DataPlane,
    t: &Tunnel,
    engine: &mut Engine,
    out: &mut Outbounds,
    keylog: Option<&KeyLog>,
    gate: &mut Gate,
) {
    let resumed = gate.resume(now());
    let pending = resumed
        .into_iter()
        .chain(std::iter::from_fn(|| engine.poll_transmit()))
        .collect::<Vec<_>>();
    for tx in pending {
        if let Some(tx) = gate.admit(now(), tx) {
            send(t, tx).await;
        }
    }
    apply_events(dp, t, engine, out, keylog, &mut Some::<Event>);
    let status = engine.status();
    if status.dpd.state != out.2 {
        if !out.2.is_empty() {
            dp.events.publish(
                &t.cfg.name,
                "dpd",
                format!("DPD {} (was {})", status.dpd.state, out.2),
                None,
            );
        }
        out.2 = status.dpd.state;
    }
    gate.settle(now(), &status);
    t.ike_status.store(Some(Arc::new(status)));
}

/// Sends one IKE datagram of tunnel `t`'s engine (on port 4500 behind the non-ESP marker, a
/// NAT keepalive as the bare 0xFF byte).
pub(super) async fn send(t: &Tunnel, tx: crate::ike::Transmit) {
    let r = if tx.local_port == 4500 && tx.data == [0xff] {
        // NAT keepalive (RFC 3948): the bare 0xFF byte, no non-ESP marker.
        t.transport.udp4500.send_to(&tx.data, tx.remote).await
    } else if tx.local_port == 4500 {
        let mut d = Vec::with_capacity(tx.data.len() + 4);
        d.extend_from_slice(&NON_ESP_MARKER);
        d.extend_from_slice(&tx.data);
        t.transport.udp4500.send_to(&d, tx.remote).await
    } else {
        match &t.transport.udp500 {
            Some(s) => s.send_to(&tx.data, tx.remote).await,
            None => Err(std::io::Error::other("no UDP 500 socket")),
        }
    };
    if let Err(e) = r {
        tracing::warn!(tunnel = %t.cfg.name, "sending IKE to {} failed: {e}", tx.remote);
    }
}

/// Applies every pending event of `engine` to the data plane of `t`. `first` sees each event
/// before: it keeps what it handles itself (a remote-access client's login, which this tunnel
/// task cannot answer) and gives back the rest.
pub(super) fn apply_events(
    dp: &DataPlane,
    t: &Tunnel,
    engine: &mut Engine,
    out: &mut Outbounds,
    keylog: Option<&KeyLog>,
    first: &mut dyn FnMut(Event) -> Option<Event>,
) {
    let mut ike_up = false;
    while let Some(ev) = engine.poll_event() {
        let Some(ev) = first(ev) else { continue };
        ike_up |= matches!(ev, Event::Phase1Up { .. });
        apply(dp, t, ev, out, keylog);
    }
    if let (true, Some(k), crate::ike::IkeVersion::V2) = (ike_up, keylog, engine.version()) {
        // Each IKE SA's line once.
        let new: Vec<String> = engine
            .export_ike_keys()
            .into_iter()
            .filter(|l| out.1.insert(l.clone()))
            .collect();
        k.append_ikev2(&new);
    }
}

fn apply(dp: &DataPlane, t: &Tunnel, ev: Event, outs: &mut Outbounds, keylog: Option<&KeyLog>) {
    let name = &t.cfg.name;
    match ev {
        Event::Phase1Up {
            icookie,
            rcookie,
            role,
            proposal,
            peer,
            nat,
            peer_identity,
            ..
        } => {
            let v2 = matches!(&t.cfg.keying, crate::config::Keying::Ike(p) if p.version == crate::ike::IkeVersion::V2);
            let (what, ids) = if v2 {
                ("IKEv2 SA up", "SPIs")
            } else {
                ("phase 1 up", "cookies")
            };
            tracing::info!(
                tunnel = %name,
                "{what} as {role:?} with {peer} ({peer_identity}): {proposal}, {ids} {}:{}, {}",
                hex(&icookie),
                hex(&rcookie),
                nat_words(&nat)
            );
            let words = format!("{what} with {peer} ({peer_identity}): {proposal}");
            if t.cfg.dynamic_peer {
                dp.events
                    .publish(name, "client-connect", words.clone(), None);
            }
            dp.events.publish(name, "ike-up", words, None);
            if nat.local_behind_nat && t.cfg.mode == crate::ike::EspMode::Transport {
                tracing::warn!(
                    tunnel = %name,
                    "this host is behind a NAT (the peer sees another address than {}): \
                     transport mode protects the two hosts' own addresses, which the NAT \
                     changes, so the peer will refuse our proxy-id / traffic selectors, and \
                     ikegate does not do RFC 3948's NAT-OA checksum fix-up; use `mode: tunnel` \
                     through a NAT",
                    t.cfg.source
                );
            }
        }
        Event::Phase1Down {
            icookie,
            rcookie,
            reason,
        } => {
            tracing::info!(tunnel = %name, "phase 1 {}:{} down ({reason:?})", hex(&icookie), hex(&rcookie));
            dp.events.publish(
                name,
                "ike-down",
                format!(
                    "IKE SA {}:{} down ({reason:?})",
                    hex(&icookie),
                    hex(&rcookie)
                ),
                None,
            );
        }
        Event::ChildSaUp {
            inbound,
            outbound,
            remote,
            udp_encap,
            selectors,
            mode,
            lifetime,
            ..
        } => {
            let encap = udp_encap.map(Encap::Udp).unwrap_or(Encap::Raw(remote.ip()));
            let hosts = crate::esp::Hosts {
                local: t.cfg.source,
                remote: remote.ip(),
            };
            let transport = mode == crate::ike::EspMode::Transport;
            let client = t.client_offset(&selectors);
            let inb = InboundSa::new(&inbound, t.index).map(|s| {
                let s = match client {
                    Some(offset) => s.with_client(offset),
                    None => s,
                };
                if transport {
                    s.with_transport(hosts)
                } else {
                    s
                }
            });
            let out = OutboundSa::new(&outbound, encap, random_seed()).map(|s| {
                if transport {
                    s.with_transport()
                } else {
                    s
                }
            });
            let clash = dp
                .sas
                .get(inbound.spi)
                .filter(|other| other.tunnel != t.index);
            match (inb, out) {
                _ if clash.is_some() => {
                    // The engine avoids SPIs in the table; this needs a manual SA added since.
                    tracing::error!(
                        tunnel = %name,
                        "not installing inbound SA 0x{:08x}: another tunnel uses that SPI",
                        inbound.spi
                    );
                }
                _ if t.ra.is_some() && client.is_none() => {
                    tracing::error!(
                        tunnel = %name,
                        "not installing ESP SAs 0x{:08x}/0x{:08x}: their selectors {selectors:?} \
                         name no client address of this remote-access interface's pool",
                        inbound.spi,
                        outbound.spi
                    );
                }
                (Ok(inb), Ok(out)) => {
                    if selectors.is_empty() {
                        tracing::warn!(tunnel = %name, "ESP SAs 0x{:08x}/0x{:08x} have no traffic selectors: they will carry nothing", inbound.spi, outbound.spi);
                    }
                    let rekey = outs
                        .0
                        .values()
                        .any(|o| o.selectors() == selectors.as_slice());
                    dp.events.publish(
                        name,
                        if rekey { "rekey" } else { "child-up" },
                        format!(
                            "ESP SAs in 0x{:08x} out 0x{:08x}, {}, {selectors:?}{}",
                            inbound.spi,
                            outbound.spi,
                            crate::crypto::suite_name(outbound.enc, outbound.integ),
                            if rekey { " (rekeyed)" } else { "" }
                        ),
                        None,
                    );
                    let inb = inb.with_selectors(selectors.clone());
                    let out = out.with_selectors(selectors.clone());
                    dp.sas.insert(Arc::new(inb));
                    outs.0.insert(outbound.spi, Arc::new(out));
                    tracing::info!(
                        tunnel = %name,
                        "ESP SAs installed: in 0x{:08x} out 0x{:08x}, {}, {mode} mode, {:?}, {:?}, lifetime {}s",
                        inbound.spi, outbound.spi, crate::crypto::suite_name(outbound.enc, outbound.integ), selectors, encap, lifetime.as_secs()
                    );
                    if let Some(k) = keylog {
                        let (l, r) = (t.cfg.source, remote.ip());
                        k.append(&[
                            crate::keys::esp_sa_line(l, r, &outbound),
                            crate::keys::esp_sa_line(r, l, &inbound),
                        ]);
                    }
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(tunnel = %name, "cannot install the negotiated SAs: {e}");
                }
            }
        }
        Event::ChildSaDown {
            inbound_spi,
            outbound_spi,
            reason,
        } => {
            dp.sas.remove(inbound_spi);
            let removed = outs.0.remove(&outbound_spi);
            // Only if it is still the one in use for its selector set (after a rekey the new
            // pair replaced it already).
            let was_in_use = t.remove_outbound(outbound_spi, removed.as_deref());
            dp.events.publish(
                name,
                "child-down",
                format!(
                    "ESP SAs in 0x{inbound_spi:08x} out 0x{outbound_spi:08x} removed ({reason:?})"
                ),
                None,
            );
            tracing::info!(
                tunnel = %name,
                "ESP SAs removed: in 0x{inbound_spi:08x} out 0x{outbound_spi:08x} ({reason:?}){}",
                if was_in_use { ", its selectors have no outbound SA now" } else { "" }
            );
        }
        Event::UseOutbound { outbound_spi } => match outs.0.get(&outbound_spi) {
            Some(o) => {
                let old = t.use_outbound(o.clone());
                let text = format!(
                    "outbound traffic for {:?} now uses SPI 0x{outbound_spi:08x}{}",
                    o.selectors(),
                    old.map(|o| format!(" (was 0x{:08x})", o.spi))
                        .unwrap_or_default()
                );
                tracing::info!(tunnel = %name, "{text}");
                dp.events.publish(name, "outbound", text, None);
            }
            None => {
                tracing::warn!(tunnel = %name, "asked to use unknown outbound SPI 0x{outbound_spi:08x}")
            }
        },
        Event::PeerAddressChanged { remote } => {
            let mut moved = 0;
            for o in outs.0.values() {
                moved += usize::from(o.set_udp_remote(remote));
            }
            tracing::info!(tunnel = %name, "peer now at {remote} (authenticated IKE); ESP-in-UDP of {moved} SA(s) follows");
            dp.events
                .publish(name, "peer-moved", format!("peer now at {remote}"), None);
        }
        Event::PeerDead { remote } => {
            tracing::warn!(tunnel = %name, "peer {remote} declared dead by DPD; its SAs are cleared");
            dp.events.publish(
                name,
                "dpd",
                format!("peer {remote} declared dead by DPD; its SAs are cleared"),
                None,
            );
        }
        Event::Login(req) => {
            // Only a remote-access client's engine asks; this tunnel has no directory.
            tracing::warn!(tunnel = %name, "login request {:?} on a tunnel without remote access: ignored", req.ticket);
        }
        Event::Failed { cause } => {
            tracing::warn!(tunnel = %name, "{cause}");
            dp.events.publish(
                name,
                "failure",
                "negotiation failed".into(),
                Some(cause.to_string()),
            );
        }
        Event::FetchCrl { url, crls } => {
            tracing::info!(tunnel = %name, "fetching the CRL {url}");
            tokio::spawn(super::crl_fetch::fetch(url, crls));
        }
    }
}

/// NAT state in words for the log.
fn nat_words(n: &crate::ike::NatStatus) -> String {
    let who = match (n.local_behind_nat, n.peer_behind_nat) {
        (false, false) => "no NAT detected".to_string(),
        (true, false) => "we are behind a NAT".to_string(),
        (false, true) => "the peer is behind a NAT".to_string(),
        (true, true) => "both sides are behind NATs".to_string(),
    };
    match (n.nat_t, n.floated) {
        ("off", _) => format!("{who}, NAT-T not negotiated"),
        (d, true) => format!("{who}, NAT-T ({d}) on UDP 4500"),
        (d, false) => format!("{who}, NAT-T ({d}) available"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
