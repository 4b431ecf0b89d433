//! Why a certificate or signature was refused, in plain words; shared by IKEv1 and IKEv2 and
//! wrapped into their diagnostics.

use std::fmt;

/// A certificate-authentication failure: the facts, and a `Display` that names the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertError {
    /// The chain does not lead to one of our trust anchors.
    UntrustedIssuer {
        /// The peer certificate's subject.
        subject: String,
        /// The issuer it names (of the last certificate we could chain to).
        issuer: String,
        /// Our trust anchors' subjects.
        trusted: Vec<String>,
    },
    /// A certificate of the chain is past its notAfter.
    Expired {
        /// Its subject.
        subject: String,
        /// notAfter.
        not_after: String,
        /// Our clock.
        now: String,
    },
    /// A certificate of the chain is before its notBefore.
    NotYetValid {
        /// Its subject.
        subject: String,
        /// notBefore.
        not_before: String,
        /// Our clock.
        now: String,
    },
    /// A CRL lists the certificate.
    Revoked {
        /// Its subject.
        subject: String,
        /// Its serial number.
        serial: String,
        /// revocationDate.
        revoked_at: String,
        /// Where the CRL came from (file or URL).
        crl: String,
        /// The reason code, if the CRL gives one.
        reason: Option<String>,
    },
    /// The identity the peer claims (or we require) is not in its certificate.
    IdentityNotInCertificate {
        /// The identity looked for.
        wanted: String,
        /// The certificate's subject.
        subject: String,
        /// Its subjectAltNames.
        alt_names: Vec<String>,
    },
    /// The AUTH / SIG payload does not verify with the certificate's key.
    BadSignature {
        /// The certificate's subject.
        subject: String,
        /// The scheme the peer signed with.
        scheme: String,
    },
    /// The peer sent no certificate and none is configured (`peer-file`).
    NoPeerCertificate,
    /// The peer's certificate is not the one configured in `peer-file`.
    NotConfiguredPeerCertificate {
        /// Subject and fingerprint of the configured one.
        expected: String,
        /// Subject and fingerprint of the one received.
        received: String,
    },
    /// Our private key does not belong to our certificate.
    KeyMismatch {
        /// Our certificate's subject.
        subject: String,
        /// The key file.
        key_file: String,
    },
    /// The peer's certificate does not parse or has a key we cannot use.
    Unusable {
        /// What is wrong.
        detail: String,
    },
    /// The chain is invalid for another reason (basic constraints, key usage, a signature in
    /// the chain, an unsupported algorithm).
    InvalidChain {
        /// The peer certificate's subject.
        subject: String,
        /// What path validation said.
        reason: String,
    },
    /// We cannot make a signature the peer accepts.
    CannotSign {
        /// Why.
        detail: String,
    },
    /// The CRL at a distribution point could not be fetched (the certificate is refused until
    /// it can).
    CrlUnavailable {
        /// The URL.
        url: String,
        /// What happened.
        reason: String,
    },
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::UntrustedIssuer { subject, issuer, trusted } => write!(
                f,
                "the peer's certificate \"{subject}\" is issued by \"{issuer}\", which we do not trust; \
                 our trusted CAs are: {}. Add that CA's certificate to certificate.trusted-ca, or have the \
                 peer use a certificate from one of ours",
                if trusted.is_empty() { "(none)".to_string() } else { trusted.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ") }
            ),
            CertError::Expired { subject, not_after, now } => write!(
                f,
                "certificate \"{subject}\" expired on {not_after} (our clock: {now}); renew it, or check the clocks"
            ),
            CertError::NotYetValid { subject, not_before, now } => write!(
                f,
                "certificate \"{subject}\" is not valid before {not_before} (our clock: {now}); check the clocks"
            ),
            CertError::Revoked { subject, serial, revoked_at, crl, reason } => write!(
                f,
                "certificate \"{subject}\" (serial {serial}) was revoked on {revoked_at}{} according to the CRL {crl}; \
                 the peer needs a new certificate",
                reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
            ),
            CertError::IdentityNotInCertificate { wanted, subject, alt_names } => write!(
                f,
                "identity {wanted} is not in the peer's certificate, which holds subject \"{subject}\" and {}; \
                 set peers-identifier (or the peer's id) to one of these",
                if alt_names.is_empty() { "no subjectAltName".to_string() } else { format!("subjectAltNames {}", alt_names.join(", ")) }
            ),
            CertError::BadSignature { subject, scheme } => write!(
                f,
                "the peer's {scheme} signature does not verify with the key of its certificate \"{subject}\" \
                 (the peer signs with another key than its certificate's, or the message was altered)"
            ),
            CertError::NoPeerCertificate => f.write_str(
                "the peer sent no certificate and none is configured: have the peer send its certificate \
                 (strongSwan: send_cert = always) or set certificate.peer-file",
            ),
            CertError::NotConfiguredPeerCertificate { expected, received } => write!(
                f,
                "the peer's certificate {received} is not the one in certificate.peer-file ({expected})"
            ),
            CertError::KeyMismatch { subject, key_file } => write!(
                f,
                "our private key {key_file} does not belong to our certificate \"{subject}\": \
                 certificate.key-file must be the key the certificate was issued for"
            ),
            CertError::Unusable { detail } => write!(f, "the peer's certificate is unusable: {detail}"),
            CertError::InvalidChain { subject, reason } => write!(
                f,
                "the peer's certificate \"{subject}\" does not validate: {reason}"
            ),
            CertError::CannotSign { detail } => write!(f, "we cannot sign our AUTH: {detail}"),
            CertError::CrlUnavailable { url, reason } => write!(
                f,
                "the CRL at {url} could not be fetched ({reason}); certificates it covers are refused until it can"
            ),
        }
    }
}
