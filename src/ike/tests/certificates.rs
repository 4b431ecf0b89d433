//! Main Mode with RSA signatures between two engines (certificates from a root and an
//! intermediate made with rcgen): asn1dn identities, CERT/CERTREQ/SIG, fragments, and the
//! plain-words refusals (untrusted CA, identity not in the certificate, no wall clock, one side
//! on a pre-shared key).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::pair::*;
use crate::crypto::dh::DhGroup;
use crate::ike::auth::testpki::{private_key, Spec, TestCa, TestKey, NOW};
use crate::ike::auth::{AuthChoice, CertCredentials, Certificate, DistinguishedName, WallClock};
use crate::ike::{Identity, IkePolicy};
use crate::wire::isakmp::PayloadType;

struct Pki {
    root: TestCa,
    intermediate: TestCa,
    /// (certificate DER, key PEM) of A ("gw-a"), B ("gw-b") and B from a rogue root.
    a: (Vec<u8>, String),
    b: (Vec<u8>, String),
    rogue_b: (Vec<u8>, String),
    rogue_root: TestCa,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let root = TestCa::root("Test Root", TestKey::Rsa2048);
        let intermediate = root.intermediate("Test Intermediate", TestKey::Rsa2048);
        let spec = |cn| Spec {
            cn,
            ..Spec::default()
        };
        let a = intermediate.issue(&spec("gw-a"), TestKey::Rsa2048);
        let b = intermediate.issue(&spec("gw-b"), TestKey::Rsa2048);
        let rogue_root = TestCa::root("Rogue Root", TestKey::Rsa2048);
        let rogue_b = rogue_root.issue(&spec("gw-b"), TestKey::Rsa2048);
        Pki {
            root,
            intermediate,
            a,
            b,
            rogue_b,
            rogue_root,
        }
    })
}

fn dn(cn: &str) -> Identity {
    Identity::Asn1Dn(DistinguishedName::parse(&format!("C=JP, O=Example, CN={cn}")).unwrap())
}

/// Credentials for `me`, sending the intermediate (when issued by it), trusting `root`.
fn creds(me: &(Vec<u8>, String), chain: &[&TestCa], root: &TestCa) -> AuthChoice {
    let chain: Vec<Certificate> = chain
        .iter()
        .map(|c| Certificate::from_der(&c.der).unwrap())
        .collect();
    let mut trust = root.trust();
    trust.intermediates = chain.clone();
    AuthChoice::Certificate(Arc::new(CertCredentials {
        cert: Certificate::from_der(&me.0).unwrap(),
        chain,
        key: private_key(&me.1),
        trust,
        files: Default::default(),
    }))
}

fn with_cert(mut p: IkePolicy, auth: AuthChoice, peer: &str) -> IkePolicy {
    p.auth = auth;
    p.psk = Default::default();
    p.peer_id = Some(dn(peer));
    p
}

fn policies() -> (IkePolicy, IkePolicy) {
    let k = pki();
    (
        with_cert(policy_a(), creds(&k.a, &[&k.intermediate], &k.root), "gw-b"),
        with_cert(policy_b(), creds(&k.b, &[&k.intermediate], &k.root), "gw-a"),
    )
}

fn pair(pa: IkePolicy, pb: IkePolicy, seed: u64) -> Pair {
    let mut p = Pair::new(pa, pb, seed);
    let clock = WallClock::new(p.now, Duration::from_secs(NOW as u64));
    p.a.engine.set_wall_clock(clock);
    p.b.engine.set_wall_clock(clock);
    p
}

fn payload_types(data: &[u8]) -> Vec<PayloadType> {
    let h = crate::wire::isakmp::Header::new_checked(data).unwrap();
    crate::wire::isakmp::Payloads::new(h.body(), h.next_payload())
        .map_while(Result::ok)
        .map(|p| p.kind)
        .collect()
}

