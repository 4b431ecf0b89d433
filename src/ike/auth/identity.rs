//! IPsec identities checked against a certificate (RFC 4945 §3.1): ID_DER_ASN1_DN against the
//! subject (or a directoryName altName), ID_FQDN against dNSName, ID_USER_FQDN / ID_RFC822_ADDR
//! against rfc822Name, ID_IPV4/6_ADDR against iPAddress.

use super::cert::{AltName, Certificate};
use super::diag::CertError;
use crate::ike::policy::Identity;

/// True when `id` names the holder of `cert`.
pub fn identity_in_certificate(id: &Identity, cert: &Certificate) -> bool {
    match id {
        Identity::Asn1Dn(dn) => {
            *dn == cert.subject || cert.alt_names.iter().any(|a| matches!(a, AltName::Dn(d) if d == dn))
        }
        Identity::Fqdn(f) => cert
            .alt_names
            .iter()
            .any(|a| matches!(a, AltName::Dns(d) if d.trim_end_matches('.').eq_ignore_ascii_case(f.trim_end_matches('.')))),
        Identity::UserFqdn(u) => cert.alt_names.iter().any(|a| matches!(a, AltName::Email(e) if e.eq_ignore_ascii_case(u))),
        Identity::Address(ip) => cert.alt_names.iter().any(|a| matches!(a, AltName::Ip(x) if x == ip)),
        Identity::KeyId(_) => false,
    }
}

/// [`identity_in_certificate`] as a diagnostic: what we looked for and what the certificate holds.
pub fn require_identity(id: &Identity, cert: &Certificate) -> Result<(), CertError> {
    if identity_in_certificate(id, cert) {
        return Ok(());
    }
    Err(CertError::IdentityNotInCertificate {
        wanted: id.to_string(),
        subject: cert.subject.to_string(),
        alt_names: cert.alt_names.iter().map(|a| a.to_string()).collect(),
    })
}
