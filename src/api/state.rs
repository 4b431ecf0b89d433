//! The one narrow interface between the admin API and the gateway: [`AdminState`]. Handlers see
//! nothing else. Reads copy published snapshots (lock-free loads of what the packet tasks and
//! the IKE control tasks publish); changes are commands sent to the task that owns the engine.
//! [`GatewayState`] implements it for a running [`crate::daemon::Gateway`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use futures::future::BoxFuture;

use super::error::ApiError;
use super::model;
use crate::config::{ConfigError, Keying, NatTraversal};
use crate::daemon::dataplane::{DataPlane, Tunnel};
use crate::daemon::ike::Command;
use crate::esp::DropReason;
use crate::ike::{EngineStatus, IkePolicy, Role};

/// What an operator can ask a tunnel to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Start phase 1 / phase 2 now if no SA is up.
    Initiate,
    /// Negotiate new SAs now (make-before-break), keeping traffic flowing.
    Rekey,
    /// Delete every SA of the tunnel and start over.
    Reset,
    /// Delete every SA of the tunnel and stop initiating (until [`Control::Initiate`]).
    Terminate,
}

/// A change to a tunnel's policy: gets the current one, returns the new one or the validation
/// errors (with key paths).
pub type PolicyUpdate = Box<dyn FnOnce(&IkePolicy) -> Result<IkePolicy, Vec<ConfigError>> + Send>;

/// Everything the admin API may read or do. One implementation talks to a running gateway;
/// tests use fakes.
pub trait AdminState: Send + Sync + 'static {
    /// Snapshots of every configured tunnel, in configuration order.
    fn tunnels(&self) -> Vec<model::Tunnel>;

    /// The snapshot of one tunnel.
    fn tunnel(&self, name: &str) -> Option<model::Tunnel> {
        self.tunnels().into_iter().find(|t| t.name == name)
    }

    /// Counters not attributable to a tunnel.
    fn global(&self) -> model::Global;

    /// The IKE policy the tunnel negotiates with now (configured or last PUT).
    fn policy(&self, name: &str) -> Result<IkePolicy, ApiError>;

    /// Applies `update` to the tunnel's policy atomically: concurrent updates are serialized, the
    /// last one wins, and a failed validation changes nothing. With `rekey_now`, renegotiates at
    /// once. Returns the policy now in force.
    fn update_policy<'a>(
        &'a self,
        name: &'a str,
        update: PolicyUpdate,
        rekey_now: bool,
    ) -> BoxFuture<'a, Result<IkePolicy, ApiError>>;

    /// Sends a control command to the tunnel's IKE task; the answer says what was done.
    fn control<'a>(&'a self, name: &'a str, c: Control) -> BoxFuture<'a, Result<String, ApiError>>;

    /// Wireshark `esp_sa` lines of every installed SA (both directions).
    fn esp_keys(&self) -> Vec<String>;

    /// The tunnel's negotiation transcript (asked from its IKE task, which records it).
    fn transcript<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<crate::ike::transcript::Exchange>, ApiError>> {
        Box::pin(async move {
            Err(ApiError::not_implemented(format!(
                "{name}: this gateway keeps no transcript"
            )))
        })
    }

    /// A subscription to the live events, if this gateway publishes them.
    fn events(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<crate::daemon::events::GatewayEvent>> {
        None
    }

    /// Wireshark `ikev1_decryption_table` lines of every established ISAKMP SA (asked from the
    /// IKE tasks, which own the keys).
    fn ikev1_keys(&self) -> BoxFuture<'_, Result<Vec<String>, ApiError>>;

    /// The remote-access interfaces, in configuration order.
    fn remote_access(&self) -> Vec<model::RemoteAccess> {
        Vec::new()
    }

    /// Disconnects client `id` of remote-access interface `name`; says what was done.
    fn disconnect_client<'a>(
        &'a self,
        name: &'a str,
        id: u64,
    ) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            Err(ApiError::not_implemented(format!(
                "{name}: this gateway cannot disconnect client {id}"
            )))
        })
    }
}

