//! An X.509 certificate: its DER and the facts IPsec needs, parsed once by `x509-parser`.

use std::fmt;
use std::net::IpAddr;

use sha2::{Digest, Sha256};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::dn::DistinguishedName;
use super::public::PublicKey;

/// A subjectAltName entry we match identities against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AltName {
    /// dNSName.
    Dns(String),
    /// rfc822Name.
    Email(String),
    /// iPAddress.
    Ip(IpAddr),
    /// directoryName.
    Dn(DistinguishedName),
}

impl fmt::Display for AltName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AltName::Dns(s) => write!(f, "DNS:{s}"),
            AltName::Email(s) => write!(f, "email:{s}"),
            AltName::Ip(a) => write!(f, "IP:{a}"),
            AltName::Dn(d) => write!(f, "DirName:{d}"),
        }
    }
}

/// A parsed certificate.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    /// Subject DN.
    pub subject: DistinguishedName,
    /// Issuer DN.
    pub issuer: DistinguishedName,
    /// Serial number, colon-separated hex.
    pub serial: String,
    /// Serial number bytes as encoded (CRL lookup).
    pub serial_bytes: Vec<u8>,
    /// notBefore, seconds since the Unix epoch.
    pub not_before: i64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// subjectAltName entries.
    pub alt_names: Vec<AltName>,
    /// HTTP(S) URLs of the CRL distribution points.
    pub crl_urls: Vec<String>,
    /// The public key, if of a kind we verify with.
    pub public_key: Option<PublicKey>,
    /// SHA-1 of the SubjectPublicKeyInfo DER (IKEv2 CERTREQ certification authority hash).
    pub spki_sha1: [u8; 20],
    /// keyUsage allows digitalSignature (true when the extension is absent).
    pub digital_signature: bool,
    /// basicConstraints cA.
    pub is_ca: bool,
}

/// A certificate that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an X.509 certificate: {0}")]
pub struct CertParseError(pub String);

impl Certificate {
    /// Parses one DER certificate (nothing may follow it).
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertParseError> {
        let (rest, x) =
            X509Certificate::from_der(der).map_err(|e| CertParseError(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertParseError(format!(
                "{} bytes after the certificate",
                rest.len()
            )));
        }
        let spki = x.public_key();
        let mut alt_names = Vec::new();
        let mut crl_urls = Vec::new();
        let mut digital_signature = true;
        let mut is_ca = false;
        for ext in x.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    alt_names.extend(san.general_names.iter().filter_map(alt_name));
                }
                ParsedExtension::CRLDistributionPoints(dps) => {
                    for dp in dps.iter() {
                        if let Some(DistributionPointName::FullName(names)) = &dp.distribution_point
                        {
                            for n in names {
                                if let GeneralName::URI(u) = n {
                                    if u.starts_with("http://") || u.starts_with("https://") {
                                        crl_urls.push(u.to_string());
                                    }
                                }
                            }
                        }
                    }
                }
                ParsedExtension::KeyUsage(ku) => digital_signature = ku.digital_signature(),
                ParsedExtension::BasicConstraints(bc) => is_ca = bc.ca,
                _ => {}
            }
        }
        let spki_sha1: [u8; 20] = {
            use sha1::Digest as _;
            sha1::Sha1::digest(spki.raw).into()
        };
        Ok(Certificate {
            der: der.to_vec(),
            subject: DistinguishedName::from_x509(x.subject()),
            issuer: DistinguishedName::from_x509(x.issuer()),
            serial: x.raw_serial_as_string(),
            serial_bytes: x.raw_serial().to_vec(),
            not_before: x.validity().not_before.timestamp(),
            not_after: x.validity().not_after.timestamp(),
            alt_names,
            crl_urls,
            public_key: PublicKey::from_spki(spki),
            spki_sha1,
            digital_signature,
            is_ca,
        })
    }

    /// Every certificate of a PEM file (or one DER certificate), in order.
    pub fn all_from_pem_or_der(bytes: &[u8]) -> Result<Vec<Certificate>, CertParseError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::CertificateDer;
        if !looks_like_pem(bytes) {
            return Ok(vec![Certificate::from_der(bytes)?]);
        }
        let mut out = Vec::new();
        for c in CertificateDer::pem_slice_iter(bytes) {
            let c = c.map_err(|e| CertParseError(format!("bad PEM: {e:?}")))?;
            out.push(Certificate::from_der(c.as_ref())?);
        }
        if out.is_empty() {
            return Err(CertParseError("no \"CERTIFICATE\" PEM block".into()));
        }
        Ok(out)
    }

    /// The DER encoding (sent in a CERT payload).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER, colon-separated hex (what `openssl x509 -fingerprint -sha256` prints).
    pub fn fingerprint_sha256(&self) -> String {
        colon_hex(&Sha256::digest(&self.der))
    }

    /// notBefore as "2026-12-02 16:00:00 UTC".
    pub fn not_before_text(&self) -> String {
        utc_text(self.not_before)
    }

    /// notAfter as "2026-12-02 16:00:00 UTC".
    pub fn not_after_text(&self) -> String {
        utc_text(self.not_after)
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Certificate(\"{}\", issuer \"{}\", serial {})",
            self.subject, self.issuer, self.serial
        )
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

pub(super) fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(10).any(|w| w == b"-----BEGIN")
}

fn alt_name(n: &GeneralName<'_>) -> Option<AltName> {
    Some(match n {
        GeneralName::DNSName(s) => AltName::Dns(s.to_string()),
        GeneralName::RFC822Name(s) => AltName::Email(s.to_string()),
        GeneralName::IPAddress(b) => AltName::Ip(match b.len() {
            4 => IpAddr::from(<[u8; 4]>::try_from(*b).ok()?),
            16 => IpAddr::from(<[u8; 16]>::try_from(*b).ok()?),
            _ => return None,
        }),
        GeneralName::DirectoryName(d) => AltName::Dn(DistinguishedName::from_x509(d)),
        _ => return None,
    })
}

/// Colon-separated upper-case hex.
pub(crate) fn colon_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A Unix time as "YYYY-MM-DD hh:mm:ss UTC".
pub fn utc_text(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_known_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_796_227_199), "2026-12-02 15:59:59 UTC");
    }
}
