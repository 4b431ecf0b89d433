//! ESP packet protection: seal (encrypt + ICV) and open (ICV check, decrypt, padding check)
//! in place, for every suite in [`EncAlg`] × [`IntegAlg`].
//!
//! Packet layout (RFC 4303 §2): `SPI(4) | Seq(4) | IV | payload | pad | pad-len | next-header | ICV`.
//! AES-GCM (RFC 4106): nonce = salt(4) | IV(8), AAD = SPI | Seq, the ICV is the GCM tag.
//! CBC + HMAC: the ICV is the truncated HMAC over `SPI | Seq | IV | ciphertext`.

use std::ops::Range;

use aes::cipher::{
    block_padding::NoPadding, generic_array::GenericArray, BlockCipher, BlockDecryptMut,
    BlockEncrypt, BlockEncryptMut, InnerIvInit, KeyInit,
};
use ring::aead;
use ring::hmac as rhmac;
use zeroize::Zeroizing;

use crate::crypto::{EncAlg, EspKeys, IntegAlg};

/// Bytes before the payload: SPI and sequence number.
pub const ESP_HEADER_LEN: usize = 8;

/// Why sealing failed (the caller's buffer was too small; never the peer's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealError {
    /// Not enough room before the payload for the ESP header and IV.
    NoHeadroom,
    /// Not enough room after the payload for padding and ICV.
    NoTailroom,
    /// A CBC transform made by [`EspTransform::opener`] has no IV generator: it only opens.
    OpenOnly,
}

/// Why an inbound packet was refused. Each maps to a drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Too short, or the ciphertext is not a whole number of blocks.
    Malformed,
    /// The ICV (HMAC or GCM tag) did not verify.
    Icv,
    /// Pad length exceeds the payload, or the padding bytes are not 1, 2, 3, ….
    BadPadding,
}

/// A packet after [`EspTransform::open`]: where the inner payload lies in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Byte range of the decrypted inner packet in the caller's buffer.
    pub payload: Range<usize>,
    /// The next-header field (4 = IPv4, 41 = IPv6, 59 = dummy packet).
    pub next_header: u8,
}

/// The keyed cipher. Key schedules are boxed, so that an SA holds the state of its own suite
/// only.
enum Cipher {
    Null,
    /// AES-CBC keeps the key, not a schedule: each packet expands the one schedule it needs
    /// (encryption to seal, decryption to open) on the stack, and it is wiped when dropped. With
    /// AES-NI the expansion is a few dozen instructions, and it replaces a copy of a kept
    /// schedule: the `aes` crate's types are sized for its software fallback, 960 bytes for
    /// AES-256, per SA direction, on every CBC tunnel.
    AesCbc(AesKey),
    TripleDes(Box<des::TdesEde3>),
    /// AES-GCM or ChaCha20-Poly1305: nonce = salt | IV, AAD = SPI | sequence number.
    Aead {
        key: Box<aead::LessSafeKey>,
        salt: [u8; 4],
    },
}

/// An AES key of one of the three lengths.
enum AesKey {
    Aes128(Zeroizing<[u8; 16]>),
    Aes192(Zeroizing<[u8; 24]>),
    Aes256(Zeroizing<[u8; 32]>),
}

impl AesKey {
    fn new(k: &[u8]) -> Result<AesKey, String> {
        let bad = |_| "bad key length".to_string();
        Ok(match k.len() {
            16 => AesKey::Aes128(Zeroizing::new(k.try_into().map_err(bad)?)),
            24 => AesKey::Aes192(Zeroizing::new(k.try_into().map_err(bad)?)),
            _ => AesKey::Aes256(Zeroizing::new(k.try_into().map_err(bad)?)),
        })
    }

    /// Writes the IV of packet `seq` and encrypts `data` (whole blocks) in CBC mode after it.
    fn seal(&self, seed: [u8; 16], seq: u64, iv: &mut [u8], data: &mut [u8]) {
        match self {
            AesKey::Aes128(k) => {
                cbc_seal(aes_cipher::<aes::Aes128Enc>(&k[..]), seed, seq, iv, data)
            }
            AesKey::Aes192(k) => {
                cbc_seal(aes_cipher::<aes::Aes192Enc>(&k[..]), seed, seq, iv, data)
            }
            AesKey::Aes256(k) => {
                cbc_seal(aes_cipher::<aes::Aes256Enc>(&k[..]), seed, seq, iv, data)
            }
        }
    }

    /// Decrypts `data` (whole blocks) in CBC mode after `iv`.
    fn open(&self, iv: &[u8], data: &mut [u8]) {
        match self {
            AesKey::Aes128(k) => cbc_open(aes_cipher::<aes::Aes128Dec>(&k[..]), iv, data),
            AesKey::Aes192(k) => cbc_open(aes_cipher::<aes::Aes192Dec>(&k[..]), iv, data),
            AesKey::Aes256(k) => cbc_open(aes_cipher::<aes::Aes256Dec>(&k[..]), iv, data),
        }
    }
}