struct PolicySlot {
    /// Serializes read-modify-write of the policy (PUTs).
    write: tokio::sync::Mutex<()>,
    /// The policy in force, for lock-free reads.
    current: ArcSwap<IkePolicy>,
}

/// The IKE policies of the tunnels as the API changes them: reads are lock-free; updates of
/// one tunnel are serialized, validated, handed to the tunnel task, and only then published, so
/// concurrent PUTs never interleave (the last one wins) and a rejected one changes nothing.
pub struct PolicyStore {
    slots: HashMap<String, PolicySlot>,
}

impl PolicyStore {
    /// A store holding the given policies by tunnel name.
    pub fn new(policies: impl IntoIterator<Item = (String, Arc<IkePolicy>)>) -> PolicyStore {
        PolicyStore {
            slots: policies
                .into_iter()
                .map(|(n, p)| {
                    (
                        n,
                        PolicySlot {
                            write: tokio::sync::Mutex::new(()),
                            current: ArcSwap::new(p),
                        },
                    )
                })
                .collect(),
        }
    }

    /// The policy of `name` now.
    pub fn get(&self, name: &str) -> Option<Arc<IkePolicy>> {
        self.slots.get(name).map(|s| s.current.load_full())
    }

    /// Replaces the policy of `name` (e.g. after a configuration reload), waiting for any PUT
    /// in progress. Unknown names are ignored.
    pub async fn set(&self, name: &str, policy: Arc<IkePolicy>) {
        if let Some(slot) = self.slots.get(name) {
            let _guard = slot.write.lock().await;
            slot.current.store(policy);
        }
    }

    /// Runs `update` on the current policy and `apply` (which hands the result to the tunnel)
    /// under the tunnel's write lock, then publishes the result. `None` for an unknown name.
    pub async fn update<F, Fut>(
        &self,
        name: &str,
        update: PolicyUpdate,
        apply: F,
    ) -> Option<Result<IkePolicy, ApiError>>
    where
        F: FnOnce(Arc<IkePolicy>) -> Fut,
        Fut: std::future::Future<Output = Result<(), ApiError>>,
    {
        let slot = self.slots.get(name)?;
        let _guard = slot.write.lock().await;
        let current = slot.current.load_full();
        let new = match update(&current) {
            Ok(p) => p,
            Err(e) => return Some(Err(ApiError::invalid(e))),
        };
        // One copy, shared by the tunnel's engine and this store.
        let new = Arc::new(new);
        if let Err(e) = apply(new.clone()).await {
            return Some(Err(e));
        }
        slot.current.store(new.clone());
        Some(Ok((*new).clone()))
    }
}

/// [`AdminState`] of a running gateway: the data plane's shared state, plus the command channel
/// of each IKE tunnel's control task.
pub struct GatewayState {
    dp: Arc<DataPlane>,
    controls: HashMap<String, crate::daemon::ike::Control>,
    policies: PolicyStore,
    /// The remote-access interfaces' boards, in configuration order.
    remote_access: Vec<Arc<crate::ra::board::RaBoard>>,
}

/// How long a handler waits for a control task to take a command (its queue is short; a busy
/// task answers within milliseconds).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

impl GatewayState {
    /// Wraps the data plane and the IKE tasks' command senders (by tunnel index).
    pub fn new(
        dp: Arc<DataPlane>,
        controls: Vec<(usize, crate::daemon::ike::Control)>,
    ) -> GatewayState {
        let controls = controls
            .into_iter()
            .filter_map(|(i, tx)| dp.tunnels.get(i).map(|t| (t.cfg.name.clone(), tx)))
            .collect();
        let policies = PolicyStore::new(dp.tunnels.iter().filter_map(|t| match &t.cfg.keying {
            Keying::Ike(p) => Some((t.cfg.name.clone(), p.clone())),
            Keying::Manual { .. } => None,
        }));
        GatewayState {
            dp,
            controls,
            policies,
            remote_access: Vec::new(),
        }
    }

    /// Shows these remote-access interfaces (their tasks publish to the boards).
    pub fn with_remote_access(
        mut self,
        boards: Vec<Arc<crate::ra::board::RaBoard>>,
    ) -> GatewayState {
        self.remote_access = boards;
        self
    }

