//! Building our SA offers and matching the peer's, for phase 1 (ISAKMP) and phase 2 (ESP), with
//! an explanation of why nothing matched that names the attribute that differs.

use std::fmt;

use crate::crypto::dh::DhGroup;
use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::prf::HashAlg;
use crate::crypto::{EncAlg, IntegAlg};
use crate::wire::isakmp::sa::{AttrReprValue, AttributeRepr, ProposalRepr, SaRepr, TransformRepr};
use crate::wire::isakmp::{AttrValue, ProtocolId, SaPayload, Transform, WireError};
use crate::wire::isakmp::{DOI_IPSEC, SIT_IDENTITY_ONLY};

use super::diagnostic::Diagnostic;
use super::policy::{Phase1Policy, Phase2Policy};

/// Phase-1 attribute types (RFC 2409 appendix A).
mod p1attr {
    pub const ENCRYPTION: u16 = 1;
    pub const HASH: u16 = 2;
    pub const AUTH_METHOD: u16 = 3;
    pub const GROUP_DESCRIPTION: u16 = 4;
    pub const LIFE_TYPE: u16 = 11;
    pub const LIFE_DURATION: u16 = 12;
    pub const KEY_LENGTH: u16 = 14;
}

/// Phase-2 (IPsec DOI) attribute types (RFC 2407 §4.5).
mod p2attr {
    pub const LIFE_TYPE: u16 = 1;
    pub const LIFE_DURATION: u16 = 2;
    pub const GROUP_DESCRIPTION: u16 = 3;
    pub const ENCAPSULATION_MODE: u16 = 4;
    pub const AUTH_ALGORITHM: u16 = 5;
    pub const KEY_LENGTH: u16 = 6;
}

/// Life type "seconds".
const LIFE_SECONDS: u64 = 1;
/// Life type "kilobytes".
const LIFE_KILOBYTES: u64 = 2;
/// Authentication method "pre-shared key".
const AUTH_PSK: u64 = 1;
/// Phase-1 transform ID KEY_IKE.
const KEY_IKE: u8 = 1;

/// Encapsulation mode: tunnel (RFC 2407).
pub const ENCAP_TUNNEL: u16 = 1;
/// Encapsulation mode: transport (RFC 2407).
pub const ENCAP_TRANSPORT: u16 = 2;
/// Encapsulation mode: UDP-encapsulated tunnel (RFC 3947).
pub const ENCAP_UDP_TUNNEL: u16 = 3;
/// Encapsulation mode: UDP-encapsulated transport (RFC 3947).
pub const ENCAP_UDP_TRANSPORT: u16 = 4;
/// Encapsulation mode: UDP-encapsulated tunnel, draft-ietf-ipsec-nat-t-ike value.
pub const ENCAP_UDP_TUNNEL_DRAFT: u16 = 61443;
/// Encapsulation mode: UDP-encapsulated transport, draft value.
pub const ENCAP_UDP_TRANSPORT_DRAFT: u16 = 61444;

/// A phase-1 suite: what protects the ISAKMP SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase1Proposal {
    /// Encryption.
    pub cipher: IkeCipher,
    /// Hash and PRF.
    pub hash: HashAlg,
    /// DH group.
    pub group: DhGroup,
    /// Lifetime in seconds.
    pub lifetime_secs: u32,
}

impl fmt::Display for Phase1Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}",
            self.cipher.name(),
            self.hash.name(),
            self.group.name()
        )
    }
}

/// Our phase-1 offer: every encryption × hash combination, encryption-major (SEIL's order).
pub fn phase1_offer(p: &Phase1Policy) -> Vec<Phase1Proposal> {
    p.encryption
        .iter()
        .flat_map(|c| {
            p.hash.iter().map(move |h| Phase1Proposal {
                cipher: *c,
                hash: *h,
                group: p.dh_group,
                lifetime_secs: p.lifetime_secs,
            })
        })
        .collect()
}

