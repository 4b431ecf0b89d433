//! What an import carries, in our terms: tunnels (one per interface), routes, and notes about
//! what was left behind. [`Draft::settle`] makes it something `ikegate check` accepts.

use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::ike::Subnet;

/// A setting not carried (or changed on the way), printed as a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// 1-based line of the setting in the source file (0: not one line).
    pub line: usize,
    /// The source key, e.g. `interface.ge0.ipv4.address` or `connections.gw.mobike`.
    pub key: String,
    /// Why it is not carried, and what to do about it.
    pub why: String,
}

impl Note {
    /// A note about `key` on `line`.
    pub fn new(line: usize, key: impl Into<String>, why: impl Into<String>) -> Note {
        Note {
            line,
            key: key.into(),
            why: why.into(),
        }
    }
}

/// The peer's outer address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// A fixed address.
    Addr(IpAddr),
    /// Learned from IKE (`destination: dynamic`).
    Dynamic,
}

/// An IKE identity (`my-identifier` / `peers-identifier`): our key word and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `address`, `fqdn`, `user-fqdn`, `key-id` or `asn1dn`.
    pub kind: &'static str,
    /// The value, as written after the key word.
    pub value: String,
}

/// Dead Peer Detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dpd {
    /// `dpd: disable`.
    Disable,
    /// `dpd: { interval, retries }`, either left to its default when `None`.
    On {
        /// Seconds without traffic before a probe.
        interval: Option<u64>,
        /// Unanswered probes before the peer is declared dead.
        retries: Option<u64>,
    },
}

/// `proposal.phase1`, in our algorithm names (empty lists: our defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phase1 {
    /// `lifetime`, seconds.
    pub lifetime: Option<u64>,
    /// `encryption`.
    pub encryption: Vec<&'static str>,
    /// `hash`.
    pub hash: Vec<&'static str>,
    /// `prf` (IKEv2).
    pub prf: Vec<&'static str>,
    /// `dh-group` (one for IKEv1, a list for IKEv2).
    pub dh_group: Vec<&'static str>,
    /// `additional-key-exchanges` (IKEv2, one entry per round).
    pub additional_kes: Vec<&'static str>,
}

/// `proposal.phase2`, in our names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phase2 {
    /// `proxy-id`: at most one pair per address family.
    pub proxy_ids: Vec<(Subnet, Subnet)>,
    /// `encryption`.
    pub encryption: Vec<&'static str>,
    /// `authentication`.
    pub authentication: Vec<&'static str>,
    /// `pfs-group` (`none` or a group).
    pub pfs_group: Option<&'static str>,
    /// `lifetime-of-time`, seconds.
    pub lifetime_of_time: Option<u64>,
    /// `lifetime-of-byte`.
    pub lifetime_of_byte: Option<u64>,
    /// `additional-key-exchanges` (IKEv2, with PFS).
    pub additional_kes: Vec<&'static str>,
}

/// One tunnel interface.
#[derive(Debug, Clone, Default)]
pub struct Tunnel {
    /// Interface name (`ipsec0`).
    pub name: String,
    /// Where it came from, for the comment above it (`swanctl connection "gw", child "net"`).
    pub origin: String,
    /// Line where it starts in the source.
    pub line: usize,
    /// Our outer address.
    pub source: Option<IpAddr>,
    /// The peer's.
    pub destination: Option<Dest>,
    /// The pre-shared key.
    pub psk: Option<Zeroizing<String>>,
    /// `responder-only`.
    pub responder_only: Option<bool>,
    /// `nat-traversal`: `enable`, `disable` or `force`.
    pub nat_traversal: Option<&'static str>,
    /// `mtu` (a number) — `None`: auto.
    pub mtu: Option<u64>,
    /// `tcp-mss`: a number, `auto` or `disable`.
    pub tcp_mss: Option<String>,
    /// `mode: transport` when true.
    pub transport: bool,
    /// `ike.version`.
    pub version: Option<u8>,
    /// `ike.exchange-mode`: `main` or `aggressive`.
    pub exchange_mode: Option<&'static str>,
    /// `ike.my-identifier`.
    pub my_id: Option<Identity>,
    /// `ike.peers-identifier`.
    pub peer_id: Option<Identity>,
    /// `ike.dpd`.
    pub dpd: Option<Dpd>,
    /// `ike.nat-keepalive` seconds, or 0 for `disable`.
    pub nat_keepalive: Option<u64>,
    /// `ike.fragmentation`.
    pub fragmentation: Option<bool>,
    /// `ike.proposal.phase1`.
    pub phase1: Phase1,
    /// `ike.proposal.phase2`.
    pub phase2: Phase2,
    /// Notes printed above this tunnel.
    pub notes: Vec<Note>,
}

