//! IKEv2 signature authentication: AUTH methods RSA (1), ECDSA (9/10/11, RFC 4754) and Digital
//! Signature (14, RFC 7427, with its AlgorithmIdentifier), the SIGNATURE_HASH_ALGORITHMS
//! notification, and the CERT / CERTREQ payload contents. The signing and verifying themselves,
//! and path validation, are `ike::auth`'s (shared with IKEv1).

use crate::ike::auth::dn::{encode_oid, tlv};
use crate::ike::auth::{
    CertCredentials, CertError, Certificate, KeyKind, SigHash, SignatureScheme,
};
use crate::ike::random::RandomSource;
use std::net::IpAddr;
use std::time::Instant;

use tracing::info;

use crate::crypto::ikev2::keys::{psk_auth, verify_psk_auth};
use crate::crypto::prf::HashAlg;
use crate::ike::auth::{require_identity, Refusal};
use crate::ike::event::Event;
use crate::ike::policy::IkePolicy;
use crate::ike::status::PeerCertificate;
use crate::ike::Diagnostic;
use crate::wire::ikev2::{
    AuthRepr, DeleteRepr, ExchangeType, IdRepr, NotifyRepr, NotifyType, ProtocolId,
};

use super::auth::identity_of;
use super::{Engine, V2Diagnostic};
use crate::wire::ikev2::{AuthMethod, CertEncoding, CertRepr};

/// RFC 7427 §7 / RFC 8420 hash algorithm number "Identity" (Ed25519 signs the data itself).
const IDENTITY_HASH: u16 = 5;

/// What we announce in SIGNATURE_HASH_ALGORITHMS: SHA2-256, SHA2-384, SHA2-512, Identity.
pub(super) const OUR_SIGNATURE_HASHES: [u16; 4] = [2, 3, 4, IDENTITY_HASH];

const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_MGF1: &str = "1.2.840.113549.1.1.8";
const OID_ED25519: &str = "1.3.101.112";

/// The SIGNATURE_HASH_ALGORITHMS notification data (16-bit numbers).
pub(super) fn signature_hashes_data() -> Vec<u8> {
    OUR_SIGNATURE_HASHES
        .iter()
        .flat_map(|h| h.to_be_bytes())
        .collect()
}

/// The hash numbers of a peer's SIGNATURE_HASH_ALGORITHMS notification (an odd byte is ignored).
pub(super) fn parse_signature_hashes(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

/// Our CERTREQ (X.509 Certificate - Signature, the SHA-1 hashes of our trust anchors'
/// SubjectPublicKeyInfo), when we authenticate with certificates and trust a CA.
pub(super) fn certificate_request_data(policy: &IkePolicy) -> Option<Vec<u8>> {
    let creds = policy.auth.certificate()?;
    let hashes: Vec<u8> = creds.trust.certreq_hashes().concat();
    (!hashes.is_empty()).then_some(hashes)
}

/// A CERT (`request` false) or CERTREQ payload of X.509 Certificate - Signature encoding.
pub(super) fn x509_payload(request: bool, data: &[u8]) -> CertRepr<'_> {
    CertRepr {
        request,
        encoding: CertEncoding::X509_SIGNATURE,
        data,
    }
}

