//! Configuration: YAML (SEIL-shaped keys) into validated types. Every error names the key path
//! and what to write instead; all errors are collected, not just the first.

pub mod admin;
mod certificate;
#[doc(hidden)]
pub mod fuzzing;
mod ike;
mod mode;
pub mod node;
mod phase1;
pub mod pq;
pub mod remote_access;
#[cfg(test)]
mod tests;
mod warnings;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::crypto::{EncAlg, EspKeys, IntegAlg};
use crate::ike::IkePolicy;
pub use crate::ike::Subnet;
pub use admin::{AdminConfig, TlsFiles};
pub use ike::{parse_proposals, parse_proxy_ids};
pub use node::ConfigError;
use node::{child, entries, parse_hex_key, read_secret_file, Errors, Node};
pub use remote_access::{ModeCfg, RaAuth, RemoteAccessConfig, UserSource};
pub use warnings::weak_settings;

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tunnel interfaces, in file order.
    pub interfaces: Vec<InterfaceConfig>,
    /// Routes to install through the tunnels.
    pub routes: Vec<RouteConfig>,
    /// The admin API (`admin:`), if configured.
    pub admin: Option<AdminConfig>,
    /// How initiations are paced (`initiation:`).
    pub initiation: InitiationConfig,
}

/// `initiation:` settings shared by every tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitiationConfig {
    /// `max-half-open-per-source`: phase-1 negotiations we initiate and keep half-open at once
    /// from one local address, over all peers (`None`: `unlimited`). See [`crate::ike::pacing`].
    pub max_half_open_per_source: Option<usize>,
    /// `slot-reuse-delay-ms`: how long a freed half-open slot stays unused before the next
    /// waiting tunnel sends (see [`crate::ike::pacing::SLOT_REUSE_DELAY`]).
    pub slot_reuse_delay: std::time::Duration,
}

impl Default for InitiationConfig {
    fn default() -> Self {
        InitiationConfig {
            max_half_open_per_source: Some(crate::ike::pacing::DEFAULT_MAX_HALF_OPEN),
            slot_reuse_delay: crate::ike::pacing::SLOT_REUSE_DELAY,
        }
    }
}

impl Config {
    /// What `ikegate check` warns about without refusing the file: our certificates outside
    /// their validity period at `now_unix`.
    /// Also every weak setting (see [`weak_settings`]).
    pub fn warnings(&self, now_unix: i64) -> Vec<String> {
        let mut out = weak_settings(self);
        for i in &self.interfaces {
            if let Keying::Ike(p) = &i.keying {
                if let Some(c) = p.auth.certificate() {
                    out.extend(
                        c.own_validity_warnings(now_unix)
                            .into_iter()
                            .map(|w| format!("interfaces.{}.ike.{w}", i.name)),
                    );
                }
            }
        }
        out
    }
}

/// How ESP travels (SEIL `nat-traversal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatTraversal {
    /// Raw ESP (IP protocol 50) only.
    Disable,
    /// UDP encapsulation when a NAT is detected (with IKE); raw ESP otherwise.
    Enable,
    /// Always UDP-encapsulate on port 4500.
    Force,
}

/// The tunnel MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mtu {
    /// 1500 minus the worst-case ESP overhead of the configured suites and encapsulation.
    Auto,
    /// A fixed MTU.
    Fixed(u16),
}

/// TCP MSS clamping (SEIL `tcp mss limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpMss {
    /// Clamp to what fits the tunnel MTU.
    Auto,
    /// Clamp to a fixed value.
    Fixed(u16),
    /// Do not touch TCP SYNs.
    Disable,
}

/// Where the ESP keys of an interface come from.
#[derive(Debug, Clone)]
pub enum Keying {
    /// Manual keys, like `setkey`.
    Manual {
        /// Keys we seal with (the peer's inbound SA).
        outbound: EspKeys,
        /// Keys we open with.
        inbound: EspKeys,
    },
    /// IKE (version 1 or 2, [`IkePolicy::version`]) with a pre-shared key. Shared, not copied,
    /// with the running tunnel's engine and the admin API.
    Ike(std::sync::Arc<IkePolicy>),
}

