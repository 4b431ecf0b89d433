//! One `connections.NAME` section of a swanctl.conf into a tunnel (its first child carries the
//! proxy-id and phase 2), with routes to the child's remote traffic selectors.

use std::net::IpAddr;

use super::draft::{Dest, Dpd, Draft, Identity, Note, Tunnel};
use super::seil::shown;
use super::swanctl::{duration, IkeSecret, Item, Section};
use super::{names, ImportError};
use crate::ike::Subnet;

/// Connection settings this reader carries (the others become notes).
const CONN_KEYS: &[&str] = &[
    "version",
    "local_addrs",
    "remote_addrs",
    "proposals",
    "rekey_time",
    "reauth_time",
    "dpd_delay",
    "dpd_timeout",
    "encap",
    "fragmentation",
    "aggressive",
];

/// Child settings this reader carries.
const CHILD_KEYS: &[&str] = &[
    "local_ts",
    "remote_ts",
    "esp_proposals",
    "rekey_time",
    "life_time",
    "rekey_bytes",
    "life_bytes",
    "mode",
    "start_action",
];

/// Adds the tunnel of connection `c` to `draft`.
pub(super) fn connection(
    c: &Section,
    secrets: &[IkeSecret],
    draft: &mut Draft,
) -> Result<(), ImportError> {
    let taken: Vec<String> = draft.tunnels.iter().map(|t| t.name.clone()).collect();
    let mut t = Tunnel {
        name: super::free_name(&taken),
        origin: format!("swanctl connection \"{}\"", shown(&c.name)),
        line: c.line,
        ..Tunnel::default()
    };
    for i in &c.items {
        match i {
            Item::Value { key, value, line } if CONN_KEYS.contains(&key.as_str()) => {
                conn_value(&mut t, key, value, *line)?
            }
            Item::Value { key, line, .. } => t.notes.push(Note::new(
                *line,
                format!("{}.{key}", c.path),
                conn_unsupported(key),
            )),
            Item::Section(s) if s.name == "local" || s.name.starts_with("local-") => {
                auth_round(&mut t, s, true)
            }
            Item::Section(s) if s.name == "remote" || s.name.starts_with("remote-") => {
                auth_round(&mut t, s, false)
            }
            Item::Section(s) if s.name == "children" => children(&mut t, s, draft)?,
            Item::Section(s) => t.notes.push(Note::new(
                s.line,
                s.path.clone(),
                "not carried: unknown section",
            )),
        }
    }
    if t.version.is_none() {
        t.version = Some(2);
        t.notes.push(Note::new(
            c.line,
            format!("{}.version", c.path),
            "not given (strongSwan then answers IKEv1 and IKEv2 and initiates IKEv2): \
             imported as IKEv2",
        ));
    }
    t.psk = psk_for(&t, secrets);
    draft.tunnels.push(t);
    Ok(())
}

fn conn_unsupported(key: &str) -> String {
    match key {
        "mobike" => {
            "not carried: ikegate has no MOBIKE (RFC 4555); the peer keeps its address".into()
        }
        "local_port" | "remote_port" => {
            "not carried: ikegate speaks IKE on port 500 (4500 after NAT detection)".into()
        }
        "over_time" | "rand_time" => {
            "not carried: ikegate renews the IKE SA before the lifetime it proposes ends".into()
        }
        "pools" | "send_cert" | "send_certreq" | "pull" => {
            "not carried: ikegate imports site-to-site tunnels with pre-shared keys".into()
        }
        _ => "not carried: ikegate has no such setting".into(),
    }
}