/// The method and scheme we sign with: RFC 7427 when the peer announced hashes our key can
/// use (the strongest of SHA2-256/384/512 matching the key, Identity for Ed25519), else the
/// RFC 7296 method of the key (RSA with SHA-1, ECDSA 9/10). `None`: no method both can use.
pub(super) fn our_scheme(
    kind: KeyKind,
    peer_hashes: &[u16],
) -> Option<(AuthMethod, SignatureScheme)> {
    let has = |h: SigHash| peer_hashes.contains(&h.rfc7427_id());
    let preferred = kind.default_hash();
    let pick = || {
        if has(preferred) {
            Some(preferred)
        } else {
            [SigHash::Sha256, SigHash::Sha384, SigHash::Sha512]
                .into_iter()
                .find(|h| has(*h))
        }
    };
    let ds = AuthMethod::DIGITAL_SIGNATURE;
    match kind {
        KeyKind::Ed25519 => peer_hashes
            .contains(&IDENTITY_HASH)
            .then_some((ds, SignatureScheme::Ed25519)),
        KeyKind::Rsa(_) => Some(match pick() {
            Some(h) => (ds, SignatureScheme::RsaPkcs1(h)),
            None => (AuthMethod::RSA, SignatureScheme::RsaPkcs1(SigHash::Sha1)),
        }),
        KeyKind::EcdsaP256 | KeyKind::EcdsaP384 => Some(match pick() {
            Some(h) => (ds, SignatureScheme::EcdsaDer(h)),
            None if kind == KeyKind::EcdsaP256 => (
                AuthMethod::ECDSA_256,
                SignatureScheme::EcdsaFixed(SigHash::Sha256),
            ),
            None => (
                AuthMethod::ECDSA_384,
                SignatureScheme::EcdsaFixed(SigHash::Sha384),
            ),
        }),
    }
}

/// Our AUTH payload (method, data) over `octets`.
pub(super) fn sign_auth(
    creds: &CertCredentials,
    peer_hashes: &[u16],
    octets: &[u8],
    rng: &mut dyn RandomSource,
) -> Result<(AuthMethod, Vec<u8>), String> {
    let kind = creds.key.kind();
    let (method, scheme) = our_scheme(kind, peer_hashes).ok_or_else(|| {
        format!("our {kind} key signs only with RFC 7427/8420 (Ed25519), which the peer did not announce in SIGNATURE_HASH_ALGORITHMS")
    })?;
    let sig = creds
        .key
        .sign(scheme, octets, rng)
        .map_err(|e| e.to_string())?;
    if method != AuthMethod::DIGITAL_SIGNATURE {
        return Ok((method, sig));
    }
    let alg = algorithm_identifier(scheme);
    let mut data = Vec::with_capacity(1 + alg.len() + sig.len());
    data.push(alg.len() as u8);
    data.extend_from_slice(&alg);
    data.extend_from_slice(&sig);
    Ok((method, data))
}

/// Checks the peer's AUTH payload with the key of its certificate.
pub(super) fn verify_auth(
    cert: &Certificate,
    method: AuthMethod,
    data: &[u8],
    octets: &[u8],
) -> Result<(), CertError> {
    let key = cert
        .public_key
        .as_ref()
        .ok_or_else(|| CertError::Unusable {
            detail: format!("\"{}\" has a key type we cannot verify", cert.subject),
        })?;
    let bad = |scheme: String| CertError::BadSignature {
        subject: cert.subject.to_string(),
        scheme,
    };
    let (scheme, sig) = peer_scheme(method, data, key.kind()).map_err(bad)?;
    if key.verify(scheme, octets, sig) {
        Ok(())
    } else {
        Err(bad(scheme.to_string()))
    }
}

/// The scheme and signature of a peer's AUTH payload; the error names what it used.
pub(super) fn peer_scheme(
    method: AuthMethod,
    data: &[u8],
    kind: KeyKind,
) -> Result<(SignatureScheme, &[u8]), String> {
    match method {
        AuthMethod::RSA => Ok((SignatureScheme::RsaPkcs1(SigHash::Sha1), data)),
        AuthMethod::ECDSA_256 => Ok((SignatureScheme::EcdsaFixed(SigHash::Sha256), data)),
        AuthMethod::ECDSA_384 => Ok((SignatureScheme::EcdsaFixed(SigHash::Sha384), data)),
        AuthMethod::DIGITAL_SIGNATURE => {
            let (&n, rest) = data.split_first().ok_or("an empty RFC 7427 AUTH")?;
            let n = usize::from(n);
            let alg = rest
                .get(..n)
                .ok_or("a truncated RFC 7427 AlgorithmIdentifier")?;
            let scheme = scheme_of_algorithm(alg, kind)?;
            Ok((scheme, rest.get(n..).unwrap_or(&[])))
        }
        AuthMethod::PSK => {
            Err("a pre-shared key (AUTH method 2), where we expect a certificate signature".into())
        }
        m => Err(format!("AUTH method {}, which we do not implement", m.0)),
    }
}

