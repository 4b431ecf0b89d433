//! Phase-1 authentication with RSA signatures (RFC 2409 §5.1, method 3) on top of the shared
//! certificate core ([`crate::ike::auth`]): the method a policy uses, our CERTREQ, CERT and SIG
//! payloads, and the check of the peer's.
//!
//! The signature is PKCS#1 v1.5 type-1 padding around HASH_I / HASH_R itself, without a
//! DigestInfo, as strongSwan and racoon make it. We send our certificate and the intermediates of
//! `certificate.file` in every message 5/6 (whether or not the peer asked), and a CERTREQ naming
//! each of our trust anchors in messages 3/4: strongSwan's default `send_cert = ifasked` sends its
//! certificate only when asked.

use crate::ike::auth::{require_identity, CertCredentials, CertError, Refusal, SignatureScheme};
use crate::ike::diagnostic::Diagnostic;
use crate::ike::policy::{Identity, IkePolicy};
use crate::ike::proposal::Phase1Auth;
use crate::ike::random::RandomSource;
use crate::wire::isakmp::{CertEncoding, CertPayload, PayloadChain, PayloadType};

use super::message::Msg;

/// Most CERT payloads we look at in one message (end entity and intermediates).
const MAX_PEER_CERTS: usize = 8;

/// The authentication method the policy proposes and accepts.
pub(crate) fn phase1_auth(policy: &IkePolicy) -> Phase1Auth {
    match policy.auth.certificate() {
        Some(_) => Phase1Auth::RsaSig,
        None if policy.serves_xauth() => Phase1Auth::XauthInitPsk,
        None => Phase1Auth::Psk,
    }
}

/// Appends one CERTREQ per trust anchor (X.509 signature, the anchor's subject DN), as
/// strongSwan does; nothing with pre-shared keys.
pub(crate) fn push_certreqs(chain: &mut PayloadChain, policy: &IkePolicy) {
    let Some(creds) = policy.auth.certificate() else {
        return;
    };
    for anchor in &creds.trust.anchors {
        let body = CertPayload {
            encoding: CertEncoding::X509_SIGNATURE,
            data: anchor.subject.der(),
        }
        .emit();
        chain.push(PayloadType::CERT_REQ, &body);
    }
}

/// Appends our CERT payloads (our certificate, then its intermediates) and the SIG payload over
/// `hash` (HASH_I or HASH_R).
pub(crate) fn push_cert_and_sig(
    chain: &mut PayloadChain,
    creds: &CertCredentials,
    hash: &[u8],
    rng: &mut dyn RandomSource,
) -> Result<(), Diagnostic> {
    for c in std::iter::once(&creds.cert).chain(&creds.chain) {
        let body = CertPayload {
            encoding: CertEncoding::X509_SIGNATURE,
            data: c.der(),
        }
        .emit();
        chain.push(PayloadType::CERT, &body);
    }
    let sig = creds
        .key
        .sign(SignatureScheme::RsaPkcs1Unprefixed, hash, rng)
        .map_err(|e| Diagnostic::Unsupported {
            detail: format!("IKEv1 signs with RSA certificates only, and ours cannot sign: {e}"),
        })?;
    chain.push(PayloadType::SIG, &sig);
    Ok(())
}

/// Why the peer's signature authentication was not accepted.
#[derive(Debug)]
pub(crate) enum PeerRefused {
    /// For good, with the diagnostic.
    Refused(Diagnostic),
    /// Not yet: the CRL at this URL must be fetched first (the message is dropped; its
    /// retransmission is judged once the CRL is cached).
    NeedCrl(String),
}

impl From<CertError> for PeerRefused {
    fn from(e: CertError) -> PeerRefused {
        PeerRefused::Refused(Diagnostic::Certificate(e))
    }
}

/// Checks message 5/6 of a peer authenticating with signatures: its certificate chain leads to
/// one of our anchors at `now_unix` (and is not revoked), the identity it claims (`claimed`,
/// from its ID payload) and the one configured (`peers-identifier`) are in that certificate, and
/// its SIG payload is a valid signature of `hash` by the certificate's key.
pub(crate) fn verify_peer(
    creds: &CertCredentials,
    msg: &Msg<'_>,
    claimed: &Identity,
    configured: Option<&Identity>,
    hash: &[u8],
    now_unix: Option<i64>,
) -> Result<crate::ike::auth::Certificate, PeerRefused> {
    let sig = msg
        .find(PayloadType::SIG)
        .map(|p| p.body)
        .ok_or_else(|| Diagnostic::Malformed {
            detail: "Main Mode message without a SIG payload (the peer does not authenticate \
                     with signatures)"
                .into(),
        })
        .map_err(PeerRefused::Refused)?;
    let chain: Vec<Vec<u8>> = msg
        .all(PayloadType::CERT)
        .filter_map(|p| CertPayload::parse(p.body).ok())
        .filter(|c| c.encoding == CertEncoding::X509_SIGNATURE)
        .take(MAX_PEER_CERTS)
        .map(|c| c.data.to_vec())
        .collect();
    let now_unix = now_unix.ok_or_else(|| CertError::Unusable {
        detail: "the engine was given no wall-clock time to check validity at".into(),
    })?;
    let cert = creds.trust.verify(&chain, now_unix).map_err(|r| match r {
        Refusal::Cert(e) => PeerRefused::from(e),
        Refusal::NeedCrl(url) => PeerRefused::NeedCrl(url),
    })?;
    if let Some(want) = configured {
        require_identity(want, &cert)?;
    }
    require_identity(claimed, &cert)?;
    let key = cert
        .public_key
        .as_ref()
        .ok_or_else(|| CertError::Unusable {
            detail: format!("\"{}\" has a key type we cannot verify", cert.subject),
        })?;
    if !key.verify(SignatureScheme::RsaPkcs1Unprefixed, hash, sig) {
        return Err(CertError::BadSignature {
            subject: cert.subject.to_string(),
            scheme: "IKEv1 RSA (PKCS#1 v1.5 without DigestInfo)".into(),
        }
        .into());
    }
    Ok(cert)
}
