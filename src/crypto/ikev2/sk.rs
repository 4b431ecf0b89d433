//! Protection of the IKEv2 Encrypted payload, SK (RFC 7296 §3.14; AES-GCM per RFC 5282,
//! ChaCha20-Poly1305 per RFC 7634), over byte slices so that it does not depend on the wire
//! module.
//!
//! The SK payload body is `IV | ciphertext(inner payloads | padding | pad length) | ICV`. The
//! caller builds the message up to and including the SK generic payload header with its final
//! lengths (from [`sk_body_len`]), passes those bytes as `aad`, and appends what [`seal`]
//! returns. With CBC the ICV is the truncated HMAC over `aad | IV | ciphertext`; with an AEAD the
//! nonce is `salt | IV` (the salt is the last four octets of SK_e) and `aad` is the AAD.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::keys::IkeSaKeys;
use super::transform::Ikev2Cipher;
use crate::crypto::IntegAlg;

/// Why an SK payload could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkError {
    /// Key of the wrong length for the cipher or integrity algorithm, or a bad pairing.
    #[error("SK key does not fit {0}")]
    BadKey(&'static str),
    /// IV of the wrong length (CBC: 16, AEAD: 8).
    #[error("SK IV must be {expected} bytes, got {got}")]
    BadIv {
        /// Bytes the cipher needs.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The body is shorter than IV + one block + ICV, or its ciphertext is not whole blocks.
    #[error("SK payload body of {0} bytes is malformed (too short or not block-aligned)")]
    Malformed(usize),
    /// The ICV did not verify: wrong keys, or the message was altered.
    #[error("SK payload integrity check failed (wrong keys or altered message)")]
    IntegrityFailed,
    /// The decrypted pad length points before the start of the plaintext.
    #[error("SK payload padding is invalid")]
    BadPadding,
}

/// The keys protecting one direction of an IKE SA.
#[derive(Clone, Copy)]
pub struct SkKey<'a> {
    /// The SA's cipher.
    pub cipher: Ikev2Cipher,
    /// The SA's integrity algorithm ([`IntegAlg::None`] with an AEAD).
    pub integ: IntegAlg,
    /// SK_ei or SK_er (with the salt for AEADs).
    pub enc_key: &'a [u8],
    /// SK_ai or SK_ar (empty for AEADs).
    pub integ_key: &'a [u8],
}

impl std::fmt::Debug for SkKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkKey")
            .field("cipher", &self.cipher)
            .field("integ", &self.integ)
            .field("keys", &format_args!("<redacted>"))
            .finish()
    }
}

impl IkeSaKeys {
    /// The keys of messages sent by the original initiator (`true`: SK_ei / SK_ai) or by the
    /// original responder (`false`: SK_er / SK_ar).
    pub fn sk_key(&self, from_initiator: bool) -> SkKey<'_> {
        let (e, a) = if from_initiator {
            (&self.sk_ei, &self.sk_ai)
        } else {
            (&self.sk_er, &self.sk_ar)
        };
        SkKey {
            cipher: self.suite.cipher,
            integ: self.suite.integ,
            enc_key: e,
            integ_key: a,
        }
    }
}

impl SkKey<'_> {
    fn icv_len(&self) -> usize {
        if self.cipher.is_aead() {
            self.cipher.aead_icv_len()
        } else {
            self.integ.icv_len()
        }
    }

    fn check(&self) -> Result<(), SkError> {
        let pairing_ok = self.cipher.is_aead() == (self.integ == IntegAlg::None);
        if !pairing_ok || self.enc_key.len() != self.cipher.key_len() {
            return Err(SkError::BadKey(self.cipher.name()));
        }
        if self.integ_key.len() != self.integ.key_len() {
            return Err(SkError::BadKey(self.integ.config_name()));
        }
        Ok(())
    }
}