fn conn_value(t: &mut Tunnel, key: &str, v: &str, line: usize) -> Result<(), ImportError> {
    let bad = |what: &str| ImportError::at(line, format!("{key} = {}: {what}", shown(v)));
    match key {
        "version" => {
            t.version = match v {
                "1" => Some(1),
                "2" => Some(2),
                "0" => None,
                _ => return Err(bad("write 0, 1 or 2")),
            }
        }
        "local_addrs" => t.source = first_address(t, key, v, line),
        "remote_addrs" => {
            t.destination = if v == "%any" || v == "0.0.0.0/0" || v == "::/0" {
                Some(Dest::Dynamic)
            } else {
                first_address(t, key, v, line).map(Dest::Addr)
            }
        }
        "proposals" => ike_proposals(t, v, line),
        "rekey_time" | "reauth_time" => {
            let s = duration(v).ok_or_else(|| bad("not a time (e.g. 4h, 3600s)"))?;
            if s > 0 && (key == "rekey_time" || t.phase1.lifetime.is_none()) {
                t.phase1.lifetime = Some(s);
            }
        }
        "dpd_delay" => {
            let s = duration(v).ok_or_else(|| bad("not a time"))?;
            t.dpd = Some(if s == 0 {
                Dpd::Disable
            } else {
                let retries = match t.dpd {
                    Some(Dpd::On { retries, .. }) => retries,
                    _ => None,
                };
                Dpd::On {
                    interval: Some(s),
                    retries,
                }
            });
        }
        "dpd_timeout" => {
            let s = duration(v).ok_or_else(|| bad("not a time"))?;
            if let Some(Dpd::On { interval, .. }) = t.dpd {
                let i = interval.unwrap_or(20).max(1);
                t.dpd = Some(Dpd::On {
                    interval,
                    retries: Some(s.div_ceil(i).max(1)),
                });
            }
            t.notes.push(Note::new(
                line,
                key,
                "carried as dpd retries (the timeout divided by the DPD interval)",
            ));
        }
        "encap" if yes(v) => t.nat_traversal = Some("force"),
        "fragmentation" => {
            t.fragmentation = Some(v != "no");
            if v == "force" || v == "accept" {
                t.notes.push(Note::new(
                    line,
                    key,
                    format!("`{v}` carried as `fragmentation: enable` (fragments when the peer supports them)"),
                ));
            }
        }
        "aggressive" if yes(v) => t.exchange_mode = Some("aggressive"),
        _ => {}
    }
    Ok(())
}

fn yes(v: &str) -> bool {
    matches!(v, "yes" | "true" | "1")
}

/// The first literal address of a comma list; the others noted.
fn first_address(t: &mut Tunnel, key: &str, v: &str, line: usize) -> Option<IpAddr> {
    let mut found = None;
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.parse::<IpAddr>() {
            Ok(a) if found.is_none() => found = Some(a),
            _ => t.notes.push(Note::new(
                line,
                key,
                format!(
                    "{} not carried: ikegate takes one literal address per side",
                    shown(item)
                ),
            )),
        }
    }
    found
}

/// `local` / `remote` sections: the authentication method and the identity.
fn auth_round(t: &mut Tunnel, s: &Section, local: bool) {
    for i in &s.items {
        match i {
            Item::Value { key, value, line } if key == "auth" => {
                if value != "psk" {
                    t.notes.push(Note::new(
                        *line,
                        format!("{}.auth", s.path),
                        format!(
                            "{} not carried: ikegate imports pre-shared-key tunnels (configure \
                             `ike.certificate` by hand for certificates)",
                            shown(value)
                        ),
                    ));
                }
            }
            Item::Value { key, value, line } if key == "id" => match identity(value) {
                Some(id) if local => t.my_id = Some(id),
                Some(id) => t.peer_id = Some(id),
                None if value == "%any" => {}
                None => t.notes.push(Note::new(
                    *line,
                    format!("{}.id", s.path),
                    "not carried: not an identity ikegate can send or match",
                )),
            },
            Item::Value { key, line, .. } => t.notes.push(Note::new(
                *line,
                format!("{}.{key}", s.path),
                "not carried: ikegate imports the authentication method and identity only",
            )),
            Item::Section(x) => t.notes.push(Note::new(
                x.line,
                x.path.clone(),
                "not carried: unknown section",
            )),
        }
    }
    if s.name.contains('-') {
        t.notes.push(Note::new(
            s.line,
            s.path.clone(),
            "a second authentication round (RFC 4739) is not carried; its settings were read \
             as the first round's",
        ));
    }
}

