//! The IKE part of an interface block (SEIL's `interface.ipsec0.ike.*` names), into an
//! [`IkePolicy`].

use std::net::IpAddr;
use std::path::Path;

use yaml_serde::Mapping;
use zeroize::Zeroizing;

use super::node::{child, read_secret_file, Errors, Node};
use super::{parse_prefix, phase1, resolve, NatTraversal};
use crate::crypto::dh::DhGroup;
use crate::crypto::{EncAlg, IntegAlg};
use crate::ike::policy::{IkeVersion, NatTraversal as IkeNat};
use crate::ike::{Identity, IkePolicy, ProxyId};

const IKE_KEYS: &[&str] = &[
    "version",
    "exchange-mode",
    "my-identifier",
    "peers-identifier",
    "proposal",
    "dpd",
    "nat-keepalive",
    "aggressive-mode-third-message",
    "fragmentation",
    "fragment-size",
    "post-quantum",
    "certificate",
];

/// The range `ike.fragment-size` accepts: 576 is the datagram every IPv4 host must accept
/// (RFC 791), 9000 a jumbo frame; the default 1280 is the IPv6 minimum MTU, which fits every path.
const FRAGMENT_SIZE: std::ops::RangeInclusive<u64> = 576..=9000;

/// Parses `ike:` (with the interface's `preshared-key[-file]` and `responder-only`).
#[allow(clippy::too_many_arguments)]
pub(super) fn parse_ike(
    n: &Node<'_>,
    iface: &Mapping,
    iface_node: &Node<'_>,
    local: IpAddr,
    remote: IpAddr,
    nat: NatTraversal,
    base: &Path,
    errs: &mut Errors,
) -> Option<IkePolicy> {
    let m = n.block(errs, IKE_KEYS)?;
    let auth = child(m, n, "certificate").map(|c| super::certificate::certificate(&c, base, errs));
    let psk = match &auth {
        // A remote-access interface may hold both: the IKEv1 clients' group key beside the
        // certificate its IKEv2 (EAP) clients check.
        Some(_) if iface.contains_key("remote-access") && has_psk(iface) => {
            psk(iface, iface_node, base, errs)
        }
        Some(_) => psk_beside_certificate(iface, iface_node, errs),
        None => psk(iface, iface_node, base, errs),
    };
    let mut p = IkePolicy::seil_defaults(local, remote, b"");
    p.nat_traversal = match nat {
        NatTraversal::Disable => IkeNat::Disable,
        NatTraversal::Enable => IkeNat::Enable,
        NatTraversal::Force => IkeNat::Force,
    };
    if let Some(r) = child(iface, iface_node, "responder-only") {
        p.responder_only = enable(&r, errs).unwrap_or(false);
    }
    let errors_before = errs.0.len();
    if let Some(v) = child(m, n, "version") {
        if let Some(version) = version(&v, errs) {
            p.version = version;
        }
    }
    if p.version == IkeVersion::V2 {
        phase1::ikev2_defaults(&mut p.phase1);
    }
    if let Some(x) = child(m, n, "exchange-mode") {
        if let Some(mode) = x.choice(
            errs,
            &[
                ("main", crate::ike::ExchangeMode::Main),
                ("aggressive", crate::ike::ExchangeMode::Aggressive),
            ],
        ) {
            if p.version == IkeVersion::V2 && mode == crate::ike::ExchangeMode::Aggressive {
                x.error(
                    errs,
                    "IKEv2 has no Aggressive Mode (IKE_SA_INIT and IKE_AUTH always protect the \
                     identities): remove `exchange-mode`, or set `version: 1` to use IKEv1 \
                     Aggressive Mode",
                );
            } else {
                p.exchange_mode = mode;
            }
        }
    }
    if let Some(x) = child(m, n, "aggressive-mode-third-message") {
        if let Some(enc) = x.choice(errs, &[("encrypted", true), ("clear", false)]) {
            if p.version == IkeVersion::V2 {
                x.error(
                    errs,
                    "only IKEv1 Aggressive Mode has a third message; IKEv2 has no Aggressive \
                     Mode: remove `aggressive-mode-third-message`",
                );
            } else {
                p.aggressive_encrypt_third = enc;
            }
        }
    }
    fragmentation(m, n, &mut p, errs);
    if let Some(x) = child(m, n, "dpd") {
        p.dpd = dpd(&x, errs);
    }
    if let Some(x) = child(m, n, "nat-keepalive") {
        p.nat_keepalive = match x.value {
            yaml_serde::Value::String(s) if s == "disable" => None,
            _ => x
                .uint(errs, 1, 3600, "20")
                .map(std::time::Duration::from_secs),
        };
    }
    if let Some(x) = child(m, n, "my-identifier") {
        p.my_id = identity(&x, errs);
    }
    if let Some(x) = child(m, n, "peers-identifier") {
        p.peer_id = identity(&x, errs);
    }
    if let Some(prop) = child(m, n, "proposal") {
        if let Some(pm) = prop.block(errs, &["phase1", "phase2"]) {
            if let Some(p1) = child(pm, &prop, "phase1") {
                phase1::phase1(&p1, &mut p, None, errs);
            }
            if let Some(p2) = child(pm, &prop, "phase2") {
                phase2(&p2, &mut p, local, errs);
            }
        }
    }
    super::pq::post_quantum(m, n, &mut p, errs);
    super::pq::settle(&mut p);
    p.psk = psk?;
    if let Some(a) = auth {
        p.auth = a?;
        own_identity_in_certificate(m, n, &p, errs);
    }
    // The parser above should have caught everything; the policy's own check is the safety net
    // (reported only when nothing else was, so that it never repeats an error in other words).
    if errs.0.len() == errors_before {
        if let Err(e) = p.validate() {
            n.error(errs, e);
            return None;
        }
    }
    Some(p)
}

