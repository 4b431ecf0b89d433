//! Authentication shared by IKEv1 and IKEv2: our certificate and private key, signatures, path
//! validation of the peer's certificate, CRLs, identity matching, and the diagnostics of all of
//! it. Sans-IO: files are read when the configuration is loaded, CRLs are fetched by the daemon.

pub mod cert;
pub mod crl;
pub mod diag;
pub mod dn;
pub mod eap;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod key;
pub mod load;
pub mod public;
pub mod scheme;
#[cfg(test)]
pub(crate) mod testpki;
#[cfg(test)]
mod tests;
pub mod trust;
pub mod verified;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use cert::{AltName, Certificate};
pub use crl::CrlStore;
pub use diag::CertError;
pub use dn::DistinguishedName;
pub use identity::{identity_in_certificate, require_identity};
pub use key::{KeyError, PrivateKey};
pub use load::{CertificateFiles, LoadError};
pub use public::PublicKey;
pub use scheme::{KeyKind, SigHash, SignatureScheme};
pub use trust::{Refusal, TrustStore};

/// How a tunnel authenticates (both directions use the same method).
#[derive(Clone, Default)]
pub enum AuthChoice {
    /// The pre-shared key in [`crate::ike::IkePolicy::psk`].
    #[default]
    Psk,
    /// Certificates and signatures.
    Certificate(Arc<CertCredentials>),
}

impl AuthChoice {
    /// The certificate credentials, if this tunnel uses them.
    pub fn certificate(&self) -> Option<&Arc<CertCredentials>> {
        match self {
            AuthChoice::Psk => None,
            AuthChoice::Certificate(c) => Some(c),
        }
    }
}

impl fmt::Debug for AuthChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthChoice::Psk => f.write_str("Psk"),
            // Everything that would change authentication shows, so that a reload that compares
            // `Debug` texts sees a replaced certificate, key, CA or CRL (never the key itself).
            AuthChoice::Certificate(c) => write!(
                f,
                "Certificate({:?} sha256 {}, key {}, anchors {:?}, peer {:?}, {} CRL(s), files {:?})",
                c.cert,
                c.cert.fingerprint_sha256(),
                PublicKeyDigest(&c.key),
                c.trust.anchors.iter().map(Certificate::fingerprint_sha256).collect::<Vec<_>>(),
                c.trust.peer_cert.as_ref().map(Certificate::fingerprint_sha256),
                c.trust.crls.len(),
                c.files
            ),
        }
    }
}

impl PartialEq for AuthChoice {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (AuthChoice::Psk, AuthChoice::Psk) => true,
            (AuthChoice::Certificate(a), AuthChoice::Certificate(b)) => {
                Arc::ptr_eq(a, b) || a.files == b.files
            }
            _ => false,
        }
    }
}

/// A short digest of a key's public half (for `Debug`: tells keys apart, reveals nothing).
struct PublicKeyDigest<'a>(&'a PrivateKey);

impl fmt::Display for PublicKeyDigest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sha2::Digest;
        let d = sha2::Sha256::digest(self.0.public_key_bits());
        write!(f, "{} {}", self.0.kind(), cert::colon_hex(&d[..8]))
    }
}

/// Our certificate (with intermediates), our private key and what we trust.
#[derive(Debug)]
pub struct CertCredentials {
    /// Our certificate.
    pub cert: Certificate,
    /// Intermediates sent after our certificate.
    pub chain: Vec<Certificate>,
    /// Our private key (checked to match `cert` when loaded).
    pub key: PrivateKey,
    /// Anchors, intermediates, the pinned peer certificate, CRLs.
    pub trust: TrustStore,
    /// The files this was loaded from (reload compares them).
    pub files: CertificateFiles,
}

/// The wall-clock time the engines judge certificate validity by: the I/O layer pairs an
/// `Instant` with the Unix time once (and may refresh it), tests set any time they like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    at: Instant,
    unix: Duration,
}

impl WallClock {
    /// `unix` (time since the Unix epoch) was the wall-clock time at `at`.
    pub fn new(at: Instant, unix: Duration) -> WallClock {
        WallClock { at, unix }
    }

    /// Seconds since the Unix epoch at `now`.
    pub fn unix_at(&self, now: Instant) -> i64 {
        let t = if now >= self.at {
            self.unix + (now - self.at)
        } else {
            self.unix.saturating_sub(self.at - now)
        };
        t.as_secs() as i64
    }
}
