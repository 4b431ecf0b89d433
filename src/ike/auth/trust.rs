//! Path validation of a peer's certificate: trust anchors, intermediates (sent by the peer or
//! configured), validity at a given wall-clock time, basic constraints and key usage by
//! `rustls-webpki`; revocation from our [`CrlStore`]; the configured peer certificate.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use webpki::{EndEntityCert, KeyPurposeIdIter};

use super::cert::{utc_text, Certificate};
use super::crl::{CrlStore, RevocationStatus};
use super::diag::CertError;
use super::verified::{VerifiedPath, VerifiedPaths};

/// Why a peer certificate was not accepted (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Refused for good.
    Cert(CertError),
    /// Needs the CRL at this URL first: fetch it, then judge a retransmission.
    NeedCrl(String),
}

impl From<CertError> for Refusal {
    fn from(e: CertError) -> Refusal {
        Refusal::Cert(e)
    }
}

/// What we trust: anchors, configured intermediates, an optional pinned peer certificate, CRLs.
#[derive(Debug)]
pub struct TrustStore {
    /// Trust anchors (CA certificates).
    pub anchors: Vec<Certificate>,
    /// Intermediates we hold ourselves (our own chain; the peer's may come in CERT payloads).
    pub intermediates: Vec<Certificate>,
    /// The exact certificate the peer must use (`peer-file`).
    pub peer_cert: Option<Certificate>,
    /// CRLs.
    pub crls: Arc<CrlStore>,
    /// Paths validated before (shared by the process's trust stores: [`VerifiedPaths::shared`]).
    pub verified: Arc<VerifiedPaths>,
}

static SIG_ALGS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// RFC 4945 §5.1.3.12: an IKE peer certificate may carry any EKU; we accept none, anyEKU,
/// serverAuth, clientAuth, id-kp-ipsecIKE and iKEIntermediate, and refuse a list of others only.
struct IpsecEku;

const ACCEPTED_EKUS: &[&[usize]] = &[
    &[2, 5, 29, 37, 0],
    &[1, 3, 6, 1, 5, 5, 7, 3, 1],
    &[1, 3, 6, 1, 5, 5, 7, 3, 2],
    &[1, 3, 6, 1, 5, 5, 7, 3, 17],
    &[1, 3, 6, 1, 5, 5, 8, 2, 2],
];

impl webpki::ExtendedKeyUsageValidator for IpsecEku {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let mut any = false;
        for oid in iter {
            any = true;
            let oid = oid?.to_decoded_oid();
            if ACCEPTED_EKUS.contains(&oid.as_slice()) {
                return Ok(());
            }
        }
        if any {
            #[allow(deprecated)]
            Err(webpki::Error::RequiredEkuNotFound)
        } else {
            Ok(())
        }
    }
}

impl TrustStore {
    /// Validates the peer's chain (end entity first, then what else it sent) at `now_unix`;
    /// returns its end-entity certificate.
    pub fn verify(&self, peer_chain: &[Vec<u8>], now_unix: i64) -> Result<Certificate, Refusal> {
        let end = match (peer_chain.first(), &self.peer_cert) {
            (Some(der), _) => Certificate::from_der(der).map_err(|e| CertError::Unusable {
                detail: e.to_string(),
            })?,
            (None, Some(pinned)) => pinned.clone(),
            (None, None) => return Err(CertError::NoPeerCertificate.into()),
        };
        if let Some(pinned) = &self.peer_cert {
            if *pinned != end {
                return Err(CertError::NotConfiguredPeerCertificate {
                    expected: describe(pinned),
                    received: describe(&end),
                }
                .into());
            }
        }
        if end.public_key.is_none() {
            return Err(CertError::Unusable {
                detail: format!("\"{}\" has a key type we cannot verify", end.subject),
            }
            .into());
        }
        let sent: Vec<Certificate> = peer_chain
            .iter()
            .skip(1)
            .filter_map(|d| Certificate::from_der(d).ok())
            .collect();
        let candidates: Vec<&Certificate> = sent.iter().chain(&self.intermediates).collect();
        check_validity(&end, now_unix)?;
        let path = self.path(&end, &candidates, now_unix)?;
        for pair in path.windows(2) {
            self.check_revocation(pair[0], pair[1], now_unix)?;
        }
        if !end.digital_signature {
            return Err(CertError::InvalidChain {
                subject: end.subject.to_string(),
                reason: "its keyUsage does not allow digitalSignature".into(),
            }
            .into());
        }
        Ok(end)
    }