    /// Takes over the policies a configuration reload installed (see
    /// [`crate::daemon::Gateway::running_policies`]), so that GET shows and PUT starts from what
    /// the tunnels run with.
    pub async fn sync_policies(&self, policies: Vec<(String, Arc<IkePolicy>)>) {
        for (name, p) in policies {
            self.policies.set(&name, p).await;
        }
    }

    fn find(&self, name: &str) -> Result<&Arc<Tunnel>, ApiError> {
        self.dp
            .tunnels
            .iter()
            .find(|t| t.cfg.name == name)
            .ok_or_else(|| ApiError::unknown_tunnel(name, self.names()))
    }

    fn names(&self) -> Vec<String> {
        self.dp.tunnels.iter().map(|t| t.cfg.name.clone()).collect()
    }

    fn sender(&self, name: &str) -> Result<&crate::daemon::ike::Control, ApiError> {
        let t = self.find(name)?;
        match self.controls.get(name) {
            Some(tx) => Ok(tx),
            None if matches!(t.cfg.keying, Keying::Manual { .. }) => Err(ApiError::conflict(
                format!("{name} uses manual keys: there is no IKE negotiation to control"),
            )),
            None => Err(ApiError::unavailable(format!(
                "{name}: the IKE task is not running"
            ))),
        }
    }

    async fn send(&self, name: &str, cmd: Command) -> Result<(), ApiError> {
        let tx = self.sender(name)?;
        match tokio::time::timeout(COMMAND_TIMEOUT, tx.send(cmd)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(ApiError::unavailable(format!(
                "{name}: the IKE task has stopped"
            ))),
            Err(_) => Err(ApiError::unavailable(format!(
                "{name}: the IKE task did not take the command within {}s",
                COMMAND_TIMEOUT.as_secs()
            ))),
        }
    }
}

impl AdminState for GatewayState {
    fn tunnels(&self) -> Vec<model::Tunnel> {
        self.dp
            .tunnels
            .iter()
            .map(|t| {
                let lifetime = self
                    .policies
                    .get(&t.cfg.name)
                    .map(|p| p.phase1.lifetime_secs);
                snapshot(&self.dp, t, lifetime)
            })
            .collect()
    }

    fn global(&self) -> model::Global {
        let s = &self.dp.stats;
        model::Global {
            unknown_spi: s.no_sa.load(Relaxed),
            malformed: s.malformed.load(Relaxed),
            keepalives: s.keepalives.load(Relaxed),
            ike_messages: s.ike_messages.load(Relaxed),
            ike_queue_full: s.ike_queue_full.load(Relaxed),
            ike_unknown_peer: s.ike_unknown_peer.load(Relaxed),
            ike_cookies_sent: s.ike_cookies_sent.load(Relaxed),
            ike_first_messages_shed: s.ike_first_messages_shed.load(Relaxed),
        }
    }

    fn policy(&self, name: &str) -> Result<IkePolicy, ApiError> {
        let t = self.find(name)?;
        match self.policies.get(&t.cfg.name) {
            Some(p) => Ok((*p).clone()),
            None => Err(ApiError::conflict(format!(
                "{name} uses manual keys: it has no proposals or proxy-ids to negotiate"
            ))),
        }
    }