/// One tunnel interface (`interfaces.ipsec0`).
#[derive(Debug, Clone)]
pub struct InterfaceConfig {
    /// Interface (TUN device) name, e.g. `ipsec0`.
    pub name: String,
    /// Our outer address.
    pub source: IpAddr,
    /// The peer's outer address (unspecified with `destination: dynamic`).
    pub destination: IpAddr,
    /// `destination: dynamic`: the peer's address is learned from IKE (a road warrior, chosen
    /// by its Aggressive Mode identity).
    pub dynamic_peer: bool,
    /// Raw ESP or UDP encapsulation.
    pub nat_traversal: NatTraversal,
    /// Tunnel MTU.
    pub mtu: Mtu,
    /// MSS clamping.
    pub tcp_mss: TcpMss,
    /// Key source.
    pub keying: Keying,
    /// Tunnel or transport mode (`mode:`); transport mode routes the peer's address into the
    /// TUN (see `daemon::transport_routes`).
    pub mode: crate::ike::EspMode,
    /// `remote-access:`: many clients with virtual addresses on this interface.
    pub remote_access: Option<RemoteAccessConfig>,
}

/// A route through a tunnel (`route.ipv4[]` / `route.ipv6[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// Destination prefix.
    pub destination: Subnet,
    /// Interface name the route points at.
    pub gateway: String,
    /// Preferred source address for locally originated packets (netlink `prefsrc`).
    pub source: Option<IpAddr>,
}

/// Parses a prefix such as `192.168.2.0/24` (a bare address is a host prefix), refusing host
/// bits (a likely typo: `192.168.2.1/24` probably meant `192.168.2.0/24`).
pub fn parse_prefix(s: &str) -> Result<Subnet, String> {
    let p: Subnet = s.parse()?;
    let given: IpAddr = s
        .split('/')
        .next()
        .and_then(|a| a.trim().parse().ok())
        .ok_or_else(|| format!("'{s}' is not an IP subnet"))?;
    if p.addr() != given {
        return Err(format!("{s} has host bits set; the network is {p}"));
    }
    Ok(p)
}

/// Loads and validates a configuration file. On failure returns every error found.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            path: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
        }]
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &base)
}

/// Parses configuration text; relative file paths in it are resolved against `base`.
pub fn parse(text: &str, base: &Path) -> Result<Config, Vec<ConfigError>> {
    let value: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| {
        vec![ConfigError {
            path: String::new(),
            message: format!("not valid YAML: {e}"),
        }]
    })?;
    let mut errs = Errors::default();
    let cfg = parse_root(&Node::root(&value), base, &mut errs);
    match cfg {
        Some(c) if errs.0.is_empty() => Ok(c),
        _ => {
            if errs.0.is_empty() {
                errs.push("", "the configuration is empty; see config.example.yaml");
            }
            Err(errs.0)
        }
    }
}