/// A route through a tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub destination: Subnet,
    /// Interface name.
    pub gateway: String,
    /// Line in the source.
    pub line: usize,
}

/// Everything one file carries.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Tunnels, in file order.
    pub tunnels: Vec<Tunnel>,
    /// Routes.
    pub routes: Vec<Route>,
    /// Notes about the file as a whole (or lines outside any tunnel).
    pub notes: Vec<Note>,
}

/// Our ranges (the configuration parser's) for the numbers an import writes.
const PHASE1_LIFETIME: (u64, u64) = (60, 604_800);
const PHASE2_LIFETIME: (u64, u64) = (30, 604_800);
const DPD_INTERVAL: (u64, u64) = (1, 3600);
const DPD_RETRIES: (u64, u64) = (1, 100);
const MTU: (u64, u64) = (576, 9000);

impl Draft {
    /// Drops or fixes what `ikegate check` would refuse, each with a note: tunnels without
    /// addresses or key, algorithms the tunnel's IKE version cannot offer, numbers outside our
    /// ranges, routes through tunnels that were dropped, routes given twice.
    pub fn settle(&mut self) {
        let tunnels = std::mem::take(&mut self.tunnels);
        for mut t in tunnels {
            match t.missing() {
                Some(why) => {
                    self.notes.push(Note::new(
                        t.line,
                        t.origin.clone(),
                        format!("not imported: {why}"),
                    ));
                    self.notes.append(&mut t.notes);
                }
                None => {
                    t.settle_ike();
                    self.tunnels.push(t);
                }
            }
        }
        let names: Vec<String> = self.tunnels.iter().map(|t| t.name.clone()).collect();
        let mut seen = Vec::new();
        let routes = std::mem::take(&mut self.routes);
        for r in routes {
            let key = format!("route to {}", r.destination);
            if !names.contains(&r.gateway) {
                self.notes.push(Note::new(
                    r.line,
                    key,
                    format!(
                        "not carried: it goes through {}, which is not an imported tunnel",
                        r.gateway
                    ),
                ));
            } else if seen.contains(&r.destination) {
                self.notes.push(Note::new(
                    r.line,
                    key,
                    "not carried: the same destination is routed earlier in the file",
                ));
            } else {
                seen.push(r.destination);
                self.routes.push(r);
            }
        }
    }
}

impl Tunnel {
    /// Why this tunnel cannot be written at all, if so.
    fn missing(&self) -> Option<String> {
        let (Some(s), Some(d)) = (self.source, self.destination) else {
            return Some(
                "it has no local and remote outer address (ikegate needs both as literal \
                 addresses)"
                    .into(),
            );
        };
        if let Dest::Addr(d) = d {
            if d.is_ipv4() != s.is_ipv4() {
                return Some(format!(
                    "its outer addresses {s} and {d} are not of one address family"
                ));
            }
        }
        if self.psk.is_none() {
            return Some(
                "no pre-shared key for it (ikegate imports pre-shared-key tunnels; write \
                 `ike.certificate` by hand for certificates)"
                    .into(),
            );
        }
        if self.destination == Some(Dest::Dynamic) {
            let id_ok = self.peer_id.as_ref().is_some_and(|i| i.kind != "address");
            if self.version == Some(2) || self.exchange_mode != Some("aggressive") || !id_ok {
                return Some(
                    "its peer has no fixed address; ikegate answers such peers (road warriors) \
                     only with IKEv1 Aggressive Mode and an fqdn / user-fqdn / key-id peer \
                     identity"
                        .into(),
                );
            }
        }
        None
    }

    fn note(&mut self, key: &str, why: impl Into<String>) {
        let line = self.line;
        self.notes.push(Note::new(line, key, why));
    }

