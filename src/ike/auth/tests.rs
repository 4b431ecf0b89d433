//! Unit tests of the certificate core with certificates made here (rcgen).

use super::testpki::{key_pair, private_key, Spec, TestCa, TestKey, NOW};
use super::*;
use crate::ike::policy::Identity;
use crate::ike::random::SeededRandom;

fn schemes(kind: KeyKind) -> Vec<SignatureScheme> {
    use SigHash::*;
    use SignatureScheme as S;
    match kind {
        KeyKind::Rsa(_) => vec![
            S::RsaPkcs1(Sha1),
            S::RsaPkcs1(Sha256),
            S::RsaPkcs1(Sha384),
            S::RsaPkcs1(Sha512),
            S::RsaPkcs1Unprefixed,
            S::RsaPss(Sha256),
            S::RsaPss(Sha384),
            S::RsaPss(Sha512),
        ],
        KeyKind::EcdsaP256 => vec![
            S::EcdsaFixed(Sha256),
            S::EcdsaDer(Sha256),
            S::EcdsaDer(Sha384),
        ],
        KeyKind::EcdsaP384 => vec![
            S::EcdsaFixed(Sha384),
            S::EcdsaDer(Sha384),
            S::EcdsaDer(Sha256),
        ],
        KeyKind::Ed25519 => vec![S::Ed25519],
    }
}

#[test]
fn every_key_kind_signs_and_verifies_with_its_certificate() {
    let ca = TestCa::root("Test Root", TestKey::P256);
    let mut rng = SeededRandom::new(5);
    for kind in [
        TestKey::Rsa2048,
        TestKey::P256,
        TestKey::P384,
        TestKey::Ed25519,
    ] {
        let (der, pem) = ca.issue(&Spec::default(), kind);
        let key = private_key(&pem);
        let cert = Certificate::from_der(&der).unwrap();
        let public = cert.public_key.clone().unwrap();
        assert_eq!(public.kind(), key.kind(), "{kind:?}");
        assert_eq!(public.bits(), key.public_key_bits().as_slice());
        assert!(format!("{key:?}").contains("<redacted>"));
        for scheme in schemes(key.kind()) {
            let data = b"signed octets of an IKE_AUTH exchange";
            let sig = key.sign(scheme, data, &mut rng).unwrap();
            assert!(public.verify(scheme, data, &sig), "{kind:?} {scheme}");
            assert!(
                !public.verify(scheme, b"other octets", &sig),
                "{kind:?} {scheme}"
            );
            let mut bad = sig.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 1;
            assert!(!public.verify(scheme, data, &bad), "{kind:?} {scheme}");
        }
        if let KeyKind::Rsa(_) = key.kind() {
            // IKEv1's HASH_I is signed raw: the signature opens to exactly the hash.
            let hash = [7u8; 20];
            let sig = key.sign_unprefixed(&hash, &mut rng).unwrap();
            assert!(public.verify_unprefixed(&hash, &sig));
            assert!(!public.verify(SignatureScheme::RsaPkcs1(SigHash::Sha1), &hash, &sig));
        } else {
            assert!(matches!(
                key.sign(SignatureScheme::RsaPkcs1Unprefixed, b"x", &mut rng),
                Err(KeyError::WrongScheme { .. })
            ));
        }
    }
}

