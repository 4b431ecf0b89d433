//! Fuzz harness for the certificate core's parsing of hostile input: certificates (CERT
//! payloads), DER names (ID_DER_ASN1_DN payloads), DN text (configuration), CRLs (fetched over
//! HTTP), PEM key files, path validation of a chain of arbitrary certificates, and the IKEv2 AUTH
//! payload (RFC 7427 AlgorithmIdentifier) the signature is checked with. Shared by
//! the cargo-fuzz target `certificates` and the `cargo test` replay.
//!
//! Not an API: `#[doc(hidden)] pub` only so that the fuzz crate can call in.

use std::net::IpAddr;

use super::{
    identity_in_certificate, Certificate, CrlStore, DistinguishedName, PrivateKey, TrustStore,
};
use crate::ike::policy::Identity;

/// Feeds `data` to one parser, chosen by its first byte; must never panic.
pub fn certificates(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => certificate(rest),
        1 => der_name(rest),
        2 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                text_name(text);
            }
        }
        3 => {
            let store = CrlStore::new();
            let _ = store.insert_fetched("http://192.0.2.1/ca.crl", rest);
            let _ = store.add_file("ca.crl", rest);
        }
        4 => {
            let _ = PrivateKey::from_pem(rest);
            chain(rest);
        }
        _ => crate::ike::v2::fuzzing::auth_payload(rest),
    }
}

fn certificate(der: &[u8]) {
    let Ok(c) = Certificate::from_der(der) else {
        return;
    };
    let _ = (
        c.fingerprint_sha256(),
        c.not_before_text(),
        c.not_after_text(),
        format!("{c:?}"),
    );
    let ids = [
        Identity::Asn1Dn(c.subject.clone()),
        Identity::Fqdn("gw1.example".into()),
        Identity::UserFqdn("a@example".into()),
        Identity::Address(IpAddr::from([192, 0, 2, 1])),
    ];
    // A certificate always holds its own subject.
    assert!(identity_in_certificate(&ids[0], &c));
    for id in &ids[1..] {
        let _ = identity_in_certificate(id, &c);
    }
}

fn der_name(der: &[u8]) {
    if let Some(d) = DistinguishedName::from_der(der) {
        let text = d.to_string();
        let _ = DistinguishedName::parse(&text);
        assert_eq!(d.der(), der, "a parsed name keeps its DER");
    }
}

fn text_name(text: &str) {
    if let Ok(d) = DistinguishedName::parse(text) {
        // Our own encoding parses as DER.
        assert!(DistinguishedName::from_der(d.der()).is_some(), "{text:?}");
        let _ = d.to_string();
    }
}

/// Splits `data` into length-prefixed chunks (u16) and validates them as a chain.
fn chain(mut data: &[u8]) {
    let mut certs = Vec::new();
    while data.len() >= 2 && certs.len() < 4 {
        let n = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
        certs.push(data[2..2 + n].to_vec());
        data = &data[2 + n..];
    }
    let anchors = certs
        .iter()
        .filter_map(|c| Certificate::from_der(c).ok())
        .collect();
    let trust = TrustStore {
        anchors,
        intermediates: Vec::new(),
        peer_cert: None,
        crls: Default::default(),
        verified: Default::default(),
    };
    let _ = trust.verify(&certs, 1_796_169_600);
}

/// The CI form: the committed seeds and random inputs, plus every test certificate kind.
#[cfg(test)]
pub(super) fn replay_corpus() {
    replay_seeds("certificates", 7, 5, 21, certificates);
}

/// Runs `harness` on the seeds of fuzz target `target`, on truncations (every `cut_step`
/// octets) and bit flips (every `flip_step`) of each, and on 3,000 random inputs.
#[cfg(test)]
pub(crate) fn replay_seeds(
    target: &str,
    cut_step: usize,
    flip_step: usize,
    rng_seed: u64,
    harness: fn(&[u8]),
) {
    use crate::ike::random::{random_bytes, RandomSource, SeededRandom};
    let dir = format!("{}/fuzz/seeds/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {dir}");
    for f in files {
        let data = std::fs::read(&f).expect("seed");
        harness(&data);
        // Truncations and bit flips of each seed.
        for cut in (0..data.len()).step_by(cut_step) {
            harness(&data[..cut]);
        }
        for i in (1..data.len()).step_by(flip_step) {
            let mut d = data.clone();
            d[i] ^= 0x41;
            harness(&d);
        }
    }
    let mut rng = SeededRandom::new(rng_seed);
    for _ in 0..3000 {
        let mut l = [0u8; 1];
        rng.fill(&mut l);
        harness(&random_bytes(&mut rng, usize::from(l[0])));
    }
}
