//! Phase 2 (ESP) proposals: our Quick Mode offer, the responder's choice and the initiator's
//! check of the answer.

use std::fmt;

use crate::crypto::dh::DhGroup;
use crate::crypto::{EncAlg, IntegAlg};
use crate::wire::isakmp::sa::{AttributeRepr, ProposalRepr, SaRepr, TransformRepr};
use crate::wire::isakmp::{ProtocolId, SaPayload, Transform, WireError};
use crate::wire::isakmp::{DOI_IPSEC, SIT_IDENTITY_ONLY};

use super::super::diagnostic::Diagnostic;
use super::super::policy::{EspMode, Phase2Policy};
use super::{
    echo_transform, effective_kb, effective_lifetime, group_text, hint_text, join, p2attr, Reject,
};
use super::{ENCAP_TRANSPORT, ENCAP_TUNNEL, ENCAP_UDP_TRANSPORT, ENCAP_UDP_TRANSPORT_DRAFT};
use super::{ENCAP_UDP_TUNNEL, ENCAP_UDP_TUNNEL_DRAFT, LIFE_KILOBYTES, LIFE_SECONDS};

/// A phase-2 (ESP) suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase2Proposal {
    /// Encryption.
    pub enc: EncAlg,
    /// Integrity ([`IntegAlg::None`] with AEAD).
    pub integ: IntegAlg,
    /// PFS group.
    pub pfs: Option<DhGroup>,
    /// Lifetime in seconds.
    pub lifetime_secs: u32,
    /// Lifetime in kilobytes (0 = none).
    pub lifetime_kb: u64,
    /// Encapsulation mode attribute value (tunnel or transport, raw or UDP-encapsulated).
    pub encap: u16,
}

impl fmt::Display for Phase2Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.enc.config_name())?;
        if self.integ != IntegAlg::None {
            write!(f, "-{}", self.integ.config_name())?;
        }
        if let Some(g) = self.pfs {
            write!(f, "-{}", g.name())?;
        }
        Ok(())
    }
}

impl Phase2Proposal {
    /// True when ESP is to be UDP-encapsulated.
    pub fn udp_encap(&self) -> bool {
        matches!(
            self.encap,
            ENCAP_UDP_TUNNEL
                | ENCAP_UDP_TUNNEL_DRAFT
                | ENCAP_UDP_TRANSPORT
                | ENCAP_UDP_TRANSPORT_DRAFT
        )
    }

    /// Tunnel or transport mode.
    pub fn mode(&self) -> EspMode {
        encap_mode_of(self.encap).unwrap_or_default()
    }
}

/// The mode an encapsulation attribute value names (RFC 2407 §4.5, RFC 3947 §5, and the
/// draft values 61443/61444 strongSwan and racoon still send); `None` for an unknown value.
fn encap_mode_of(encap: u16) -> Option<EspMode> {
    match encap {
        ENCAP_TUNNEL | ENCAP_UDP_TUNNEL | ENCAP_UDP_TUNNEL_DRAFT => Some(EspMode::Tunnel),
        ENCAP_TRANSPORT | ENCAP_UDP_TRANSPORT | ENCAP_UDP_TRANSPORT_DRAFT => {
            Some(EspMode::Transport)
        }
        _ => None,
    }
}

/// The attribute value for `mode` with the UDP encapsulation (none, RFC 3947 or draft) that
/// the tunnel-mode value `tunnel_encap` (from the ISAKMP SA's NAT-T method) says.
pub fn encap_for_mode(tunnel_encap: u16, mode: EspMode) -> u16 {
    match (mode, tunnel_encap) {
        (EspMode::Tunnel, e) => e,
        (EspMode::Transport, ENCAP_UDP_TUNNEL) => ENCAP_UDP_TRANSPORT,
        (EspMode::Transport, ENCAP_UDP_TUNNEL_DRAFT) => ENCAP_UDP_TRANSPORT_DRAFT,
        (EspMode::Transport, _) => ENCAP_TRANSPORT,
    }
}

