//! Two IKEv2 engines authenticating with certificates made here: every key kind, an
//! intermediate CA, RFC 7383 fragments carrying the certificates, and the refusals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::ike::auth::testpki::{private_key, Spec, TestCa, TestKey, NOW};
use crate::ike::auth::{
    AuthChoice, CertCredentials, Certificate, CertificateFiles, DistinguishedName, WallClock,
};
use crate::ike::Identity;

/// A and B with certificates from `ca` (B's also naming `b_spec`), each trusting `trust`.
fn cert_pair(ca: &TestCa, kind: TestKey, b_spec: Spec<'_>, trust: &TestCa) -> Pair {
    let mut pair = Pair::new(v2_policy(A, B), v2_policy(B, A));
    let a_spec = Spec {
        cn: "gw-a",
        ips: &[A],
        ..Spec::default()
    };
    let now = pair.now;
    for (node, spec) in [(&mut pair.a, a_spec), (&mut pair.b, b_spec)] {
        let mut p = (*node.engine.policy).clone();
        p.psk = zeroize::Zeroizing::new(Vec::new());
        p.auth = AuthChoice::Certificate(Arc::new(credentials(ca, kind, &spec, trust)));
        restart(node, p, now);
    }
    pair
}

fn credentials(ca: &TestCa, kind: TestKey, spec: &Spec<'_>, trust: &TestCa) -> CertCredentials {
    let (der, key) = ca.issue(spec, kind);
    CertCredentials {
        cert: Certificate::from_der(&der).unwrap(),
        chain: ca
            .chain
            .iter()
            .map(|d| Certificate::from_der(d).unwrap())
            .collect(),
        key: private_key(&key),
        trust: trust.trust(),
        files: CertificateFiles::default(),
    }
}

/// Replaces a node's engine by one running `policy`, on the same wall clock.
fn restart(node: &mut Node, policy: IkePolicy, now: Instant) {
    let seed = 1 + u64::from(node.addr == ip(B));
    node.engine = Engine::new(policy, Box::new(SeededRandom::new(seed)));
    node.engine
        .set_wall_clock(WallClock::new(now, Duration::from_secs(NOW as u64)));
}

fn b_spec() -> Spec<'static> {
    Spec {
        cn: "gw-b",
        ips: &[B],
        ..Spec::default()
    }
}

#[test]
fn every_key_kind_authenticates_through_an_intermediate() {
    let root = TestCa::root("Test Root", TestKey::P384);
    for kind in [
        TestKey::Rsa2048,
        TestKey::P256,
        TestKey::P384,
        TestKey::Ed25519,
    ] {
        let inter = root.intermediate("Test Intermediate", TestKey::P256);
        let mut p = cert_pair(&inter, kind, b_spec(), &root);
        p.up();
        assert!(
            p.a.failures().is_empty() && p.b.failures().is_empty(),
            "{kind:?}: {:?} {:?}",
            p.a.failures(),
            p.b.failures()
        );
        assert_eq!(
            (p.a.children_up().len(), p.b.children_up().len()),
            (1, 1),
            "{kind:?}"
        );
        let sa = &p.a.engine.status().phase1[0];
        let cert = sa
            .peer_certificate
            .as_ref()
            .expect("peer certificate shown");
        assert_eq!(cert.subject, "C=JP, O=Example, CN=gw-b");
        assert_eq!(cert.issuer, "C=JP, O=Example, CN=Test Intermediate");
        assert_eq!(
            sa.peer_identity.as_deref(),
            Some("asn1dn:\"C=JP, O=Example, CN=gw-b\"")
        );
        assert_eq!(
            p.b.engine.status().phase1[0]
                .peer_certificate
                .as_ref()
                .unwrap()
                .subject,
            "C=JP, O=Example, CN=gw-a"
        );
    }
}

#[test]
fn certificates_travel_in_fragments() {
    let root = TestCa::root("Test Root", TestKey::Rsa2048);
    let inter = root.intermediate("Test Intermediate", TestKey::Rsa2048);
    let mut p = cert_pair(&inter, TestKey::Rsa2048, b_spec(), &root);
    p.up();
    assert_eq!(
        p.a.children_up().len(),
        1,
        "{:?} {:?}",
        p.a.failures(),
        p.b.failures()
    );
    // Two RSA certificates (~1.7 kB) do not fit 1280 bytes: the IKE_AUTH messages are fragments.
    assert!(p.sizes.iter().all(|s| *s + 28 <= 1280), "{:?}", p.sizes);
    // IKE_SA_INIT twice, then each IKE_AUTH message in two fragments.
    assert_eq!(p.sizes.len(), 6, "{:?}", p.sizes);
}

