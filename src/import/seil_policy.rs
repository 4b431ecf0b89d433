//! SEIL's policy-based IPsec tables, as dotted keys: each `ike.peer.NAME` becomes one
//! route-based tunnel.
//!
//! - `ike.peer.P.address` (the peer), `.preshared-key`, `.exchange-mode`, `.my-identifier`,
//!   `.peers-identifier`, `.responder-only`, `.nat-traversal`, `.dpd`, `.version`, `.proposal`
//!   (the name of an `ike.proposal`); `ike.preshared-key.ADDRESS` is the key of the peer at
//!   ADDRESS.
//! - `ike.proposal.R.{lifetime-of-time, encryption.N.algorithm, hash.N.algorithm, dh-group}`:
//!   phase 1 of the peers naming R.
//! - `ipsec.security-association.S.{ipv4|ipv6.source, .destination, encryption.N.algorithm,
//!   authentication.N.algorithm, pfs-group, lifetime-of-time, lifetime-of-byte}`: phase 2 of the
//!   peer at S's destination; its source is our outer address.
//! - `ipsec.security-policy.Y.{source, destination, security-association}`: the proxy-id of
//!   that tunnel (one pair per address family) and a route to the destination through it.

use std::collections::BTreeMap;

use super::draft::{Dest, Draft, Note, Tunnel};
use super::seil::{address, prefix, shown, tunnel_key, Line, Lists};
use super::ImportError;

type Table<'a> = BTreeMap<String, Vec<(String, Line<'a>)>>;