/// The scheme of an RFC 7427 AlgorithmIdentifier (DER).
fn scheme_of_algorithm(alg: &[u8], kind: KeyKind) -> Result<SignatureScheme, String> {
    use x509_parser::prelude::FromDer;
    use x509_parser::x509::AlgorithmIdentifier;
    let (_, ai) = AlgorithmIdentifier::from_der(alg)
        .map_err(|_| "an unparsable RFC 7427 AlgorithmIdentifier".to_string())?;
    let oid = ai.algorithm.to_id_string();
    let hash = |oid: &str| -> Option<SigHash> {
        Some(match oid {
            "1.3.14.3.2.26" => SigHash::Sha1,
            "2.16.840.1.101.3.4.2.1" => SigHash::Sha256,
            "2.16.840.1.101.3.4.2.2" => SigHash::Sha384,
            "2.16.840.1.101.3.4.2.3" => SigHash::Sha512,
            _ => return None,
        })
    };
    let scheme = match oid.as_str() {
        "1.2.840.113549.1.1.5" => SignatureScheme::RsaPkcs1(SigHash::Sha1),
        "1.2.840.113549.1.1.11" => SignatureScheme::RsaPkcs1(SigHash::Sha256),
        "1.2.840.113549.1.1.12" => SignatureScheme::RsaPkcs1(SigHash::Sha384),
        "1.2.840.113549.1.1.13" => SignatureScheme::RsaPkcs1(SigHash::Sha512),
        "1.2.840.10045.4.3.2" => SignatureScheme::EcdsaDer(SigHash::Sha256),
        "1.2.840.10045.4.3.3" => SignatureScheme::EcdsaDer(SigHash::Sha384),
        "1.2.840.10045.4.3.4" => SignatureScheme::EcdsaDer(SigHash::Sha512),
        OID_ED25519 => SignatureScheme::Ed25519,
        OID_RSA_PSS => {
            let params = ai
                .parameters
                .as_ref()
                .and_then(|p| x509_parser::signature_algorithm::RsaSsaPssParams::try_from(p).ok())
                .ok_or("RSASSA-PSS without parameters")?;
            let h = hash(&params.hash_algorithm_oid().to_id_string())
                .ok_or("RSASSA-PSS with an unknown hash")?;
            let mgf_ok = params.mask_gen_algorithm().is_ok_and(|m| {
                m.mgf.to_id_string() == OID_MGF1 && hash(&m.hash.to_id_string()) == Some(h)
            });
            if !mgf_ok || params.salt_length() as usize != h.digest(b"").len() {
                return Err(format!(
                    "RSASSA-PSS with {h} but another MGF or a salt of {} bytes (we verify MGF1 with the same hash and a salt as long as the hash)",
                    params.salt_length()
                ));
            }
            SignatureScheme::RsaPss(h)
        }
        other => {
            return Err(format!(
                "RFC 7427 signature algorithm {other}, which we do not implement"
            ))
        }
    };
    let fits = matches!(
        (kind, scheme),
        (
            KeyKind::Rsa(_),
            SignatureScheme::RsaPkcs1(_) | SignatureScheme::RsaPss(_)
        ) | (
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384,
            SignatureScheme::EcdsaDer(_)
        ) | (KeyKind::Ed25519, SignatureScheme::Ed25519)
    );
    if fits {
        Ok(scheme)
    } else {
        Err(format!(
            "a {scheme} signature, but its certificate holds a {kind} key"
        ))
    }
}