/// A strongSwan identity: an address, `@fqdn`, `user@domain`, `@#hex` key-id, a DN, or a
/// `type:` prefixed one.
fn identity(v: &str) -> Option<Identity> {
    let id = |kind, value: &str| {
        Some(Identity {
            kind,
            value: value.to_string(),
        })
    };
    if v.is_empty() || v == "%any" {
        return None;
    }
    for (prefix, kind) in [
        ("ipv4:", "address"),
        ("ipv6:", "address"),
        ("fqdn:", "fqdn"),
        ("email:", "user-fqdn"),
        ("rfc822:", "user-fqdn"),
        ("keyid:", "key-id"),
        ("asn1dn:", "asn1dn"),
    ] {
        if let Some(r) = v.strip_prefix(prefix) {
            return id(kind, r);
        }
    }
    if let Ok(a) = v.parse::<IpAddr>() {
        return id("address", &a.to_string());
    }
    if let Some(h) = v.strip_prefix("@#") {
        let bytes: Option<Vec<u8>> = (0..h.len() / 2)
            .map(|i| {
                h.get(2 * i..2 * i + 2)
                    .and_then(|b| u8::from_str_radix(b, 16).ok())
            })
            .collect();
        let text = bytes.and_then(|b| String::from_utf8(b).ok())?;
        if text.chars().any(char::is_control) {
            return None;
        }
        return id("key-id", &text);
    }
    if let Some(f) = v.strip_prefix("@@") {
        return id("user-fqdn", f);
    }
    if let Some(f) = v.strip_prefix('@') {
        return id("fqdn", f);
    }
    if v.contains('=') {
        return id("asn1dn", v);
    }
    if v.contains('@') {
        return id("user-fqdn", v);
    }
    id("fqdn", v)
}

/// The pre-shared key of `secrets` that names the peer's identity (or address), else ours,
/// else one without identities (strongSwan's best match).
fn psk_for(t: &Tunnel, secrets: &[IkeSecret]) -> Option<zeroize::Zeroizing<String>> {
    let names = |id: &Option<Identity>, addr: Option<IpAddr>| {
        let mut v: Vec<String> = id.iter().map(|i| i.value.clone()).collect();
        v.extend(addr.map(|a| a.to_string()));
        v
    };
    let remote = names(
        &t.peer_id,
        match t.destination {
            Some(Dest::Addr(a)) => Some(a),
            _ => None,
        },
    );
    let local = names(&t.my_id, t.source);
    let score = |s: &IkeSecret| {
        let has = |set: &[String]| {
            s.ids
                .iter()
                .any(|i| set.iter().any(|n| n == i.trim_start_matches('@')))
        };
        match () {
            _ if has(&remote) => 3,
            _ if has(&local) => 2,
            _ if s.ids.is_empty() || s.ids.iter().any(|i| i == "%any") => 1,
            _ => 0,
        }
    };
    secrets
        .iter()
        .filter(|s| score(s) > 0)
        .max_by_key(|s| score(s))
        .map(|s| s.secret.clone())
}

/// `proposals = aes256-sha256-modp2048, aes128gcm16-prfsha256-ecp256`: every algorithm of every
/// proposal, in order, in our one proposal.
fn ike_proposals(t: &mut Tunnel, v: &str, line: usize) {
    let mut several = false;
    for (n, prop) in v.split(',').map(str::trim).enumerate() {
        several |= n > 0;
        if prop == "default" {
            t.notes.push(Note::new(
                line,
                "proposals",
                "`default` carried as ikegate's defaults (see config.example.yaml)",
            ));
            continue;
        }
        for w in prop.trim_end_matches('!').split('-') {
            let p = &mut t.phase1;
            let added = if let Some(c) = names::ike_cipher(w) {
                push(&mut p.encryption, c)
            } else if let Some(g) = names::dh_group(w) {
                push(&mut p.dh_group, g)
            } else if let Some(k) = w.strip_prefix("ke1_").and_then(names::kem) {
                push(&mut p.additional_kes, k)
            } else if w.starts_with("prf") {
                names::hash(w).is_some_and(|h| push(&mut p.prf, h))
            } else if let Some(h) = names::hash(w) {
                push(&mut p.hash, h)
            } else {
                false
            };
            if !added && !w.is_empty() {
                t.notes.push(Note::new(
                    line,
                    "proposals",
                    format!("{} not carried: ikegate does not offer it", shown(w)),
                ));
            }
        }
    }
    if several {
        t.notes.push(Note::new(
            line,
            "proposals",
            "several proposals carried as one (ikegate offers every combination of the listed \
             algorithms)",
        ));
    }
}

