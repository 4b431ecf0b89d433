//! `post-quantum` and `proposal.phase1.additional-key-exchanges`: values, defaults, errors.

use super::*;
use crate::crypto::mlkem::KemAlg;
use crate::ike::policy::PostQuantum;

fn v2(extra_ike: &str, phase1: &str) -> String {
    format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: 10.0.0.1, destination: 10.0.0.2 }}\n    preshared-key: xeeB5gohvaYi\n    ike:\n      version: 2\n{extra_ike}      proposal:\n        phase1: {{ encryption: aes256, hash: sha256, dh-group: curve25519{phase1} }}\n"
    )
}

#[test]
fn rounds_alternatives_and_the_required_default() {
    let p = ike_policy(&v2(
        "",
        ", additional-key-exchanges: [mlkem768, [mlkem1024, none]]",
    ));
    assert_eq!(
        p.phase1.additional_kes,
        vec![
            vec![Some(KemAlg::MlKem768)],
            vec![Some(KemAlg::MlKem1024), None]
        ]
    );
    assert_eq!(p.post_quantum, PostQuantum::Required);
    let p = ike_policy(&v2("", ""));
    assert!(p.phase1.additional_kes.is_empty());
    assert_eq!(p.post_quantum, PostQuantum::Off);
}

#[test]
fn post_quantum_alone_offers_mlkem768() {
    let p = ike_policy(&v2("      post-quantum: preferred\n", ""));
    assert_eq!(p.post_quantum, PostQuantum::Preferred);
    assert_eq!(p.phase1.additional_kes, vec![vec![Some(KemAlg::MlKem768)]]);
}

#[test]
fn errors_name_the_key_and_the_fix() {
    let e = errors(&v2("", ", additional-key-exchanges: [mlkem999]")).join("\n");
    assert!(
        e.contains("additional-key-exchanges") && e.contains("mlkem768"),
        "{e}"
    );
    let e = errors(&v2("", ", additional-key-exchanges: [none]")).join("\n");
    assert!(
        e.contains("only `none`") && e.contains("[mlkem768, none]"),
        "{e}"
    );
    let e = errors(&v2("      post-quantum: maybe\n", "")).join("\n");
    assert!(e.contains("post-quantum") && e.contains("required"), "{e}");
    let eight = ", additional-key-exchanges: [mlkem512, mlkem512, mlkem512, mlkem512, mlkem512, mlkem512, mlkem512, mlkem512]";
    let e = errors(&v2("", eight)).join("\n");
    assert!(e.contains("at most 7"), "{e}");
    let v1 = v2("      post-quantum: required\n", "").replace("version: 2", "version: 1");
    let e = errors(&v1.replace(", hash: sha256, dh-group: curve25519", "")).join("\n");
    assert!(
        e.contains("ike.post-quantum") && e.contains("`version: 2`"),
        "{e}"
    );
}
