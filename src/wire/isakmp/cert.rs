//! Certificate (RFC 2408 §3.9) and Certificate Request (§3.10) payloads. The Signature payload
//! (§3.12) is its body alone, so it needs no type here.
//!
//! ```text
//! CERT:    | Cert Encoding (1) | Certificate Data ...       (X.509: the DER certificate)
//! CERTREQ: | Cert Type (1)     | Certificate Authority ...  (X.509: the CA's DER subject; empty = any)
//! ```

use super::WireError;

open_enum! {
    /// Certificate encoding / type (RFC 2408 §3.9).
    CertEncoding(u8) {
        /// PKCS #7 wrapped X.509 certificate.
        PKCS7 = 1,
        /// PGP certificate.
        PGP = 2,
        /// DNS signed key.
        DNS_SIGNED_KEY = 3,
        /// X.509 certificate for signatures: what strongSwan and racoon send.
        X509_SIGNATURE = 4,
        /// X.509 certificate for key exchange.
        X509_KEY_EXCHANGE = 5,
        /// Kerberos tokens.
        KERBEROS = 6,
        /// Certificate revocation list.
        CRL = 7,
        /// Authority revocation list.
        ARL = 8,
        /// SPKI certificate.
        SPKI = 9,
        /// X.509 attribute certificate.
        X509_ATTRIBUTE = 10,
    }
}

/// A parsed CERT payload body, or a CERTREQ body (then `data` is the certificate authority).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertPayload<'a> {
    /// How `data` is encoded.
    pub encoding: CertEncoding,
    /// The certificate (CERT) or the authority's DER name (CERTREQ; empty = any authority).
    pub data: &'a [u8],
}

impl<'a> CertPayload<'a> {
    /// Parses a CERT or CERTREQ body (after the generic header).
    pub fn parse(body: &'a [u8]) -> Result<CertPayload<'a>, WireError> {
        let (e, data) = body.split_first().ok_or(WireError::Truncated)?;
        Ok(CertPayload {
            encoding: CertEncoding(*e),
            data,
        })
    }

    /// Encodes a body.
    pub fn emit(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + self.data.len());
        v.push(self.encoding.0);
        v.extend_from_slice(self.data);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// strongSwan 5.9's CERTREQ for a CA "C=JP, O=Example, CN=Root": encoding 4, then the DER
    /// Name (SEQUENCE of SETs).
    #[test]
    fn certreq_and_cert() {
        let b = hex::decode(
            "04302e310b3009060355040613024a503110300e060355040a13074578616d706c65310d300b06035504031304526f6f74",
        )
        .unwrap();
        let c = CertPayload::parse(&b).unwrap();
        assert_eq!(c.encoding, CertEncoding::X509_SIGNATURE);
        assert_eq!(c.data.len(), 48);
        assert_eq!(c.data[0], 0x30);
        assert_eq!(c.emit(), b);
        let any = CertPayload::parse(&[4]).unwrap();
        assert!(any.data.is_empty());
        assert_eq!(CertPayload::parse(&[]), Err(WireError::Truncated));
        assert_eq!(format!("{}", CertEncoding(4)), "X509-SIGNATURE");
        assert_eq!(format!("{:?}", CertEncoding(42)), "CertEncoding(42)");
    }
}
