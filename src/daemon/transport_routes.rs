//! Routing of transport-mode tunnels. Without kernel XFRM, the host's own packets to a
//! transport-mode peer reach ikegate through the tunnel's TUN: a policy-routing rule sends
//! every unmarked packet to a table that routes the peer's address into the TUN, and ikegate's
//! sockets carry the mark, so IKE and ESP to the same address take the normal route. Set up at
//! start, idempotent (an existing rule is kept), removed at shutdown; the peer routes also
//! vanish with their TUN if the process dies.

use std::net::IpAddr;

use super::StartError;
use crate::config::{Config, InterfaceConfig};
use crate::ike::EspMode;
use crate::io::route::{Netlink, TRANSPORT_FWMARK, TRANSPORT_TABLE};

/// The `SO_MARK` for ikegate's sockets on `local`: set when a transport-mode tunnel uses that
/// address (its peer is routed into the TUN for every unmarked packet).
pub(super) fn socket_mark(cfg: &Config, local: IpAddr) -> Option<u32> {
    cfg.interfaces
        .iter()
        .any(|i| i.source == local && i.mode == EspMode::Transport)
        .then_some(TRANSPORT_FWMARK)
}

/// What [`install`] set up, for [`TransportRoutes::remove`].
#[derive(Debug, Default)]
pub(super) struct TransportRoutes {
    /// (peer, TUN index, local) of each peer route in [`TRANSPORT_TABLE`].
    peers: Vec<(IpAddr, u32, IpAddr)>,
    /// The rule families added (false = IPv4).
    rules: Vec<bool>,
}

/// Adds the rule of each family in use and one route per transport-mode tunnel
/// (`PEER dev TUN src LOCAL table 4500`).
pub(super) async fn install(
    netlink: &Netlink,
    tunnels: impl Iterator<Item = (&InterfaceConfig, u32)>,
) -> Result<TransportRoutes, StartError> {
    let mut done = TransportRoutes::default();
    for (cfg, if_index) in tunnels.filter(|(c, _)| c.mode == EspMode::Transport) {
        let v6 = cfg.destination.is_ipv6();
        let fail = |what: String, source| StartError::TransportRouting {
            dev: cfg.name.clone(),
            what,
            source,
        };
        if !done.rules.contains(&v6) {
            netlink.add_transport_rule(v6).await.map_err(|e| {
                fail(
                    format!("the rule `not fwmark {TRANSPORT_FWMARK:#x} lookup {TRANSPORT_TABLE}`"),
                    e,
                )
            })?;
            done.rules.push(v6);
        }
        netlink
            .add_peer_route(cfg.destination, if_index, cfg.source)
            .await
            .map_err(|e| {
                fail(
                    format!(
                        "the route {} via {} in table {TRANSPORT_TABLE}",
                        cfg.destination, cfg.name
                    ),
                    e,
                )
            })?;
        tracing::info!(
            tunnel = %cfg.name,
            "transport mode: this host's packets to {} go through {} (rule `not fwmark {:#x} \
             lookup {}`; ikegate's own sockets carry the mark)",
            cfg.destination, cfg.name, TRANSPORT_FWMARK, TRANSPORT_TABLE
        );
        done.peers.push((cfg.destination, if_index, cfg.source));
    }
    if !done.rules.is_empty() {
        warn_strict_rp_filter();
    }
    Ok(done)
}

impl TransportRoutes {
    /// Removes the peer routes and the rules (failures are logged: shutdown goes on).
    pub(super) async fn remove(&self, netlink: &Netlink) {
        for (peer, idx, local) in &self.peers {
            if let Err(e) = netlink.del_peer_route(*peer, *idx, *local).await {
                tracing::warn!("removing the transport-mode route to {peer}: {e}");
            }
        }
        for v6 in &self.rules {
            if let Err(e) = netlink.del_transport_rule(*v6).await {
                tracing::warn!("removing the transport-mode rule: {e}");
            }
        }
    }
}

/// Strict reverse-path filtering (`rp_filter = 1`) drops the peer's IKE and ESP: its source
/// address routes into the TUN now, not out of the interface it arrives on. Loose (2) or off
/// (0) is needed; say so once at start.
fn warn_strict_rp_filter() {
    let read = |k: &str| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{k}/rp_filter"))
            .ok()
            .and_then(|s| s.trim().parse::<u8>().ok())
    };
    if read("all") == Some(1) {
        tracing::warn!(
            "net.ipv4.conf.all.rp_filter is 1 (strict): the kernel will drop IKE and ESP from \
             IPv4 transport-mode peers, because their address now routes into the TUN; set it \
             to 2 (loose): sysctl -w net.ipv4.conf.all.rp_filter=2"
        );
    }
}