/// The schedule of `key`, whose length is the cipher's by construction of [`AesKey`].
fn aes_cipher<C: KeyInit>(key: &[u8]) -> C {
    C::new(GenericArray::from_slice(key))
}

/// The keyed integrity algorithm, boxed per variant like [`Cipher`].
enum Integ {
    None,
    Md5(Box<hmac::Hmac<md5::Md5>>),
    /// RustCrypto's SHA-1 uses the SHA-NI instructions when the CPU has them; ring's is portable
    /// code (≈ 3× slower here).
    Sha1(Box<hmac::Hmac<sha1::Sha1>>),
    Ring(Box<rhmac::Key>),
}

/// The keyed cipher and integrity state of one ESP SA direction.
pub struct EspTransform {
    enc: EncAlg,
    integ_alg: IntegAlg,
    cipher: Cipher,
    integ: Integ,
    /// Makes CBC IVs unpredictable without a second key schedule: IV = E_K(seed ⊕ seq), the
    /// SA's own cipher and key applied to a block unique to each packet (NIST SP 800-38A,
    /// appendix C), `seed` secret and random per SA. Only CBC transforms that seal have one.
    iv_seed: Option<[u8; 16]>,
}

impl std::fmt::Debug for EspTransform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EspTransform")
            .field("enc", &self.enc)
            .field("integ", &self.integ_alg)
            .finish_non_exhaustive()
    }
}

impl EspTransform {
    /// Keys the transform. `iv_seed` keys the CBC IV generator and must be secret and random.
    pub fn new(keys: &EspKeys, iv_seed: [u8; 16]) -> Result<EspTransform, String> {
        let mut t = Self::opener(keys)?;
        if matches!(t.cipher, Cipher::AesCbc(_) | Cipher::TripleDes(_)) {
            t.iv_seed = Some(iv_seed);
        }
        Ok(t)
    }

    /// Keys a transform that only opens (an inbound SA): no CBC IV generator, and
    /// [`EspTransform::seal`] refuses CBC suites with [`SealError::OpenOnly`].
    pub fn opener(keys: &EspKeys) -> Result<EspTransform, String> {
        keys.validate()?;
        let k = keys.enc_key.as_slice();
        let bad = |_| "bad key length".to_string();
        let cipher = match keys.enc {
            EncAlg::Null => Cipher::Null,
            EncAlg::Aes128Cbc | EncAlg::Aes192Cbc | EncAlg::Aes256Cbc => {
                Cipher::AesCbc(AesKey::new(k)?)
            }
            EncAlg::TripleDesCbc => {
                Cipher::TripleDes(Box::new(des::TdesEde3::new_from_slice(k).map_err(bad)?))
            }
            EncAlg::Aes128Gcm16 | EncAlg::Aes256Gcm16 | EncAlg::ChaCha20Poly1305 => {
                // RFC 7634 builds nonce and AAD exactly as RFC 4106 does: salt | IV, SPI | seq.
                let alg = match keys.enc {
                    EncAlg::Aes128Gcm16 => &aead::AES_128_GCM,
                    EncAlg::Aes256Gcm16 => &aead::AES_256_GCM,
                    _ => &aead::CHACHA20_POLY1305,
                };
                let (key, salt) = k.split_at(keys.enc.key_len());
                let unbound = aead::UnboundKey::new(alg, key).map_err(|_| "bad GCM key")?;
                let mut s = [0u8; 4];
                s.copy_from_slice(salt);
                Cipher::Aead {
                    key: Box::new(aead::LessSafeKey::new(unbound)),
                    salt: s,
                }
            }
        };
        let ik = keys.integ_key.as_slice();
        let integ = match keys.integ {
            IntegAlg::None => Integ::None,
            IntegAlg::HmacMd5_96 => Integ::Md5(Box::new(
                <hmac::Hmac<md5::Md5> as hmac::Mac>::new_from_slice(ik).map_err(|_| "bad key")?,
            )),
            IntegAlg::HmacSha1_96 => Integ::Sha1(Box::new(
                <hmac::Hmac<sha1::Sha1> as hmac::Mac>::new_from_slice(ik).map_err(|_| "bad key")?,
            )),
            IntegAlg::HmacSha256_128 => ring_hmac(rhmac::HMAC_SHA256, ik),
            IntegAlg::HmacSha384_192 => ring_hmac(rhmac::HMAC_SHA384, ik),
            IntegAlg::HmacSha512_256 => ring_hmac(rhmac::HMAC_SHA512, ik),
        };
        Ok(EspTransform {
            enc: keys.enc,
            integ_alg: keys.integ,
            cipher,
            integ,
            iv_seed: None,
        })
    }

