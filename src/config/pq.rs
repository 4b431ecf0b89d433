//! Post-quantum IKEv2 settings: `proposal.phase1.additional-key-exchanges` (RFC 9370 rounds of
//! ML-KEM over IKE_INTERMEDIATE) and the per-tunnel `ike.post-quantum: required | preferred`.

use yaml_serde::{Mapping, Value};

use super::node::{child, Errors, Node};
use crate::crypto::mlkem::KemAlg;
use crate::ike::policy::{IkeVersion, PostQuantum};
use crate::ike::IkePolicy;

/// RFC 9370 defines seven additional key exchange types (ADDKE1 … ADDKE7).
const MAX_ROUNDS: usize = 7;

fn kem_choices() -> Vec<(&'static str, Option<KemAlg>)> {
    let mut c: Vec<(&'static str, Option<KemAlg>)> =
        KemAlg::ALL.iter().map(|k| (k.name(), Some(*k))).collect();
    c.push(("none", None));
    c
}

/// `additional-key-exchanges: [mlkem768, [mlkem1024, none]]`: one entry per round, each a
/// method or a list of alternatives (most preferred first; `none` makes the round optional).
pub(super) fn additional_kes(m: &Mapping, n: &Node<'_>, p: &mut IkePolicy, errs: &mut Errors) {
    if let Some(r) = rounds(m, n, p.version, errs) {
        p.phase1.additional_kes = r;
    }
}

/// `phase2.additional-key-exchanges`: the same, run by IKE_FOLLOWUP_KE in every
/// CREATE_CHILD_SA with PFS (so it needs `pfs-group`).
pub(super) fn phase2_additional_kes(
    m: &Mapping,
    n: &Node<'_>,
    p: &mut IkePolicy,
    errs: &mut Errors,
) {
    let Some(r) = rounds(m, n, p.version, errs) else {
        return;
    };
    if !r.is_empty() && p.phase2.pfs_group.is_none() {
        return errs.push(
            &n.child_path("additional-key-exchanges"),
            "additional key exchanges of a child SA come after its PFS key exchange: set \
             `pfs-group` (e.g. `pfs-group: curve25519`), or remove this key",
        );
    }
    p.phase2.additional_kes = r;
}

fn rounds(
    m: &Mapping,
    n: &Node<'_>,
    version: IkeVersion,
    errs: &mut Errors,
) -> Option<Vec<Vec<Option<KemAlg>>>> {
    let x = child(m, n, "additional-key-exchanges")?;
    // `[]` (what an IKEv1 tunnel would show) means none.
    if matches!(x.value, Value::Sequence(s) if s.is_empty()) {
        return Some(Vec::new());
    }
    if version == IkeVersion::V1 {
        x.error(
            errs,
            "additional key exchanges (RFC 9370, ML-KEM) are an IKEv2 feature: set \
             `ike.version: 2` (strongSwan 6 speaks it), or remove this key",
        );
        return None;
    }
    let entries = match x.value {
        Value::Sequence(_) => x.list(errs),
        _ => vec![x.clone()],
    };
    if entries.len() > MAX_ROUNDS {
        x.error(
            errs,
            format!(
                "{} rounds given; IKEv2 has at most {MAX_ROUNDS} additional key exchanges \
                 (ADDKE1 … ADDKE7): list fewer, e.g. `[mlkem768]`",
                entries.len()
            ),
        );
        return None;
    }
    let mut rounds = Vec::new();
    for e in &entries {
        let alts = match e.value {
            Value::Sequence(_) => e.list(errs),
            _ => vec![e.clone()],
        };
        let got: Vec<Option<KemAlg>> = alts
            .iter()
            .filter_map(|a| a.choice(errs, &kem_choices()))
            .collect();
        if got.len() != alts.len() {
            continue;
        }
        if got.iter().all(Option::is_none) {
            e.error(
                errs,
                "a round of only `none` exchanges nothing: name an ML-KEM method \
                 (mlkem512, mlkem768, mlkem1024), e.g. `[mlkem768, none]` for an optional round",
            );
            continue;
        }
        rounds.push(got);
    }
    (rounds.len() == entries.len()).then_some(rounds)
}

/// `post-quantum: required | preferred` (IKEv2).
pub(super) fn post_quantum(m: &Mapping, n: &Node<'_>, p: &mut IkePolicy, errs: &mut Errors) {
    let Some(x) = child(m, n, "post-quantum") else {
        return;
    };
    let choices = [
        ("required", PostQuantum::Required),
        ("preferred", PostQuantum::Preferred),
    ];
    let Some(v) = x.choice(errs, &choices) else {
        return;
    };
    if p.version == IkeVersion::V1 {
        return x.error(
            errs,
            "post-quantum key exchange (ML-KEM, RFC 9370) needs IKEv2: set `version: 2` under \
             `ike:` (the peer must speak IKEv2 with ML-KEM, e.g. strongSwan 6), or remove \
             `post-quantum`",
        );
    }
    p.post_quantum = v;
}

/// Makes the two settings agree: `post-quantum` alone offers one ML-KEM-768 round; rounds
/// without `post-quantum` mean `required`.
pub(super) fn settle(p: &mut IkePolicy) {
    if p.version != IkeVersion::V2 {
        return;
    }
    match (p.post_quantum, p.phase1.additional_kes.is_empty()) {
        (PostQuantum::Off, false) => p.post_quantum = PostQuantum::Required,
        (PostQuantum::Off, true) => {}
        (_, true) => p.phase1.additional_kes = vec![vec![Some(KemAlg::MlKem768)]],
        (_, false) => {}
    }
}

/// The `additional-key-exchanges` list as the admin API shows it (and a PUT takes back).
pub fn rounds_value(rounds: &[Vec<Option<KemAlg>>]) -> Vec<Vec<String>> {
    rounds
        .iter()
        .map(|alts| {
            alts.iter()
                .map(|k| k.map_or("none", KemAlg::name).to_string())
                .collect()
        })
        .collect()
}