/// Our phase-2 offer: every (encryption, integrity) pair, AEAD ciphers without integrity.
pub fn phase2_offer(p: &Phase2Policy, encap: u16) -> Vec<Phase2Proposal> {
    let encap = encap_for_mode(encap, p.mode);
    let mut v = Vec::new();
    for e in &p.encryption {
        let integs: Vec<IntegAlg> = if e.is_aead() {
            vec![IntegAlg::None]
        } else {
            p.authentication
                .iter()
                .copied()
                .filter(|i| *i != IntegAlg::None)
                .collect()
        };
        for i in integs {
            v.push(Phase2Proposal {
                enc: *e,
                integ: i,
                pfs: p.pfs_group,
                lifetime_secs: p.lifetime_secs,
                lifetime_kb: p.lifetime_bytes.div_ceil(1024),
                encap,
            });
        }
    }
    v
}

fn esp_key_bits(e: EncAlg) -> Option<u16> {
    match e {
        EncAlg::Aes128Cbc | EncAlg::Aes128Gcm16 => Some(128),
        EncAlg::Aes192Cbc => Some(192),
        EncAlg::Aes256Cbc | EncAlg::Aes256Gcm16 => Some(256),
        EncAlg::Null | EncAlg::TripleDesCbc | EncAlg::ChaCha20Poly1305 => None,
    }
}

/// The SA payload of our Quick Mode message 1: one ESP proposal with our SPI and one
/// transform per suite (attributes: life type/duration in seconds [and kilobytes], group
/// description with PFS, encapsulation mode, authentication algorithm, key length).
pub fn phase2_sa(offer: &[Phase2Proposal], spi: u32) -> SaRepr {
    let transforms = offer
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut attrs = vec![
                AttributeRepr::basic(p2attr::LIFE_TYPE, LIFE_SECONDS as u16),
                AttributeRepr::number(p2attr::LIFE_DURATION, u64::from(p.lifetime_secs)),
            ];
            if p.lifetime_kb > 0 {
                attrs.push(AttributeRepr::basic(
                    p2attr::LIFE_TYPE,
                    LIFE_KILOBYTES as u16,
                ));
                attrs.push(AttributeRepr::number(p2attr::LIFE_DURATION, p.lifetime_kb));
            }
            if let Some(g) = p.pfs {
                attrs.push(AttributeRepr::basic(p2attr::GROUP_DESCRIPTION, g.id()));
            }
            attrs.push(AttributeRepr::basic(p2attr::ENCAPSULATION_MODE, p.encap));
            if let Some(a) = p.integ.ikev1_auth_attr() {
                attrs.push(AttributeRepr::basic(p2attr::AUTH_ALGORITHM, a));
            }
            if let Some(k) = esp_key_bits(p.enc) {
                attrs.push(AttributeRepr::basic(p2attr::KEY_LENGTH, k));
            }
            TransformRepr {
                number: (i + 1).min(255) as u8,
                id: p.enc.transform_id(),
                attrs,
            }
        })
        .collect();
    SaRepr {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![ProposalRepr {
            number: 1,
            protocol: ProtocolId::IPSEC_ESP,
            spi: spi.to_be_bytes().to_vec(),
            transforms,
        }],
    }
}

#[derive(Debug, Clone)]
struct P2Received {
    enc: Result<EncAlg, String>,
    integ: Result<IntegAlg, String>,
    group: Option<Result<DhGroup, String>>,
    encap: u16,
    lifetime_secs: Option<u64>,
    lifetime_kb: Option<u64>,
    unsupported: Vec<String>,
}

