//! Signature schemes shared by IKEv1 and IKEv2: which padding or encoding and which hash.

use std::fmt;

/// A hash for a signature (RFC 7427 §7 "Hash Algorithm Identifiers" for IKEv2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigHash {
    /// SHA-1 (legacy: RFC 7296 method 1, IKEv1).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl SigHash {
    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            SigHash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            SigHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            SigHash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            SigHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// The RFC 7427 hash algorithm number sent in SIGNATURE_HASH_ALGORITHMS.
    pub fn rfc7427_id(self) -> u16 {
        match self {
            SigHash::Sha1 => 1,
            SigHash::Sha256 => 2,
            SigHash::Sha384 => 3,
            SigHash::Sha512 => 4,
        }
    }

    /// The hash with RFC 7427 number `id`, if we implement it.
    pub fn from_rfc7427_id(id: u16) -> Option<SigHash> {
        match id {
            1 => Some(SigHash::Sha1),
            2 => Some(SigHash::Sha256),
            3 => Some(SigHash::Sha384),
            4 => Some(SigHash::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for SigHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SigHash::Sha1 => "sha1",
            SigHash::Sha256 => "sha256",
            SigHash::Sha384 => "sha384",
            SigHash::Sha512 => "sha512",
        })
    }
}

/// How a signature is computed and encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// RSA PKCS#1 v1.5 over the hash, with the DigestInfo prefix (IKEv2 method 1 with SHA-1,
    /// RFC 7427 sha*WithRSAEncryption).
    RsaPkcs1(SigHash),
    /// RSA PKCS#1 v1.5 type-1 padding around the data itself, no hash and no DigestInfo: the
    /// IKEv1 signature over HASH_I / HASH_R (strongSwan, racoon).
    RsaPkcs1Unprefixed,
    /// RSA-PSS with MGF1 of the same hash and a salt as long as the hash (RFC 7427 with the
    /// RSASSA-PSS AlgorithmIdentifier).
    RsaPss(SigHash),
    /// ECDSA, the signature as fixed-length r || s (RFC 4754, IKEv2 methods 9/10/11).
    EcdsaFixed(SigHash),
    /// ECDSA, the signature as an ASN.1 DER `Ecdsa-Sig-Value` (RFC 7427).
    EcdsaDer(SigHash),
    /// Ed25519 over the data itself (RFC 8420).
    Ed25519,
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureScheme::RsaPkcs1(h) => write!(f, "rsa-pkcs1-{h}"),
            SignatureScheme::RsaPkcs1Unprefixed => f.write_str("rsa-pkcs1-raw"),
            SignatureScheme::RsaPss(h) => write!(f, "rsa-pss-{h}"),
            SignatureScheme::EcdsaFixed(h) => write!(f, "ecdsa-{h} (r||s)"),
            SignatureScheme::EcdsaDer(h) => write!(f, "ecdsa-{h}"),
            SignatureScheme::Ed25519 => f.write_str("ed25519"),
        }
    }
}

/// The kind of a public or private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA with a modulus of this many bits.
    Rsa(usize),
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
}

impl KeyKind {
    /// The hash a key of this kind signs with by default (RFC 4754 pairs the curve and the
    /// hash; SHA-256 for RSA).
    pub fn default_hash(self) -> SigHash {
        match self {
            KeyKind::EcdsaP384 => SigHash::Sha384,
            _ => SigHash::Sha256,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Rsa(bits) => write!(f, "RSA {bits}"),
            KeyKind::EcdsaP256 => f.write_str("ECDSA P-256"),
            KeyKind::EcdsaP384 => f.write_str("ECDSA P-384"),
            KeyKind::Ed25519 => f.write_str("Ed25519"),
        }
    }
}
