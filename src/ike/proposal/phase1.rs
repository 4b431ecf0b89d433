//! Phase 1 (ISAKMP SA) proposals: our offer in SEIL's attribute order, the responder's choice
//! and the initiator's check of the answer.

use std::fmt;

use crate::crypto::dh::DhGroup;
use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::prf::HashAlg;
use crate::wire::isakmp::sa::{AttributeRepr, ProposalRepr, SaRepr, TransformRepr};
use crate::wire::isakmp::{ProtocolId, SaPayload, Transform, WireError};
use crate::wire::isakmp::{DOI_IPSEC, SIT_IDENTITY_ONLY};

use super::super::diagnostic::Diagnostic;
use super::super::policy::Phase1Policy;
use super::{
    echo_transform, effective_lifetime, group_text, hint_text, join, p1attr, Reject, KEY_IKE,
    LIFE_SECONDS,
};

/// The phase-1 authentication method (RFC 2409 appendix A): part of every transform, so both
/// sides must use the same one. (ECDSA, RFC 4754 methods 9-11, signs HASH_I itself without a
/// further hash, which the signature core does not offer: not supported.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase1Auth {
    /// Pre-shared key (1).
    #[default]
    Psk,
    /// RSA signatures (3).
    RsaSig,
    /// XAuthInitPreShared (65001, draft-beaulieu-ike-xauth-02): a group pre-shared key, then
    /// XAUTH; what vpnc and strongSwan's `xauth` clients propose to a remote-access gateway.
    XauthInitPsk,
}

impl Phase1Auth {
    /// The Authentication-Method attribute value.
    pub fn id(self) -> u16 {
        match self {
            Phase1Auth::Psk => 1,
            Phase1Auth::RsaSig => 3,
            Phase1Auth::XauthInitPsk => 65001,
        }
    }

    /// True for the signature methods (SKEYID from the nonces, SIG payloads, certificates).
    pub fn is_signature(self) -> bool {
        self == Phase1Auth::RsaSig
    }

    /// The configuration words for it.
    pub fn config_text(self) -> &'static str {
        match self {
            Phase1Auth::Psk => "a pre-shared key",
            Phase1Auth::RsaSig => "an RSA certificate",
            Phase1Auth::XauthInitPsk => "a group pre-shared key with XAUTH (remote access)",
        }
    }
}

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
    /// Authentication method.
    pub auth: Phase1Auth,
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

/// Our phase-1 offer: every encryption × hash combination, encryption-major (SEIL's order), all
/// with authentication method `auth`.
pub fn phase1_offer(p: &Phase1Policy, auth: Phase1Auth) -> Vec<Phase1Proposal> {
    p.encryption
        .iter()
        .flat_map(|c| {
            p.hash.iter().map(move |h| Phase1Proposal {
                cipher: *c,
                hash: *h,
                group: p.dh_group,
                lifetime_secs: p.lifetime_secs,
                auth,
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
            attrs.push(AttributeRepr::basic(p1attr::AUTH_METHOD, p.auth.id()));
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

/// A received phase-1 transform in words (`aes256-sha256-modp2048`, with the lifetime), for the
/// negotiation transcript; `None` when its attributes do not parse.
pub(crate) fn describe_phase1_transform(t: &Transform<'_>) -> Option<String> {
    let r = P1Received::parse(t).ok()?;
    let mut s = r.text();
    if let Some(l) = r.lifetime_secs {
        s.push_str(&format!(", lifetime {l}s"));
    }
    for u in &r.unsupported {
        s.push_str(&format!(", unsupported {u}"));
    }
    Some(s)
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
            Some(g) => DhGroup::from_id(u16::try_from(g).unwrap_or(0)).ok_or(group_text(g)),
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
        if self.auth != u64::from(Phase1Auth::Psk.id()) {
            s.push_str(&format!(" ({})", auth_method_name(self.auth)));
        }
        s
    }

    /// The reasons this transform is unacceptable under `p` with `auth`, as fix hints.
    fn problems(&self, p: &Phase1Policy, auth: Phase1Auth) -> Vec<String> {
        let mut v = Vec::new();
        match &self.cipher {
            Ok(c) if p.encryption.contains(c) => {}
            Ok(c) => v.push(format!("add encryption: {}", c.name())),
            Err(e) => v.push(format!(
                "the peer's encryption {e} is not supported by ikegate"
            )),
        }
        match &self.hash {
            Ok(h) if p.hash.contains(h) => {}
            Ok(h) => v.push(format!("add hash: {}", h.name())),
            Err(e) => v.push(format!("the peer's hash {e} is not supported by ikegate")),
        }
        match &self.group {
            Ok(g) if *g == p.dh_group => {}
            Ok(g) => v.push(format!("set dh-group: {}", g.name())),
            Err(e) => v.push(format!("the peer's DH {e} is not supported by ikegate")),
        }
        if self.auth != u64::from(auth.id()) {
            v.push(format!(
                "the peer authenticates with {}, this tunnel with {} ({}): configure the same \
                 method on both sides",
                auth_method_name(self.auth),
                auth_method_name(u64::from(auth.id())),
                auth.config_text()
            ));
        }
        for u in &self.unsupported {
            v.push(format!("the peer's {u} is not supported by ikegate"));
        }
        v
    }

    fn accept(&self, p: &Phase1Policy, auth: Phase1Auth) -> Option<Phase1Proposal> {
        if !self.problems(p, auth).is_empty() {
            return None;
        }
        Some(Phase1Proposal {
            cipher: *self.cipher.as_ref().ok()?,
            hash: *self.hash.as_ref().ok()?,
            group: *self.group.as_ref().ok()?,
            lifetime_secs: effective_lifetime(self.lifetime_secs, p.lifetime_secs),
            auth,
        })
    }
}

fn auth_method_name(v: u64) -> String {
    match v {
        1 => "pre-shared-key".into(),
        2 => "dss-signature".into(),
        3 => "rsa-signature".into(),
        4 | 5 => "rsa-encryption".into(),
        9 => "ecdsa-sha256 (RFC 4754)".into(),
        10 => "ecdsa-sha384 (RFC 4754)".into(),
        11 => "ecdsa-sha512 (RFC 4754)".into(),
        65001 => "xauth-psk".into(),
        65002..=65010 => "xauth".into(),
        n => format!("method {n}"),
    }
}

/// Responder: picks the first of the initiator's transforms (in its order) that our policy
/// accepts with authentication method `auth`, returning the suite and the SA payload to answer
/// with (the chosen transform echoed).
pub fn select_phase1(
    sa: &SaPayload<'_>,
    p: &Phase1Policy,
    auth: Phase1Auth,
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
            if let Some(chosen) = r.accept(p, auth) {
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
    let configured = join(phase1_offer(p, auth).iter().map(|o| o.to_string()));
    let received = join(seen.iter().map(|r| r.text()));
    let hint = seen
        .iter()
        .map(|r| r.problems(p, auth))
        .min_by_key(|v| v.len())
        .map(|v| hint_text(&v))
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
                && r.auth == u64::from(o.auth.id())
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