    /// Version checks and ranges, as our configuration parser applies them.
    fn settle_ike(&mut self) {
        if self.destination == Some(Dest::Dynamic) {
            self.responder_only = Some(true);
        }
        let v2 = self.version == Some(2);
        let p1 = &mut self.phase1;
        let mut dropped = Vec::new();
        if v2 {
            p1.encryption.retain(|e| {
                let ok = *e != "3des";
                if !ok {
                    dropped.push((
                        "phase1 encryption 3des",
                        "IKEv2 here offers AES and ChaCha20 only",
                    ));
                }
                ok
            });
            p1.hash.retain(|h| {
                let ok = *h != "md5";
                if !ok {
                    dropped.push(("phase1 integrity md5", "IKEv2 here offers no MD5"));
                }
                ok
            });
        } else {
            p1.encryption.retain(|e| {
                let ok = !is_aead(e);
                if !ok {
                    dropped.push(("phase1 AEAD cipher", "IKEv1 has no AEAD cipher for phase 1"));
                }
                ok
            });
            if !p1.prf.is_empty() {
                p1.prf.clear();
                dropped.push(("phase1 prf", "IKEv1 takes the PRF from the hash"));
            }
            if p1.dh_group.len() > 1 {
                p1.dh_group.truncate(1);
                dropped.push((
                    "phase1 dh-group (all but the first)",
                    "IKEv1 proposes one Diffie-Hellman group",
                ));
            }
            if !p1.additional_kes.is_empty() || !self.phase2.additional_kes.is_empty() {
                p1.additional_kes.clear();
                self.phase2.additional_kes.clear();
                dropped.push(("additional key exchanges", "ML-KEM rounds are IKEv2 only"));
            }
        }
        let p1 = &mut self.phase1;
        if v2 && !p1.encryption.is_empty() && p1.encryption.iter().all(|e| is_aead(e)) {
            p1.hash.clear();
            if p1.prf.is_empty() {
                p1.prf = vec!["sha256"];
                dropped.push((
                    "phase1 prf",
                    "an AEAD-only proposal needs a PRF; prf sha256 was added",
                ));
            }
        }
        if !p1.encryption.is_empty() && !v2 && p1.hash.is_empty() {
            p1.hash = vec!["sha256", "sha1"];
        }
        let p2 = &mut self.phase2;
        if !p2.encryption.is_empty() && p2.encryption.iter().all(|e| is_aead(e)) {
            p2.authentication.clear();
        }
        if self.phase2.pfs_group.is_none() && !self.phase2.additional_kes.is_empty() {
            self.phase2.additional_kes.clear();
            dropped.push((
                "phase2 additional key exchanges",
                "ML-KEM in CREATE_CHILD_SA needs a PFS group here",
            ));
        }
        for (k, why) in dropped {
            self.note(k, format!("not carried: {why}"));
        }
        self.clamp_numbers();
    }

    fn clamp_numbers(&mut self) {
        let mut notes = Vec::new();
        clamp(
            &mut self.phase1.lifetime,
            PHASE1_LIFETIME,
            "phase1 lifetime",
            &mut notes,
        );
        clamp(
            &mut self.phase2.lifetime_of_time,
            PHASE2_LIFETIME,
            "phase2 lifetime-of-time",
            &mut notes,
        );
        clamp(&mut self.mtu, MTU, "mtu", &mut notes);
        if let Some(Dpd::On { interval, retries }) = &mut self.dpd {
            clamp(interval, DPD_INTERVAL, "dpd interval", &mut notes);
            clamp(retries, DPD_RETRIES, "dpd retries", &mut notes);
        }
        if let Some(k) = self.nat_keepalive.filter(|k| *k > 3600) {
            notes.push((
                "nat-keepalive",
                format!("{k} s is beyond 3600 s; 3600 written"),
            ));
            self.nat_keepalive = Some(3600);
        }
        for (k, why) in notes {
            self.note(k, why);
        }
    }
}

fn clamp(
    v: &mut Option<u64>,
    (lo, hi): (u64, u64),
    key: &'static str,
    notes: &mut Vec<(&'static str, String)>,
) {
    if let Some(x) = *v {
        let c = x.clamp(lo, hi);
        if c != x {
            notes.push((key, format!("{x} is outside {lo}..{hi}; {c} written")));
            *v = Some(c);
        }
    }
}

/// True for our AEAD cipher names.
pub(crate) fn is_aead(name: &str) -> bool {
    name.ends_with("-gcm") || name == "chacha20-poly1305"
}
