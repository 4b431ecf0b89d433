//! Traffic selectors (RFC 7296 §2.9, §3.13): what we propose from the configured proxy-ids,
//! narrowing as responder, the initiator's check of the answer, and the (local ⇄ remote)
//! subnet pairs the data plane routes and checks by.

use std::net::IpAddr;

use crate::ike::policy::{ProxyId, Subnet};
use crate::wire::ikev2::{Side, TrafficSelector, TsRepr};

/// Most subnets one address range is split into for the data plane.
const MAX_SUBNETS_PER_RANGE: usize = 16;

/// The configured proxy-ids as the two subnet lists of one child: (local, remote), each
/// without duplicates, in configuration order.
pub(crate) fn configured(ids: &[ProxyId]) -> (Vec<Subnet>, Vec<Subnet>) {
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for p in ids {
        if !local.contains(&p.local) {
            local.push(p.local);
        }
        if !remote.contains(&p.remote) {
            remote.push(p.remote);
        }
    }
    (local, remote)
}

/// A TS payload selecting every protocol and port of `subnets`.
pub(crate) fn ts_payload(side: Side, subnets: &[Subnet]) -> TsRepr {
    TsRepr {
        side,
        selectors: subnets.iter().map(|s| selector(*s)).collect(),
    }
}

/// The selector of a whole subnet (any protocol, any port).
fn selector(s: Subnet) -> TrafficSelector {
    let (start, end) = bounds(s);
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start: from_u128(start, s.addr().is_ipv4()),
        end: from_u128(end, s.addr().is_ipv4()),
    }
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn from_u128(x: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(std::net::Ipv4Addr::from(x as u32))
    } else {
        IpAddr::V6(x.into())
    }
}

/// First and last address of a subnet as integers.
fn bounds(s: Subnet) -> (u128, u128) {
    let bits = if s.addr().is_ipv4() { 32 } else { 128 };
    let host_bits = bits - u32::from(s.prefix());
    let start = to_u128(s.addr());
    let span = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    (start, start | span)
}

/// The part of `ts` inside `s`, keeping its protocol and ports; `None` if disjoint or of
/// another family.
fn intersect(ts: &TrafficSelector, s: Subnet) -> Option<TrafficSelector> {
    if ts.start.is_ipv4() != s.addr().is_ipv4() || ts.end.is_ipv4() != ts.start.is_ipv4() {
        return None;
    }
    let (a, b) = bounds(s);
    let start = to_u128(ts.start).max(a);
    let end = to_u128(ts.end).min(b);
    (start <= end).then(|| TrafficSelector {
        start: from_u128(start, ts.start.is_ipv4()),
        end: from_u128(end, ts.start.is_ipv4()),
        ..*ts
    })
}