/// `version: 1 | 2`.
fn version(n: &Node<'_>, errs: &mut Errors) -> Option<IkeVersion> {
    let word = match n.value {
        yaml_serde::Value::Number(x) => x.to_string(),
        yaml_serde::Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => String::new(),
    };
    match word.as_str() {
        "1" | "ikev1" => Some(IkeVersion::V1),
        "2" | "ikev2" => Some(IkeVersion::V2),
        _ => {
            let shown = match n.value {
                yaml_serde::Value::Number(x) => x.to_string(),
                yaml_serde::Value::String(s) => format!("\"{s}\""),
                _ => "this value".into(),
            };
            n.error(
                errs,
                format!(
                    "{shown} is not an IKE version: write `version: 1` (IKEv1, the default) or \
                     `version: 2` (IKEv2)"
                ),
            );
            None
        }
    }
}

/// `fragmentation: enable | disable` and `fragment-size: BYTES`: IKEv2 fragmentation (RFC 7383),
/// or on IKEv1 the FRAGMENTATION vendor ID and fragment payloads as strongSwan does them.
fn fragmentation(m: &Mapping, n: &Node<'_>, p: &mut IkePolicy, errs: &mut Errors) {
    let frag = child(m, n, "fragmentation");
    let size = child(m, n, "fragment-size");
    if let Some(f) = &frag {
        if let Some(on) = f.choice(errs, &[("enable", true), ("disable", false)]) {
            p.fragmentation = on;
        }
    }
    let Some(s) = size else { return };
    if !p.fragmentation {
        s.error(
            errs,
            "`fragment-size` has no effect with `fragmentation: disable`: remove one of them",
        );
        return;
    }
    let n = match s.value {
        yaml_serde::Value::Number(x) => x.as_u64(),
        yaml_serde::Value::String(t) => super::node::parse_uint(t),
        _ => None,
    };
    match n {
        Some(v) if FRAGMENT_SIZE.contains(&v) => p.fragment_size = v as u16,
        _ => s.error(
            errs,
            format!(
                "fragment-size is the largest IKE datagram (IP packet, in bytes) sent before \
                 fragmenting: use {} to {} ({} is the smallest datagram every IPv4 host \
                 accepts, {} a jumbo frame), e.g. `fragment-size: 1280` (the IPv6 minimum MTU, \
                 which fits every path)",
                FRAGMENT_SIZE.start(),
                FRAGMENT_SIZE.end(),
                FRAGMENT_SIZE.start(),
                FRAGMENT_SIZE.end(),
            ),
        ),
    }
}

/// With `ike.certificate`, `my-identifier` must name what our certificate holds (the peer checks
/// it against the certificate and would refuse us).
fn own_identity_in_certificate(m: &Mapping, n: &Node<'_>, p: &IkePolicy, errs: &mut Errors) {
    let (Some(c), Some(id), Some(node)) =
        (p.auth.certificate(), &p.my_id, child(m, n, "my-identifier"))
    else {
        return;
    };
    if !crate::ike::auth::identity_in_certificate(id, &c.cert) {
        let holds: Vec<String> = c.cert.alt_names.iter().map(|a| a.to_string()).collect();
        node.error(
            errs,
            format!(
                "{id} is not in our certificate (subject \"{}\"{}{}): peers would refuse it; \
                 use one of these, or leave my-identifier out to send the subject",
                c.cert.subject,
                if holds.is_empty() {
                    ""
                } else {
                    ", subjectAltNames "
                },
                holds.join(", ")
            ),
        );
    }
}

