//! `proposal.phase1`: the IKE SA proposal, read for the tunnel's IKE version. IKEv1 offers
//! encryption × hash with one Diffie-Hellman group; IKEv2 adds the AEAD ciphers, a PRF list and a
//! list of key-exchange groups, and refuses what it does not offer (3des, md5) with the fix.

use yaml_serde::Mapping;

use super::ike::{dh_choices, word_nodes, words};
use super::node::{child, Errors, Node};
use crate::crypto::dh::DhGroup;
use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::ikev2::transform::Ikev2Cipher;
use crate::crypto::prf::HashAlg;
use crate::ike::policy::{IkeVersion, Phase1Policy};
use crate::ike::IkePolicy;

/// The phase-1 defaults of an IKEv2 tunnel without a `phase1` proposal: aes256, aes128 (CBC) ×
/// sha256, sha1 integrity, PRF from the hash, groups modp2048, ecp256, curve25519, modp1536
/// (strongSwan 5.9 and 6.x accept this with their default proposal), 86400 s.
pub(super) fn ikev2_defaults(p: &mut Phase1Policy) {
    p.ikev2_encryption = vec![Ikev2Cipher::Aes256Cbc, Ikev2Cipher::Aes128Cbc];
    p.encryption = vec![IkeCipher::Aes256Cbc, IkeCipher::Aes128Cbc];
    p.hash = vec![HashAlg::Sha256, HashAlg::Sha1];
    p.prf = p.hash.clone();
    p.dh_groups = vec![
        DhGroup::Modp2048,
        DhGroup::Ecp256,
        DhGroup::Curve25519,
        DhGroup::Modp1536,
    ];
    p.dh_group = DhGroup::Modp2048;
}

const PHASE1_KEYS: &[&str] = &[
    "lifetime",
    "encryption",
    "hash",
    "prf",
    "dh-group",
    "additional-key-exchanges",
];

/// An admin API body may also carry `dh-groups`, which GET returns beside `dh-group`.
const PHASE1_API_KEYS: &[&str] = &[
    "lifetime",
    "encryption",
    "hash",
    "prf",
    "dh-group",
    "dh-groups",
    "additional-key-exchanges",
];

/// Parses `phase1:` for the tunnel's version (`p.version`). `current` is the policy in force when
/// the block comes from the admin API (which then also accepts `dh-groups`).
pub(super) fn phase1(
    n: &Node<'_>,
    p: &mut IkePolicy,
    current: Option<&IkePolicy>,
    errs: &mut Errors,
) {
    let keys = if current.is_some() {
        PHASE1_API_KEYS
    } else {
        PHASE1_KEYS
    };
    let Some(m) = n.block(errs, keys) else {
        return;
    };
    if let Some(l) = child(m, n, "lifetime") {
        if let Some(v) = l.uint(errs, 60, 604_800, "86400") {
            p.phase1.lifetime_secs = v as u32;
        }
    }
    match p.version {
        IkeVersion::V1 => phase1_v1(m, n, p, errs),
        IkeVersion::V2 => phase1_v2(m, n, p, errs),
    }
    super::pq::additional_kes(m, n, p, errs);
    if let Some(groups) = dh_groups(m, n, current, errs) {
        match (p.version, groups.as_slice()) {
            (_, []) => {}
            (IkeVersion::V1, [_, _, ..]) => errs.push(
                &n.child_path("dh-group"),
                "IKEv1 proposes one Diffie-Hellman group: give one (e.g. `dh-group: modp2048`), \
                 or set `ike.version: 2` to offer several",
            ),
            (_, [first, ..]) => {
                p.phase1.dh_group = *first;
                p.phase1.dh_groups = groups.clone();
            }
        }
    }
}