fn parse_root(root: &Node<'_>, base: &Path, errs: &mut Errors) -> Option<Config> {
    let m = root.block(errs, &["interfaces", "route", "admin", "initiation"])?;
    let mut interfaces = Vec::new();
    match child(m, root, "interfaces") {
        Some(n) => match n.value {
            yaml_serde::Value::Mapping(im) if !im.is_empty() => {
                for (name, node) in entries(im, &n) {
                    if let Some(i) = parse_interface(&name, &node, base, errs) {
                        interfaces.push(i);
                    }
                }
            }
            _ => n.error(
                errs,
                "expected tunnels by name, e.g. `ipsec0: { ipv4: { … }, … }`",
            ),
        },
        None => errs.push(
            "interfaces",
            "missing: declare at least one tunnel, e.g. `interfaces: { ipsec0: { … } }`",
        ),
    }
    let mut routes = Vec::new();
    if let Some(r) = child(m, root, "route") {
        if let Some(rm) = r.block(errs, &["ipv4", "ipv6"]) {
            for fam in ["ipv4", "ipv6"] {
                if let Some(list) = child(rm, &r, fam) {
                    for item in list.list(errs) {
                        if let Some(rc) = parse_route(&item, fam == "ipv6", errs) {
                            routes.push(rc);
                        }
                    }
                }
            }
        }
    }
    let admin = child(m, root, "admin").and_then(|a| admin::parse_admin(&a, base, errs));
    let initiation = child(m, root, "initiation")
        .map(|n| parse_initiation(&n, errs))
        .unwrap_or_default();
    validate_global(&interfaces, &routes, errs);
    Some(Config {
        interfaces,
        routes,
        admin,
        initiation,
    })
}

fn parse_initiation(n: &Node<'_>, errs: &mut Errors) -> InitiationConfig {
    let mut c = InitiationConfig::default();
    let Some(m) = n.block(errs, &["max-half-open-per-source", "slot-reuse-delay-ms"]) else {
        return c;
    };
    if let Some(v) = child(m, n, "slot-reuse-delay-ms") {
        if let Some(ms) = v.uint(errs, 0, 1000, "25") {
            c.slot_reuse_delay = std::time::Duration::from_millis(ms);
        }
    }
    if let Some(v) = child(m, n, "max-half-open-per-source") {
        c.max_half_open_per_source = if v.value.as_str() == Some("unlimited") {
            None
        } else {
            v.uint(errs, 1, 100_000, "5` or `unlimited")
                .map(|x| x as usize)
        };
    }
    c
}

const INTERFACE_KEYS: &[&str] = &[
    "ipv4",
    "ipv6",
    "nat-traversal",
    "preshared-key",
    "preshared-key-file",
    "responder-only",
    "ike",
    "mtu",
    "tcp-mss",
    "manual-sa",
    "mode",
    "remote-access",
];