    /// Encryption algorithm.
    pub fn enc(&self) -> EncAlg {
        self.enc
    }

    /// Integrity algorithm.
    pub fn integ(&self) -> IntegAlg {
        self.integ_alg
    }

    /// Bytes needed before the payload: ESP header plus IV.
    pub fn header_len(&self) -> usize {
        ESP_HEADER_LEN + self.enc.iv_len()
    }

    /// ICV length appended after the trailer.
    pub fn icv_len(&self) -> usize {
        self.enc.aead_icv_len() + self.integ_alg.icv_len()
    }

    /// Worst-case bytes needed after the payload: padding, pad length, next header, ICV.
    pub fn max_trailer_len(&self) -> usize {
        self.enc.block_len() - 1 + 2 + self.icv_len()
    }

    /// Exact ESP overhead (header + IV + padding + trailer + ICV) for a payload of `len` bytes.
    pub fn overhead(&self, len: usize) -> usize {
        let block = self.enc.block_len();
        let padded = (len + 2).div_ceil(block) * block;
        self.header_len() + padded - len + self.icv_len()
    }

    /// Seals `buf[payload]` into an ESP packet in place and returns its range in `buf`.
    ///
    /// The header is written just before `payload` (which needs [`Self::header_len`] bytes of
    /// headroom) and the trailer after it (which needs [`Self::max_trailer_len`] bytes).
    pub fn seal(
        &self,
        spi: u32,
        seq: u64,
        buf: &mut [u8],
        payload: Range<usize>,
        next_header: u8,
    ) -> Result<Range<usize>, SealError> {
        let start = payload
            .start
            .checked_sub(self.header_len())
            .ok_or(SealError::NoHeadroom)?;
        let block = self.enc.block_len();
        let padded = (payload.len() + 2).div_ceil(block) * block;
        let pad_len = padded - payload.len() - 2;
        let enc_end = payload.start + padded;
        let end = enc_end + self.icv_len();
        if end > buf.len() || payload.end > buf.len() {
            return Err(SealError::NoTailroom);
        }
        // Trailer: padding 1, 2, 3, … (RFC 4303 §2.4), pad length, next header.
        for (i, b) in buf[payload.end..payload.end + pad_len]
            .iter_mut()
            .enumerate()
        {
            *b = (i + 1) as u8;
        }
        buf[enc_end - 2] = pad_len as u8;
        buf[enc_end - 1] = next_header;
        buf[start..start + 4].copy_from_slice(&spi.to_be_bytes());
        buf[start + 4..start + 8].copy_from_slice(&(seq as u32).to_be_bytes());
        let iv_range = start + ESP_HEADER_LEN..payload.start;
        let enc_range = payload.start..enc_end;
        match &self.cipher {
            Cipher::Aead { key, salt } => {
                // The explicit IV is the 64-bit sequence number: unique per key, as RFC 4106 §3.1
                // requires, and no per-packet randomness needed.
                let iv = seq.to_be_bytes();
                buf[iv_range].copy_from_slice(&iv);
                let nonce = gcm_nonce(salt, &iv);
                let mut aad = [0u8; 8];
                aad.copy_from_slice(&buf[start..start + 8]);
                let (body, rest) = buf[..end].split_at_mut(enc_end);
                let tag = key
                    .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), &mut body[enc_range])
                    .map_err(|_| SealError::NoTailroom)?;
                rest.copy_from_slice(tag.as_ref());
                return Ok(start..end);
            }
            Cipher::Null => {}
            cbc => {
                let seed = self.iv_seed.ok_or(SealError::OpenOnly)?;
                let (head, body) = buf.split_at_mut(payload.start);
                let (iv, data) = (&mut head[iv_range], &mut body[..padded]);
                match cbc {
                    Cipher::AesCbc(key) => key.seal(seed, seq, iv, data),
                    Cipher::TripleDes(key) => cbc_seal(key.as_ref().clone(), seed, seq, iv, data),
                    Cipher::Null | Cipher::Aead { .. } => {}
                }
            }
        }
        let (authed, icv) = buf[start..end].split_at_mut(enc_end - start);
        self.compute_icv(authed, icv);
        Ok(start..end)
    }

    /// Verifies and decrypts the ESP packet `buf` (starting at the SPI) in place.
    ///
    /// The caller checks the replay window before and updates it after (only on success).
    pub fn open(&self, buf: &mut [u8]) -> Result<Opened, OpenError> {
        let hdr = self.header_len();
        let icv_len = self.icv_len();
        let block = self.enc.block_len();
        let min = hdr + block.max(4) + icv_len;
        if buf.len() < min {
            return Err(OpenError::Malformed);
        }
        let enc_end = buf.len() - icv_len;
        let enc_len = enc_end - hdr;
        if enc_len % block != 0 {
            return Err(OpenError::Malformed);
        }
        match &self.cipher {
            Cipher::Aead { key, salt } => {
                let mut iv = [0u8; 8];
                iv.copy_from_slice(&buf[ESP_HEADER_LEN..hdr]);
                let nonce = gcm_nonce(salt, &iv);
                let mut aad = [0u8; 8];
                aad.copy_from_slice(&buf[..8]);
                key.open_in_place(nonce, aead::Aad::from(aad), &mut buf[hdr..])
                    .map_err(|_| OpenError::Icv)?;
            }
            other => {
                let (authed, icv) = buf.split_at_mut(enc_end);
                let mut expect = [0u8; 64];
                self.compute_icv(authed, &mut expect[..icv_len]);
                if !constant_time_eq(&expect[..icv_len], icv) {
                    return Err(OpenError::Icv);
                }
                let (head, body) = authed.split_at_mut(hdr);
                let iv = &head[ESP_HEADER_LEN..];
                match other {
                    Cipher::AesCbc(key) => key.open(iv, body),
                    Cipher::TripleDes(key) => cbc_open(key.as_ref().clone(), iv, body),
                    Cipher::Null | Cipher::Aead { .. } => {}
                }
            }
        }
        let pad_len = buf[enc_end - 2] as usize;
        let next_header = buf[enc_end - 1];
        let payload_end = (enc_end - 2)
            .checked_sub(pad_len)
            .filter(|&e| e >= hdr)
            .ok_or(OpenError::BadPadding)?;
        let pad_ok = buf[payload_end..enc_end - 2]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i + 1) as u8);
        if !pad_ok {
            return Err(OpenError::BadPadding);
        }
        Ok(Opened {
            payload: hdr..payload_end,
            next_header,
        })
    }

    pub(crate) fn compute_icv(&self, data: &[u8], out: &mut [u8]) {
        match &self.integ {
            Integ::None => {}
            Integ::Md5(mac) => {
                use hmac::Mac;
                let mut m = mac.clone();
                m.update(data);
                let full = m.finalize().into_bytes();
                out.copy_from_slice(&full[..out.len()]);
            }
            Integ::Sha1(mac) => {
                use hmac::Mac;
                let mut m = mac.clone();
                m.update(data);
                let full = m.finalize().into_bytes();
                out.copy_from_slice(&full[..out.len()]);
            }
            Integ::Ring(key) => {
                let tag = rhmac::sign(key, data);
                out.copy_from_slice(&tag.as_ref()[..out.len()]);
            }
        }
    }
}