/// True when the interface gives `preshared-key` or `preshared-key-file`.
fn has_psk(iface: &Mapping) -> bool {
    ["preshared-key", "preshared-key-file"]
        .iter()
        .any(|k| iface.contains_key(*k))
}

/// With `ike.certificate`, a pre-shared key is an error (one method authenticates a tunnel).
fn psk_beside_certificate(
    iface: &Mapping,
    n: &Node<'_>,
    errs: &mut Errors,
) -> Option<Zeroizing<Vec<u8>>> {
    for k in ["preshared-key", "preshared-key-file"] {
        if let Some(x) = child(iface, n, k) {
            x.error(
                errs,
                "this tunnel authenticates with `ike.certificate`: remove the pre-shared key \
                 (or the certificate block to use the key)",
            );
            return None;
        }
    }
    Some(Zeroizing::new(Vec::new()))
}

fn psk(
    iface: &Mapping,
    n: &Node<'_>,
    base: &Path,
    errs: &mut Errors,
) -> Option<Zeroizing<Vec<u8>>> {
    match (
        child(iface, n, "preshared-key"),
        child(iface, n, "preshared-key-file"),
    ) {
        (Some(_), Some(f)) => {
            f.error(
                errs,
                "give `preshared-key` or `preshared-key-file`, not both",
            );
            None
        }
        (Some(k), None) => {
            let s = match k.value {
                yaml_serde::Value::String(s) => s.clone(),
                yaml_serde::Value::Number(x) => x.to_string(),
                _ => {
                    k.error(
                        errs,
                        "write the key as text, e.g. `preshared-key: xeeB5gohvaYi`",
                    );
                    return None;
                }
            };
            if s.is_empty() {
                k.error(errs, "the pre-shared key is empty");
                return None;
            }
            Some(Zeroizing::new(s.into_bytes()))
        }
        (None, Some(f)) => {
            let path = resolve(base, f.str(errs, "/etc/ikegate/ipsec0.psk")?);
            read_secret_file(&path).map_err(|e| f.error(errs, e)).ok()
        }
        (None, None) => {
            n.error(
                errs,
                "IKE needs a pre-shared key: add `preshared-key: …` or `preshared-key-file: /path`",
            );
            None
        }
    }
}

/// `dpd: disable` or `dpd: { interval: 20, retries: 5 }` (either key may be left out).
fn dpd(n: &Node<'_>, errs: &mut Errors) -> Option<crate::ike::DpdPolicy> {
    if let yaml_serde::Value::String(s) = n.value {
        return match s.as_str() {
            "disable" => None,
            "enable" => Some(crate::ike::DpdPolicy::default()),
            _ => {
                n.error(
                    errs,
                    "write `dpd: disable` or `dpd: { interval: 20, retries: 5 }`",
                );
                None
            }
        };
    }
    let mut d = crate::ike::DpdPolicy::default();
    let m = n.block(errs, &["interval", "retries"])?;
    if let Some(i) = child(m, n, "interval") {
        if let Some(v) = i.uint(errs, 1, 3600, "20") {
            d.interval = std::time::Duration::from_secs(v);
        }
    }
    if let Some(r) = child(m, n, "retries") {
        if let Some(v) = r.uint(errs, 1, 100, "5") {
            d.retries = v as u32;
        }
    }
    Some(d)
}

fn enable(n: &Node<'_>, errs: &mut Errors) -> Option<bool> {
    n.choice(
        errs,
        &[
            ("enable", true),
            ("disable", false),
            ("true", true),
            ("false", false),
        ],
    )
}

fn identity(n: &Node<'_>, errs: &mut Errors) -> Option<Identity> {
    let m = n.block(errs, &["address", "fqdn", "user-fqdn", "key-id", "asn1dn"])?;
    if m.len() != 1 {
        n.error(
            errs,
            "give exactly one of address / fqdn / user-fqdn / key-id / asn1dn",
        );
        return None;
    }
    if let Some(d) = child(m, n, "asn1dn") {
        let text = d.str(errs, "C=JP, O=Example, CN=gw1")?;
        return crate::ike::auth::DistinguishedName::parse(text)
            .map(Identity::Asn1Dn)
            .map_err(|e| d.error(errs, e.to_string()))
            .ok();
    }
    if let Some(a) = child(m, n, "address") {
        return a.ip(errs, "10.0.0.1").map(Identity::Address);
    }
    if let Some(f) = child(m, n, "fqdn") {
        return f
            .str(errs, "gw1.example.com")
            .map(|s| Identity::Fqdn(s.to_string()));
    }
    if let Some(f) = child(m, n, "user-fqdn") {
        return f
            .str(errs, "vpn@example.com")
            .map(|s| Identity::UserFqdn(s.to_string()));
    }
    child(m, n, "key-id").and_then(|k| {
        k.str(errs, "branch-7")
            .map(|s| Identity::KeyId(s.as_bytes().to_vec()))
    })
}