/// Every name `phase1.encryption` knows, whichever the version (each version then refuses the
/// names it cannot offer, saying why).
fn phase1_cipher_names() -> Vec<(&'static str, &'static str)> {
    let mut names: Vec<&'static str> = IkeCipher::ALL.iter().map(|c| c.name()).collect();
    for c in Ikev2Cipher::ALL {
        if !names.contains(&c.name()) {
            names.push(c.name());
        }
    }
    names.into_iter().map(|n| (n, n)).collect()
}

fn hash_choices() -> Vec<(&'static str, HashAlg)> {
    HashAlg::ALL.iter().map(|h| (h.name(), *h)).collect()
}

/// True for `[]`: in a `hash` or `prf` key, an empty list means "not given" (what GET of the
/// admin API shows for an AEAD-only or IKEv1 proposal).
fn empty_list(n: &Node<'_>) -> bool {
    matches!(n.value, yaml_serde::Value::Sequence(s) if s.is_empty())
}

fn phase1_v1(m: &Mapping, n: &Node<'_>, p: &mut IkePolicy, errs: &mut Errors) {
    if let Some(e) = child(m, n, "encryption") {
        if let Some(items) = word_nodes(&e, errs, &phase1_cipher_names()) {
            let mut out = Vec::new();
            for (item, name) in &items {
                match IkeCipher::ALL.into_iter().find(|c| c.name() == *name) {
                    Some(c) => out.push(c),
                    None => item.error(
                        errs,
                        format!(
                            "{name} in phase1.encryption needs `ike.version: 2`: IKEv1 has no \
                             AEAD cipher for phase 1; set `version: 2` under `ike:` (the peer \
                             must speak IKEv2), or use aes256 / aes128"
                        ),
                    ),
                }
            }
            if out.len() == items.len() {
                p.phase1.encryption = out;
            }
        }
    }
    if let Some(h) = child(m, n, "hash") {
        if let Some(v) = words(&h, errs, &hash_choices()) {
            p.phase1.hash = v;
        }
    }
    if let Some(x) = child(m, n, "prf").filter(|x| !empty_list(x)) {
        x.error(
            errs,
            "`prf` is an IKEv2 setting (IKEv1 uses the HMAC of phase1.hash as its PRF): remove \
             it, or set `ike.version: 2`",
        );
    }
}