fn ring_hmac(alg: rhmac::Algorithm, key: &[u8]) -> Integ {
    Integ::Ring(Box::new(rhmac::Key::new(alg, key)))
}

fn gcm_nonce(salt: &[u8; 4], iv: &[u8; 8]) -> aead::Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(salt);
    n[4..].copy_from_slice(iv);
    aead::Nonce::assume_unique_for_key(n)
}

/// CBC-encrypts `data` (whole blocks) after the IV of packet `seq`, written to `iv`: the
/// cipher's block `seed ⊕ seq` (the sequence number in the block's last 8 bytes; 3DES's block
/// is those 8) encrypted under the SA's key. Sequence numbers never repeat under one key, so
/// neither do these blocks.
fn cbc_seal<C: BlockEncrypt + BlockCipher>(
    cipher: C,
    seed: [u8; 16],
    seq: u64,
    iv: &mut [u8],
    data: &mut [u8],
) {
    let mut block = seed;
    for (b, s) in block[8..].iter_mut().zip(seq.to_be_bytes()) {
        *b ^= s;
    }
    let counter = &mut block[16 - iv.len()..];
    cipher.encrypt_block(GenericArray::from_mut_slice(counter));
    iv.copy_from_slice(counter);
    let len = data.len();
    // Lengths are whole blocks by construction, so NoPadding cannot fail.
    if let Ok(e) = cbc::Encryptor::inner_iv_slice_init(cipher, iv) {
        let _ = e.encrypt_padded_mut::<NoPadding>(data, len);
    }
}

/// CBC-decrypts `data` (whole blocks) after `iv`.
fn cbc_open<C: BlockDecryptMut + BlockCipher>(cipher: C, iv: &[u8], data: &mut [u8]) {
    if let Ok(d) = cbc::Decryptor::inner_iv_slice_init(cipher, iv) {
        let _ = d.decrypt_padded_mut::<NoPadding>(data);
    }
}

/// Compares two equal-length byte strings without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