    /// The path end entity → … → anchor as our parsed certificates: validated before (the
    /// same certificates, inside their validity periods), else by webpki now.
    fn path<'a>(
        &'a self,
        end: &'a Certificate,
        candidates: &[&'a Certificate],
        now_unix: i64,
    ) -> Result<Vec<&'a Certificate>, Refusal> {
        let key = VerifiedPaths::key(end, candidates, &self.anchors);
        let found = match self.verified.get(&key, now_unix) {
            Some(found) => found,
            None => {
                let found = self.validate(end, candidates, now_unix)?;
                self.verified.put(key, found.clone());
                found
            }
        };
        let mut path = chain(end, candidates, &found.intermediates);
        path.extend(found.anchor.and_then(|i| self.anchors.get(i)));
        Ok(path)
    }

    /// Runs webpki; the path it accepted as positions in `candidates` and our anchors.
    fn validate(
        &self,
        end: &Certificate,
        candidates: &[&Certificate],
        now_unix: i64,
    ) -> Result<VerifiedPath, Refusal> {
        let end_der = CertificateDer::from(end.der());
        let ee =
            EndEntityCert::try_from(&end_der).map_err(|e| chain_error(end, &format!("{e}")))?;
        let anchors: Vec<_> = self
            .anchors
            .iter()
            .filter_map(|a| {
                webpki::anchor_from_trusted_cert(&CertificateDer::from(a.der()))
                    .ok()
                    .map(|t| t.to_owned())
            })
            .collect();
        let inter: Vec<CertificateDer<'_>> = candidates
            .iter()
            .map(|c| CertificateDer::from(c.der()))
            .collect();
        let time = UnixTime::since_unix_epoch(Duration::from_secs(now_unix.max(0) as u64));
        let verified = ee
            .verify_for_usage(SIG_ALGS, &anchors, &inter, time, IpsecEku, None, None)
            .map_err(|e| self.map_webpki_error(end, candidates, e, now_unix))?;
        let intermediates: Vec<usize> = verified
            .intermediate_certificates()
            .filter_map(|c| candidates.iter().position(|x| x.der() == c.der().as_ref()))
            .collect();
        let on_path = chain(end, candidates, &intermediates);
        let last_issuer = &on_path.last().unwrap_or(&end).issuer;
        Ok(VerifiedPath {
            anchor: self.anchors.iter().position(|a| &a.subject == last_issuer),
            valid_from: on_path
                .iter()
                .map(|c| c.not_before)
                .max()
                .unwrap_or(i64::MIN),
            valid_until: on_path
                .iter()
                .map(|c| c.not_after)
                .min()
                .unwrap_or(i64::MAX),
            intermediates,
        })
    }

    fn map_webpki_error(
        &self,
        end: &Certificate,
        candidates: &[&Certificate],
        e: webpki::Error,
        now_unix: i64,
    ) -> Refusal {
        use webpki::Error as E;
        match e {
            E::UnknownIssuer => {
                // Name the issuer at the top of what we could chain.
                let mut top = end;
                while let Some(next) = candidates
                    .iter()
                    .find(|c| c.subject == top.issuer && c.subject != top.subject)
                {
                    top = next;
                }
                CertError::UntrustedIssuer {
                    subject: end.subject.to_string(),
                    issuer: top.issuer.to_string(),
                    trusted: self.anchors.iter().map(|a| a.subject.to_string()).collect(),
                }
                .into()
            }
            E::CertExpired { .. } | E::CertNotValidYet { .. } => {
                for c in candidates {
                    if let Err(r) = check_validity(c, now_unix) {
                        return r;
                    }
                }
                chain_error(
                    end,
                    "a certificate of the chain is outside its validity period",
                )
            }
            other => chain_error(end, &format!("{other}")),
        }
    }

    fn check_revocation(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        now_unix: i64,
    ) -> Result<(), Refusal> {
        match self.crls.status(cert, issuer, now_unix) {
            RevocationStatus::Good => Ok(()),
            RevocationStatus::Revoked {
                source,
                date,
                reason,
            } => Err(CertError::Revoked {
                subject: cert.subject.to_string(),
                serial: cert.serial.clone(),
                revoked_at: date,
                crl: source,
                reason,
            }
            .into()),
            RevocationStatus::NeedFetch(url) => Err(Refusal::NeedCrl(url)),
            RevocationStatus::Unavailable { url, reason } => {
                Err(CertError::CrlUnavailable { url, reason }.into())
            }
        }
    }

    /// SHA-1 hashes of our anchors' SubjectPublicKeyInfo (the IKEv2 CERTREQ body).
    pub fn certreq_hashes(&self) -> Vec<[u8; 20]> {
        self.anchors.iter().map(|a| a.spki_sha1).collect()
    }
}

/// The end entity followed by the intermediates at `positions` in `candidates`.
fn chain<'a>(
    end: &'a Certificate,
    candidates: &[&'a Certificate],
    positions: &[usize],
) -> Vec<&'a Certificate> {
    let inter = positions.iter().filter_map(|&i| candidates.get(i).copied());
    std::iter::once(end).chain(inter).collect()
}

fn chain_error(end: &Certificate, reason: &str) -> Refusal {
    CertError::InvalidChain {
        subject: end.subject.to_string(),
        reason: reason.to_string(),
    }
    .into()
}

fn describe(c: &Certificate) -> String {
    format!("\"{}\" (SHA-256 {})", c.subject, c.fingerprint_sha256())
}

/// Expired / not yet valid, with the dates.
pub fn check_validity(c: &Certificate, now_unix: i64) -> Result<(), Refusal> {
    if now_unix > c.not_after {
        return Err(CertError::Expired {
            subject: c.subject.to_string(),
            not_after: c.not_after_text(),
            now: utc_text(now_unix),
        }
        .into());
    }
    if now_unix < c.not_before {
        return Err(CertError::NotYetValid {
            subject: c.subject.to_string(),
            not_before: c.not_before_text(),
            now: utc_text(now_unix),
        }
        .into());
    }
    Ok(())
}