fn parse_interface(
    name: &str,
    n: &Node<'_>,
    base: &Path,
    errs: &mut Errors,
) -> Option<InterfaceConfig> {
    if name.is_empty()
        || name.len() > 15
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        n.error(
            errs,
            format!("\"{name}\" cannot be an interface name: use 1-15 letters, digits, '-', '_' (e.g. ipsec0)"),
        );
    }
    let m = n.block(errs, INTERFACE_KEYS)?;
    let mut addrs = None;
    let mut dynamic_peer = false;
    let mut destination_path = String::new();
    for fam in ["ipv4", "ipv6"] {
        let Some(a) = child(m, n, fam) else { continue };
        if addrs.is_some() {
            a.error(
                errs,
                "give the outer addresses once, either `ipv4:` or `ipv6:`",
            );
            continue;
        }
        if let Some(am) = a.block(errs, &["source", "destination"]) {
            let get = |k: &str, errs: &mut Errors| match child(am, &a, k) {
                Some(v) => v.ip(errs, example_addr(fam, k)),
                None => {
                    let ex = example_addr(fam, k);
                    errs.push(
                        &a.child_path(k),
                        format!("missing: the {k} address, e.g. `{k}: {ex}`"),
                    );
                    None
                }
            };
            let s = get("source", errs);
            let d = match child(am, &a, "destination") {
                Some(v) if v.value.as_str() == Some("dynamic") => {
                    dynamic_peer = true;
                    destination_path = v.path().to_string();
                    Some(if fam == "ipv4" {
                        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
                    } else {
                        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                    })
                }
                _ => get("destination", errs),
            };
            if let (Some(s), Some(d)) = (s, d) {
                if s.is_ipv4() != (fam == "ipv4") || d.is_ipv4() != (fam == "ipv4") {
                    a.error(
                        errs,
                        format!("both addresses under `{fam}` must be {fam} addresses"),
                    );
                } else {
                    addrs = Some((s, d));
                }
            }
        }
    }
    if addrs.is_none() && !m.contains_key("ipv4") && !m.contains_key("ipv6") {
        n.error(
            errs,
            "missing outer addresses: add `ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }`",
        );
    }
    let nat_traversal = child(m, n, "nat-traversal")
        .and_then(|v| {
            v.choice(
                errs,
                &[
                    ("disable", NatTraversal::Disable),
                    ("enable", NatTraversal::Enable),
                    ("force", NatTraversal::Force),
                ],
            )
        })
        .unwrap_or(NatTraversal::Enable);
    let mtu = match child(m, n, "mtu") {
        Some(v) if v.value.as_str() == Some("auto") => Mtu::Auto,
        Some(v) => v
            .uint(errs, 576, 9000, "1400")
            .map(|x| Mtu::Fixed(x as u16))
            .unwrap_or(Mtu::Auto),
        None => Mtu::Auto,
    };
    let tcp_mss = match child(m, n, "tcp-mss") {
        Some(v) if v.value.as_str() == Some("auto") => TcpMss::Auto,
        Some(v) if matches!(v.value.as_str(), Some("disable") | Some("none")) => TcpMss::Disable,
        Some(v) => v
            .uint(errs, 536, 8960, "auto")
            .map(|x| TcpMss::Fixed(x as u16))
            .unwrap_or(TcpMss::Auto),
        None => TcpMss::Auto,
    };
    let keying = match (child(m, n, "manual-sa"), child(m, n, "ike")) {
        (Some(ms), None) => {
            for k in ["preshared-key", "preshared-key-file", "responder-only"] {
                if let Some(x) = child(m, n, k) {
                    x.error(
                        errs,
                        "only used with IKE keying (`ike:`); remove it or the `manual-sa:` block",
                    );
                }
            }
            parse_manual_sa(&ms, base, errs)
        }
        (Some(ms), Some(_)) => {
            ms.error(
                errs,
                "`manual-sa` and `ike` are mutually exclusive: keep one of them",
            );
            None
        }
        (None, Some(ike)) => match addrs {
            Some((local, remote)) => {
                ike::parse_ike(&ike, m, n, local, remote, nat_traversal, base, errs)
                    .map(|p| Keying::Ike(std::sync::Arc::new(p)))
            }
            None => None,
        },
        (None, None) => {
            n.error(
                errs,
                "no keys: add an `ike:` block (with `preshared-key`) or a `manual-sa:` block",
            );
            None
        }
    };
    let remote_access = child(m, n, "remote-access").and_then(|r| {
        let ra = remote_access::parse(&r, base, errs)?;
        check_remote_access(&r, &ra, dynamic_peer, keying.as_ref(), errs);
        Some(ra)
    });
    if dynamic_peer && !m.contains_key("remote-access") {
        check_dynamic_peer(n, &destination_path, keying.as_ref(), errs);
    }
    let mut keying = keying;
    let esp_mode = mode::parse_mode(m, n, errs);
    mode::apply_mode(esp_mode, n, dynamic_peer, keying.as_mut(), errs);
    let (source, destination) = addrs?;
    Some(InterfaceConfig {
        name: name.to_string(),
        source,
        destination,
        dynamic_peer,
        nat_traversal,
        mtu,
        tcp_mss,
        keying: keying?,
        mode: esp_mode,
        remote_access,
    })
}