/// A value that may be one word or a list of words, each mapped through `choices`.
pub(super) fn words<T: Copy>(
    n: &Node<'_>,
    errs: &mut Errors,
    choices: &[(&str, T)],
) -> Option<Vec<T>> {
    word_nodes(n, errs, choices).map(|v| v.into_iter().map(|(_, t)| t).collect())
}

/// Like [`words`], keeping each item's node (for errors about one item); `None` when any item
/// is not one of `choices` or the list is empty.
pub(super) fn word_nodes<'a, T: Copy>(
    n: &Node<'a>,
    errs: &mut Errors,
    choices: &[(&str, T)],
) -> Option<Vec<(Node<'a>, T)>> {
    let items = match n.value {
        yaml_serde::Value::Sequence(_) => n.list(errs),
        _ => vec![n.clone()],
    };
    let total = items.len();
    let out: Vec<(Node<'a>, T)> = items
        .into_iter()
        .filter_map(|i| i.choice(errs, choices).map(|t| (i, t)))
        .collect();
    if total == 0 {
        n.error(errs, "give at least one algorithm");
        return None;
    }
    (out.len() == total).then_some(out)
}

pub(super) fn dh_choices() -> Vec<(&'static str, DhGroup)> {
    DhGroup::ALL.iter().map(|g| (g.name(), *g)).collect()
}

const PHASE2_KEYS: &[&str] = &[
    "proxy-id",
    "encryption",
    "authentication",
    "pfs-group",
    "lifetime-of-time",
    "lifetime-of-byte",
    "additional-key-exchanges",
];

fn phase2(n: &Node<'_>, p: &mut IkePolicy, local: IpAddr, errs: &mut Errors) {
    let Some(m) = n.block(errs, PHASE2_KEYS) else {
        return;
    };
    if let Some(pid) = child(m, n, "proxy-id") {
        if let Some(v) = proxy_ids(&pid, errs) {
            p.phase2.proxy_ids = v;
        }
    } else if local.is_ipv6() {
        // SEIL's default is 0.0.0.0/0 ⇄ 0.0.0.0/0; an IPv6 tunnel carries ::/0 ⇄ ::/0 as well.
        p.phase2.proxy_ids.push(ProxyId {
            local: "::/0"
                .parse()
                .unwrap_or_else(|_| crate::ike::Subnet::any_v4()),
            remote: "::/0"
                .parse()
                .unwrap_or_else(|_| crate::ike::Subnet::any_v4()),
        });
    }
    if let Some(e) = child(m, n, "encryption") {
        let c: Vec<(&str, EncAlg)> = EncAlg::ALL.iter().map(|a| (a.config_name(), *a)).collect();
        if let Some(v) = words(&e, errs, &c) {
            p.phase2.encryption = v;
        }
    }
    if let Some(a) = child(m, n, "authentication") {
        let c: Vec<(&str, IntegAlg)> = IntegAlg::ALL
            .iter()
            .filter(|a| **a != IntegAlg::None)
            .map(|a| (a.config_name(), *a))
            .collect();
        if let Some(v) = words(&a, errs, &c) {
            p.phase2.authentication = v;
        }
    }
    let only_aead = p.phase2.encryption.iter().all(|e| e.is_aead());
    if !only_aead && child(m, n, "authentication").is_none() && p.phase2.authentication.is_empty() {
        n.error(
            errs,
            "CBC and null encryption need `authentication:` (e.g. hmac-sha256)",
        );
    }
    if let Some(g) = child(m, n, "pfs-group") {
        let mut c: Vec<(&str, Option<DhGroup>)> = vec![("none", None)];
        c.extend(dh_choices().into_iter().map(|(n, g)| (n, Some(g))));
        if let Some(v) = g.choice(errs, &c) {
            p.phase2.pfs_group = v;
        }
    }
    super::pq::phase2_additional_kes(m, n, p, errs);
    if let Some(l) = child(m, n, "lifetime-of-time") {
        if let Some(v) = l.uint(errs, 30, 604_800, "28800") {
            p.phase2.lifetime_secs = v as u32;
        }
    }
    if let Some(l) = child(m, n, "lifetime-of-byte") {
        if let Some(v) = l.uint(errs, 0, u64::MAX / 2, "0") {
            p.phase2.lifetime_bytes = v;
        }
    }
}

fn proxy_ids(n: &Node<'_>, errs: &mut Errors) -> Option<Vec<ProxyId>> {
    let m = n.block(errs, &["ipv4", "ipv6"])?;
    let mut out = Vec::new();
    for fam in ["ipv4", "ipv6"] {
        let Some(f) = child(m, n, fam) else { continue };
        let Some(fm) = f.block(errs, &["local", "remote"]) else {
            continue;
        };
        let ex = if fam == "ipv4" {
            "192.168.1.0/24"
        } else {
            "2001:db8:1::/48"
        };
        let mut get = |k: &str| {
            let v = child(fm, &f, k);
            let Some(v) = v else {
                errs.push(&f.child_path(k), format!("missing: e.g. `{k}: {ex}`"));
                return None;
            };
            let s = v.str(errs, ex)?;
            match parse_prefix(s) {
                Ok(p) if p.addr().is_ipv4() == (fam == "ipv4") => Some(p),
                Ok(_) => {
                    v.error(errs, format!("{s} is not an {fam} prefix"));
                    None
                }
                Err(e) => {
                    v.error(errs, format!("{e}; write e.g. `{k}: {ex}`"));
                    None
                }
            }
        };
        let (l, r) = (get("local"), get("remote"));
        if let (Some(local), Some(remote)) = (l, r) {
            out.push(ProxyId { local, remote });
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Parses a `proposal:` block (as in the configuration file, e.g. a JSON body of the admin API)
/// into a copy of `current` whose phase-1 and phase-2 proposals are replaced: keys left out take
/// their defaults, exactly as in the file; the proxy-ids stay unless `phase2.proxy-id` is given.
/// The block is read for `current.version` (an IKEv2 tunnel takes the IKEv2 names, defaults and
/// checks); `phase1.dh-groups`, which the admin API's GET shows, is accepted beside `dh-group`.
/// Errors carry the key path relative to the block (`phase1.encryption`).
pub fn parse_proposals(
    value: &yaml_serde::Value,
    current: &IkePolicy,
) -> Result<IkePolicy, Vec<super::ConfigError>> {
    let mut errs = Errors::default();
    let n = Node::root(value);
    let defaults = IkePolicy::seil_defaults(current.local, current.remote, b"");
    let mut p = current.clone();
    p.phase1 = defaults.phase1;
    if p.version == IkeVersion::V2 {
        phase1::ikev2_defaults(&mut p.phase1);
    }
    p.phase2 = crate::ike::Phase2Policy {
        proxy_ids: Vec::new(),
        mode: current.phase2.mode,
        ..defaults.phase2
    };
    let mut proxy_given = false;
    if let Some(pm) = n.block(&mut errs, &["phase1", "phase2"]) {
        if let Some(p1) = child(pm, &n, "phase1") {
            phase1::phase1(&p1, &mut p, Some(current), &mut errs);
        }
        if let Some(p2) = child(pm, &n, "phase2") {
            proxy_given =
                matches!(&p2.value, yaml_serde::Value::Mapping(m) if m.contains_key("proxy-id"));
            phase2(&p2, &mut p, current.local, &mut errs);
        }
    }
    if !proxy_given {
        p.phase2.proxy_ids = current.phase2.proxy_ids.clone();
    }
    super::pq::settle(&mut p);
    if errs.0.is_empty() {
        if let Err(e) = p.validate() {
            errs.push("", e);
        }
    }
    if errs.0.is_empty() {
        Ok(p)
    } else {
        Err(errs.0)
    }
}

/// Parses a `proxy-id:` block (`{ ipv4: { local, remote }, ipv6: { … } }`) as in the
/// configuration file. Errors carry the key path relative to the block (`ipv4.local`).
pub fn parse_proxy_ids(value: &yaml_serde::Value) -> Result<Vec<ProxyId>, Vec<super::ConfigError>> {
    let mut errs = Errors::default();
    let n = Node::root(value);
    let out = proxy_ids(&n, &mut errs);
    match out {
        Some(v) if errs.0.is_empty() => Ok(v),
        _ => {
            if errs.0.is_empty() {
                errs.push("", "give at least one of `ipv4` / `ipv6`, e.g. `{\"ipv4\": {\"local\": \"192.168.1.0/24\", \"remote\": \"192.168.2.0/24\"}}`");
            }
            Err(errs.0)
        }
    }
}
