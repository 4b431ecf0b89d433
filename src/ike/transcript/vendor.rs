//! Vendor IDs by name: the ones IKEv1 negotiates with (NAT-T, DPD, fragmentation, in
//! [`crate::ike::v1`]) and the ones strongSwan, Cisco and Windows peers announce.

use crate::ike::v1::fragment::VID_FRAGMENTATION;
use crate::ike::v1::nat::{
    VID_DPD, VID_NAT_T_DRAFT02, VID_NAT_T_DRAFT02N, VID_NAT_T_DRAFT03, VID_NAT_T_RFC3947,
};

use super::hex;

/// Vendor IDs compared by prefix (their tails carry versions or capability bits).
const PREFIXES: &[(&str, &str)] = &[
    ("882fe56d6fd20dbc2251613b2ebe5beb", "strongSwan"),
    ("09002689dfd6b712", "XAuth"),
    ("12f5f28c457168a9702d9fe274cc", "Cisco Unity"),
    ("1e2b516905991c7d7c96fcbfb587e461", "MS NT5 ISAKMPOAKLEY"),
];

/// The name of a Vendor ID payload's content, or its hex.
pub(crate) fn name(vid: &[u8]) -> String {
    let known: &[(&[u8], &str)] = &[
        (&VID_NAT_T_RFC3947, "RFC 3947 NAT-T"),
        (&VID_NAT_T_DRAFT02N, "NAT-T draft-02 (with \\n)"),
        (&VID_NAT_T_DRAFT02, "NAT-T draft-02"),
        (&VID_NAT_T_DRAFT03, "NAT-T draft-03"),
    ];
    if let Some((_, n)) = known.iter().find(|(v, _)| *v == vid) {
        return (*n).to_string();
    }
    if vid.starts_with(&VID_DPD) {
        return "RFC 3706 DPD".into();
    }
    if vid.get(..16) == VID_FRAGMENTATION.get(..16) {
        return "IKE fragmentation".into();
    }
    let h = hex(vid);
    match PREFIXES.iter().find(|(p, _)| h.starts_with(p)) {
        Some((_, n)) => format!("{n} ({})", super::truncate(&h, 64)),
        None => super::truncate(&h, 64),
    }
}