    fn update_policy<'a>(
        &'a self,
        name: &'a str,
        update: PolicyUpdate,
        rekey_now: bool,
    ) -> BoxFuture<'a, Result<IkePolicy, ApiError>> {
        Box::pin(async move {
            self.policy(name)?;
            self.policies
                .update(name, update, |p| self.apply_policy(name, p, rekey_now))
                .await
                .unwrap_or_else(|| Err(ApiError::unknown_tunnel(name, self.names())))
        })
    }

    fn control<'a>(&'a self, name: &'a str, c: Control) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            self.sender(name)?;
            self.control_command(name, c).await
        })
    }

    fn esp_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.dp.tunnels {
            let (l, r) = (t.cfg.source, t.peer_ip());
            for o in t.outbound.all() {
                out.push(crate::keys::esp_sa_line(l, r, o.export_keys()));
            }
            for sa in self.dp.sas.all().iter().filter(|s| s.tunnel == t.index) {
                out.push(crate::keys::esp_sa_line(r, l, sa.export_keys()));
            }
        }
        out
    }

    fn transcript<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<crate::ike::transcript::Exchange>, ApiError>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.send(name, Command::Transcript(tx)).await?;
            match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
                Ok(Ok(t)) => Ok(t),
                _ => Err(ApiError::unavailable(format!(
                    "{name}: the IKE task did not answer"
                ))),
            }
        })
    }

    fn events(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<crate::daemon::events::GatewayEvent>> {
        Some(self.dp.events.subscribe())
    }

    fn remote_access(&self) -> Vec<model::RemoteAccess> {
        self.remote_access
            .iter()
            .map(|b| (*b.snapshot()).clone())
            .collect()
    }

    fn disconnect_client<'a>(
        &'a self,
        name: &'a str,
        id: u64,
    ) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            let Some(board) = self.remote_access.iter().find(|b| b.name() == name) else {
                return Err(ApiError::conflict(format!(
                    "{name} is not a remote-access interface"
                )));
            };
            match tokio::time::timeout(COMMAND_TIMEOUT, board.disconnect(id)).await {
                Ok(Ok(done)) => Ok(done),
                Ok(Err(why)) => Err(ApiError::conflict(format!("{name}: {why}"))),
                Err(_) => Err(ApiError::unavailable(format!(
                    "{name}: the remote-access task did not answer"
                ))),
            }
        })
    }

    fn ikev1_keys(&self) -> BoxFuture<'_, Result<Vec<String>, ApiError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for (name, _) in self.controls.iter() {
                let (tx, rx) = tokio::sync::oneshot::channel();
                self.send(name, Command::ExportPhase1Keys(tx)).await?;
                match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
                    Ok(Ok(lines)) => out.extend(lines),
                    _ => {
                        return Err(ApiError::unavailable(format!(
                            "{name}: the IKE task did not answer"
                        )))
                    }
                }
            }
            Ok(out)
        })
    }
}

impl GatewayState {
    async fn apply_policy(
        &self,
        name: &str,
        new: Arc<IkePolicy>,
        rekey_now: bool,
    ) -> Result<(), ApiError> {
        self.send(name, Command::SetPolicy(new)).await?;
        if rekey_now {
            self.send(name, Command::Rekey).await?;
        }
        Ok(())
    }