/// A received phase-2 transform in words (`aes256-sha256-modp2048`, mode, lifetimes), for the
/// negotiation transcript; `None` when its attributes do not parse.
pub(crate) fn describe_phase2_transform(t: &Transform<'_>) -> Option<String> {
    let r = P2Received::parse(t).ok()?;
    let encap = match r.encap {
        ENCAP_TUNNEL => "tunnel".to_string(),
        ENCAP_TRANSPORT => "transport".to_string(),
        ENCAP_UDP_TUNNEL | ENCAP_UDP_TUNNEL_DRAFT => "UDP-encapsulated tunnel".to_string(),
        ENCAP_UDP_TRANSPORT | ENCAP_UDP_TRANSPORT_DRAFT => "UDP-encapsulated transport".to_string(),
        e => format!("encapsulation {e}"),
    };
    let mut s = format!("{}, {encap}", r.text());
    if let Some(l) = r.lifetime_secs {
        s.push_str(&format!(", lifetime {l}s"));
    }
    if let Some(l) = r.lifetime_kb {
        s.push_str(&format!(", lifetime {l} KB"));
    }
    for u in &r.unsupported {
        s.push_str(&format!(", unsupported {u}"));
    }
    Some(s)
}

impl P2Received {
    fn parse(t: &Transform<'_>) -> Result<P2Received, WireError> {
        let (mut keylen, mut auth, mut group, mut encap) = (None, None, None, None);
        let (mut life_type, mut lifetime_secs, mut lifetime_kb) = (LIFE_SECONDS, None, None);
        let mut unsupported = Vec::new();
        for a in t.attributes() {
            let a = a?;
            let v = a.value.as_u64();
            match a.kind {
                p2attr::LIFE_TYPE => life_type = v.unwrap_or(0),
                p2attr::LIFE_DURATION if life_type == LIFE_SECONDS => lifetime_secs = v,
                p2attr::LIFE_DURATION if life_type == LIFE_KILOBYTES => lifetime_kb = v,
                p2attr::LIFE_DURATION => unsupported.push(format!("life type {life_type}")),
                p2attr::GROUP_DESCRIPTION => group = v,
                p2attr::ENCAPSULATION_MODE => encap = v,
                p2attr::AUTH_ALGORITHM => auth = v,
                p2attr::KEY_LENGTH => keylen = v,
                k => unsupported.push(format!("attribute {k}")),
            }
        }
        let enc = match (t.id, keylen) {
            (3, None | Some(192)) => Ok(EncAlg::TripleDesCbc),
            (11, None) => Ok(EncAlg::Null),
            (12, None | Some(128)) => Ok(EncAlg::Aes128Cbc),
            (12, Some(192)) => Ok(EncAlg::Aes192Cbc),
            (12, Some(256)) => Ok(EncAlg::Aes256Cbc),
            (20, None | Some(128)) => Ok(EncAlg::Aes128Gcm16),
            (20, Some(256)) => Ok(EncAlg::Aes256Gcm16),
            (28, None) => Ok(EncAlg::ChaCha20Poly1305),
            (12, Some(k)) => Err(format!("aes{k}")),
            (20, Some(k)) => Err(format!("aes{k}-gcm")),
            (2, _) => Err("des".into()),
            (18, _) => Err("aes-gcm8".into()),
            (19, _) => Err("aes-gcm12".into()),
            (13, _) => Err("aes-ctr".into()),
            (id, _) => Err(format!("esp-transform#{id}")),
        };
        let integ = match auth {
            None => Ok(IntegAlg::None),
            Some(a) => IntegAlg::ALL
                .into_iter()
                .find(|i| i.ikev1_auth_attr().map(u64::from) == Some(a))
                .ok_or_else(|| match a {
                    9 => "aes-xcbc".to_string(),
                    a => format!("auth#{a}"),
                }),
        };
        let group =
            group.map(|g| DhGroup::from_id(u16::try_from(g).unwrap_or(0)).ok_or(group_text(g)));
        Ok(P2Received {
            enc,
            integ,
            group,
            encap: encap
                .and_then(|e| u16::try_from(e).ok())
                .unwrap_or(ENCAP_TUNNEL),
            lifetime_secs,
            lifetime_kb,
            unsupported,
        })
    }