/// Length of the SK payload body (IV, ciphertext with padding and pad length, ICV) for
/// `plaintext_len` bytes of inner payloads: what the caller adds to the SK payload header's
/// and the IKE header's lengths before sealing.
pub fn sk_body_len(cipher: Ikev2Cipher, integ: IntegAlg, plaintext_len: usize) -> usize {
    let key = SkKey {
        cipher,
        integ,
        enc_key: &[],
        integ_key: &[],
    };
    cipher.iv_len() + padded_len(cipher, plaintext_len) + key.icv_len()
}

/// Seals `plaintext` (the inner payloads) and returns the SK payload body `IV | ciphertext |
/// ICV`. `aad` is every message byte before the body (IKE header through SK payload header, with
/// final lengths); `iv` is fresh from the caller (CBC: 16 random bytes; AEAD: 8 bytes never
/// repeated under the key, e.g. the message counter). Padding is the minimum (none for AEADs).
pub fn seal(key: &SkKey<'_>, aad: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SkError> {
    let pad = padded_len(key.cipher, plaintext.len()) - plaintext.len() - 1;
    let mut inner = Zeroizing::new(Vec::with_capacity(plaintext.len() + pad + 1));
    inner.extend_from_slice(plaintext);
    inner.resize(plaintext.len() + pad, 0);
    // pad < block length (16), so it fits the octet.
    inner.push(pad as u8);
    seal_padded(key, aad, iv, &inner)
}

/// Opens an SK payload body (`IV | ciphertext | ICV`) whose preceding message bytes are `aad`:
/// checks the ICV (in constant time), decrypts and strips the padding, and returns the inner
/// payloads.
pub fn open(key: &SkKey<'_>, aad: &[u8], body: &[u8]) -> Result<Zeroizing<Vec<u8>>, SkError> {
    key.check()?;
    let (iv_len, icv_len) = (key.cipher.iv_len(), key.icv_len());
    let min = iv_len + key.cipher.block_len().max(1) + icv_len;
    if body.len() < min {
        return Err(SkError::Malformed(body.len()));
    }
    let (iv, rest) = body.split_at(iv_len);
    let mut inner = if key.cipher.is_aead() {
        open_aead(key, aad, iv, rest)?
    } else {
        open_cbc(key, aad, iv, rest)?
    };
    strip_padding(&mut inner)?;
    Ok(inner)
}

/// Encrypts already padded inner data (`plaintext | padding | pad length`); `seal` pads, tests
/// use this directly to build bodies with wrong padding.
fn seal_padded(key: &SkKey<'_>, aad: &[u8], iv: &[u8], inner: &[u8]) -> Result<Vec<u8>, SkError> {
    key.check()?;
    if iv.len() != key.cipher.iv_len() {
        return Err(SkError::BadIv {
            expected: key.cipher.iv_len(),
            got: iv.len(),
        });
    }
    let mut out = Vec::with_capacity(iv.len() + inner.len() + key.icv_len());
    out.extend_from_slice(iv);
    out.extend_from_slice(inner);
    if key.cipher.is_aead() {
        let tag = aead_key(key)?
            .seal_in_place_separate_tag(nonce(key, iv)?, Aad::from(aad), &mut out[iv.len()..])
            .map_err(|_| SkError::BadKey(key.cipher.name()))?;
        out.extend_from_slice(tag.as_ref());
    } else {
        let cbc = key.cipher.cbc().ok_or(SkError::BadKey(key.cipher.name()))?;
        cbc.encrypt(key.enc_key, iv, &mut out[iv.len()..])
            .map_err(|_| SkError::Malformed(inner.len()))?;
        let icv = cbc_icv(key, aad, &out)?;
        out.extend_from_slice(&icv);
    }
    Ok(out)
}

fn padded_len(cipher: Ikev2Cipher, plaintext_len: usize) -> usize {
    let b = cipher.block_len().max(1);
    (plaintext_len + 1).div_ceil(b) * b
}