/// What a `remote-access:` block needs from its interface, and what is not served yet.
fn check_remote_access(
    r: &Node<'_>,
    ra: &RemoteAccessConfig,
    dynamic_peer: bool,
    keying: Option<&Keying>,
    errs: &mut Errors,
) {
    if !dynamic_peer {
        r.error(
            errs,
            "a remote-access interface serves many clients from anywhere: write \
             `destination: dynamic` under the interface's `ipv4:`/`ipv6:`",
        );
    }
    let Some(keying) = keying else { return };
    let Keying::Ike(p) = keying else {
        r.error(
            errs,
            "remote access needs IKE keying (`ike:`), not `manual-sa`",
        );
        return;
    };
    let eap = ra.eap_method();
    if let (Some(eap), None) = (eap, p.auth.certificate()) {
        errs.push(
            &r.child_path("auth"),
            format!(
                "with `auth: {}` the gateway proves itself with a certificate (clients check \
                 it before sending a password): add `ike.certificate: {{ … }}`",
                eap.name()
            ),
        );
    }
    if p.auth.certificate().is_some() && !p.psk.is_empty() {
        let v1 = ra.auth_for(crate::ike::IkeVersion::V1, p.version);
        if v1.is_none() {
            errs.push(
                &r.child_path("auth"),
                format!(
                    "the interface has a pre-shared key beside `ike.certificate`: that key is the \
                     IKEv1 clients' group key, but `auth: {}` serves no IKEv1 client: remove the \
                     key, or add `xauth` (e.g. `auth: [xauth, eap-mschapv2]`)",
                    ra.auth_names()
                ),
            );
        }
    }
    for (key, msg) in remote_access::unserved(ra, p.version) {
        let path = if key.is_empty() {
            r.path().to_string()
        } else {
            r.child_path(key)
        };
        errs.push(&path, msg);
    }
}

/// A tunnel with `destination: dynamic` learns the peer's address from IKE: only a responder
/// can do that, and only Aggressive Mode names the peer (IDii) before the key is needed, so the
/// tunnel (and its pre-shared key) is chosen by `peers-identifier`. IKEv2 cannot do it yet: its
/// responder would have to pick the tunnel from IDi, which arrives encrypted in IKE_AUTH.
fn check_dynamic_peer(n: &Node<'_>, destination: &str, keying: Option<&Keying>, errs: &mut Errors) {
    let Some(keying) = keying else { return };
    let Keying::Ike(p) = keying else {
        n.error(
            errs,
            "`destination: dynamic` needs IKE keying: manual SAs need the peer's address",
        );
        return;
    };
    if p.version == crate::ike::IkeVersion::V2 {
        errs.push(
            destination,
            "`destination: dynamic` is not supported for IKEv2 yet (the IKEv2 responder cannot \
             yet choose a tunnel by the identity in IKE_AUTH): give the peer's address, or use \
             `ike.version: 1` with `exchange-mode: aggressive` for this road warrior",
        );
        return;
    }
    if !p.responder_only {
        errs.push(
            &n.child_path("responder-only"),
            "a tunnel with `destination: dynamic` cannot initiate (the peer's address is not \
             known): set `responder-only: enable`",
        );
    }
    if p.exchange_mode != crate::ike::ExchangeMode::Aggressive {
        errs.push(
            &n.child_path("ike.exchange-mode"),
            "`destination: dynamic` needs `exchange-mode: aggressive`: in Main Mode the peer's \
             identity comes only after the pre-shared key is used, so the key could be chosen \
             by address only",
        );
    }
    match &p.peer_id {
        Some(crate::ike::Identity::Address(_)) | None => errs.push(
            &n.child_path("ike.peers-identifier"),
            "`destination: dynamic` needs the identity the peer sends, to pick this tunnel: \
             e.g. `peers-identifier: { fqdn: client.example.net }` (fqdn, user-fqdn or key-id)",
        ),
        Some(_) => {}
    }
}

fn example_addr(fam: &str, key: &str) -> &'static str {
    match (fam, key) {
        ("ipv4", "source") => "10.0.0.1",
        ("ipv4", _) => "10.0.0.2",
        (_, "source") => "2001:db8::1",
        _ => "2001:db8::2",
    }
}