/// Responder narrowing (§2.9): each proposed selector cut down to our configured subnets.
/// Empty when nothing overlaps (answer TS_UNACCEPTABLE).
pub(crate) fn narrow(proposed: &[TrafficSelector], ours: &[Subnet]) -> Vec<TrafficSelector> {
    let mut out: Vec<TrafficSelector> = Vec::new();
    for ts in proposed {
        for s in ours {
            if let Some(x) = intersect(ts, *s) {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
        }
    }
    out
}

/// Initiator: true when every answered selector lies inside one we proposed.
pub(crate) fn within(answered: &[TrafficSelector], proposed: &[Subnet]) -> bool {
    !answered.is_empty()
        && answered.iter().all(|ts| {
            proposed
                .iter()
                .any(|s| intersect(ts, *s).is_some_and(|x| x.start == ts.start && x.end == ts.end))
        })
}

/// The subnets covering the address ranges of `sels` (CIDR decomposition, bounded).
pub(crate) fn subnets(sels: &[TrafficSelector]) -> Vec<Subnet> {
    let mut out = Vec::new();
    for ts in sels {
        if ts.start.is_ipv4() != ts.end.is_ipv4() {
            continue;
        }
        for s in range_to_subnets(ts.start, ts.end) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// The largest aligned blocks that exactly cover `start..=end`, at most
/// [`MAX_SUBNETS_PER_RANGE`] (a range needing more is covered by its first blocks only).
fn range_to_subnets(start: IpAddr, end: IpAddr) -> Vec<Subnet> {
    let v4 = start.is_ipv4();
    let bits: u32 = if v4 { 32 } else { 128 };
    let (mut a, b) = (to_u128(start), to_u128(end));
    let mut out = Vec::new();
    while a <= b && out.len() < MAX_SUBNETS_PER_RANGE {
        // Largest block aligned at `a` that does not pass `b`.
        let mut host = if a == 0 {
            bits
        } else {
            a.trailing_zeros().min(bits)
        };
        while host > 0 && block_end(a, host).is_none_or(|e| e > b) {
            host -= 1;
        }
        out.push(Subnet::new(from_u128(a, v4), (bits - host) as u8));
        match block_end(a, host).and_then(|e| e.checked_add(1)) {
            Some(next) => a = next,
            None => break,
        }
    }
    out
}

fn block_end(a: u128, host_bits: u32) -> Option<u128> {
    if host_bits >= 128 {
        return (a == 0).then_some(u128::MAX);
    }
    a.checked_add((1u128 << host_bits) - 1)
}

/// The (local ⇄ remote) pairs of one address family each: what the data plane routes by.
pub(crate) fn pairs(local: &[Subnet], remote: &[Subnet]) -> Vec<ProxyId> {
    let mut out = Vec::new();
    for l in local {
        for r in remote {
            if l.addr().is_ipv4() == r.addr().is_ipv4() {
                out.push(ProxyId {
                    local: *l,
                    remote: *r,
                });
            }
        }
    }
    out
}

/// Selectors in words for logs and diagnostics, e.g. `10.1.0.0/16, 2001:db8::/32`.
pub(crate) fn words(sels: &[TrafficSelector]) -> String {
    sels.iter()
        .map(|t| {
            let s = subnets(std::slice::from_ref(t));
            let mut w = match s.as_slice() {
                [one] => one.to_string(),
                _ => format!("{}-{}", t.start, t.end),
            };
            if t.ip_protocol != 0 {
                w.push_str(&format!("[proto {}]", t.ip_protocol));
            }
            if (t.start_port, t.end_port) != (0, 65535) {
                w.push_str(&format!("[ports {}-{}]", t.start_port, t.end_port));
            }
            w
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Subnets in words.
pub(crate) fn subnet_words(s: &[Subnet]) -> String {
    s.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sn(s: &str) -> Subnet {
        s.parse().unwrap()
    }

    #[test]
    fn narrowing_cuts_to_our_subnets_per_family() {
        let proposed = ts_payload(Side::Initiator, &[sn("10.0.0.0/8"), sn("2001:db8::/32")]);
        let ours = [
            sn("10.1.0.0/16"),
            sn("2001:db8:1::/48"),
            sn("192.168.0.0/24"),
        ];
        let n = narrow(&proposed.selectors, &ours);
        assert_eq!(subnets(&n), vec![sn("10.1.0.0/16"), sn("2001:db8:1::/48")]);
        assert!(narrow(&proposed.selectors, &[sn("172.16.0.0/12")]).is_empty());
    }

    #[test]
    fn answer_must_lie_within_the_proposal() {
        let ans = ts_payload(Side::Responder, &[sn("10.1.2.0/24")]);
        assert!(within(&ans.selectors, &[sn("10.1.0.0/16")]));
        assert!(!within(&ans.selectors, &[sn("10.2.0.0/16")]));
        assert!(!within(&[], &[sn("10.2.0.0/16")]));
    }

    #[test]
    fn ranges_split_into_cidr_blocks() {
        let r = range_to_subnets("10.0.0.1".parse().unwrap(), "10.0.0.6".parse().unwrap());
        let w: Vec<String> = r.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            w,
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        let all = range_to_subnets(
            "::".parse().unwrap(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
        );
        assert_eq!(all, vec![sn("::/0")]);
        let all4 = range_to_subnets(
            "0.0.0.0".parse().unwrap(),
            "255.255.255.255".parse().unwrap(),
        );
        assert_eq!(all4, vec![sn("0.0.0.0/0")]);
    }

    #[test]
    fn pairs_match_families() {
        let p = pairs(
            &[sn("10.0.0.0/8"), sn("fd00::/8")],
            &[sn("10.9.0.0/16"), sn("fd09::/16")],
        );
        assert_eq!(p.len(), 2);
        assert!(p
            .iter()
            .all(|x| x.local.addr().is_ipv4() == x.remote.addr().is_ipv4()));
    }
}