    fn text(&self) -> String {
        let mut s = self
            .enc
            .as_ref()
            .map(|e| e.config_name().to_string())
            .unwrap_or_else(|e| e.clone());
        match &self.integ {
            Ok(IntegAlg::None) => {}
            Ok(i) => s = format!("{s}-{}", i.config_name()),
            Err(e) => s = format!("{s}-{e}"),
        }
        match &self.group {
            Some(Ok(g)) => s = format!("{s}-{}", g.name()),
            Some(Err(e)) => s = format!("{s}-{e}"),
            None => {}
        }
        s
    }

    fn problems(&self, p: &Phase2Policy) -> Vec<String> {
        let mut v = Vec::new();
        match &self.enc {
            Ok(e) if p.encryption.contains(e) => {}
            Ok(e) => v.push(format!("add encryption: {}", e.config_name())),
            Err(e) => v.push(format!(
                "the peer's encryption {e} is not supported by ikegate"
            )),
        }
        let aead = self.enc.as_ref().map(|e| e.is_aead()).unwrap_or(false);
        match &self.integ {
            Ok(IntegAlg::None) if aead => {}
            Ok(IntegAlg::None) => v.push("the peer proposes no authentication algorithm".into()),
            Ok(i) if aead => v.push(format!(
                "the peer combines an AEAD cipher with {}",
                i.config_name()
            )),
            Ok(i) if p.authentication.contains(i) => {}
            Ok(i) => v.push(format!("add authentication: {}", i.config_name())),
            Err(e) => v.push(format!(
                "the peer's authentication {e} is not supported by ikegate"
            )),
        }
        match (&self.group, p.pfs_group) {
            (None, None) => {}
            (Some(Ok(g)), Some(ours)) if *g == ours => {}
            (Some(Ok(g)), _) => v.push(format!("set pfs-group: {}", g.name())),
            (Some(Err(e)), _) => v.push(format!("the peer's PFS {e} is not supported by ikegate")),
            (None, Some(_)) => v.push("disable pfs-group (the peer uses no PFS)".into()),
        }
        match encap_mode_of(self.encap) {
            Some(m) if m == p.mode => {}
            Some(m) => v.push(mode_mismatch(m, p.mode)),
            None => v.push(format!(
                "the peer's encapsulation mode {} is not supported",
                self.encap
            )),
        }
        for u in &self.unsupported {
            v.push(format!("the peer's {u} is not supported by ikegate"));
        }
        v
    }

    fn accept(&self, p: &Phase2Policy) -> Option<Phase2Proposal> {
        if !self.problems(p).is_empty() {
            return None;
        }
        Some(Phase2Proposal {
            enc: *self.enc.as_ref().ok()?,
            integ: *self.integ.as_ref().ok()?,
            pfs: match &self.group {
                Some(Ok(g)) => Some(*g),
                _ => None,
            },
            lifetime_secs: effective_lifetime(self.lifetime_secs, p.lifetime_secs),
            lifetime_kb: effective_kb(self.lifetime_kb, p.lifetime_bytes.div_ceil(1024)),
            encap: self.encap,
        })
    }
}

/// What to change when the peer's mode (`theirs`) is not the configured one (`ours`).
pub fn mode_mismatch(theirs: EspMode, ours: EspMode) -> String {
    format!(
        "the peer proposes {theirs} mode and this tunnel is configured for {ours} mode: set \
         `mode: {theirs}` on this interface, or {ours} mode on the peer"
    )
}