fn aead_key(key: &SkKey<'_>) -> Result<LessSafeKey, SkError> {
    let alg = match key.cipher {
        Ikev2Cipher::Aes128Gcm16 => &aead::AES_128_GCM,
        Ikev2Cipher::Aes256Gcm16 => &aead::AES_256_GCM,
        Ikev2Cipher::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        _ => return Err(SkError::BadKey(key.cipher.name())),
    };
    let k = key
        .enc_key
        .get(..key.cipher.cipher_key_len())
        .ok_or(SkError::BadKey(key.cipher.name()))?;
    let unbound = UnboundKey::new(alg, k).map_err(|_| SkError::BadKey(key.cipher.name()))?;
    Ok(LessSafeKey::new(unbound))
}

/// `salt | IV`, the salt being the last four octets of the key material.
fn nonce(key: &SkKey<'_>, iv: &[u8]) -> Result<Nonce, SkError> {
    let salt = key
        .enc_key
        .get(key.cipher.cipher_key_len()..)
        .ok_or(SkError::BadKey(key.cipher.name()))?;
    let mut n = [0u8; aead::NONCE_LEN];
    if salt.len() + iv.len() != n.len() {
        return Err(SkError::BadIv {
            expected: key.cipher.iv_len(),
            got: iv.len(),
        });
    }
    n[..salt.len()].copy_from_slice(salt);
    n[salt.len()..].copy_from_slice(iv);
    Ok(Nonce::assume_unique_for_key(n))
}

/// The truncated HMAC over `aad | IV | ciphertext` (`iv_and_ct`).
fn cbc_icv(key: &SkKey<'_>, aad: &[u8], iv_and_ct: &[u8]) -> Result<Vec<u8>, SkError> {
    let hash = key
        .integ
        .hmac_hash()
        .ok_or(SkError::BadKey(key.integ.config_name()))?;
    let mut mac = hash.prf(key.integ_key, &[aad, iv_and_ct]).to_vec();
    mac.truncate(key.integ.icv_len());
    Ok(mac)
}

fn open_aead(
    key: &SkKey<'_>,
    aad: &[u8],
    iv: &[u8],
    ct_and_tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SkError> {
    let mut buf = Zeroizing::new(ct_and_tag.to_vec());
    let plain_len = aead_key(key)?
        .open_in_place(nonce(key, iv)?, Aad::from(aad), &mut buf)
        .map_err(|_| SkError::IntegrityFailed)?
        .len();
    buf.truncate(plain_len);
    Ok(buf)
}

fn open_cbc(
    key: &SkKey<'_>,
    aad: &[u8],
    iv: &[u8],
    ct_and_icv: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SkError> {
    let total = iv.len() + ct_and_icv.len();
    let ct_len = ct_and_icv.len() - key.icv_len();
    let (ct, icv) = ct_and_icv.split_at(ct_len);
    if ct_len % key.cipher.block_len() != 0 {
        return Err(SkError::Malformed(total));
    }
    let mut iv_and_ct = Vec::with_capacity(iv.len() + ct.len());
    iv_and_ct.extend_from_slice(iv);
    iv_and_ct.extend_from_slice(ct);
    let expect = cbc_icv(key, aad, &iv_and_ct)?;
    if !bool::from(expect.as_slice().ct_eq(icv)) {
        return Err(SkError::IntegrityFailed);
    }
    let cbc = key.cipher.cbc().ok_or(SkError::BadKey(key.cipher.name()))?;
    let mut buf = Zeroizing::new(ct.to_vec());
    cbc.decrypt(key.enc_key, iv, &mut buf)
        .map_err(|_| SkError::Malformed(total))?;
    Ok(buf)
}

/// Removes `padding | pad length` from decrypted inner data.
fn strip_padding(inner: &mut Zeroizing<Vec<u8>>) -> Result<(), SkError> {
    let pad = usize::from(*inner.last().ok_or(SkError::BadPadding)?);
    let keep = inner
        .len()
        .checked_sub(pad + 1)
        .ok_or(SkError::BadPadding)?;
    inner.truncate(keep);
    Ok(())
}

#[cfg(test)]
#[path = "sk_tests.rs"]
mod tests;
