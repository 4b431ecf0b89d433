//! Certificate (RFC 7296 §3.6) and Certificate Request (§3.7) payloads: an encoding byte and
//! opaque data (a certificate, or for CERTREQ concatenated SHA-1 hashes of trusted CA keys).

use super::writer::PayloadRepr;
use super::{put, Error, PayloadType};

open_enum! {
    /// Certificate encoding (RFC 7296 §3.6).
    CertEncoding(u8) {
        /// PKCS #7 wrapped X.509 certificate.
        PKCS7_X509 = 1,
        /// PGP certificate.
        PGP = 2,
        /// DNS signed key.
        DNS_SIGNED_KEY = 3,
        /// X.509 certificate - signature.
        X509_SIGNATURE = 4,
        /// Kerberos token.
        KERBEROS = 6,
        /// Certificate revocation list.
        CRL = 7,
        /// Authority revocation list.
        ARL = 8,
        /// SPKI certificate.
        SPKI = 9,
        /// X.509 certificate - attribute.
        X509_ATTRIBUTE = 10,
        /// Raw RSA key (deprecated).
        RAW_RSA_KEY = 11,
        /// Hash and URL of an X.509 certificate.
        HASH_URL_X509_CERT = 12,
        /// Hash and URL of an X.509 bundle.
        HASH_URL_X509_BUNDLE = 13,
        /// Raw public key (RFC 7670).
        RAW_PUBLIC_KEY = 15,
    }
}

/// A CERT or CERTREQ payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertRepr<'a> {
    /// True for CERTREQ, false for CERT.
    pub request: bool,
    /// Certificate encoding.
    pub encoding: CertEncoding,
    /// Certificate data, or the certification authority field of a request.
    pub data: &'a [u8],
}

impl<'a> CertRepr<'a> {
    /// Parses a CERT (`request` false) or CERTREQ (`request` true) body.
    pub fn parse(request: bool, body: &'a [u8]) -> Result<CertRepr<'a>, Error> {
        let encoding = CertEncoding(*body.first().ok_or(Error::Truncated)?);
        Ok(CertRepr {
            request,
            encoding,
            data: body.get(1..).unwrap_or(&[]),
        })
    }
}

impl PayloadRepr for CertRepr<'_> {
    fn kind(&self) -> PayloadType {
        if self.request {
            PayloadType::CERTREQ
        } else {
            PayloadType::CERT
        }
    }

    fn buffer_len(&self) -> usize {
        1 + self.data.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        put(buf, 0, &[self.encoding.0])?;
        put(buf, 1, self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_and_certreq_by_hand() {
        let b = [4, 0x30, 0x82]; // X.509 signature, start of a DER sequence
        let c = CertRepr::parse(false, &b).unwrap();
        assert_eq!(
            (c.encoding, c.data, c.kind()),
            (
                CertEncoding::X509_SIGNATURE,
                &[0x30, 0x82][..],
                PayloadType::CERT
            )
        );
        let mut out = [0u8; 3];
        c.emit(&mut out).unwrap();
        assert_eq!(out, b);
        let r = CertRepr::parse(true, &[4]).unwrap();
        assert_eq!((r.kind(), r.data.len()), (PayloadType::CERTREQ, 0));
        assert_eq!(CertRepr::parse(true, &[]), Err(Error::Truncated));
        assert_eq!(c.emit(&mut out[..2]), Err(Error::TooLong));
    }
}