fn parse_manual_sa(n: &Node<'_>, base: &Path, errs: &mut Errors) -> Option<Keying> {
    let m = n.block(errs, &["outbound", "inbound"])?;
    let mut get = |dir: &str| match child(m, n, dir) {
        Some(d) => parse_esp_keys(&d, base, errs),
        None => {
            errs.push(&n.child_path(dir), format!("missing: the {dir} SA, e.g. `{dir}: {{ spi: 0x1001, encryption: aes128-gcm, key: \"0x…\" }}`"));
            None
        }
    };
    let outbound = get("outbound");
    let inbound = get("inbound");
    Some(Keying::Manual {
        outbound: outbound?,
        inbound: inbound?,
    })
}

const ESP_KEYS: &[&str] = &[
    "spi",
    "encryption",
    "key",
    "key-file",
    "authentication",
    "authentication-key",
    "authentication-key-file",
];

fn parse_esp_keys(n: &Node<'_>, base: &Path, errs: &mut Errors) -> Option<EspKeys> {
    let m = n.block(errs, ESP_KEYS)?;
    let spi = match child(m, n, "spi") {
        Some(v) => v
            .uint(errs, 256, u32::MAX as u64, "0x1001")
            .map(|s| s as u32),
        None => {
            n.error(
                errs,
                "missing `spi` (256 or more; values 1-255 are reserved), e.g. `spi: 0x1001`",
            );
            None
        }
    };
    let enc_names: Vec<(&str, EncAlg)> =
        EncAlg::ALL.iter().map(|a| (a.config_name(), *a)).collect();
    let enc = match child(m, n, "encryption") {
        Some(v) => v.choice(errs, &enc_names),
        None => {
            n.error(errs, "missing `encryption`, e.g. `encryption: aes128-gcm`");
            None
        }
    };
    let integ_names: Vec<(&str, IntegAlg)> = IntegAlg::ALL
        .iter()
        .filter(|a| **a != IntegAlg::None)
        .map(|a| (a.config_name(), *a))
        .collect();
    let integ = match child(m, n, "authentication") {
        Some(v) => v.choice(errs, &integ_names),
        None => Some(IntegAlg::None),
    };
    let enc_key = secret(
        m,
        n,
        "key",
        base,
        errs,
        enc.is_some_and(|e| e != EncAlg::Null),
    );
    let integ_key = secret(
        m,
        n,
        "authentication-key",
        base,
        errs,
        integ.is_some_and(|i| i != IntegAlg::None),
    );
    // Key lengths are checked even when the SPI is wrong, so that both errors are reported.
    let keys = EspKeys {
        spi: spi.unwrap_or(0),
        enc: enc?,
        enc_key: enc_key?,
        integ: integ?,
        integ_key: integ_key?,
    };
    if let Err(e) = keys.validate() {
        n.error(errs, e);
        return None;
    }
    spi.map(|_| keys)
}

/// A hex key given inline (`key`) or in a file (`key-file`); empty when not `required` and absent.
fn secret(
    m: &yaml_serde::Mapping,
    n: &Node<'_>,
    key: &str,
    base: &Path,
    errs: &mut Errors,
    required: bool,
) -> Option<Zeroizing<Vec<u8>>> {
    let file_key = format!("{key}-file");
    let inline = child(m, n, key);
    let file = child(m, n, &file_key);
    let text: Zeroizing<String> = match (inline, file) {
        (Some(_), Some(f)) => {
            f.error(errs, format!("give `{key}` or `{file_key}`, not both"));
            return None;
        }
        (Some(v), None) => match v.value {
            yaml_serde::Value::String(s) => Zeroizing::new(s.clone()),
            _ => {
                v.error(
                    errs,
                    format!("write the key as a quoted hex string, e.g. `{key}: \"0x00112233…\"`"),
                );
                return None;
            }
        },
        (None, Some(f)) => {
            let p = resolve(base, f.str(errs, "/etc/ikegate/ipsec0.key")?);
            match read_secret_file(&p) {
                Ok(bytes) => match String::from_utf8(bytes.to_vec()) {
                    Ok(s) => Zeroizing::new(s),
                    Err(_) => {
                        f.error(
                            errs,
                            format!("{} must hold the key as hex text", p.display()),
                        );
                        return None;
                    }
                },
                Err(e) => {
                    f.error(errs, e);
                    return None;
                }
            }
        }
        (None, None) if required => {
            n.error(
                errs,
                format!("missing `{key}` (hex, e.g. `{key}: \"0x…\"`) or `{file_key}`"),
            );
            return None;
        }
        (None, None) => return Some(Zeroizing::new(Vec::new())),
    };
    match parse_hex_key(text.trim_start()) {
        Ok(k) => Some(k),
        Err(e) => {
            errs.push(&n.child_path(key), e);
            None
        }
    }
}

