//! SEIL configuration lines (`key: value`, one per line, as `show config` prints them and as the
//! SEIL article quotes them) into a [`Draft`].
//!
//! Read: route-based tunnels `interface.ipsecN.*` (the keys our YAML mirrors), their routes
//! `route.ipv4.N.*` / `route.ipv6.N.*`, and the policy-based tables `ike.peer.*`,
//! `ike.proposal.*`, `ipsec.security-association.*`, `ipsec.security-policy.*`
//! ([`super::seil_policy`]). Every other line becomes a note.

use std::collections::BTreeMap;
use std::net::IpAddr;

use zeroize::Zeroizing;

use super::draft::{Dest, Dpd, Draft, Identity, Note, Tunnel};
use super::{names, seil_policy, ImportError};
use crate::ike::Subnet;

/// The most lines a SEIL file may have.
const MAX_LINES: usize = 20_000;

/// One `key: value` line.
#[derive(Debug, Clone)]
pub(super) struct Line<'a> {
    /// 1-based line number.
    pub no: usize,
    /// The key, e.g. `interface.ipsec0.preshared-key`.
    pub key: &'a str,
    /// The value, unquoted.
    pub value: String,
}

/// Reads a SEIL configuration.
pub fn read(text: &str) -> Result<Draft, ImportError> {
    let lines = split_lines(text)?;
    let mut draft = Draft::default();
    let mut tunnels: BTreeMap<String, (usize, Vec<Line<'_>>)> = BTreeMap::new();
    let mut routes: BTreeMap<(bool, u32), Vec<Line<'_>>> = BTreeMap::new();
    let mut policy = Vec::new();
    for l in lines {
        let parts: Vec<&str> = l.key.splitn(3, '.').collect();
        match parts.as_slice() {
            ["interface", name, _] if name.starts_with("ipsec") => {
                let e = tunnels
                    .entry(name.to_string())
                    .or_insert((l.no, Vec::new()));
                e.1.push(l);
            }
            ["interface", _, _] => draft.notes.push(Note::new(
                l.no,
                l.key,
                "not carried: ikegate does not configure the host's own interfaces (set their \
                 addresses with the OS: ip address add …)",
            )),
            ["route", fam @ ("ipv4" | "ipv6"), rest] => {
                let idx = rest.split('.').next().and_then(|i| i.parse::<u32>().ok());
                match idx {
                    Some(i) => routes.entry((*fam == "ipv6", i)).or_default().push(l),
                    None => draft.notes.push(Note::new(
                        l.no,
                        l.key,
                        "not carried: expected route.ipv4.N.destination / .gateway",
                    )),
                }
            }
            ["ike", "peer" | "proposal" | "preshared-key", _]
            | ["ipsec", "security-association" | "security-policy", _] => policy.push(l),
            _ => draft.notes.push(Note::new(
                l.no,
                l.key,
                "not carried: not an IPsec tunnel setting",
            )),
        }
    }
    for (name, (line, ls)) in tunnels {
        if let Some(t) = interface(&name, line, &ls, &mut draft.notes)? {
            draft.tunnels.push(t);
        }
    }
    seil_policy::read(&policy, &mut draft)?;
    for ((v6, _), ls) in routes {
        route(v6, &ls, &mut draft)?;
    }
    Ok(draft)
}

/// Splits the text into `key: value` lines; `#` comments and blank lines are skipped. A key
/// given twice is an error (which of the two did the author mean?).
pub(super) fn split_lines(text: &str) -> Result<Vec<Line<'_>>, ImportError> {
    let mut out: Vec<Line<'_>> = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let no = i + 1;
        if no > MAX_LINES {
            return Err(ImportError::at(
                no,
                format!("more than {MAX_LINES} lines: this is not a SEIL configuration"),
            ));
        }
        let s = raw.trim();
        if s.is_empty() || s.starts_with('#') {
            continue;
        }
        let Some((key, value)) = s.split_once(':') else {
            return Err(ImportError::at(
                no,
                format!(
                    "\"{}\" is not a `key: value` line (e.g. `interface.ipsec0.ipv4.source: \
                     10.0.0.1`)",
                    shown(s)
                ),
            ));
        };
        let key = key.trim();
        // The SEIL article writes some keys with a doubled colon (`route.ipv4.1.gateway: :
        // ipsec0`): the value is what follows the last of them.
        let value = value.trim();
        let value = value.strip_prefix(':').map(str::trim).unwrap_or(value);
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-[]".contains(c))
        {
            return Err(ImportError::at(
                no,
                format!(
                    "\"{}\" is not a SEIL key (letters, digits, '.', '-')",
                    shown(key)
                ),
            ));
        }
        if let Some(first) = seen.insert(key, no) {
            return Err(ImportError::at(
                no,
                format!("{key} is given again (first on line {first}); keep one of the two"),
            ));
        }
        out.push(Line {
            no,
            key,
            value: unquote(value).map_err(|m| ImportError::at(no, m))?,
        });
    }
    Ok(out)
}