/// The RFC 7427 AlgorithmIdentifier (DER) of a scheme we sign with.
fn algorithm_identifier(scheme: SignatureScheme) -> Vec<u8> {
    let null = [0x05, 0x00];
    let ai = |oid: &str, params: &[u8]| {
        tlv(
            0x30,
            &[tlv(0x06, &encode_oid(oid)), params.to_vec()].concat(),
        )
    };
    let hash_oid = |h: SigHash| match h {
        SigHash::Sha1 => "1.3.14.3.2.26",
        SigHash::Sha256 => "2.16.840.1.101.3.4.2.1",
        SigHash::Sha384 => "2.16.840.1.101.3.4.2.2",
        SigHash::Sha512 => "2.16.840.1.101.3.4.2.3",
    };
    match scheme {
        SignatureScheme::RsaPkcs1(h) => {
            let oid = match h {
                SigHash::Sha1 => "1.2.840.113549.1.1.5",
                SigHash::Sha256 => "1.2.840.113549.1.1.11",
                SigHash::Sha384 => "1.2.840.113549.1.1.12",
                SigHash::Sha512 => "1.2.840.113549.1.1.13",
            };
            ai(oid, &null)
        }
        SignatureScheme::EcdsaDer(h) | SignatureScheme::EcdsaFixed(h) => {
            let oid = match h {
                SigHash::Sha1 => "1.2.840.10045.4.1",
                SigHash::Sha256 => "1.2.840.10045.4.3.2",
                SigHash::Sha384 => "1.2.840.10045.4.3.3",
                SigHash::Sha512 => "1.2.840.10045.4.3.4",
            };
            ai(oid, &[])
        }
        SignatureScheme::RsaPss(h) => {
            let hash_ai = ai(hash_oid(h), &null);
            let salt = h.digest(b"").len() as u8;
            let params = tlv(
                0x30,
                &[
                    tlv(0xa0, &hash_ai),
                    tlv(0xa1, &ai(OID_MGF1, &hash_ai)),
                    tlv(0xa2, &tlv(0x02, &[salt])),
                ]
                .concat(),
            );
            ai(OID_RSA_PSS, &params)
        }
        SignatureScheme::Ed25519 => ai(OID_ED25519, &[]),
        SignatureScheme::RsaPkcs1Unprefixed => Vec::new(),
    }
}

/// Why the peer's AUTH was not accepted (yet).
pub(super) enum AuthRefusal {
    /// Refused.
    Failed(Diagnostic),
    /// Its certificate names a CRL we must fetch first.
    NeedCrl(String),
}

/// Our certificate and its intermediates as CERT payloads (none with a pre-shared key).
pub(super) fn our_cert_payloads(creds: Option<&CertCredentials>) -> Vec<CertRepr<'_>> {
    creds
        .map(|c| {
            std::iter::once(&c.cert)
                .chain(&c.chain)
                .map(|x| x509_payload(false, x.der()))
                .collect()
        })
        .unwrap_or_default()
}

impl Engine {
    /// Our AUTH payload over `octets`: the PSK MAC, or a signature by our key in the method the
    /// peer's SIGNATURE_HASH_ALGORITHMS allows.
    pub(super) fn our_auth(
        &mut self,
        i: usize,
        prf: HashAlg,
        octets: &[u8],
    ) -> Result<(AuthMethod, Vec<u8>), Diagnostic> {
        match self.policy.auth.certificate().cloned() {
            None => Ok((
                AuthMethod::PSK,
                psk_auth(prf, &self.policy.psk, octets).to_vec(),
            )),
            Some(c) => sign_auth(&c, &self.sas[i].peer_sig_hashes, octets, &mut *self.rng)
                .map_err(|detail| Diagnostic::Certificate(CertError::CannotSign { detail })),
        }
    }