/// Responder: picks the first acceptable ESP transform of the initiator's SA (in its order).
/// Returns the suite, the initiator's SPI, and the SA payload to answer with (chosen transform
/// echoed, `our_spi` in the proposal).
pub fn select_phase2(
    sa: &SaPayload<'_>,
    p: &Phase2Policy,
    our_spi: u32,
) -> Result<(Phase2Proposal, u32, SaRepr), Reject> {
    let mut seen = Vec::new();
    let mut other_protocols = Vec::new();
    for prop in sa.proposals() {
        let prop = prop.map_err(Reject::Malformed)?;
        if prop.protocol != ProtocolId::IPSEC_ESP {
            other_protocols.push(prop.protocol);
            continue;
        }
        let their_spi = match prop.spi {
            [a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => return Err(Reject::Malformed(WireError::BadValue)),
        };
        for t in prop.transforms() {
            let t = t.map_err(Reject::Malformed)?;
            let r = P2Received::parse(&t).map_err(Reject::Malformed)?;
            if let Some(chosen) = r.accept(p) {
                let reply = SaRepr {
                    doi: DOI_IPSEC,
                    situation: SIT_IDENTITY_ONLY,
                    proposals: vec![ProposalRepr {
                        number: prop.number,
                        protocol: ProtocolId::IPSEC_ESP,
                        spi: our_spi.to_be_bytes().to_vec(),
                        transforms: vec![echo_transform(&t).map_err(Reject::Malformed)?],
                    }],
                };
                return Ok((chosen, their_spi, reply));
            }
            seen.push(r);
        }
    }
    let mut configured = join(phase2_offer(p, ENCAP_TUNNEL).iter().map(|o| o.to_string()));
    if p.mode == EspMode::Transport {
        configured.push_str(" (transport mode)");
    }
    let mut received = join(seen.iter().map(|r| r.text()));
    for o in &other_protocols {
        if !received.is_empty() {
            received.push_str(", ");
        }
        received.push_str(&format!("{o} proposal"));
    }
    let hint = seen
        .iter()
        .map(|r| r.problems(p))
        .min_by_key(|v| v.len())
        .map(|v| hint_text(&v))
        .unwrap_or_else(|| "the peer offered no ESP transform (ikegate does ESP only)".into());
    Err(Reject::NoProposal(Diagnostic::Phase2Mismatch {
        received: if received.is_empty() {
            "nothing".into()
        } else {
            received
        },
        configured,
        hint,
    }))
}

/// Initiator: checks the responder's Quick Mode SA against our offer; returns the suite and
/// the responder's SPI.
pub fn check_phase2_answer(
    sa: &SaPayload<'_>,
    offer: &[Phase2Proposal],
) -> Result<(Phase2Proposal, u32), Diagnostic> {
    let bad = |d: String| Diagnostic::Malformed {
        detail: format!("Quick Mode answer: {d}"),
    };
    let props: Vec<_> = sa
        .proposals()
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("SA payload {e}")))?;
    let [prop] = props.as_slice() else {
        return Err(bad(format!("{} proposals instead of one", props.len())));
    };
    let spi = match prop.spi {
        [a, b, c, d] if prop.protocol == ProtocolId::IPSEC_ESP => {
            u32::from_be_bytes([*a, *b, *c, *d])
        }
        _ => return Err(bad("not an ESP proposal with a 4-byte SPI".into())),
    };
    let ts: Vec<_> = prop
        .transforms()
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("transform {e}")))?;
    let [t] = ts.as_slice() else {
        return Err(bad(format!("{} transforms instead of one", ts.len())));
    };
    let r = P2Received::parse(t).map_err(|e| bad(format!("attributes {e}")))?;
    let ours = offer.first().map(Phase2Proposal::mode).unwrap_or_default();
    match encap_mode_of(r.encap) {
        Some(m) if m == ours => {}
        Some(m) => return Err(bad(mode_mismatch(m, ours))),
        None => return Err(bad(format!("unknown encapsulation mode {}", r.encap))),
    }
    let chosen = offer
        .iter()
        .find(|o| {
            Ok(o.enc) == r.enc
                && Ok(o.integ) == r.integ
                && o.pfs == r.group.clone().and_then(|g| g.ok())
        })
        .ok_or_else(|| {
            bad(format!(
                "the peer chose {}, which we did not offer",
                r.text()
            ))
        })?;
    Ok((
        Phase2Proposal {
            lifetime_secs: effective_lifetime(r.lifetime_secs, chosen.lifetime_secs),
            lifetime_kb: effective_kb(r.lifetime_kb, chosen.lifetime_kb),
            ..*chosen
        },
        spi,
    ))
}