#[test]
fn keys_load_from_pkcs1_sec1_and_pkcs8() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let (_, rsa_pem) = key_pair(TestKey::Rsa2048);
    let k = rsa::RsaPrivateKey::from_pkcs8_pem(&rsa_pem).unwrap();
    let pkcs1 = k.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
    assert_eq!(
        PrivateKey::from_pem(pkcs1.as_bytes()).unwrap().kind(),
        KeyKind::Rsa(2048)
    );
    let (_, ec_pem) = key_pair(TestKey::P384);
    // A PKCS#8 EC key wraps the SEC1 ECPrivateKey.
    let (label, der) = rsa::pkcs8::der::pem::decode_vec(ec_pem.as_bytes()).unwrap();
    assert_eq!(label, "PRIVATE KEY");
    let info = rsa::pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
    let sec1 = super::testpki::pem("EC PRIVATE KEY", info.private_key);
    assert!(sec1.contains("BEGIN EC PRIVATE KEY"));
    assert_eq!(
        PrivateKey::from_pem(sec1.as_bytes()).unwrap().kind(),
        KeyKind::EcdsaP384
    );
    assert_eq!(
        PrivateKey::from_pem(b"nothing"),
        Err(KeyError::NoPem).map(|_: ()| unreachable!())
    );
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.public_key_bits() == other.public_key_bits()
    }
}

#[test]
fn chain_through_an_intermediate_validates_and_names_an_untrusted_issuer() {
    let root = TestCa::root("Test Root", TestKey::P384);
    let inter = root.intermediate("Test Intermediate", TestKey::P256);
    let (ee, _) = inter.issue(
        &Spec {
            dns: &["gw1.example"],
            ..Spec::default()
        },
        TestKey::Ed25519,
    );
    let trust = root.trust();
    let got = trust.verify(&[ee.clone(), inter.der.clone()], NOW).unwrap();
    assert_eq!(got.subject.to_string(), "C=JP, O=Example, CN=gw1");
    assert_eq!(
        got.issuer.to_string(),
        "C=JP, O=Example, CN=Test Intermediate"
    );
    // Without the intermediate, the issuer we cannot reach is named, and our anchors listed.
    let err = trust.verify(std::slice::from_ref(&ee), NOW).unwrap_err();
    let Refusal::Cert(e @ CertError::UntrustedIssuer { .. }) = err else {
        panic!("{err:?}")
    };
    let text = e.to_string();
    assert!(
        text.contains("issued by \"C=JP, O=Example, CN=Test Intermediate\""),
        "{text}"
    );
    assert!(
        text.contains("our trusted CAs are: \"C=JP, O=Example, CN=Test Root\""),
        "{text}"
    );
    // A configured intermediate does as well as a sent one.
    let mut trust2 = root.trust();
    trust2
        .intermediates
        .push(Certificate::from_der(&inter.der).unwrap());
    assert!(trust2.verify(std::slice::from_ref(&ee), NOW).is_ok());
    // Another root's anchor does not validate it.
    let other = TestCa::root("Other Root", TestKey::P256);
    assert!(matches!(
        other.trust().verify(&[ee, inter.der.clone()], NOW),
        Err(Refusal::Cert(CertError::UntrustedIssuer { .. }))
    ));
    // An end entity is no CA: a certificate it "issued" does not chain.
    assert_eq!(trust.certreq_hashes().len(), 1);
}

#[test]
fn expired_and_not_yet_valid_give_the_dates() {
    let root = TestCa::root("Test Root", TestKey::P256);
    let (old, _) = root.issue(
        &Spec {
            years: (2020, 2024),
            ..Spec::default()
        },
        TestKey::P256,
    );
    let e = root.trust().verify(&[old], NOW).unwrap_err();
    let Refusal::Cert(e @ CertError::Expired { .. }) = e else {
        panic!("{e:?}")
    };
    assert!(
        e.to_string()
            .contains("expired on 2024-01-01 00:00:00 UTC (our clock: 2026-12-02 00:00:00 UTC)"),
        "{e}"
    );
    let (young, _) = root.issue(
        &Spec {
            years: (2030, 2040),
            ..Spec::default()
        },
        TestKey::P256,
    );
    let e = root.trust().verify(&[young], NOW).unwrap_err();
    assert!(e_text(&e).contains("not valid before 2030-01-01"), "{e:?}");
}

fn e_text(r: &Refusal) -> String {
    match r {
        Refusal::Cert(e) => e.to_string(),
        Refusal::NeedCrl(u) => format!("need {u}"),
    }
}

