//! A peer's public key (from its certificate's SubjectPublicKeyInfo) and signature verification.
//! ring verifies everything it has an algorithm for; the unprefixed IKEv1 RSA signature (no
//! DigestInfo) is verified by the `rsa` crate (a public-key operation: no timing secret).

use ring::signature::{self as rs, UnparsedPublicKey, VerificationAlgorithm};

use super::scheme::{KeyKind, SigHash, SignatureScheme};

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ED25519: &str = "1.3.101.112";

/// A public key we verify signatures with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kind: KeyKind,
    /// The subjectPublicKey bits (PKCS#1 RSAPublicKey, EC point, Ed25519 bytes).
    bits: Vec<u8>,
}

impl PublicKey {
    /// The key of a parsed SubjectPublicKeyInfo; `None` for kinds we do not verify.
    pub fn from_spki(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Option<PublicKey> {
        let alg = spki.algorithm.algorithm.to_id_string();
        let bits = spki.subject_public_key.data.to_vec();
        let kind = match alg.as_str() {
            OID_RSA => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                use rsa::traits::PublicKeyParts;
                KeyKind::Rsa(rsa::RsaPublicKey::from_pkcs1_der(&bits).ok()?.n().bits())
            }
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()?
                    .as_oid()
                    .ok()?
                    .to_id_string();
                match curve.as_str() {
                    OID_P256 => KeyKind::EcdsaP256,
                    OID_P384 => KeyKind::EcdsaP384,
                    _ => return None,
                }
            }
            OID_ED25519 => KeyKind::Ed25519,
            _ => return None,
        };
        Some(PublicKey { kind, bits })
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The subjectPublicKey bits.
    pub fn bits(&self) -> &[u8] {
        &self.bits
    }

    /// True when `signature` is a valid `scheme` signature of `data` by this key.
    pub fn verify(&self, scheme: SignatureScheme, data: &[u8], signature: &[u8]) -> bool {
        if scheme == SignatureScheme::RsaPkcs1Unprefixed {
            return self.verify_unprefixed(data, signature);
        }
        match self.ring_algorithm(scheme) {
            Some(alg) => UnparsedPublicKey::new(alg, &self.bits)
                .verify(data, signature)
                .is_ok(),
            None => false,
        }
    }

    /// IKEv1's raw RSA signature (PKCS#1 v1.5 type 1 around `data`, no DigestInfo).
    pub fn verify_unprefixed(&self, data: &[u8], signature: &[u8]) -> bool {
        use rsa::pkcs1::DecodeRsaPublicKey;
        if !matches!(self.kind, KeyKind::Rsa(_)) {
            return false;
        }
        rsa::RsaPublicKey::from_pkcs1_der(&self.bits)
            .map(|k| {
                k.verify(rsa::Pkcs1v15Sign::new_unprefixed(), data, signature)
                    .is_ok()
            })
            .unwrap_or(false)
    }

    fn ring_algorithm(
        &self,
        scheme: SignatureScheme,
    ) -> Option<&'static dyn VerificationAlgorithm> {
        use KeyKind::{EcdsaP256, EcdsaP384, Rsa};
        use SigHash::*;
        use SignatureScheme::*;
        Some(match (self.kind, scheme) {
            (Rsa(_), RsaPkcs1(Sha1)) => &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            (Rsa(_), RsaPkcs1(Sha256)) => &rs::RSA_PKCS1_2048_8192_SHA256,
            (Rsa(_), RsaPkcs1(Sha384)) => &rs::RSA_PKCS1_2048_8192_SHA384,
            (Rsa(_), RsaPkcs1(Sha512)) => &rs::RSA_PKCS1_2048_8192_SHA512,
            (Rsa(_), RsaPss(Sha256)) => &rs::RSA_PSS_2048_8192_SHA256,
            (Rsa(_), RsaPss(Sha384)) => &rs::RSA_PSS_2048_8192_SHA384,
            (Rsa(_), RsaPss(Sha512)) => &rs::RSA_PSS_2048_8192_SHA512,
            (EcdsaP256, EcdsaFixed(Sha256)) => &rs::ECDSA_P256_SHA256_FIXED,
            (EcdsaP384, EcdsaFixed(Sha384)) => &rs::ECDSA_P384_SHA384_FIXED,
            (EcdsaP256, EcdsaDer(Sha256)) => &rs::ECDSA_P256_SHA256_ASN1,
            (EcdsaP256, EcdsaDer(Sha384)) => &rs::ECDSA_P256_SHA384_ASN1,
            (EcdsaP384, EcdsaDer(Sha256)) => &rs::ECDSA_P384_SHA256_ASN1,
            (EcdsaP384, EcdsaDer(Sha384)) => &rs::ECDSA_P384_SHA384_ASN1,
            (KeyKind::Ed25519, SignatureScheme::Ed25519) => &rs::ED25519,
            _ => return None,
        })
    }
}