/// The SA payload of our Main Mode message 1: one ISAKMP proposal, one transform per suite,
/// attributes in SEIL's order (Life-Type, Life-Duration, Encryption, Key-Length (AES only),
/// Authentication-Method, Hash, Group-Description).
pub fn phase1_sa(offer: &[Phase1Proposal]) -> SaRepr {
    let transforms = offer
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut attrs = vec![
                AttributeRepr::basic(p1attr::LIFE_TYPE, LIFE_SECONDS as u16),
                AttributeRepr::number(p1attr::LIFE_DURATION, u64::from(p.lifetime_secs)),
                AttributeRepr::basic(p1attr::ENCRYPTION, p.cipher.ike_id()),
            ];
            if let Some(k) = p.cipher.key_length_attr() {
                attrs.push(AttributeRepr::basic(p1attr::KEY_LENGTH, k));
            }
            attrs.push(AttributeRepr::basic(p1attr::AUTH_METHOD, AUTH_PSK as u16));
            attrs.push(AttributeRepr::basic(p1attr::HASH, p.hash.ike_id()));
            attrs.push(AttributeRepr::basic(
                p1attr::GROUP_DESCRIPTION,
                p.group.id(),
            ));
            TransformRepr {
                number: (i + 1).min(255) as u8,
                id: KEY_IKE,
                attrs,
            }
        })
        .collect();
    SaRepr {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![ProposalRepr {
            number: 1,
            protocol: ProtocolId::ISAKMP,
            spi: vec![],
            transforms,
        }],
    }
}

/// A received phase-1 transform, decoded as far as possible.
#[derive(Debug, Clone)]
struct P1Received {
    cipher: Result<IkeCipher, String>,
    hash: Result<HashAlg, String>,
    group: Result<DhGroup, String>,
    auth: u64,
    lifetime_secs: Option<u64>,
    unsupported: Vec<String>,
}

impl P1Received {
    fn parse(t: &Transform<'_>) -> Result<P1Received, WireError> {
        let (mut enc, mut keylen, mut hash, mut group, mut auth) = (None, None, None, None, None);
        let mut life_type = LIFE_SECONDS;
        let mut lifetime_secs = None;
        let mut unsupported = Vec::new();
        if t.id != KEY_IKE {
            unsupported.push(format!("transform id {}", t.id));
        }
        for a in t.attributes() {
            let a = a?;
            let v = a.value.as_u64();
            match a.kind {
                p1attr::ENCRYPTION => enc = v,
                p1attr::KEY_LENGTH => keylen = v,
                p1attr::HASH => hash = v,
                p1attr::GROUP_DESCRIPTION => group = v,
                p1attr::AUTH_METHOD => auth = v,
                p1attr::LIFE_TYPE => life_type = v.unwrap_or(0),
                p1attr::LIFE_DURATION if life_type == LIFE_SECONDS => lifetime_secs = v,
                p1attr::LIFE_DURATION => {} // kilobytes: accepted and ignored
                k => unsupported.push(format!("attribute {k}")),
            }
        }
        let cipher = match (enc, keylen) {
            (Some(e), k) => {
                let k16 = k.and_then(|k| u16::try_from(k).ok());
                IkeCipher::from_ike(u16::try_from(e).unwrap_or(0), k16).ok_or_else(|| {
                    match (e, k) {
                        (7, Some(k)) => format!("aes{k}"),
                        (7, None) => "aes(no key length)".to_string(),
                        (1, _) => "des".to_string(),
                        (e, _) => format!("encryption#{e}"),
                    }
                })
            }
            (None, _) => Err("no-encryption".to_string()),
        };
        let hash = match hash {
            Some(h) => {
                HashAlg::from_ike_id(u16::try_from(h).unwrap_or(0)).ok_or(format!("hash#{h}"))
            }
            None => Err("no-hash".into()),
        };
        let group = match group {
            Some(g) => DhGroup::from_id(u16::try_from(g).unwrap_or(0)).ok_or(format!("group#{g}")),
            None => Err("no-group".into()),
        };
        Ok(P1Received {
            cipher,
            hash,
            group,
            auth: auth.unwrap_or(0),
            lifetime_secs,
            unsupported,
        })
    }