fn phase1_v2(m: &Mapping, n: &Node<'_>, p: &mut IkePolicy, errs: &mut Errors) {
    // The ciphers written, even when some of them are wrong: the checks of `hash` and `prf`
    // below are about those, so that every error is reported in one pass.
    let mut ciphers = p.phase1.ikev2_encryption.clone();
    if let Some(e) = child(m, n, "encryption") {
        let items = match e.value {
            yaml_serde::Value::Sequence(_) => e.list(&mut Errors::default()),
            _ => vec![e.clone()],
        };
        let written: Vec<Ikev2Cipher> = items
            .iter()
            .filter_map(|i| i.value.as_str().and_then(Ikev2Cipher::from_name))
            .collect();
        if !written.is_empty() {
            ciphers = written;
        }
        if let Some(items) = word_nodes(&e, errs, &phase1_cipher_names()) {
            let mut out = Vec::new();
            for (item, name) in &items {
                match Ikev2Cipher::from_name(name) {
                    Some(c) => out.push(c),
                    None => item.error(
                        errs,
                        format!(
                            "{name} is not offered for IKEv2 (ikegate's IKEv2 ciphers are \
                             aes128, aes192, aes256, aes128-gcm, aes256-gcm and \
                             chacha20-poly1305): use aes256 or aes128 instead, or set \
                             `ike.version: 1` if the peer needs {name}"
                        ),
                    ),
                }
            }
            if out.len() == items.len() {
                p.phase1.ikev2_encryption = out;
            }
        }
    }
    let aeads: Vec<&str> = ciphers
        .iter()
        .filter(|c| c.is_aead())
        .map(|c| c.name())
        .collect();
    let aead_only = !aeads.is_empty() && aeads.len() == ciphers.len();
    // The IKEv1 view of the same list (the CBC ciphers), kept coherent.
    p.phase1.encryption = (p.phase1.ikev2_encryption.iter())
        .filter_map(|c| c.cbc())
        .collect();

    let hash = child(m, n, "hash").filter(|h| !(aead_only && empty_list(h)));
    match &hash {
        Some(h) if aead_only => h.error(
            errs,
            format!(
                "`hash` is the integrity algorithm of the CBC ciphers, and phase1.encryption \
                 has only AEAD ciphers ({}), which carry their own: remove `hash` (and give \
                 `prf`, e.g. `prf: [sha256]`), or add a CBC cipher such as aes256 to \
                 phase1.encryption",
                aeads.join(", ")
            ),
        ),
        Some(h) => {
            if let Some(items) = word_nodes(h, errs, &hash_choices()) {
                let mut out = Vec::new();
                for (item, alg) in &items {
                    if *alg == HashAlg::Md5 {
                        item.error(
                            errs,
                            "md5 is not offered for IKEv2 (RFC 8247: HMAC-MD5 must not be used \
                             for IKEv2 integrity or PRF): use sha256 or sha1",
                        );
                    } else {
                        out.push(*alg);
                    }
                }
                if out.len() == items.len() {
                    p.phase1.hash = out;
                }
            }
        }
        None if aead_only => p.phase1.hash = Vec::new(),
        None => {}
    }

    let prf_choices: Vec<(&str, HashAlg)> = hash_choices()
        .into_iter()
        .filter(|(_, h)| *h != HashAlg::Md5)
        .collect();
    match child(m, n, "prf").filter(|x| !empty_list(x)) {
        Some(x) => {
            if let Some(v) = words(&x, errs, &prf_choices) {
                p.phase1.prf = v;
            }
        }
        None if !aeads.is_empty() && hash.is_none() => errs.push(
            &n.child_path("prf"),
            format!(
                "missing: {} in phase1.encryption (AEAD) has no hash to take the PRF from; add \
                 e.g. `prf: [sha256]` (sha1, sha256, sha384 or sha512)",
                aeads.join(", ")
            ),
        ),
        None => p.phase1.prf = p.phase1.hash.clone(),
    }
}

/// `dh-group` (one group or a list) and, in an admin API body, `dh-groups` (the list GET shows):
/// when both are sent and disagree, the one that differs from the policy in force is the edit.
fn dh_groups(
    m: &Mapping,
    n: &Node<'_>,
    current: Option<&IkePolicy>,
    errs: &mut Errors,
) -> Option<Vec<DhGroup>> {
    let one = child(m, n, "dh-group").and_then(|g| words(&g, errs, &dh_choices()));
    let list = match current {
        Some(_) => child(m, n, "dh-groups").and_then(|g| words(&g, errs, &dh_choices())),
        None => None,
    };
    match (one, list, current) {
        (Some(a), Some(b), Some(cur)) => {
            if a == b || (a.len() == 1 && b.first() == a.first()) {
                Some(b)
            } else if b == shown_groups(cur) {
                Some(a)
            } else if a == [cur.phase1.dh_group] {
                Some(b)
            } else {
                errs.push(
                    &n.child_path("dh-group"),
                    format!(
                        "disagrees with phase1.dh-groups ({} vs {}): `dh-group` is the first of \
                         `dh-groups`; send only one of the two keys",
                        names(&a),
                        names(&b)
                    ),
                );
                None
            }
        }
        (a, b, _) => a.or(b),
    }
}

/// The `dh-groups` list the admin API shows for a policy: every group offered (IKEv1: its one).
fn shown_groups(p: &IkePolicy) -> Vec<DhGroup> {
    match p.version {
        IkeVersion::V1 => vec![p.phase1.dh_group],
        IkeVersion::V2 => p.phase1.dh_groups.clone(),
    }
}

fn names(groups: &[DhGroup]) -> String {
    groups
        .iter()
        .map(|g| g.name())
        .collect::<Vec<_>>()
        .join(", ")
}