/// A value in double quotes loses them (`\"` and `\\` inside are unescaped).
fn unquote(v: &str) -> Result<String, String> {
    let Some(inner) = v.strip_prefix('"') else {
        return Ok(v.to_string());
    };
    let Some(inner) = inner.strip_suffix('"') else {
        return Err("the value opens a double quote and does not close it".into());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => return Err("the value ends with a lone backslash".into()),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// At most 60 characters of `s`, for messages.
pub(super) fn shown(s: &str) -> String {
    let t: String = s.chars().take(60).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

fn interface(
    name: &str,
    line: usize,
    ls: &[Line<'_>],
    notes: &mut Vec<Note>,
) -> Result<Option<Tunnel>, ImportError> {
    if name.len() > 15 || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        notes.push(Note::new(
            line,
            format!("interface.{name}"),
            "not carried: not an interface name ikegate can use (1-15 letters and digits)",
        ));
        return Ok(None);
    }
    let mut t = Tunnel {
        name: name.to_string(),
        origin: format!("SEIL interface.{name}"),
        line,
        ..Tunnel::default()
    };
    let prefix = format!("interface.{name}.");
    let mut lists = Lists::default();
    for l in ls {
        let rest = l.key.strip_prefix(&prefix).unwrap_or(l.key);
        if !tunnel_key(&mut t, rest, l, &mut lists)? {
            t.notes.push(Note::new(
                l.no,
                l.key,
                "not carried: ikegate has no such setting",
            ));
        }
    }
    lists.apply(&mut t)?;
    Ok(Some(t))
}

/// Indexed lists (`encryption.0.algorithm`, `encryption.1.algorithm` …), sorted by index when
/// the tunnel is complete.
#[derive(Default)]
pub(super) struct Lists {
    items: BTreeMap<(&'static str, u32), (usize, String)>,
}

impl Lists {
    fn add(&mut self, list: &'static str, idx: u32, l: &Line<'_>) {
        self.items.insert((list, idx), (l.no, l.value.clone()));
    }

    pub(super) fn apply(self, t: &mut Tunnel) -> Result<(), ImportError> {
        for ((list, _), (no, v)) in self.items {
            let target = match list {
                "p1-enc" => (names::ike_cipher(&v), &mut t.phase1.encryption),
                "p1-hash" => (names::hash(&v), &mut t.phase1.hash),
                "p1-prf" => (names::hash(&v), &mut t.phase1.prf),
                "p2-enc" => (names::esp_cipher(&v), &mut t.phase2.encryption),
                _ => (names::esp_integrity(&v), &mut t.phase2.authentication),
            };
            match target {
                (Some(n), l) if !l.contains(&n) => l.push(n),
                (Some(_), _) => {}
                (None, _) => t.notes.push(Note::new(
                    no,
                    format!("{} algorithm {}", list_name(list), shown(&v)),
                    "not carried: ikegate does not offer it",
                )),
            }
        }
        Ok(())
    }
}

fn list_name(list: &str) -> &'static str {
    match list {
        "p1-enc" => "phase1 encryption",
        "p1-hash" => "phase1 hash",
        "p1-prf" => "phase1 prf",
        "p2-enc" => "phase2 encryption",
        _ => "phase2 authentication",
    }
}

/// One `interface.ipsecN.<rest>` key; false when we have no such setting.
pub(super) fn tunnel_key(
    t: &mut Tunnel,
    rest: &str,
    l: &Line<'_>,
    lists: &mut Lists,
) -> Result<bool, ImportError> {
    let v = l.value.as_str();
    let bad = |what: &str| ImportError::at(l.no, format!("{}: {what}", l.key));
    match rest {
        "preshared-key" => {
            if v.is_empty() {
                return Err(bad("the pre-shared key is empty"));
            }
            t.psk = Some(Zeroizing::new(v.to_string()));
        }
        "ipv4.source" | "ipv6.source" => t.source = Some(address(v, l)?),
        "ipv4.destination" | "ipv6.destination" => {
            t.destination = Some(if v == "dynamic" {
                Dest::Dynamic
            } else {
                Dest::Addr(address(v, l)?)
            })
        }
        "responder-only" => {
            t.responder_only = Some(on_off(v).ok_or_else(|| bad("write enable or disable"))?)
        }
        "nat-traversal" => {
            t.nat_traversal = Some(match v {
                "enable" | "on" => "enable",
                "disable" | "off" => "disable",
                "force" => "force",
                _ => return Err(bad("write enable, disable or force")),
            })
        }
        "mtu" => t.mtu = Some(number(v, l)?),
        "tcp-mss" => {
            t.tcp_mss = Some(match v {
                "auto" | "disable" => v.to_string(),
                "none" | "off" => "disable".into(),
                _ => number(v, l)?.clamp(536, 8960).to_string(),
            })
        }
        "ike.version" => {
            t.version = Some(match v {
                "1" | "ikev1" => 1,
                "2" | "ikev2" => 2,
                _ => return Err(bad("write 1 or 2")),
            })
        }
        "ike.exchange-mode" => {
            t.exchange_mode = Some(match v {
                "main" => "main",
                "aggressive" => "aggressive",
                _ => return Err(bad("write main or aggressive")),
            })
        }
        "ike.my-identifier" => t.my_id = Some(identity(v, l)?),
        "ike.peers-identifier" => t.peer_id = Some(identity(v, l)?),
        "ike.dpd" => {
            t.dpd = Some(match on_off(v) {
                Some(true) => Dpd::On {
                    interval: None,
                    retries: None,
                },
                Some(false) => Dpd::Disable,
                None => return Err(bad("write enable or disable")),
            })
        }
        "ike.dpd.interval" | "ike.dpd.retries" => {
            let n = number(v, l)?;
            let (mut i, mut r) = match t.dpd {
                Some(Dpd::On { interval, retries }) => (interval, retries),
                _ => (None, None),
            };
            if rest.ends_with("interval") {
                i = Some(n);
            } else {
                r = Some(n);
            }
            t.dpd = Some(Dpd::On {
                interval: i,
                retries: r,
            });
        }
        "ike.nat-keepalive" | "ike.nat-keepalive.interval" => {
            t.nat_keepalive = Some(if on_off(v) == Some(false) {
                0
            } else {
                seconds(v, l)?.max(1)
            })
        }
        "ike.fragmentation" => {
            t.fragmentation = Some(on_off(v).ok_or_else(|| bad("write enable or disable"))?)
        }
        "ike.proposal.phase1.lifetime" | "ike.proposal.phase1.lifetime-of-time" => {
            t.phase1.lifetime = Some(seconds(v, l)?)
        }
        "ike.proposal.phase1.dh-group" => match names::dh_group(v) {
            Some(g) => t.phase1.dh_group = vec![g],
            None => t.notes.push(Note::new(
                l.no,
                l.key,
                format!("not carried: ikegate has no group {}", shown(v)),
            )),
        },
        "ike.proposal.phase1.authentication-method" if v == "preshared-key" || v == "psk" => {}
        "ike.proposal.phase2.pfs-group" => {
            t.phase2.pfs_group = if v == "none" || on_off(v) == Some(false) {
                Some("none")
            } else {
                match names::dh_group(v) {
                    Some(g) => Some(g),
                    None => return Err(bad("not a Diffie-Hellman group ikegate knows")),
                }
            }
        }
        "ike.proposal.phase2.lifetime-of-time" => t.phase2.lifetime_of_time = Some(seconds(v, l)?),
        "ike.proposal.phase2.lifetime-of-byte" => t.phase2.lifetime_of_byte = Some(bytes(v, l)?),
        _ => {
            if let Some(pid) = rest.strip_prefix("ike.proposal.phase2.proxy-id.") {
                return proxy_id(t, pid, l);
            }
            return Ok(indexed(rest, l, lists));
        }
    }
    Ok(true)
}

/// `ike.proposal.phaseN.<list>.<index>.algorithm`.
fn indexed(rest: &str, l: &Line<'_>, lists: &mut Lists) -> bool {
    let parts: Vec<&str> = rest.split('.').collect();
    let ["ike", "proposal", phase, list, idx, "algorithm"] = parts.as_slice() else {
        return false;
    };
    let Ok(idx) = idx.parse::<u32>() else {
        return false;
    };
    let name = match (*phase, *list) {
        ("phase1", "encryption") => "p1-enc",
        ("phase1", "hash") => "p1-hash",
        ("phase1", "prf") => "p1-prf",
        ("phase2", "encryption") => "p2-enc",
        ("phase2", "authentication") => "p2-auth",
        _ => return false,
    };
    lists.add(name, idx, l);
    true
}

/// `proxy-id.ipv4.local` / `.remote` (and ipv6): one pair per family.
fn proxy_id(t: &mut Tunnel, pid: &str, l: &Line<'_>) -> Result<bool, ImportError> {
    let (fam, side) = match pid {
        "ipv4.local" => (false, 0),
        "ipv4.remote" => (false, 1),
        "ipv6.local" => (true, 0),
        "ipv6.remote" => (true, 1),
        _ => return Ok(false),
    };
    let p = prefix(&l.value, l)?;
    if p.addr().is_ipv6() != fam {
        return Err(ImportError::at(
            l.no,
            format!("{}: {} is not of this address family", l.key, l.value),
        ));
    }
    let any = if fam {
        "::/0"
            .parse::<Subnet>()
            .map_err(|e| ImportError::at(l.no, e))?
    } else {
        Subnet::any_v4()
    };
    let slot = t
        .phase2
        .proxy_ids
        .iter_mut()
        .find(|(a, _)| a.addr().is_ipv6() == fam);
    match slot {
        Some(pair) if side == 0 => pair.0 = p,
        Some(pair) => pair.1 = p,
        None if side == 0 => t.phase2.proxy_ids.push((p, any)),
        None => t.phase2.proxy_ids.push((any, p)),
    }
    Ok(true)
}

fn route(v6: bool, ls: &[Line<'_>], draft: &mut Draft) -> Result<(), ImportError> {
    let mut dest = None;
    let mut gw = None;
    let first = ls.first().map_or(0, |l| l.no);
    for l in ls {
        match l.key.rsplit('.').next() {
            Some("destination") => {
                let p = if l.value == "default" {
                    if v6 {
                        "::/0".parse().map_err(|e| ImportError::at(l.no, e))?
                    } else {
                        Subnet::any_v4()
                    }
                } else {
                    prefix(&l.value, l)?
                };
                if p.addr().is_ipv6() != v6 {
                    return Err(ImportError::at(
                        l.no,
                        format!("{}: {} is not of this address family", l.key, l.value),
                    ));
                }
                dest = Some(p);
            }
            Some("gateway") => gw = Some(l.value.clone()),
            _ => draft.notes.push(Note::new(
                l.no,
                l.key,
                "not carried: ikegate routes carry a destination and a tunnel",
            )),
        }
    }
    match (dest, gw) {
        (Some(d), Some(g)) if draft.tunnels.iter().any(|t| t.name == g) => {
            draft.routes.push(super::Route {
                destination: d,
                gateway: g,
                line: first,
            })
        }
        (Some(d), Some(g)) => draft.notes.push(Note::new(
            first,
            format!("route to {d}"),
            format!(
                "not carried: its gateway {} is not an imported tunnel (ikegate installs only \
                 routes into its tunnels)",
                shown(&g)
            ),
        )),
        _ => draft.notes.push(Note::new(
            first,
            "route",
            "not carried: a route needs both destination and gateway",
        )),
    }
    Ok(())
}

pub(super) fn address(v: &str, l: &Line<'_>) -> Result<IpAddr, ImportError> {
    v.parse().map_err(|_| {
        ImportError::at(
            l.no,
            format!(
                "{}: \"{}\" is not an IP address (ikegate needs literal addresses, e.g. 10.0.0.1)",
                l.key,
                shown(v)
            ),
        )
    })
}

pub(super) fn prefix(v: &str, l: &Line<'_>) -> Result<Subnet, ImportError> {
    crate::config::parse_prefix(v).map_err(|e| {
        ImportError::at(
            l.no,
            format!("{}: {}; write e.g. 192.168.1.0/24", l.key, shown(&e)),
        )
    })
}

pub(super) fn on_off(v: &str) -> Option<bool> {
    match v {
        "enable" | "on" | "yes" | "true" => Some(true),
        "disable" | "off" | "no" | "false" => Some(false),
        _ => None,
    }
}

pub(super) fn number(v: &str, l: &Line<'_>) -> Result<u64, ImportError> {
    v.parse::<u64>()
        .map_err(|_| ImportError::at(l.no, format!("{}: \"{}\" is not a number", l.key, shown(v))))
}

/// Seconds, with SEIL's optional unit: `86400`, `86400s`, `1440m`, `24h`, `1d`.
pub(super) fn seconds(v: &str, l: &Line<'_>) -> Result<u64, ImportError> {
    super::swanctl::duration(v).ok_or_else(|| {
        ImportError::at(
            l.no,
            format!(
                "{}: \"{}\" is not a time (seconds, or with s / m / h / d)",
                l.key,
                shown(v)
            ),
        )
    })
}

/// Bytes with an optional unit (`k`, `m`, `g`, binary multiples as SEIL's `KB`/`MB`/`GB`).
fn bytes(v: &str, l: &Line<'_>) -> Result<u64, ImportError> {
    let lower = v.to_ascii_lowercase();
    let lower = lower.trim_end_matches('b');
    let (num, mul) = match lower.char_indices().last() {
        Some((i, 'k')) => (&lower[..i], 1u64 << 10),
        Some((i, 'm')) => (&lower[..i], 1 << 20),
        Some((i, 'g')) => (&lower[..i], 1 << 30),
        _ => (lower, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|n| *n <= u64::MAX / 2)
        .ok_or_else(|| {
            ImportError::at(
                l.no,
                format!("{}: \"{}\" is not a byte count", l.key, shown(v)),
            )
        })
}

/// An identifier value: an address, `fqdn NAME` / `fqdn:NAME`, `user-fqdn …`, `key-id …`, or a
/// bare name (`user@host` is a user-fqdn, anything else an fqdn).
pub(super) fn identity(v: &str, l: &Line<'_>) -> Result<Identity, ImportError> {
    if let Ok(a) = v.parse::<IpAddr>() {
        return Ok(Identity {
            kind: "address",
            value: a.to_string(),
        });
    }
    for kind in ["user-fqdn", "fqdn", "key-id", "keyid", "address", "asn1dn"] {
        let rest = v
            .strip_prefix(kind)
            .and_then(|r| r.strip_prefix(':').or_else(|| r.strip_prefix(' ')))
            .map(str::trim);
        if let Some(r) = rest.filter(|r| !r.is_empty()) {
            let kind = match kind {
                "keyid" => "key-id",
                k => k,
            };
            if kind == "address" && r.parse::<IpAddr>().is_err() {
                break;
            }
            return Ok(Identity {
                kind,
                value: r.to_string(),
            });
        }
    }
    if v.is_empty() || v.contains(char::is_whitespace) {
        return Err(ImportError::at(
            l.no,
            format!(
                "{}: \"{}\" is not an identifier (an address, fqdn NAME, user-fqdn NAME@DOMAIN \
                 or key-id TEXT)",
                l.key,
                shown(v)
            ),
        ));
    }
    Ok(Identity {
        kind: if v.contains('@') { "user-fqdn" } else { "fqdn" },
        value: v.to_string(),
    })
}