#[test]
fn revoked_by_a_crl_file_and_by_a_fetched_crl() {
    let root = TestCa::root("Test Root", TestKey::P256);
    let (good, _) = root.issue(
        &Spec {
            serial: 10,
            ..Spec::default()
        },
        TestKey::P256,
    );
    let (bad, _) = root.issue(
        &Spec {
            serial: 11,
            ..Spec::default()
        },
        TestKey::P256,
    );
    let trust = root.trust();
    trust
        .crls
        .add_file("/etc/ikegate/ca.crl", &root.crl(&[11], 2030))
        .unwrap();
    assert!(trust.verify(&[good], NOW).is_ok());
    let e = e_text(&trust.verify(&[bad], NOW).unwrap_err());
    assert!(
        e.contains("(serial 0b) was revoked on 2025-06-01 00:00:00 UTC"),
        "{e}"
    );
    assert!(e.contains("CRL /etc/ikegate/ca.crl"), "{e}");

    // A CRL signed by another CA is ignored.
    let other = TestCa::root("Test Root", TestKey::P256);
    let trust = root.trust();
    trust
        .crls
        .add_file("forged.crl", &other.crl(&[11], 2030))
        .unwrap();
    let (bad, _) = root.issue(
        &Spec {
            serial: 11,
            ..Spec::default()
        },
        TestKey::P256,
    );
    assert!(trust.verify(&[bad], NOW).is_ok());

    // Distribution point: first a fetch request, then the verdict from the fetched CRL.
    let url = "http://192.0.2.1/ca.crl";
    let (dp, _) = root.issue(
        &Spec {
            serial: 11,
            crl_url: Some(url),
            ..Spec::default()
        },
        TestKey::P256,
    );
    let trust = root.trust();
    assert_eq!(
        trust.verify(std::slice::from_ref(&dp), NOW).unwrap_err(),
        Refusal::NeedCrl(url.into())
    );
    assert!(trust.crls.request(url));
    assert!(!trust.crls.request(url), "one fetch at a time");
    trust.crls.fetch_failed(url, "connection refused", NOW);
    assert!(
        e_text(&trust.verify(std::slice::from_ref(&dp), NOW).unwrap_err())
            .contains("could not be fetched (connection refused)")
    );
    trust
        .crls
        .insert_fetched(url, &root.crl(&[11], 2030))
        .unwrap();
    assert!(
        e_text(&trust.verify(std::slice::from_ref(&dp), NOW).unwrap_err())
            .contains(&format!("CRL {url}"))
    );
    // Past its nextUpdate, a fetched CRL is fetched again.
    let trust = root.trust();
    trust
        .crls
        .insert_fetched(url, &root.crl(&[], 2026))
        .unwrap();
    assert_eq!(
        trust.verify(&[dp], NOW).unwrap_err(),
        Refusal::NeedCrl(url.into())
    );
    assert!(trust.crls.insert_fetched(url, b"garbage").is_err());
}