#[test]
fn an_untrusted_issuer_is_named() {
    let root = TestCa::root("Test Root", TestKey::P256);
    let other = TestCa::root("Other Root", TestKey::P256);
    let mut p = cert_pair(&root, TestKey::P256, b_spec(), &other);
    p.up();
    // The responder refuses the initiator's certificate first, and says why.
    let f = p.b.failures();
    assert!(
        f[0].contains("issued by \"C=JP, O=Example, CN=Test Root\", which we do not trust"),
        "{f:?}"
    );
    assert!(
        f[0].contains("our trusted CAs are: \"C=JP, O=Example, CN=Other Root\""),
        "{f:?}"
    );
    assert!(
        p.a.failures()[0].contains("AUTHENTICATION_FAILED"),
        "{:?}",
        p.a.failures()
    );
    assert!(p.a.children_up().is_empty());
}

#[test]
fn an_identity_missing_from_the_certificate_is_explained() {
    let root = TestCa::root("Test Root", TestKey::P256);
    let mut p = cert_pair(&root, TestKey::P256, b_spec(), &root);
    // B claims an FQDN its certificate does not hold.
    let mut pb = (*p.b.engine.policy).clone();
    pb.my_id = Some(Identity::Fqdn("gw-b.example".into()));
    restart(&mut p.b, pb, p.now);
    p.up();
    let f = p.a.failures();
    assert!(
        f[0].contains("identity fqdn:gw-b.example is not in the peer's certificate"),
        "{f:?}"
    );
    assert!(f[0].contains("IP:10.88.0.2"), "{f:?}");
    // A configured peers-identifier that differs is an identity mismatch before any certificate.
    let mut p = cert_pair(&root, TestKey::P256, b_spec(), &root);
    let mut pa = (*p.a.engine.policy).clone();
    pa.peer_id = Some(Identity::Asn1Dn(
        DistinguishedName::parse("C=JP, O=Example, CN=gw-c").unwrap(),
    ));
    restart(&mut p.a, pa, p.now);
    p.up();
    assert!(
        p.a.failures()[0].contains("CN=gw-c"),
        "{:?}",
        p.a.failures()
    );
}

#[test]
fn a_crl_at_the_distribution_point_is_fetched_then_applied() {
    let root = TestCa::root("Test Root", TestKey::P256);
    let url = "http://192.0.2.80/root.crl";
    for revoked in [false, true] {
        let spec = Spec {
            serial: 40,
            crl_url: Some(url),
            ..b_spec()
        };
        let mut p = cert_pair(&root, TestKey::P256, spec, &root);
        p.up();
        // A set B's IKE_AUTH response aside and asks for the CRL, once.
        let fetches: Vec<_> =
            p.a.events
                .iter()
                .filter_map(|e| match e {
                    Event::FetchCrl { url, crls } => Some((url.clone(), crls.clone())),
                    _ => None,
                })
                .collect();
        assert_eq!(fetches.len(), 1, "{:?}", p.a.events);
        assert_eq!(fetches[0].0, url);
        assert!(p.a.children_up().is_empty());
        assert_eq!(p.a.engine.status().stats.dropped_awaiting_crl, 1);
        // The daemon's fetch arrives; A's retransmission brings the response again.
        let serials: &[u64] = if revoked { &[40] } else { &[] };
        fetches[0]
            .1
            .insert_fetched(url, &root.crl(serials, 2030))
            .unwrap();
        p.run_for(Duration::from_secs(3));
        if revoked {
            let f = p.a.failures();
            assert!(
                f[0].contains("was revoked on 2025-06-01 00:00:00 UTC"),
                "{f:?}"
            );
            assert!(f[0].contains(url), "{f:?}");
        } else {
            assert_eq!(p.a.children_up().len(), 1, "{:?}", p.a.failures());
        }
    }
}

#[test]
fn an_expired_certificate_gives_its_date() {
    let root = TestCa::root("Test Root", TestKey::P256);
    let spec = Spec {
        years: (2020, 2025),
        ..b_spec()
    };
    let mut p = cert_pair(&root, TestKey::P256, spec, &root);
    p.up();
    assert!(
        p.a.failures()[0].contains("expired on 2025-01-01 00:00:00 UTC"),
        "{:?}",
        p.a.failures()
    );
}

#[test]
fn a_signature_by_another_key_does_not_verify() {
    let root = TestCa::root("Test Root", TestKey::P256);
    let mut p = cert_pair(&root, TestKey::P256, b_spec(), &root);
    // B signs with a key that is not its certificate's (the loader refuses that; built by hand).
    let mut creds = credentials(&root, TestKey::P256, &b_spec(), &root);
    creds.key = private_key(&crate::ike::auth::testpki::key_pair(TestKey::P256).1);
    let mut pb = (*p.b.engine.policy).clone();
    pb.auth = AuthChoice::Certificate(Arc::new(creds));
    restart(&mut p.b, pb, p.now);
    p.up();
    let f = p.a.failures();
    assert!(
        f[0].contains("the peer's ecdsa-sha256 signature does not verify with the key of its certificate \"C=JP, O=Example, CN=gw-b\""),
        "{f:?}"
    );
    assert!(p.a.children_up().is_empty());
}