pub(crate) fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn parse_route(n: &Node<'_>, v6: bool, errs: &mut Errors) -> Option<RouteConfig> {
    let m = n.block(errs, &["destination", "gateway", "source"])?;
    let ex = if v6 {
        "2001:db8:2::/48"
    } else {
        "192.168.2.0/24"
    };
    let destination = match child(m, n, "destination") {
        Some(d) => {
            let s = d.str(errs, ex)?;
            match parse_prefix(s) {
                Ok(p) if p.addr().is_ipv6() == v6 => Some(p),
                Ok(_) => {
                    d.error(
                        errs,
                        format!(
                            "{s} is not an {} prefix; move it to the other list",
                            if v6 { "IPv6" } else { "IPv4" }
                        ),
                    );
                    None
                }
                Err(e) => {
                    d.error(errs, format!("{e}; write e.g. `destination: {ex}`"));
                    None
                }
            }
        }
        None => {
            n.error(
                errs,
                format!("missing `destination`, e.g. `destination: {ex}`"),
            );
            None
        }
    };
    let gateway = match child(m, n, "gateway") {
        Some(g) => g.str(errs, "ipsec0").map(str::to_string),
        None => {
            n.error(
                errs,
                "missing `gateway`: the tunnel interface, e.g. `gateway: ipsec0`",
            );
            None
        }
    };
    let source = child(m, n, "source")
        .and_then(|s| s.ip(errs, if v6 { "2001:db8:1::1" } else { "192.168.1.1" }));
    Some(RouteConfig {
        destination: destination?,
        gateway: gateway?,
        source,
    })
}

fn validate_global(interfaces: &[InterfaceConfig], routes: &[RouteConfig], errs: &mut Errors) {
    let names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
    let mut spis: BTreeMap<u32, &str> = BTreeMap::new();
    for i in interfaces {
        let Keying::Manual { inbound, .. } = &i.keying else {
            continue;
        };
        if let Some(other) = spis.insert(inbound.spi, &i.name) {
            errs.push(
                &format!("interfaces.{}.manual-sa.inbound.spi", i.name),
                format!(
                    "SPI 0x{:x} is already the inbound SPI of {other}; inbound SPIs must be unique",
                    inbound.spi
                ),
            );
        }
    }
    let mut seen = HashSet::new();
    let (mut n4, mut n6) = (0usize, 0usize);
    for r in routes {
        let (fam, idx) = if r.destination.addr().is_ipv4() {
            n4 += 1;
            ("ipv4", n4 - 1)
        } else {
            n6 += 1;
            ("ipv6", n6 - 1)
        };
        if !names.contains(&r.gateway.as_str()) {
            let hint = node::did_you_mean(&r.gateway, &names)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| format!("; configured interfaces: {}", names.join(", ")));
            errs.push(
                &format!("route.{fam}[{idx}].gateway"),
                format!("no interface named \"{}\"{hint}", r.gateway),
            );
        }
        if !seen.insert(r.destination) {
            errs.push(
                &format!("route.{fam}[{idx}].destination"),
                format!("{} is routed twice", r.destination),
            );
        }
    }
}
