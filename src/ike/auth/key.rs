//! Our private key: loaded from PEM (PKCS#8, PKCS#1 RSA, SEC1 EC), kept zeroized, used to sign.
//!
//! Crates: RSA signs with the `rsa` crate (ring has neither SHA-1 nor unprefixed PKCS#1 signing,
//! and its `SecureRandom` is sealed, so it cannot take the engine's [`RandomSource`]); every RSA
//! signature is blinded with randomness from that source (RUSTSEC-2023-0071, see README).
//! ECDSA signs with RFC 6979 deterministic nonces (no RNG at all), the RustCrypto `p256`/`p384`
//! keys and scalar arithmetic, and `k·G` on AWS-LC (`crypto::ecp`; the same signature as
//! RustCrypto's, about 8× faster on P-256); Ed25519 with ring (deterministic).

use std::fmt;

use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, ObjectIdentifier, PrivateKeyInfo};
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::scheme::{KeyKind, SigHash, SignatureScheme};
use crate::ike::random::RandomSource;

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A private key of one of the kinds IKE signs with. `Debug` prints `<redacted>`; the key
/// material is zeroized on drop (the `rsa`, `p256`/`p384` types do it themselves, the Ed25519
/// seed is held in [`Zeroizing`]).
pub struct PrivateKey {
    inner: KeyInner,
}

enum KeyInner {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(Zeroizing<[u8; 32]>),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, <redacted>)", self.kind())
    }
}

/// Why a key could not be loaded or could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The file holds no PEM private key block.
    #[error("no PEM private key (PKCS#8 \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\") found")]
    NoPem,
    /// The key is of a kind or curve we do not sign with.
    #[error("unsupported key type: {0} (use RSA 2048-4096, ECDSA P-256/P-384 or Ed25519)")]
    Unsupported(String),
    /// The key DER does not parse.
    #[error("the private key does not parse: {0}")]
    Malformed(String),
    /// This key cannot produce that kind of signature.
    #[error("a {key} key cannot make a {scheme} signature")]
    WrongScheme {
        /// Our key's kind.
        key: KeyKind,
        /// The scheme asked for.
        scheme: SignatureScheme,
    },
    /// The signing primitive failed (e.g. data too long for unprefixed RSA).
    #[error("signing failed: {0}")]
    SignFailed(String),
}