#[test]
fn main_mode_with_rsa_signatures_and_asn1dn_identities() {
    let (pa, pb) = policies();
    let mut p = pair(pa, pb, 80);
    p.connect();
    assert_eq!(assert_mirrored(&p), 1);
    let a = p.a.engine.status();
    let b = p.b.engine.status();
    assert_eq!(
        a.phase1[0].peer_identity.as_deref(),
        Some("asn1dn:\"C=JP, O=Example, CN=gw-b\"")
    );
    assert_eq!(
        b.phase1[0].peer_identity.as_deref(),
        Some("asn1dn:\"C=JP, O=Example, CN=gw-a\"")
    );
    // The peer's certificate, for the API and panel.
    let pc = a.phase1[0].peer_certificate.as_ref().unwrap();
    assert_eq!(pc.subject, "C=JP, O=Example, CN=gw-b");
    assert_eq!(pc.issuer, "C=JP, O=Example, CN=Test Intermediate");
    assert!(b.phase1[0].peer_certificate.is_some());
    // Messages 3 and 4 carry a CERTREQ for the root.
    let certreqs = p
        .log
        .iter()
        .filter(|(_, t)| payload_types(&t.data).contains(&PayloadType::CERT_REQ))
        .count();
    assert_eq!(certreqs, 2);
    // Both sides sent an RSA-SIG (3) proposal.
    assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
}

#[test]
fn certificate_messages_cross_as_fragments() {
    let (mut pa, mut pb) = policies();
    for x in [&mut pa, &mut pb] {
        x.fragment_size = 576;
        x.phase1.dh_group = DhGroup::Modp2048;
        x.phase1.dh_groups = vec![DhGroup::Modp2048];
    }
    let mut p = pair(pa, pb, 81);
    p.loss_pct = 10;
    p.connect();
    assert_eq!(assert_mirrored(&p), 1);
    for side in [Side::A, Side::B] {
        let s = p.node(side).engine.status().stats;
        // Message 5 or 6: ID, two RSA 2048 certificates and the signature, about 2 KB.
        assert!(s.fragments_sent >= 4, "{side:?} {s:?}");
        assert!(s.messages_reassembled >= 1, "{side:?}");
    }
    assert!(p.log.iter().all(|(_, t)| t.data.len() + 28 <= 576));
}

fn failure_of(pa: IkePolicy, pb: IkePolicy, seed: u64) -> String {
    let mut p = pair(pa, pb, seed);
    p.connect();
    assert!(p.a.children_up().is_empty());
    let mut f = p.b.failures();
    f.extend(p.a.failures());
    f.join("\n")
}

#[test]
fn untrusted_ca_is_named() {
    let k = pki();
    let (pa, _) = policies();
    let pb = with_cert(policy_b(), creds(&k.rogue_b, &[], &k.rogue_root), "gw-a");
    let f = failure_of(pa, pb, 82);
    assert!(f.contains("which we do not trust"), "{f}");
    assert!(f.contains("CN=Rogue Root"), "{f}");
    assert!(f.contains("CN=Test Root"), "{f}");
}

#[test]
fn identity_not_in_the_certificate_is_named() {
    let (pa, mut pb) = policies();
    pb.peer_id = Some(dn("gw-z"));
    let f = failure_of(pa, pb, 83);
    assert!(
        f.contains("identity asn1dn:\"C=JP, O=Example, CN=gw-z\" is not in the peer's certificate, which holds subject \"C=JP, O=Example, CN=gw-a\""),
        "{f}"
    );
}

#[test]
fn no_wall_clock_refuses_certificates() {
    let (pa, pb) = policies();
    let mut p = Pair::new(pa, pb, 84);
    p.connect();
    let f = p.b.failures().join("\n");
    assert!(f.contains("no wall-clock time"), "{f}");
}

#[test]
fn certificate_against_pre_shared_key_is_a_proposal_mismatch() {
    let (pa, _) = policies();
    let f = failure_of(pa, policy_b(), 85);
    assert!(f.contains("rsa-signature"), "{f}");
    assert!(f.contains("pre-shared-key"), "{f}");
}

#[test]
fn policy_refuses_what_ikev1_certificates_cannot_do() {
    let (pa, _) = policies();
    assert!(pa.validate().is_ok());
    let mut am = pa.clone();
    am.exchange_mode = crate::ike::ExchangeMode::Aggressive;
    let e = am.validate().unwrap_err();
    assert!(e.contains("Aggressive Mode with certificates"), "{e}");
    let k = pki();
    let (der, pem) = k.intermediate.issue(
        &Spec {
            cn: "gw-ec",
            ..Spec::default()
        },
        TestKey::P256,
    );
    let ec = with_cert(
        policy_a(),
        creds(&(der, pem), &[&k.intermediate], &k.root),
        "gw-b",
    );
    let e = ec.validate().unwrap_err();
    assert!(
        e.contains("holds an ECDSA P-256 key") && e.contains("`version: 2`"),
        "{e}"
    );
}