/// Pushes `name` unless present; true either way when the name is ours.
fn push(list: &mut Vec<&'static str>, name: &'static str) -> bool {
    if !list.contains(&name) {
        list.push(name);
    }
    true
}

fn children(t: &mut Tunnel, s: &Section, draft: &mut Draft) -> Result<(), ImportError> {
    let mut first = true;
    for i in &s.items {
        match i {
            Item::Section(c) if first => {
                first = false;
                t.origin = format!("{}, child \"{}\"", t.origin, shown(&c.name));
                child(t, c, draft)?;
            }
            Item::Section(c) => t.notes.push(Note::new(
                c.line,
                c.path.clone(),
                "not carried: ikegate negotiates one child (one proxy-id per address family) \
                 per tunnel; import it as a tunnel of its own",
            )),
            Item::Value { key, line, .. } => t.notes.push(Note::new(
                *line,
                format!("{}.{key}", s.path),
                "not carried: expected a child section",
            )),
        }
    }
    Ok(())
}

fn child(t: &mut Tunnel, c: &Section, draft: &mut Draft) -> Result<(), ImportError> {
    let mut start_action = None;
    for i in &c.items {
        let (key, v, line) = match i {
            Item::Value { key, value, line } => (key.as_str(), value.as_str(), *line),
            Item::Section(x) => {
                t.notes.push(Note::new(
                    x.line,
                    x.path.clone(),
                    "not carried: unknown section",
                ));
                continue;
            }
        };
        if !CHILD_KEYS.contains(&key) {
            t.notes.push(Note::new(
                line,
                format!("{}.{key}", c.path),
                child_unsupported(key),
            ));
            continue;
        }
        child_value(t, key, v, line, &mut start_action)?;
    }
    proxy_ids(t, c, draft)?;
    let (responder, why) = match start_action.as_deref() {
        Some("start") => (false, None),
        Some("trap") => (
            false,
            Some("`trap` carried as initiating at start (ikegate keeps its tunnels up)"),
        ),
        Some(_) | None => (
            true,
            Some("start_action none (strongSwan's default): carried as `responder-only: enable`"),
        ),
    };
    t.responder_only = Some(responder);
    if let Some(why) = why {
        t.notes
            .push(Note::new(c.line, format!("{}.start_action", c.path), why));
    }
    Ok(())
}

fn child_unsupported(key: &str) -> &'static str {
    match key {
        "dpd_action" | "close_action" => {
            "not carried: ikegate negotiates again after the peer is declared dead or deletes \
             the SAs"
        }
        "updown" => "not carried: ikegate runs no scripts; the routes below replace it",
        "rand_time" | "rand_bytes" | "rand_packets" => {
            "not carried: ikegate picks its own rekey margin"
        }
        _ => "not carried: ikegate has no such setting",
    }
}

fn child_value(
    t: &mut Tunnel,
    key: &str,
    v: &str,
    line: usize,
    start_action: &mut Option<String>,
) -> Result<(), ImportError> {
    let bad = |what: &str| ImportError::at(line, format!("{key} = {}: {what}", shown(v)));
    match key {
        "esp_proposals" => esp_proposals(t, v, line),
        "life_time" | "rekey_time" => {
            let s = duration(v).ok_or_else(|| bad("not a time (e.g. 1h)"))?;
            if s > 0 && (key == "life_time" || t.phase2.lifetime_of_time.is_none()) {
                t.phase2.lifetime_of_time = Some(s);
            }
        }
        "life_bytes" | "rekey_bytes" => {
            let b: u64 = v.parse().map_err(|_| bad("not a byte count"))?;
            if key == "life_bytes" || t.phase2.lifetime_of_byte.is_none() {
                t.phase2.lifetime_of_byte = Some(b.min(u64::MAX / 2));
            }
        }
        "mode" => match v {
            "tunnel" => {}
            "transport" => t.transport = true,
            _ => t.notes.push(Note::new(
                line,
                key,
                format!(
                    "{} not carried: ikegate does tunnel and transport mode",
                    shown(v)
                ),
            )),
        },
        "start_action" => *start_action = Some(v.to_string()),
        _ => {}
    }
    Ok(())
}