impl PrivateKey {
    /// Loads the first private key of a PEM file's contents.
    pub fn from_pem(pem: &[u8]) -> Result<PrivateKey, KeyError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::PrivateKeyDer;
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| KeyError::NoPem)?;
        match der {
            PrivateKeyDer::Pkcs1(k) => PrivateKey::from_pkcs1_der(k.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(k) => PrivateKey::from_sec1_der(k.secret_sec1_der()),
            PrivateKeyDer::Pkcs8(k) => PrivateKey::from_pkcs8_der(k.secret_pkcs8_der()),
            _ => Err(KeyError::NoPem),
        }
    }

    /// An RSA key from PKCS#1 `RSAPrivateKey` DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let k = rsa::RsaPrivateKey::from_pkcs1_der(der)
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        PrivateKey::rsa(k)
    }

    /// An EC key from SEC1 `ECPrivateKey` DER (P-256 or P-384).
    pub fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
            return Ok(PrivateKey {
                inner: KeyInner::P256(k.into()),
            });
        }
        if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
            return Ok(PrivateKey {
                inner: KeyInner::P384(k.into()),
            });
        }
        Err(KeyError::Unsupported(
            "an EC key on a curve other than P-256 or P-384".into(),
        ))
    }

    /// A key from PKCS#8 `PrivateKeyInfo` DER (RSA, EC P-256/P-384, Ed25519).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let info = PrivateKeyInfo::try_from(der).map_err(|e| KeyError::Malformed(e.to_string()))?;
        let oid = info.algorithm.oid;
        let bad = |e: &dyn fmt::Display| KeyError::Malformed(e.to_string());
        if oid == OID_RSA {
            PrivateKey::rsa(rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| bad(&e))?)
        } else if oid == OID_EC {
            match info.algorithm.parameters_oid().ok() {
                Some(c) if c == OID_P256 => Ok(PrivateKey {
                    inner: KeyInner::P256(
                        p256::SecretKey::from_pkcs8_der(der)
                            .map_err(|e| bad(&e))?
                            .into(),
                    ),
                }),
                Some(c) if c == OID_P384 => Ok(PrivateKey {
                    inner: KeyInner::P384(
                        p384::SecretKey::from_pkcs8_der(der)
                            .map_err(|e| bad(&e))?
                            .into(),
                    ),
                }),
                c => Err(KeyError::Unsupported(format!(
                    "EC curve {}",
                    c.map(|c| c.to_string()).unwrap_or_else(|| "(none)".into())
                ))),
            }
        } else if oid == OID_ED25519 {
            // CurvePrivateKey ::= OCTET STRING (RFC 8410): 04 20 <32-byte seed>.
            match info.private_key {
                [0x04, 0x20, seed @ ..] if seed.len() == 32 => {
                    let mut s = Zeroizing::new([0u8; 32]);
                    s.copy_from_slice(seed);
                    Ok(PrivateKey {
                        inner: KeyInner::Ed25519(s),
                    })
                }
                _ => Err(KeyError::Malformed(
                    "Ed25519 private key is not a 32-byte seed".into(),
                )),
            }
        } else {
            Err(KeyError::Unsupported(format!("algorithm {oid}")))
        }
    }

    fn rsa(k: rsa::RsaPrivateKey) -> Result<PrivateKey, KeyError> {
        let bits = k.n().bits();
        if !(2048..=8192).contains(&bits) {
            return Err(KeyError::Unsupported(format!("RSA {bits} bits")));
        }
        Ok(PrivateKey {
            inner: KeyInner::Rsa(Box::new(k)),
        })
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        match &self.inner {
            KeyInner::Rsa(k) => KeyKind::Rsa(k.n().bits()),
            KeyInner::P256(_) => KeyKind::EcdsaP256,
            KeyInner::P384(_) => KeyKind::EcdsaP384,
            KeyInner::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// The public key as it appears in a certificate's subjectPublicKey BIT STRING (PKCS#1
    /// `RSAPublicKey` DER, an uncompressed EC point, 32 Ed25519 bytes): compared with our
    /// certificate to catch a key that does not belong to it.
    pub fn public_key_bits(&self) -> Vec<u8> {
        match &self.inner {
            KeyInner::Rsa(k) => k
                .to_public_key()
                .to_pkcs1_der()
                .map(|d| d.as_bytes().to_vec())
                .unwrap_or_default(),
            KeyInner::P256(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            KeyInner::P384(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            KeyInner::Ed25519(seed) => {
                use ring::signature::KeyPair;
                ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed[..])
                    .map(|k| k.public_key().as_ref().to_vec())
                    .unwrap_or_default()
            }
        }
    }

    /// Signs `data` (the whole signed octets; hashing is part of the scheme). `rng` blinds RSA.
    pub fn sign(
        &self,
        scheme: SignatureScheme,
        data: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<Vec<u8>, KeyError> {
        let wrong = || KeyError::WrongScheme {
            key: self.kind(),
            scheme,
        };
        let failed = |e: &dyn fmt::Display| KeyError::SignFailed(e.to_string());
        match (&self.inner, scheme) {
            (KeyInner::Rsa(k), SignatureScheme::RsaPkcs1(h)) => {
                let digest = h.digest(data);
                k.sign_with_rng(&mut RngAdapter(rng), pkcs1_padding(h), &digest)
                    .map_err(|e| failed(&e))
            }
            (KeyInner::Rsa(k), SignatureScheme::RsaPkcs1Unprefixed) => k
                .sign_with_rng(
                    &mut RngAdapter(rng),
                    rsa::Pkcs1v15Sign::new_unprefixed(),
                    data,
                )
                .map_err(|e| failed(&e)),
            (KeyInner::Rsa(k), SignatureScheme::RsaPss(h)) => {
                let digest = h.digest(data);
                k.sign_with_rng(&mut RngAdapter(rng), pss_padding(h), &digest)
                    .map_err(|e| failed(&e))
            }
            (KeyInner::P256(k), SignatureScheme::EcdsaFixed(h) | SignatureScheme::EcdsaDer(h)) => {
                let sig =
                    crate::crypto::ecp::ecdsa_p256(k, &h.digest(data)).map_err(|e| failed(&e))?;
                Ok(match scheme {
                    SignatureScheme::EcdsaDer(_) => sig.to_der().as_bytes().to_vec(),
                    _ => sig.to_bytes().to_vec(),
                })
            }
            (KeyInner::P384(k), SignatureScheme::EcdsaFixed(h) | SignatureScheme::EcdsaDer(h)) => {
                let sig =
                    crate::crypto::ecp::ecdsa_p384(k, &h.digest(data)).map_err(|e| failed(&e))?;
                Ok(match scheme {
                    SignatureScheme::EcdsaDer(_) => sig.to_der().as_bytes().to_vec(),
                    _ => sig.to_bytes().to_vec(),
                })
            }
            (KeyInner::Ed25519(seed), SignatureScheme::Ed25519) => {
                let kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed[..])
                    .map_err(|e| failed(&e))?;
                Ok(kp.sign(data).as_ref().to_vec())
            }
            _ => Err(wrong()),
        }
    }

    /// IKEv1's raw RSA signature over HASH_I / HASH_R (PKCS#1 v1.5 type 1, no DigestInfo).
    pub fn sign_unprefixed(
        &self,
        data: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<Vec<u8>, KeyError> {
        self.sign(SignatureScheme::RsaPkcs1Unprefixed, data, rng)
    }
}

pub(super) fn pkcs1_padding(h: SigHash) -> rsa::Pkcs1v15Sign {
    match h {
        SigHash::Sha1 => rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
        SigHash::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
        SigHash::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
        SigHash::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
    }
}

fn pss_padding(h: SigHash) -> rsa::Pss {
    match h {
        SigHash::Sha1 => rsa::Pss::new::<sha1::Sha1>(),
        SigHash::Sha256 => rsa::Pss::new::<sha2::Sha256>(),
        SigHash::Sha384 => rsa::Pss::new::<sha2::Sha384>(),
        SigHash::Sha512 => rsa::Pss::new::<sha2::Sha512>(),
    }
}

/// The engine's [`RandomSource`] as the `rand_core` RNG the `rsa` crate blinds with.
struct RngAdapter<'a>(&'a mut dyn RandomSource);

impl rsa::rand_core::RngCore for RngAdapter<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for RngAdapter<'_> {}