    fn text(&self) -> String {
        let c = self
            .cipher
            .as_ref()
            .map(|c| c.name().to_string())
            .unwrap_or_else(|e| e.clone());
        let h = self
            .hash
            .as_ref()
            .map(|h| h.name().to_string())
            .unwrap_or_else(|e| e.clone());
        let g = self
            .group
            .as_ref()
            .map(|g| g.name().to_string())
            .unwrap_or_else(|e| e.clone());
        let mut s = format!("{c}-{h}-{g}");
        if self.auth != AUTH_PSK {
            s.push_str(&format!(" ({})", auth_method_name(self.auth)));
        }
        s
    }

    /// The reasons this transform is unacceptable under `p`, as fix hints.
    fn problems(&self, p: &Phase1Policy) -> Vec<String> {
        let mut v = Vec::new();
        match &self.cipher {
            Ok(c) if p.encryption.contains(c) => {}
            Ok(c) => v.push(format!("add encryption: {}", c.name())),
            Err(e) => v.push(format!("the peer's encryption {e} is not supported")),
        }
        match &self.hash {
            Ok(h) if p.hash.contains(h) => {}
            Ok(h) => v.push(format!("add hash: {}", h.name())),
            Err(e) => v.push(format!("the peer's hash {e} is not supported")),
        }
        match &self.group {
            Ok(g) if *g == p.dh_group => {}
            Ok(g) => v.push(format!("set dh-group: {}", g.name())),
            Err(e) => v.push(format!("the peer's DH {e} is not supported")),
        }
        if self.auth != AUTH_PSK {
            v.push(format!(
                "the peer uses {} authentication, ikegate supports pre-shared keys only",
                auth_method_name(self.auth)
            ));
        }
        for u in &self.unsupported {
            v.push(format!("the peer's {u} is not supported"));
        }
        v
    }

    fn accept(&self, p: &Phase1Policy) -> Option<Phase1Proposal> {
        if !self.problems(p).is_empty() {
            return None;
        }
        Some(Phase1Proposal {
            cipher: *self.cipher.as_ref().ok()?,
            hash: *self.hash.as_ref().ok()?,
            group: *self.group.as_ref().ok()?,
            lifetime_secs: effective_lifetime(self.lifetime_secs, p.lifetime_secs),
        })
    }
}

/// The lifetime we apply: the peer's if it is shorter than ours, ours when the peer proposes
/// none or 0 (strongSwan sends 0 with `rekey_time = 0`).
fn effective_lifetime(received: Option<u64>, ours: u32) -> u32 {
    match received {
        None | Some(0) => ours,
        Some(l) => u32::try_from(l).unwrap_or(u32::MAX).min(ours),
    }
}

fn auth_method_name(v: u64) -> String {
    match v {
        1 => "pre-shared-key".into(),
        2 => "dss-signature".into(),
        3 => "rsa-signature".into(),
        4 | 5 => "rsa-encryption".into(),
        65001 => "xauth-psk".into(),
        65002..=65010 => "xauth".into(),
        n => format!("method {n}"),
    }
}

/// Why an SA offer could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// The SA payload is malformed (answer PAYLOAD-MALFORMED).
    Malformed(WireError),
    /// Nothing acceptable (answer NO-PROPOSAL-CHOSEN).
    NoProposal(Diagnostic),
}

