//! Building our SA offers and matching the peer's, for phase 1 (ISAKMP) and phase 2 (ESP), with
//! an explanation of why nothing matched that names the attribute that differs.

use crate::wire::isakmp::sa::{AttrReprValue, AttributeRepr, TransformRepr};
use crate::wire::isakmp::{AttrValue, Transform, WireError};

use super::diagnostic::Diagnostic;

mod phase1;
mod phase2;

pub(crate) use phase1::describe_phase1_transform;
pub use phase1::{
    check_phase1_answer, phase1_offer, phase1_sa, select_phase1, Phase1Auth, Phase1Proposal,
};
pub(crate) use phase2::describe_phase2_transform;
pub use phase2::{check_phase2_answer, phase2_offer, phase2_sa, select_phase2, Phase2Proposal};

/// Phase-1 attribute types (RFC 2409 appendix A).
pub(crate) mod p1attr {
    pub(crate) const ENCRYPTION: u16 = 1;
    pub(crate) const HASH: u16 = 2;
    pub(crate) const AUTH_METHOD: u16 = 3;
    pub(crate) const GROUP_DESCRIPTION: u16 = 4;
    pub(crate) const LIFE_TYPE: u16 = 11;
    pub(crate) const LIFE_DURATION: u16 = 12;
    pub(crate) const KEY_LENGTH: u16 = 14;
}

/// Phase-2 (IPsec DOI) attribute types (RFC 2407 §4.5).
pub(crate) mod p2attr {
    pub(crate) const LIFE_TYPE: u16 = 1;
    pub(crate) const LIFE_DURATION: u16 = 2;
    pub(crate) const GROUP_DESCRIPTION: u16 = 3;
    pub(crate) const ENCAPSULATION_MODE: u16 = 4;
    pub(crate) const AUTH_ALGORITHM: u16 = 5;
    pub(crate) const KEY_LENGTH: u16 = 6;
}

/// Life type "seconds".
pub(crate) const LIFE_SECONDS: u64 = 1;
/// Life type "kilobytes".
pub(crate) const LIFE_KILOBYTES: u64 = 2;
/// Phase-1 transform ID KEY_IKE.
pub(crate) const KEY_IKE: u8 = 1;

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

/// Why an SA offer could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// The SA payload is malformed (answer PAYLOAD-MALFORMED).
    Malformed(WireError),
    /// Nothing acceptable (answer NO-PROPOSAL-CHOSEN).
    NoProposal(Diagnostic),
}

/// The lifetime we apply: the peer's if it is shorter than ours, ours when the peer proposes
/// none or 0 (strongSwan sends 0 with `rekey_time = 0`).
pub(crate) fn effective_lifetime(received: Option<u64>, ours: u32) -> u32 {
    match received {
        None | Some(0) => ours,
        Some(l) => u32::try_from(l).unwrap_or(u32::MAX).min(ours),
    }
}

/// The volume lifetime in kilobytes we apply (0 = none): the smaller non-zero one.
pub(crate) fn effective_kb(received: Option<u64>, ours: u64) -> u64 {
    match (received.unwrap_or(0), ours) {
        (0, o) => o,
        (r, 0) => r,
        (r, o) => r.min(o),
    }
}

/// Re-encodes a received transform unchanged (number, ID, attributes in their TV/TLV form).
pub(crate) fn echo_transform(t: &Transform<'_>) -> Result<TransformRepr, WireError> {
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

pub(crate) fn join(it: impl Iterator<Item = String>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// Turns the reasons a transform was refused into the hint after the "—": what to set here,
/// or that only the peer can change.
pub(crate) fn hint_text(problems: &[String]) -> String {
    let (peer, fix): (Vec<&String>, Vec<&String>) =
        problems.iter().partition(|p| p.starts_with("the peer"));
    let j = |v: &[&String], sep: &str| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(sep);
    match (fix.is_empty(), peer.is_empty()) {
        (false, true) => format!("{} or change the peer", j(&fix, " and ")),
        (true, false) => format!("{}: change the peer", j(&peer, "; ")),
        (false, false) => format!(
            "{} or change the peer ({})",
            j(&fix, " and "),
            j(&peer, "; ")
        ),
        (true, true) => "change the peer".into(),
    }
}

/// The name of a DH group number, also for groups ikegate does not implement.
pub(crate) fn group_text(id: u64) -> String {
    let name = match id {
        17 => "modp6144",
        18 => "modp8192",
        19 => "ecp256",
        20 => "ecp384",
        21 => "ecp521",
        22 => "modp1024s160",
        23 => "modp2048s224",
        24 => "modp2048s256",
        25 => "ecp192",
        26 => "ecp224",
        27 => "ecp224bp",
        28 => "ecp256bp",
        29 => "ecp384bp",
        30 => "ecp512bp",
        32 => "curve448",
        _ => return format!("group#{id}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests;