    /// Checks the peer's ID and AUTH payloads (and with certificates, its chain, that the ID is
    /// in its certificate, and the signature). Remembers the certificate on the IKE SA.
    pub(super) fn verify_peer_auth(
        &mut self,
        now: Instant,
        i: usize,
        id: &IdRepr<'_>,
        auth: &AuthRepr<'_>,
        certs: &[&[u8]],
        octets: &[u8],
    ) -> Result<(), AuthRefusal> {
        let peer = self.sas[i].peer.ip();
        let Some(creds) = self.policy.auth.certificate().cloned() else {
            let prf = self.sas[i].keys.as_ref().map(|k| k.suite.prf);
            return self
                .verify_psk(id, auth, octets, peer, prf)
                .map_err(|d| AuthRefusal::Failed(Diagnostic::Ikev2(d)));
        };
        let mismatch = |received: String, expected: String| {
            AuthRefusal::Failed(Diagnostic::Ikev2(V2Diagnostic::IdentityMismatch {
                received,
                expected,
            }))
        };
        let got = identity_of(id).ok_or_else(|| {
            mismatch(
                format!("an ID of type {}", id.id_type),
                self.expected_peer_id(),
            )
        })?;
        if let Some(want) = &self.policy.peer_id {
            if *want != got {
                return Err(mismatch(got.to_string(), want.to_string()));
            }
        }
        let cert_failed = |e: CertError| AuthRefusal::Failed(Diagnostic::Certificate(e));
        let now_unix = self.wall_clock.map(|w| w.unix_at(now)).ok_or_else(|| {
            cert_failed(CertError::Unusable {
                detail: "the engine was given no wall-clock time to check validity at".into(),
            })
        })?;
        let chain: Vec<Vec<u8>> = certs.iter().map(|c| c.to_vec()).collect();
        let cert = creds.trust.verify(&chain, now_unix).map_err(|r| match r {
            Refusal::NeedCrl(url) => AuthRefusal::NeedCrl(url),
            Refusal::Cert(e) => cert_failed(e),
        })?;
        require_identity(&got, &cert).map_err(cert_failed)?;
        verify_auth(&cert, auth.method, auth.data, octets).map_err(cert_failed)?;
        self.sas[i].peer_cert = Some(PeerCertificate::of(&cert));
        Ok(())
    }

    fn verify_psk(
        &self,
        id: &IdRepr<'_>,
        auth: &AuthRepr<'_>,
        octets: &[u8],
        peer: IpAddr,
        prf: Option<HashAlg>,
    ) -> Result<(), V2Diagnostic> {
        self.check_peer_id(id, peer)?;
        let ok = auth.method == AuthMethod::PSK
            && prf.is_some_and(|prf| verify_psk_auth(prf, &self.policy.psk, octets, auth.data));
        if ok {
            return Ok(());
        }
        Err(V2Diagnostic::AuthFailed {
            peer,
            peer_id: identity_of(id).map_or_else(|| format!("{}", id.id_type), |x| x.to_string()),
            our_id: self.policy.my_identity().to_string(),
        })
    }

    /// Initiator: the responder authenticated us but we refuse it. Tells it so (RFC 7296
    /// §2.21.2: AUTHENTICATION_FAILED) and deletes the IKE SA in the same INFORMATIONAL
    /// request, sent once, so that the peer does not keep an IKE SA and child we never use.
    pub(super) fn tell_peer_auth_failed(&mut self, i: usize) {
        let Some(mid) = self.sas.get(i).map(|s| s.next_request_id) else {
            return;
        };
        let header = self.header(i, ExchangeType::INFORMATIONAL, mid, false);
        let notify = NotifyRepr {
            protocol: ProtocolId(0),
            kind: NotifyType::AUTHENTICATION_FAILED,
            spi: &[],
            data: &[],
        };
        let Ok(delete) = DeleteRepr::new(ProtocolId::IKE, 0, &[]) else {
            return;
        };
        let Some(dgrams) = self.seal(i, &header, &[&notify, &delete]) else {
            return;
        };
        let (port, peer) = (self.sas[i].local_port, self.sas[i].peer);
        for d in dgrams {
            self.io.send(port, peer, d);
        }
    }