/// Responder: picks the first of the initiator's transforms (in its order) that our policy
/// accepts, returning the suite and the SA payload to answer with (the chosen transform
/// echoed).
pub fn select_phase1(
    sa: &SaPayload<'_>,
    p: &Phase1Policy,
) -> Result<(Phase1Proposal, SaRepr), Reject> {
    let mut seen = Vec::new();
    for prop in sa.proposals() {
        let prop = prop.map_err(Reject::Malformed)?;
        if prop.protocol != ProtocolId::ISAKMP {
            continue;
        }
        for t in prop.transforms() {
            let t = t.map_err(Reject::Malformed)?;
            let r = P1Received::parse(&t).map_err(Reject::Malformed)?;
            if let Some(chosen) = r.accept(p) {
                let reply = SaRepr {
                    doi: DOI_IPSEC,
                    situation: SIT_IDENTITY_ONLY,
                    proposals: vec![ProposalRepr {
                        number: prop.number,
                        protocol: ProtocolId::ISAKMP,
                        spi: prop.spi.to_vec(),
                        transforms: vec![echo_transform(&t).map_err(Reject::Malformed)?],
                    }],
                };
                return Ok((chosen, reply));
            }
            seen.push(r);
        }
    }
    let configured = join(phase1_offer(p).iter().map(|o| o.to_string()));
    let received = join(seen.iter().map(|r| r.text()));
    let hint = seen
        .iter()
        .map(|r| r.problems(p))
        .min_by_key(|v| v.len())
        .map(|v| format!("{} or change the peer", v.join(" and ")))
        .unwrap_or_else(|| "the peer offered no ISAKMP transform".into());
    Err(Reject::NoProposal(Diagnostic::Phase1Mismatch {
        received: if received.is_empty() {
            "nothing".into()
        } else {
            received
        },
        configured,
        hint,
    }))
}

/// Initiator: checks the responder's SA answer against what we offered and returns the suite.
pub fn check_phase1_answer(
    sa: &SaPayload<'_>,
    offer: &[Phase1Proposal],
) -> Result<Phase1Proposal, Diagnostic> {
    let bad = |d: String| Diagnostic::Phase1BadAnswer { detail: d };
    let props: Vec<_> = sa
        .proposals()
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("SA payload {e}")))?;
    let [prop] = props.as_slice() else {
        return Err(bad(format!("{} proposals instead of one", props.len())));
    };
    let ts: Vec<_> = prop
        .transforms()
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("transform {e}")))?;
    let [t] = ts.as_slice() else {
        return Err(bad(format!("{} transforms instead of one", ts.len())));
    };
    let r = P1Received::parse(t).map_err(|e| bad(format!("attributes {e}")))?;
    offer
        .iter()
        .find(|o| {
            Ok(o.cipher) == r.cipher
                && Ok(o.hash) == r.hash
                && Ok(o.group) == r.group
                && r.auth == AUTH_PSK
        })
        .map(|o| Phase1Proposal {
            lifetime_secs: effective_lifetime(r.lifetime_secs, o.lifetime_secs),
            ..*o
        })
        .ok_or_else(|| {
            bad(format!(
                "the peer chose {}, which we did not offer",
                r.text()
            ))
        })
}