    async fn control_command(&self, name: &str, c: Control) -> Result<String, ApiError> {
        let (cmd, words) = match c {
            Control::Initiate => (
                Command::Initiate,
                "initiate queued: phase 1 / phase 2 start now unless already up",
            ),
            Control::Rekey => (
                Command::Rekey,
                "rekey queued: new SAs are negotiated; the old ones carry traffic until then",
            ),
            Control::Reset => (
                Command::Reset,
                "reset queued: every SA is deleted (the peer is told) and negotiation starts over",
            ),
            Control::Terminate => (
                Command::Terminate,
                "terminate queued: every SA is deleted (the peer is told); no new negotiation \
                 starts from this side until `initiate`",
            ),
        };
        self.send(name, cmd).await?;
        Ok(words.to_string())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn role(r: Role) -> String {
    match r {
        Role::Initiator => "initiator".into(),
        Role::Responder => "responder".into(),
    }
}

fn pair(p: &crate::ike::ProxyId) -> model::ProxyIdPair {
    model::ProxyIdPair {
        local: p.local.to_string(),
        remote: p.remote.to_string(),
    }
}

fn count(c: &crate::esp::sa::Counters) -> model::PacketCount {
    let (packets, bytes) = c.get();
    model::PacketCount { packets, bytes }
}

/// Copies one tunnel's published state into its API snapshot.
fn snapshot(dp: &DataPlane, t: &Tunnel, p1_lifetime: Option<u32>) -> model::Tunnel {
    let out = t.outbound.load();
    let ike: Option<Arc<EngineStatus>> = t.ike_status.load_full();
    let s = &t.stats;
    let counters = model::Counters {
        tx: count(&s.tx),
        rx: count(&s.rx),
        rx_drops: DropReason::ALL
            .iter()
            .map(|r| (r.name().to_string(), s.rx_drops.get(*r)))
            .collect::<BTreeMap<_, _>>(),
        tx_no_sa: s.tx_no_sa.load(Relaxed),
        tx_policy: s.tx_policy.load(Relaxed),
        tx_malformed: s.tx_malformed.load(Relaxed),
        io_errors: s.io_errors.load(Relaxed),
    };
    let sa_counts = |inbound: u32, outbound: u32| {
        let i = dp
            .sas
            .get(inbound)
            .map(|sa| count(&sa.counters))
            .unwrap_or_default();
        let cur = out.get(outbound);
        let o = cur.map(|o| count(&o.counters)).unwrap_or_default();
        (i, o, cur.is_some())
    };
    let nat_traversal = match t.cfg.nat_traversal {
        NatTraversal::Disable => "disable",
        NatTraversal::Enable => "enable",
        NatTraversal::Force => "force",
    };
    let mut phase1 = Vec::new();
    let mut phase2 = Vec::new();
    let mut nat = None;
    let mut ike_counters = None;
    let mut last_error = None;
    let mut dpd = model::Dpd {
        state: "off".into(),
        ..Default::default()
    };
    match &t.cfg.keying {
        Keying::Manual { outbound, inbound } => {
            let (i, o, current) = sa_counts(inbound.spi, outbound.spi);
            phase2.push(model::Phase2Sa {
                inbound_spi: format!("0x{:08x}", inbound.spi),
                outbound_spi: format!("0x{:08x}", outbound.spi),
                proposal: out
                    .get(outbound.spi)
                    .map(|o| crate::crypto::suite_name(o.transform.enc(), o.transform.integ()))
                    .unwrap_or_default(),
                proxy_ids: model::ProxyIdPair {
                    local: "any".into(),
                    remote: "any".into(),
                },
                selectors: crate::esp::sa::any_selectors().iter().map(pair).collect(),
                role: "manual".into(),
                age_secs: None,
                expires_in_secs: None,
                udp_encap: match t.manual_encap() {
                    crate::esp::Encap::Udp(a) => Some(a.to_string()),
                    crate::esp::Encap::Raw(_) => None,
                },
                mode: "tunnel".into(),
                inbound: i,
                outbound: o,
                current,
            });
        }
        Keying::Ike(_) => {
            if let Some(st) = &ike {
                for p in &st.phase1 {
                    let age = p.age.map(|a| a.as_secs());
                    phase1.push(model::Phase1Sa {
                        role: role(p.role),
                        state: p.state.to_string(),
                        initiator_cookie: hex(&p.icookie),
                        responder_cookie: hex(&p.rcookie),
                        proposal: p.proposal.clone(),
                        peer: p.peer.to_string(),
                        local_port: p.local_port,
                        age_secs: age,
                        expires_in_secs: age
                            .zip(p1_lifetime)
                            .map(|(a, l)| u64::from(l).saturating_sub(a)),
                        peer_identity: p.peer_identity.clone(),
                        peer_dpd: p.peer_dpd,
                        key_exchanges: p.key_exchanges.clone(),
                        post_quantum: p.post_quantum,
                        peer_certificate: p.peer_certificate.as_ref().map(|c| {
                            model::PeerCertificate {
                                subject: c.subject.clone(),
                                issuer: c.issuer.clone(),
                                serial: c.serial.clone(),
                                not_before: c.not_before.clone(),
                                not_after: c.not_after.clone(),
                                fingerprint_sha256: c.fingerprint_sha256.clone(),
                            }
                        }),
                    });
                }
                if let Some(p) = st
                    .phase1
                    .iter()
                    .rev()
                    .find(|p| p.established_at.is_some())
                    .or(st.phase1.last())
                {
                    nat = Some(model::Nat {
                        detected: p.nat.local_behind_nat || p.nat.peer_behind_nat,
                        local_behind_nat: p.nat.local_behind_nat,
                        peer_behind_nat: p.nat.peer_behind_nat,
                        nat_t: p.nat.nat_t.to_string(),
                        floated: p.nat.floated,
                        mapped: st.peer.to_string(),
                    });
                    dpd.peer_supports_dpd = p.peer_dpd;
                }
                for c in &st.children {
                    let (i, o, current) = sa_counts(c.inbound_spi, c.outbound_spi);
                    phase2.push(model::Phase2Sa {
                        inbound_spi: format!("0x{:08x}", c.inbound_spi),
                        outbound_spi: format!("0x{:08x}", c.outbound_spi),
                        proposal: c.proposal.clone(),
                        proxy_ids: pair(&c.proxy_ids),
                        selectors: c.selectors.iter().map(pair).collect(),
                        role: role(c.role),
                        age_secs: Some(c.age.as_secs()),
                        expires_in_secs: Some(c.lifetime.saturating_sub(c.age).as_secs()),
                        udp_encap: c.udp_encap.map(|a| a.to_string()),
                        mode: c.mode.name().into(),
                        inbound: i,
                        outbound: o,
                        current,
                    });
                }
                let e = &st.stats;
                ike_counters = Some(model::IkeCounters {
                    received: e.received,
                    sent: e.sent,
                    retransmits: e.retransmits,
                    phase1_established: e.phase1_established,
                    phase2_established: e.phase2_established,
                    rekeys: e.phase2_established.saturating_sub(1),
                    failures: e.failures,
                    dropped: e.dropped_malformed
                        + e.dropped_unknown_cookie
                        + e.dropped_unsupported
                        + e.dropped_bad_hash
                        + e.dropped_unexpected
                        + e.dropped_half_open_limit
                        + e.dropped_rate_limit
                        + e.dropped_replay
                        + e.dropped_forged_informational,
                });
                last_error = st.last_error.clone();
                let d = &st.dpd;
                let ago = |t: Option<std::time::Instant>| {
                    t.map(|t| {
                        std::time::Instant::now()
                            .saturating_duration_since(t)
                            .as_secs()
                    })
                };
                dpd = model::Dpd {
                    state: d.state.to_string(),
                    enabled: d.state != "off",
                    interval_secs: d.interval.map(|i| i.as_secs()),
                    retries: Some(d.retries),
                    peer_supports_dpd: dpd.peer_supports_dpd,
                    peer_alive: match d.state {
                        "alive" | "probing" => Some(true),
                        "dead" => Some(false),
                        _ => None,
                    },
                    probes_outstanding: Some(d.probes_unanswered),
                    last_ack_secs_ago: ago(d.last_ack),
                    last_seen_secs_ago: ago(d.last_seen),
                    sequence: Some(d.sequence),
                    failures: d.deaths,
                };
            } else {
                ike_counters = Some(model::IkeCounters::default());
            }
        }
    }
    let state = match (&t.cfg.keying, out.is_empty()) {
        (_, false) => model::TunnelState::Up,
        (Keying::Ike(_), true) if !phase1.is_empty() || !phase2.is_empty() => {
            model::TunnelState::Connecting
        }
        _ => model::TunnelState::Down,
    };
    model::Tunnel {
        name: t.cfg.name.clone(),
        state,
        keying: match t.cfg.keying {
            Keying::Ike(_) => "ike".into(),
            Keying::Manual { .. } => "manual".into(),
        },
        ike_version: match &t.cfg.keying {
            Keying::Ike(p) if p.version == crate::ike::IkeVersion::V2 => Some(2),
            Keying::Ike(_) => Some(1),
            Keying::Manual { .. } => None,
        },
        local: t.cfg.source.to_string(),
        remote: match t.peer_ip() {
            a if t.cfg.dynamic_peer && a.is_unspecified() => "dynamic".into(),
            a if t.cfg.dynamic_peer => format!("dynamic ({a})"),
            a => a.to_string(),
        },
        nat_traversal: nat_traversal.into(),
        mtu: t.mtu,
        nat,
        phase1,
        phase2,
        dpd,
        counters,
        ike: ike_counters,
        last_error,
    }
}
