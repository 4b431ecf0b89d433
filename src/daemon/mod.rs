//! The running gateway: opens TUN devices and sockets, installs routes and SAs, runs the packet
//! tasks, and tears everything down again.

pub mod dataplane;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tokio::task::JoinHandle;

use crate::config::{Config, InterfaceConfig, Keying, Mtu, NatTraversal, Prefix, TcpMss};
use crate::crypto::EspKeys;
use crate::esp::{EspTransform, InboundSa, OutboundSa, SaTable};
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
        dest: Prefix,
        /// Interface.
        dev: String,
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
    routes: Vec<(Prefix, u32)>,
    tasks: Vec<JoinHandle<()>>,
}

/// Worst-case ESP overhead of a suite on the wire, outer IP header included.
pub fn esp_overhead(keys: &EspKeys, outer_v6: bool, udp_encap: bool) -> usize {
    let t_hdr = 8 + keys.enc.iv_len();
    let trailer = keys.enc.block_len() - 1 + 2 + keys.enc.aead_icv_len() + keys.integ.icv_len();
    (if outer_v6 { 40 } else { 20 }) + if udp_encap { 8 } else { 0 } + t_hdr + trailer
}

/// The MTU an interface gets: fixed, or 1500 minus the worst-case overhead.
pub fn interface_mtu(cfg: &InterfaceConfig) -> u16 {
    match cfg.mtu {
        Mtu::Fixed(m) => m,
        Mtu::Auto => {
            let Keying::Manual { outbound, .. } = &cfg.keying;
            let encap = cfg.nat_traversal != NatTraversal::Disable;
            let o = esp_overhead(outbound, cfg.destination.is_ipv6(), encap);
            // The inner packet must stay a whole number of cipher blocks below the limit.
            (1500 - o) as u16
        }
    }
}

fn random_seed() -> [u8; 16] {
    let mut s = [0u8; 16];
    // getrandom only fails if the OS has no entropy source at all; then refuse to run.
    getrandom::fill(&mut s).expect("the OS random number generator is unavailable");
    s
}

impl Gateway {
    /// Opens everything the configuration describes and starts the packet tasks. On error,
    /// whatever was opened is closed again (TUN devices vanish with their descriptors).
    pub async fn start(cfg: &Config) -> Result<Gateway, StartError> {
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
            let udp4500 = udp(i.source, 4500).map_err(sock_err)?;
            let raw = if all_forced {
                None
            } else {
                Some(RawEsp::bind(i.source).map_err(sock_err)?)
            };
            transports.insert(
                i.source,
                Arc::new(Transport {
                    local: i.source,
                    udp4500,
                    raw,
                }),
            );
        }
        let sas = SaTable::new();
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
                "{} ⇄ {} ({:?})", i.source, i.destination, i.nat_traversal
            );
            let tunnel = Tunnel {
                index,
                cfg: i.clone(),
                tun: t.dev,
                mtu,
                mss,
                outbound: ArcSwapOption::empty(),
                transport: transports[&i.source].clone(),
                stats: TunnelStats::default(),
            };
            let Keying::Manual { outbound, inbound } = &i.keying;
            let keys_err = |msg| StartError::Keys {
                name: i.name.clone(),
                msg,
            };
            let out = OutboundSa::new(outbound, tunnel.manual_encap(), random_seed())
                .map_err(keys_err)?;
            tunnel.outbound.store(Some(Arc::new(out)));
            sas.insert(Arc::new(InboundSa::new(inbound, index).map_err(keys_err)?));
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
        let dp = Arc::new(DataPlane {
            tunnels: tunnels.iter().map(|(t, _)| t.clone()).collect(),
            sas,
            stats: GlobalStats::default(),
        });
        let mut tasks = Vec::new();
        for t in &dp.tunnels {
            tasks.push(tokio::spawn(dataplane::outbound_loop(t.clone())));
        }
        for tr in transports.values() {
            tasks.push(tokio::spawn(dataplane::udp_inbound_loop(
                dp.clone(),
                tr.clone(),
                Box::new(|_from, _msg| {}),
            )));
            if tr.raw.is_some() {
                tasks.push(tokio::spawn(dataplane::raw_inbound_loop(
                    dp.clone(),
                    tr.clone(),
                )));
            }
        }
        Ok(Gateway {
            dp,
            netlink,
            routes,
            tasks,
        })
    }

    /// Stops the tasks, removes the routes and closes the TUN devices.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        for (dest, idx) in &self.routes {
            if let Err(e) = self.netlink.del_route(*dest, *idx).await {
                tracing::warn!("removing route {dest}: {e}");
            }
        }
        for t in self.tasks {
            let _ = t.await;
        }
        // Dropping the last reference to each device closes it; the kernel then deletes it.
        drop(self.dp);
    }

    /// A human-readable table of tunnels and counters.
    pub fn status_text(&self) -> String {
        status_text(&self.dp)
    }
}

/// Formats counters of every tunnel (for `demo` and logs).
pub fn status_text(dp: &DataPlane) -> String {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let mut s = String::new();
    for t in &dp.tunnels {
        let (tp, tb) = t.stats.tx.get();
        let (rp, rb) = t.stats.rx.get();
        let out = t.outbound.load();
        let _ = writeln!(
            s,
            "{:<8} {} ⇄ {}  mtu {}  out spi {}  tx {tp} pkts/{tb} B  rx {rp} pkts/{rb} B",
            t.cfg.name,
            t.cfg.source,
            t.cfg.destination,
            t.mtu,
            out.as_ref()
                .map(|o| format!("0x{:08x} ({})", o.spi, suite_name(&o.transform)))
                .unwrap_or("-".into()),
        );
        let drops: Vec<String> = crate::esp::DropReason::ALL
            .iter()
            .map(|r| format!("{} {}", r.name(), t.stats.rx_drops.get(*r)))
            .collect();
        let _ = writeln!(
            s,
            "         drops: {}, tx-no-sa {}, io-errors {}",
            drops.join(", "),
            t.stats.tx_no_sa.load(Relaxed),
            t.stats.io_errors.load(Relaxed)
        );
    }
    let _ = writeln!(
        s,
        "global: unknown-spi {}, runt {}, keepalives {}",
        dp.stats.no_sa.load(Relaxed),
        dp.stats.malformed.load(Relaxed),
        dp.stats.keepalives.load(Relaxed)
    );
    s
}

/// `aes128-gcm`, `aes256/hmac-sha256`, …
pub fn suite_name(t: &EspTransform) -> String {
    if t.enc().is_aead() {
        t.enc().config_name().to_string()
    } else {
        format!("{}/{}", t.enc().config_name(), t.integ().config_name())
    }
}