    /// Sets a message aside until the CRL at `url` is fetched; asks the caller for it once.
    pub(super) fn await_crl(&mut self, url: &str) {
        self.io.stats.dropped_awaiting_crl += 1;
        let Some(c) = self.policy.auth.certificate() else {
            return;
        };
        if c.trust.crls.request(url) {
            info!(%url, "the peer's certificate names a CRL we do not have: fetching it; its retransmission will be judged");
            self.io.events.push_back(Event::FetchCrl {
                url: url.to_string(),
                crls: c.trust.crls.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_identifiers_are_rfc_7427_appendix_a() {
        let hex = |s: &str| -> Vec<u8> {
            let s: String = s.split_whitespace().collect();
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        // RFC 7427 A.1.3 sha256WithRSAEncryption, A.3.1 ecdsa-with-sha256, RFC 8420 Ed25519.
        assert_eq!(
            algorithm_identifier(SignatureScheme::RsaPkcs1(SigHash::Sha256)),
            hex("300d06092a864886f70d01010b0500")
        );
        assert_eq!(
            algorithm_identifier(SignatureScheme::EcdsaDer(SigHash::Sha256)),
            hex("300a06082a8648ce3d040302")
        );
        assert_eq!(
            algorithm_identifier(SignatureScheme::Ed25519),
            hex("300506032b6570")
        );
        // RFC 7427 A.4.3 RSASSA-PSS with SHA-256 (salt 32).
        assert_eq!(
            algorithm_identifier(SignatureScheme::RsaPss(SigHash::Sha256)),
            hex("3041 06092a864886f70d01010a 3034 a00f300d0609608648016503040201 0500 a11c301a06092a864886f70d010108300d0609608648016503040201 0500 a203020120")
        );
        for s in [
            SignatureScheme::RsaPkcs1(SigHash::Sha384),
            SignatureScheme::RsaPss(SigHash::Sha512),
            SignatureScheme::RsaPss(SigHash::Sha256),
        ] {
            assert_eq!(
                scheme_of_algorithm(&algorithm_identifier(s), KeyKind::Rsa(2048)),
                Ok(s)
            );
        }
        assert_eq!(
            scheme_of_algorithm(
                &algorithm_identifier(SignatureScheme::EcdsaDer(SigHash::Sha384)),
                KeyKind::EcdsaP384
            ),
            Ok(SignatureScheme::EcdsaDer(SigHash::Sha384))
        );
        assert!(scheme_of_algorithm(
            &algorithm_identifier(SignatureScheme::Ed25519),
            KeyKind::Rsa(2048)
        )
        .unwrap_err()
        .contains("holds a RSA 2048 key"));
        assert!(scheme_of_algorithm(&[0x30, 0x01], KeyKind::Ed25519).is_err());
    }

    #[test]
    fn method_choice_follows_the_peers_hashes() {
        use AuthMethod as M;
        let all = OUR_SIGNATURE_HASHES;
        assert_eq!(
            our_scheme(KeyKind::Rsa(2048), &all),
            Some((
                M::DIGITAL_SIGNATURE,
                SignatureScheme::RsaPkcs1(SigHash::Sha256)
            ))
        );
        assert_eq!(
            our_scheme(KeyKind::Rsa(2048), &[]),
            Some((M::RSA, SignatureScheme::RsaPkcs1(SigHash::Sha1)))
        );
        assert_eq!(
            our_scheme(KeyKind::EcdsaP384, &all),
            Some((
                M::DIGITAL_SIGNATURE,
                SignatureScheme::EcdsaDer(SigHash::Sha384)
            ))
        );
        assert_eq!(
            our_scheme(KeyKind::EcdsaP384, &[2]),
            Some((
                M::DIGITAL_SIGNATURE,
                SignatureScheme::EcdsaDer(SigHash::Sha256)
            ))
        );
        assert_eq!(
            our_scheme(KeyKind::EcdsaP256, &[]),
            Some((M::ECDSA_256, SignatureScheme::EcdsaFixed(SigHash::Sha256)))
        );
        assert_eq!(our_scheme(KeyKind::Ed25519, &[2, 3]), None);
        assert_eq!(
            our_scheme(KeyKind::Ed25519, &all),
            Some((M::DIGITAL_SIGNATURE, SignatureScheme::Ed25519))
        );
        assert_eq!(
            parse_signature_hashes(&signature_hashes_data()),
            all.to_vec()
        );
    }
}