#[test]
fn identities_match_subject_and_alt_names() {
    let root = TestCa::root("Test Root", TestKey::P256);
    let (der, _) = root.issue(
        &Spec {
            dns: &["gw1.example.com"],
            email: &["vpn@example.com"],
            ips: &["192.0.2.7", "2001:db8::7"],
            ..Spec::default()
        },
        TestKey::P256,
    );
    let cert = Certificate::from_der(&der).unwrap();
    let yes = [
        Identity::Asn1Dn(DistinguishedName::parse("c=jp, o=example, cn=GW1").unwrap()),
        Identity::Asn1Dn(DistinguishedName::from_der(cert.subject.der()).unwrap()),
        Identity::Fqdn("GW1.example.com".into()),
        Identity::UserFqdn("vpn@example.com".into()),
        Identity::Address("192.0.2.7".parse().unwrap()),
        Identity::Address("2001:db8::7".parse().unwrap()),
    ];
    for id in &yes {
        assert!(identity_in_certificate(id, &cert), "{id}");
    }
    let no = [
        Identity::Asn1Dn(DistinguishedName::parse("C=JP, O=Example, CN=gw2").unwrap()),
        Identity::Fqdn("gw2.example.com".into()),
        Identity::Address("192.0.2.8".parse().unwrap()),
        Identity::KeyId(b"gw1".to_vec()),
    ];
    for id in &no {
        assert!(!identity_in_certificate(id, &cert), "{id}");
    }
    let e = require_identity(&no[1], &cert).unwrap_err().to_string();
    assert!(
        e.contains("identity fqdn:gw2.example.com is not in the peer's certificate"),
        "{e}"
    );
    assert!(e.contains("subject \"C=JP, O=Example, CN=gw1\""), "{e}");
    assert!(
        e.contains("DNS:gw1.example.com, email:vpn@example.com, IP:192.0.2.7"),
        "{e}"
    );
    assert_eq!(cert.fingerprint_sha256().len(), 32 * 3 - 1);
}

#[test]
fn pinned_peer_certificate_and_no_certificate() {
    let root = TestCa::root("Test Root", TestKey::P256);
    let (a, _) = root.issue(
        &Spec {
            cn: "a",
            ..Spec::default()
        },
        TestKey::P256,
    );
    let (b, _) = root.issue(
        &Spec {
            cn: "b",
            ..Spec::default()
        },
        TestKey::P256,
    );
    let mut trust = root.trust();
    assert_eq!(
        trust.verify(&[], NOW).unwrap_err(),
        Refusal::Cert(CertError::NoPeerCertificate)
    );
    assert!(CertError::NoPeerCertificate
        .to_string()
        .contains("sent no certificate and none is configured"));
    trust.peer_cert = Some(Certificate::from_der(&a).unwrap());
    assert_eq!(
        trust.verify(&[], NOW).unwrap().subject.attribute("CN"),
        Some("a")
    );
    assert!(e_text(&trust.verify(&[b], NOW).unwrap_err())
        .contains("is not the one in certificate.peer-file"));
}