/// Re-encodes a received transform unchanged (number, ID, attributes in their TV/TLV form).
fn echo_transform(t: &Transform<'_>) -> Result<TransformRepr, WireError> {
    let attrs = t
        .attributes()
        .map(|a| {
            a.map(|a| AttributeRepr {
                kind: a.kind,
                value: match a.value {
                    AttrValue::Basic(v) => AttrReprValue::Basic(v),
                    AttrValue::Variable(b) => AttrReprValue::Variable(b.to_vec()),
                },
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(TransformRepr {
        number: t.number,
        id: t.id,
        attrs,
    })
}

fn join(it: impl Iterator<Item = String>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

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
    /// Encapsulation mode attribute value (tunnel or UDP-encapsulated tunnel).
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
        matches!(self.encap, ENCAP_UDP_TUNNEL | ENCAP_UDP_TUNNEL_DRAFT)
    }
}

/// Our phase-2 offer: every (encryption, integrity) pair, AEAD ciphers without integrity.
pub fn phase2_offer(p: &Phase2Policy, encap: u16) -> Vec<Phase2Proposal> {
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
        EncAlg::Null | EncAlg::TripleDesCbc => None,
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
        let group = group
            .map(|g| DhGroup::from_id(u16::try_from(g).unwrap_or(0)).ok_or(format!("group#{g}")));
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
            Err(e) => v.push(format!("the peer's encryption {e} is not supported")),
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
            Err(e) => v.push(format!("the peer's authentication {e} is not supported")),
        }
        match (&self.group, p.pfs_group) {
            (None, None) => {}
            (Some(Ok(g)), Some(ours)) if *g == ours => {}
            (Some(Ok(g)), _) => v.push(format!("set pfs-group: {}", g.name())),
            (Some(Err(e)), _) => v.push(format!("the peer's PFS {e} is not supported")),
            (None, Some(_)) => v.push("disable pfs-group (the peer uses no PFS)".into()),
        }
        match self.encap {
            ENCAP_TUNNEL | ENCAP_UDP_TUNNEL | ENCAP_UDP_TUNNEL_DRAFT => {}
            ENCAP_TRANSPORT | ENCAP_UDP_TRANSPORT | ENCAP_UDP_TRANSPORT_DRAFT => {
                v.push("the peer proposes transport mode, ikegate needs tunnel mode".into())
            }
            m => v.push(format!(
                "the peer's encapsulation mode {m} is not supported"
            )),
        }
        for u in &self.unsupported {
            v.push(format!("the peer's {u} is not supported"));
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

/// The volume lifetime in kilobytes we apply (0 = none): the smaller non-zero one.
fn effective_kb(received: Option<u64>, ours: u64) -> u64 {
    match (received.unwrap_or(0), ours) {
        (0, o) => o,
        (r, 0) => r,
        (r, o) => r.min(o),
    }
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
    let configured = join(phase2_offer(p, ENCAP_TUNNEL).iter().map(|o| o.to_string()));
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
        .map(|v| format!("{} or change the peer", v.join(" and ")))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::policy::IkePolicy;

    fn seil() -> IkePolicy {
        IkePolicy::seil_defaults(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            b"k",
        )
    }

    #[test]
    fn seil_phase1_sa_is_252_bytes_in_seil_order() {
        let p = seil();
        let offer = phase1_offer(&p.phase1);
        let names: Vec<_> = offer.iter().map(|o| o.to_string()).collect();
        assert_eq!(
            names,
            [
                "aes256-sha256-modp1536",
                "aes256-sha1-modp1536",
                "aes128-sha256-modp1536",
                "aes128-sha1-modp1536",
                "3des-sha256-modp1536",
                "3des-sha1-modp1536"
            ]
        );
        let sa = phase1_sa(&offer).emit();
        assert_eq!(sa.len() + 4, 252);
    }

    #[test]
    fn responder_picks_first_acceptable_in_initiator_order() {
        let p = seil();
        let body = phase1_sa(&phase1_offer(&p.phase1)).emit();
        let sa = SaPayload::parse(&body).unwrap();
        let mut mine = p.phase1.clone();
        mine.encryption = vec![IkeCipher::Aes128Cbc, IkeCipher::Aes256Cbc];
        mine.hash = vec![HashAlg::Sha1];
        let (chosen, reply) = select_phase1(&sa, &mine).unwrap();
        assert_eq!(chosen.to_string(), "aes256-sha1-modp1536");
        assert_eq!(reply.proposals[0].transforms[0].number, 2);
        let reply_body = reply.emit();
        let back = check_phase1_answer(
            &SaPayload::parse(&reply_body).unwrap(),
            &phase1_offer(&p.phase1),
        )
        .unwrap();
        assert_eq!(back, chosen);
        assert_eq!(back.lifetime_secs, 86400);
    }

    #[test]
    fn lifetimes_zero_absent_longer_shorter() {
        assert_eq!(effective_lifetime(None, 86400), 86400);
        assert_eq!(effective_lifetime(Some(0), 86400), 86400);
        assert_eq!(effective_lifetime(Some(100_000), 86400), 86400);
        assert_eq!(effective_lifetime(Some(3600), 86400), 3600);
        assert_eq!(effective_lifetime(Some(u64::MAX), 7), 7);
        assert_eq!(effective_kb(Some(0), 0), 0);
        assert_eq!(effective_kb(Some(500), 0), 500);
        assert_eq!(effective_kb(None, 800), 800);
        assert_eq!(effective_kb(Some(500), 800), 500);
        // a peer proposing lifetime 0 gets our lifetime
        let p = seil();
        let mut theirs = p.phase1.clone();
        theirs.lifetime_secs = 0;
        let body = phase1_sa(&phase1_offer(&theirs)).emit();
        let (chosen, _) = select_phase1(&SaPayload::parse(&body).unwrap(), &p.phase1).unwrap();
        assert_eq!(chosen.lifetime_secs, 86400);
    }

    #[test]
    fn phase1_mismatch_names_the_attribute() {
        let p = seil();
        let mut theirs = p.phase1.clone();
        theirs.encryption = vec![IkeCipher::Aes256Cbc];
        theirs.hash = vec![HashAlg::Sha256];
        theirs.dh_group = DhGroup::Modp1024;
        let body = phase1_sa(&phase1_offer(&theirs)).emit();
        let mut mine = theirs.clone();
        mine.dh_group = DhGroup::Modp1536;
        let err = select_phase1(&SaPayload::parse(&body).unwrap(), &mine).unwrap_err();
        let Reject::NoProposal(d) = err else { panic!() };
        assert_eq!(
            d.to_string(),
            "phase 1 proposal mismatch: received aes256-sha256-modp1024, configured aes256-sha256-modp1536 — set dh-group: modp1024 or change the peer"
        );
    }

    #[test]
    fn phase2_offer_and_selection() {
        let mut p = seil().phase2;
        p.encryption = vec![EncAlg::Aes128Gcm16, EncAlg::Aes256Cbc];
        let offer = phase2_offer(&p, ENCAP_UDP_TUNNEL);
        assert_eq!(
            offer.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
            ["aes128-gcm", "aes256-hmac-sha256", "aes256-hmac-sha1"]
        );
        let body = phase2_sa(&offer, 0xc0ffee01).emit();
        let mut mine = seil().phase2;
        mine.authentication = vec![IntegAlg::HmacSha1_96];
        let (chosen, their_spi, reply) =
            select_phase2(&SaPayload::parse(&body).unwrap(), &mine, 0x1234_5678).unwrap();
        assert_eq!(chosen.to_string(), "aes256-hmac-sha1");
        assert!(chosen.udp_encap());
        assert_eq!(their_spi, 0xc0ffee01);
        let rb = reply.emit();
        let (back, spi) = check_phase2_answer(&SaPayload::parse(&rb).unwrap(), &offer).unwrap();
        assert_eq!(spi, 0x1234_5678);
        assert_eq!(back, chosen);
    }

    #[test]
    fn phase2_mismatch_md5() {
        let mut theirs = seil().phase2;
        theirs.encryption = vec![EncAlg::Aes256Cbc];
        theirs.authentication = vec![IntegAlg::HmacMd5_96];
        let body = phase2_sa(&phase2_offer(&theirs, ENCAP_TUNNEL), 1).emit();
        let err = select_phase2(&SaPayload::parse(&body).unwrap(), &seil().phase2, 2).unwrap_err();
        let Reject::NoProposal(d) = err else { panic!() };
        assert_eq!(
            d.to_string(),
            "phase 2 proposal mismatch: received aes256-hmac-md5, configured aes256-hmac-sha256, aes256-hmac-sha1, aes128-hmac-sha256, aes128-hmac-sha1 — add authentication: hmac-md5 or change the peer"
        );
    }
}