fn esp_proposals(t: &mut Tunnel, v: &str, line: usize) {
    for prop in v.split(',').map(str::trim) {
        if prop == "default" {
            continue;
        }
        for w in prop.trim_end_matches('!').split('-') {
            let p = &mut t.phase2;
            let ok = if let Some(c) = names::esp_cipher(w) {
                push(&mut p.encryption, c)
            } else if let Some(a) = names::esp_integrity(w) {
                push(&mut p.authentication, a)
            } else if let Some(g) = names::dh_group(w) {
                if p.pfs_group.is_none() {
                    p.pfs_group = Some(g);
                }
                true
            } else if let Some(k) = w.strip_prefix("ke1_").and_then(names::kem) {
                push(&mut p.additional_kes, k)
            } else {
                w == "noesn"
            };
            if !ok {
                t.notes.push(Note::new(
                    line,
                    "esp_proposals",
                    format!("{} not carried: ikegate does not offer it", shown(w)),
                ));
            }
        }
    }
}

/// `local_ts` / `remote_ts` into the proxy-id (one pair per family) and routes.
fn proxy_ids(t: &mut Tunnel, c: &Section, draft: &mut Draft) -> Result<(), ImportError> {
    let local = selectors(t, c, "local_ts", t.source)?;
    let remote = selectors(
        t,
        c,
        "remote_ts",
        match t.destination {
            Some(Dest::Addr(a)) => Some(a),
            _ => None,
        },
    )?;
    for v6 in [false, true] {
        let l = local.iter().find(|s| s.addr().is_ipv6() == v6);
        let r = remote.iter().find(|s| s.addr().is_ipv6() == v6);
        if let (Some(l), Some(r)) = (l, r) {
            if !t.transport {
                // A child section given twice merges (strongSwan's rule): its later selectors
                // replace the earlier pair of the family, as `proxy-id` holds one per family.
                t.phase2
                    .proxy_ids
                    .retain(|(pl, _)| pl.addr().is_ipv6() != v6);
                t.phase2.proxy_ids.push((*l, *r));
            }
            let default = r.prefix() == 0;
            if default {
                t.notes.push(Note::new(
                    c.line,
                    format!("route to {r}"),
                    "not written: a default route into the tunnel would also carry the IKE \
                     packets; add the routes you need by hand",
                ));
            } else if !t.transport {
                draft.routes.push(super::Route {
                    destination: *r,
                    gateway: t.name.clone(),
                    line: c.line,
                });
            }
        }
    }
    Ok(())
}

/// The selectors of `key` (`dynamic`: the outer address).
fn selectors(
    t: &mut Tunnel,
    c: &Section,
    key: &str,
    outer: Option<IpAddr>,
) -> Result<Vec<Subnet>, ImportError> {
    let Some((v, line)) = c.value(key) else {
        return Ok(outer.map(host).into_iter().collect());
    };
    let mut out: Vec<Subnet> = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (net, restriction) = match item.split_once('[') {
            Some((n, r)) => (n.trim(), Some(r)),
            None => (item, None),
        };
        let s = if net == "dynamic" {
            outer.map(host)
        } else {
            crate::config::parse_prefix(net).ok()
        };
        let Some(s) = s else {
            t.notes.push(Note::new(
                line,
                format!("{}.{key}", c.path),
                format!(
                    "{} not carried: ikegate selectors are prefixes (no ranges or names)",
                    shown(item)
                ),
            ));
            continue;
        };
        if restriction.is_some() {
            t.notes.push(Note::new(
                line,
                format!("{}.{key}", c.path),
                format!(
                    "{} carried without its [protocol/port]: ikegate selectors are whole \
                     prefixes",
                    shown(item)
                ),
            ));
        }
        if out.iter().any(|o| o.addr().is_ipv6() == s.addr().is_ipv6()) {
            t.notes.push(Note::new(
                line,
                format!("{}.{key}", c.path),
                format!(
                    "{s} not carried: one selector per address family per tunnel; import it as \
                     a tunnel of its own"
                ),
            ));
            continue;
        }
        out.push(s);
    }
    Ok(out)
}

fn host(a: IpAddr) -> Subnet {
    Subnet::host(a)
}