#[test]
fn files_load_and_refuse_a_readable_key_and_a_foreign_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ikegate-auth-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("cas")).unwrap();
    let root = TestCa::root("Test Root", TestKey::P256);
    let inter = root.intermediate("Test Intermediate", TestKey::P256);
    let (ee, key) = inter.issue(&Spec::default(), TestKey::P256);
    let (_, other_key) = key_pair(TestKey::P256);
    let pem = super::testpki::cert_pem;
    std::fs::write(
        dir.join("gw.pem"),
        format!("{}{}", pem(&ee), pem(&inter.der)),
    )
    .unwrap();
    std::fs::write(dir.join("cas/root.pem"), pem(&root.der)).unwrap();
    std::fs::write(dir.join("gw.key"), &key).unwrap();
    std::fs::write(dir.join("other.key"), &other_key).unwrap();
    std::fs::write(dir.join("ca.crl"), root.crl(&[], 2030)).unwrap();
    for k in ["gw.key", "other.key"] {
        std::fs::set_permissions(dir.join(k), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let files = CertificateFiles {
        file: dir.join("gw.pem"),
        key_file: dir.join("gw.key"),
        trusted_ca: vec![dir.join("cas")],
        crl: vec![dir.join("ca.crl")],
        peer_file: None,
    };
    let creds = files.load().unwrap();
    assert_eq!(creds.chain.len(), 1);
    assert_eq!(creds.trust.anchors.len(), 1);
    assert_eq!(creds.trust.crls.len(), 1);
    assert!(creds.own_validity_warnings(NOW).is_empty());
    assert!(creds.own_validity_warnings(2_300_000_000)[0].contains("expired on 2040-01-01"));
    let wrong = CertificateFiles {
        key_file: dir.join("other.key"),
        ..files.clone()
    };
    let e = wrong.load().unwrap_err().to_string();
    assert!(
        e.contains("does not belong to our certificate \"C=JP, O=Example, CN=gw1\""),
        "{e}"
    );
    std::fs::set_permissions(dir.join("gw.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = files.load().unwrap_err().to_string();
    assert!(
        e.contains(&format!("run: chmod 600 {}", dir.join("gw.key").display())),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wall_clock_follows_the_instant() {
    let t0 = std::time::Instant::now();
    let w = WallClock::new(t0, std::time::Duration::from_secs(NOW as u64));
    assert_eq!(w.unix_at(t0 + std::time::Duration::from_secs(90)), NOW + 90);
}

#[test]
fn fuzz_replay() {
    super::fuzzing::replay_corpus();
}

#[test]
fn a_validated_path_is_reused_yet_revocation_anchors_and_chain_still_count() {
    let root = TestCa::root("Test Root", TestKey::P384);
    let inter = root.intermediate("Test Intermediate", TestKey::P256);
    let (ee, _) = inter.issue(
        &Spec {
            serial: 11,
            ..Spec::default()
        },
        TestKey::P256,
    );
    let chain = [ee.clone(), inter.der.clone()];
    let trust = root.trust();
    assert!(trust.verify(&chain, NOW).is_ok());
    assert_eq!((trust.verified.len(), trust.verified.hits()), (1, 0));
    let again = trust.verify(&chain, NOW).unwrap();
    assert_eq!(again.subject.to_string(), "C=JP, O=Example, CN=gw1");
    assert_eq!(
        trust.verified.hits(),
        1,
        "the second validation is the cached one"
    );

    // The chain without its intermediate is another validation, and fails as before.
    let e = trust.verify(std::slice::from_ref(&ee), NOW).unwrap_err();
    assert!(
        matches!(e, Refusal::Cert(CertError::UntrustedIssuer { .. })),
        "{e:?}"
    );

    // Another anchor with the same cache: no path, whatever was validated for the first.
    let other = TestCa::root("Other Root", TestKey::P256);
    let foreign = TrustStore {
        verified: trust.verified.clone(),
        ..other.trust()
    };
    let e = foreign.verify(&chain, NOW).unwrap_err();
    assert!(
        matches!(e, Refusal::Cert(CertError::UntrustedIssuer { .. })),
        "{e:?}"
    );

    // A CRL that arrives after the path was cached revokes at once.
    trust
        .crls
        .add_file("inter.crl", &inter.crl(&[11], 2030))
        .unwrap();
    let hits = trust.verified.hits();
    let e = e_text(&trust.verify(&chain, NOW).unwrap_err());
    assert!(e.contains("(serial 0b) was revoked"), "{e}");
    assert_eq!(trust.verified.hits(), hits + 1, "refused on a cached path");
}

#[test]
fn a_cached_path_answers_only_inside_its_validity_and_the_cache_is_bounded() {
    use super::verified::{VerifiedPath, VerifiedPaths, MAX_ENTRIES};
    let cache = VerifiedPaths::default();
    let path = VerifiedPath {
        intermediates: vec![0],
        anchor: Some(0),
        valid_from: 100,
        valid_until: 200,
    };
    cache.put([1; 32], path.clone());
    assert_eq!(cache.get(&[1; 32], 100), Some(path.clone()));
    assert_eq!(cache.get(&[1; 32], 200), Some(path.clone()));
    assert_eq!(cache.get(&[1; 32], 99), None, "not yet valid");
    assert_eq!(cache.get(&[1; 32], 201), None, "expired");
    assert_eq!(cache.get(&[2; 32], 150), None);
    for i in 0..MAX_ENTRIES {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&(i as u64 + 10).to_be_bytes());
        cache.put(key, path.clone());
    }
    assert_eq!(cache.len(), MAX_ENTRIES);
    assert_eq!(cache.get(&[1; 32], 150), None, "the oldest went first");
}