/// Reads the policy-based lines into tunnels and routes of `draft`.
pub(super) fn read(lines: &[Line<'_>], draft: &mut Draft) -> Result<(), ImportError> {
    let (mut peers, mut props, mut sas, mut sps) =
        (Table::new(), Table::new(), Table::new(), Table::new());
    let mut psks = BTreeMap::new();
    for l in lines {
        let (table, rest) = if let Some(r) = l.key.strip_prefix("ike.peer.") {
            (&mut peers, r)
        } else if let Some(r) = l.key.strip_prefix("ike.proposal.") {
            (&mut props, r)
        } else if let Some(r) = l.key.strip_prefix("ipsec.security-association.") {
            (&mut sas, r)
        } else if let Some(r) = l.key.strip_prefix("ipsec.security-policy.") {
            (&mut sps, r)
        } else if let Some(a) = l.key.strip_prefix("ike.preshared-key.") {
            psks.insert(address(a, l)?, l.clone());
            continue;
        } else {
            continue;
        };
        let Some((name, field)) = rest.split_once('.') else {
            draft
                .notes
                .push(Note::new(l.no, l.key, "not carried: expected NAME.FIELD"));
            continue;
        };
        table
            .entry(name.to_string())
            .or_default()
            .push((field.to_string(), l.clone()));
    }
    let mut tunnels = Vec::new();
    for (name, fields) in &peers {
        let mut taken: Vec<String> = draft.tunnels.iter().map(|t| t.name.clone()).collect();
        taken.extend(
            tunnels
                .iter()
                .map(|(t, _): &(Tunnel, String)| t.name.clone()),
        );
        tunnels.push(peer(name, fields, &props, &psks, &taken)?);
    }
    for (name, fields) in &sas {
        security_association(name, fields, &mut tunnels, draft)?;
    }
    for (name, fields) in &sps {
        security_policy(name, fields, &sas, &mut tunnels, draft)?;
    }
    tunnels.sort_by_key(|(t, _)| t.line);
    draft.tunnels.extend(tunnels.into_iter().map(|(t, _)| t));
    Ok(())
}

fn peer(
    name: &str,
    fields: &[(String, Line<'_>)],
    props: &Table<'_>,
    psks: &BTreeMap<std::net::IpAddr, Line<'_>>,
    taken: &[String],
) -> Result<(Tunnel, String), ImportError> {
    let mut t = Tunnel {
        name: super::free_name(taken),
        origin: format!("SEIL ike.peer.{}", shown(name)),
        line: fields.first().map_or(0, |(_, l)| l.no),
        ..Tunnel::default()
    };
    let mut lists = Lists::default();
    let mut proposal = None;
    for (field, l) in fields {
        let rest = match field.as_str() {
            "address" => {
                let a = address(&l.value, l)?;
                t.destination = Some(Dest::Addr(a));
                continue;
            }
            "proposal" | "proposals" => {
                proposal = Some(l.value.clone());
                continue;
            }
            f @ ("preshared-key" | "responder-only" | "nat-traversal") => f.to_string(),
            f => format!("ike.{f}"),
        };
        if !tunnel_key(&mut t, &rest, l, &mut lists)? {
            t.notes.push(Note::new(
                l.no,
                l.key,
                "not carried: ikegate has no such setting",
            ));
        }
    }
    if let Some(p) = &proposal {
        match props.get(p) {
            Some(fs) => {
                for (field, l) in fs {
                    let f = match field.as_str() {
                        "lifetime" => "lifetime-of-time",
                        f => f,
                    };
                    let rest = format!("ike.proposal.phase1.{f}");
                    if !tunnel_key(&mut t, &rest, l, &mut lists)? {
                        t.notes.push(Note::new(
                            l.no,
                            l.key,
                            "not carried: ikegate has no such phase-1 setting",
                        ));
                    }
                }
            }
            None => t.notes.push(Note::new(
                t.line,
                format!("ike.peer.{}.proposal", shown(name)),
                format!(
                    "no ike.proposal.{} in the file; our defaults apply",
                    shown(p)
                ),
            )),
        }
    }
    if t.psk.is_none() {
        if let Some(Dest::Addr(a)) = t.destination {
            if let Some(l) = psks.get(&a) {
                tunnel_key(&mut t, "preshared-key", l, &mut lists)?;
            }
        }
    }
    lists.apply(&mut t)?;
    Ok((t, name.to_string()))
}

/// Phase 2 and our outer address from an SA, into the tunnel of the peer it points at.
fn security_association(
    name: &str,
    fields: &[(String, Line<'_>)],
    tunnels: &mut [(Tunnel, String)],
    draft: &mut Draft,
) -> Result<(), ImportError> {
    let Some(t) = sa_tunnel(fields, tunnels)? else {
        let line = fields.first().map_or(0, |(_, l)| l.no);
        draft.notes.push(Note::new(
            line,
            format!("ipsec.security-association.{}", shown(name)),
            "not carried: its destination is no ike.peer address",
        ));
        return Ok(());
    };
    let mut lists = Lists::default();
    for (field, l) in fields {
        let rest = match field.as_str() {
            f @ ("ipv4.source" | "ipv6.source") => f.to_string(),
            "ipv4.destination" | "ipv6.destination" => continue,
            f => format!("ike.proposal.phase2.{f}"),
        };
        if !tunnel_key(t, &rest, l, &mut lists)? {
            t.notes.push(Note::new(
                l.no,
                l.key,
                "not carried: ikegate has no such phase-2 setting",
            ));
        }
    }
    lists.apply(t)
}

fn sa_tunnel<'t>(
    fields: &[(String, Line<'_>)],
    tunnels: &'t mut [(Tunnel, String)],
) -> Result<Option<&'t mut Tunnel>, ImportError> {
    let Some((_, l)) = fields
        .iter()
        .find(|(f, _)| f == "ipv4.destination" || f == "ipv6.destination")
    else {
        return Ok(None);
    };
    let d = Dest::Addr(address(&l.value, l)?);
    Ok(tunnels
        .iter_mut()
        .map(|(t, _)| t)
        .find(|t| t.destination == Some(d)))
}

/// A policy's selectors: the proxy-id of its SA's tunnel and a route to its destination.
fn security_policy(
    name: &str,
    fields: &[(String, Line<'_>)],
    sas: &Table<'_>,
    tunnels: &mut [(Tunnel, String)],
    draft: &mut Draft,
) -> Result<(), ImportError> {
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, l)| l);
    let line = fields.first().map_or(0, |(_, l)| l.no);
    let key = format!("ipsec.security-policy.{}", shown(name));
    let (Some(src), Some(dst), Some(sa)) = (
        get("source"),
        get("destination"),
        get("security-association"),
    ) else {
        draft.notes.push(Note::new(
            line,
            key,
            "not carried: a policy needs source, destination and security-association",
        ));
        return Ok(());
    };
    let (s, d) = (prefix(&src.value, src)?, prefix(&dst.value, dst)?);
    let found = match sas.get(&sa.value) {
        Some(fs) => sa_tunnel(fs, tunnels)?,
        None => None,
    };
    let Some(t) = found else {
        draft.notes.push(Note::new(
            line,
            key,
            "not carried: its security-association leads to no ike.peer",
        ));
        return Ok(());
    };
    for (f, l) in fields {
        if !matches!(
            f.as_str(),
            "source" | "destination" | "security-association"
        ) {
            t.notes.push(Note::new(
                l.no,
                l.key,
                "not carried: ikegate has no such setting",
            ));
        }
    }
    let v6 = s.addr().is_ipv6();
    if d.addr().is_ipv6() != v6 {
        return Err(ImportError::at(
            dst.no,
            format!(
                "{}: source and destination are of different address families",
                key
            ),
        ));
    }
    if t.phase2
        .proxy_ids
        .iter()
        .any(|(a, _)| a.addr().is_ipv6() == v6)
    {
        t.notes.push(Note::new(
            line,
            key,
            "not carried: ikegate negotiates one proxy-id per address family per tunnel; make \
             it a tunnel of its own",
        ));
        return Ok(());
    }
    t.phase2.proxy_ids.push((s, d));
    draft.routes.push(super::Route {
        destination: d,
        gateway: t.name.clone(),
        line,
    });
    Ok(())
}
