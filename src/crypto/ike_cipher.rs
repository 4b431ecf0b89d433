//! Phase-1 (ISAKMP) encryption: AES-CBC and 3DES-CBC over whole blocks with an explicit IV.
//! IKEv1 chains IVs across messages itself (see `ike::v1::crypt`), so this module only encrypts
//! or decrypts one buffer in place and never pads.

#![deny(missing_docs)]

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use des::TdesEde3;

/// A phase-1 encryption algorithm (IKE "Encryption Algorithm" + "Key Length" attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IkeCipher {
    /// AES-CBC, 128-bit key (algorithm 7, key length 128).
    Aes128Cbc,
    /// AES-CBC, 192-bit key (algorithm 7, key length 192).
    Aes192Cbc,
    /// AES-CBC, 256-bit key (algorithm 7, key length 256).
    Aes256Cbc,
    /// 3DES-CBC (algorithm 5), 192-bit key.
    TripleDesCbc,
}

/// Why an encryption or decryption was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// Key or IV of the wrong length.
    #[error("wrong key or IV length")]
    BadKeyOrIv,
    /// The data is not a whole number of blocks.
    #[error("data length {0} is not a multiple of the block size")]
    NotBlockAligned(usize),
}

/// IKE "Encryption Algorithm" attribute value for AES-CBC (RFC 3602).
pub const IKE_ENC_AES_CBC: u16 = 7;
/// IKE "Encryption Algorithm" attribute value for 3DES-CBC.
pub const IKE_ENC_3DES_CBC: u16 = 5;

impl IkeCipher {
    /// Every supported cipher.
    pub const ALL: [IkeCipher; 4] = [
        IkeCipher::Aes128Cbc,
        IkeCipher::Aes192Cbc,
        IkeCipher::Aes256Cbc,
        IkeCipher::TripleDesCbc,
    ];

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            IkeCipher::Aes128Cbc => 16,
            IkeCipher::Aes192Cbc | IkeCipher::TripleDesCbc => 24,
            IkeCipher::Aes256Cbc => 32,
        }
    }

    /// Block (and IV) length in bytes.
    pub fn block_len(self) -> usize {
        match self {
            IkeCipher::TripleDesCbc => 8,
            _ => 16,
        }
    }

    /// The "Encryption Algorithm" attribute value.
    pub fn ike_id(self) -> u16 {
        match self {
            IkeCipher::TripleDesCbc => IKE_ENC_3DES_CBC,
            _ => IKE_ENC_AES_CBC,
        }
    }

    /// The "Key Length" attribute in bits, sent only for AES (variable key length ciphers).
    pub fn key_length_attr(self) -> Option<u16> {
        match self {
            IkeCipher::Aes128Cbc => Some(128),
            IkeCipher::Aes192Cbc => Some(192),
            IkeCipher::Aes256Cbc => Some(256),
            IkeCipher::TripleDesCbc => None,
        }
    }

    /// The cipher for an attribute pair; AES requires a key length (RFC 3602 §5 forbids a
    /// default), 3DES must not carry a different one.
    pub fn from_ike(alg: u16, key_bits: Option<u16>) -> Option<IkeCipher> {
        match (alg, key_bits) {
            (IKE_ENC_AES_CBC, Some(128)) => Some(IkeCipher::Aes128Cbc),
            (IKE_ENC_AES_CBC, Some(192)) => Some(IkeCipher::Aes192Cbc),
            (IKE_ENC_AES_CBC, Some(256)) => Some(IkeCipher::Aes256Cbc),
            (IKE_ENC_3DES_CBC, None | Some(192)) => Some(IkeCipher::TripleDesCbc),
            _ => None,
        }
    }

    /// Configuration / display name (`aes128`, `aes192`, `aes256`, `3des`).
    pub fn name(self) -> &'static str {
        match self {
            IkeCipher::Aes128Cbc => "aes128",
            IkeCipher::Aes192Cbc => "aes192",
            IkeCipher::Aes256Cbc => "aes256",
            IkeCipher::TripleDesCbc => "3des",
        }
    }

    /// Parses a configuration name (see [`IkeCipher::name`]).
    pub fn from_name(s: &str) -> Option<IkeCipher> {
        IkeCipher::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Encrypts `data` (whole blocks) in place with CBC under `key` and `iv`.
    pub fn encrypt(self, key: &[u8], iv: &[u8], data: &mut [u8]) -> Result<(), CipherError> {
        self.check(key, iv, data)?;
        fn run<C: BlockEncryptMut + KeyIvInit>(
            key: &[u8],
            iv: &[u8],
            data: &mut [u8],
        ) -> Result<(), CipherError> {
            let c = C::new_from_slices(key, iv).map_err(|_| CipherError::BadKeyOrIv)?;
            c.encrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(data, data.len())
                .map(|_| ())
                .map_err(|_| CipherError::NotBlockAligned(data.len()))
        }
        match self {
            IkeCipher::Aes128Cbc => run::<cbc::Encryptor<Aes128>>(key, iv, data),
            IkeCipher::Aes192Cbc => run::<cbc::Encryptor<Aes192>>(key, iv, data),
            IkeCipher::Aes256Cbc => run::<cbc::Encryptor<Aes256>>(key, iv, data),
            IkeCipher::TripleDesCbc => run::<cbc::Encryptor<TdesEde3>>(key, iv, data),
        }
    }

    /// Decrypts `data` (whole blocks) in place with CBC under `key` and `iv`.
    pub fn decrypt(self, key: &[u8], iv: &[u8], data: &mut [u8]) -> Result<(), CipherError> {
        self.check(key, iv, data)?;
        fn run<C: BlockDecryptMut + KeyIvInit>(
            key: &[u8],
            iv: &[u8],
            data: &mut [u8],
        ) -> Result<(), CipherError> {
            let c = C::new_from_slices(key, iv).map_err(|_| CipherError::BadKeyOrIv)?;
            let n = data.len();
            c.decrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(data)
                .map(|_| ())
                .map_err(|_| CipherError::NotBlockAligned(n))
        }
        match self {
            IkeCipher::Aes128Cbc => run::<cbc::Decryptor<Aes128>>(key, iv, data),
            IkeCipher::Aes192Cbc => run::<cbc::Decryptor<Aes192>>(key, iv, data),
            IkeCipher::Aes256Cbc => run::<cbc::Decryptor<Aes256>>(key, iv, data),
            IkeCipher::TripleDesCbc => run::<cbc::Decryptor<TdesEde3>>(key, iv, data),
        }
    }

    fn check(self, key: &[u8], iv: &[u8], data: &[u8]) -> Result<(), CipherError> {
        if key.len() != self.key_len() || iv.len() != self.block_len() {
            return Err(CipherError::BadKeyOrIv);
        }
        if data.len() % self.block_len() != 0 {
            return Err(CipherError::NotBlockAligned(data.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3602 §4 case #2 (AES-128-CBC, two blocks).
    #[test]
    fn rfc3602_case2() {
        let key = hex::decode("c286696d887c9aa0611bbb3e2025a45a").unwrap();
        let iv = hex::decode("562e17996d093d28ddb3ba695a2e6f58").unwrap();
        let pt = hex::decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
            .unwrap();
        let mut buf = pt.clone();
        IkeCipher::Aes128Cbc.encrypt(&key, &iv, &mut buf).unwrap();
        assert_eq!(
            hex::encode(&buf),
            "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"
        );
        IkeCipher::Aes128Cbc.decrypt(&key, &iv, &mut buf).unwrap();
        assert_eq!(buf, pt);
    }

    /// 3DES-CBC vector computed with `openssl enc -des-ede3-cbc -nopad -K 0123456789abcdef\
    /// 23456789abcdef01456789abcdef0123 -iv 1234567890abcdef` over "Now is the time for all ".
    #[test]
    fn tdes_roundtrip_and_vector() {
        let key = hex::decode("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap();
        let iv = hex::decode("1234567890abcdef").unwrap();
        let mut buf = b"Now is the time for all ".to_vec();
        IkeCipher::TripleDesCbc
            .encrypt(&key, &iv, &mut buf)
            .unwrap();
        assert_eq!(
            hex::encode(&buf),
            include_str!("testdata/tdes_cbc.hex").trim()
        );
        IkeCipher::TripleDesCbc
            .decrypt(&key, &iv, &mut buf)
            .unwrap();
        assert_eq!(&buf, b"Now is the time for all ");
    }

    #[test]
    fn rejects_partial_blocks_and_bad_keys() {
        let mut b = [0u8; 17];
        assert_eq!(
            IkeCipher::Aes256Cbc.encrypt(&[0; 32], &[0; 16], &mut b),
            Err(CipherError::NotBlockAligned(17))
        );
        assert_eq!(
            IkeCipher::Aes256Cbc.decrypt(&[0; 16], &[0; 16], &mut b[..16]),
            Err(CipherError::BadKeyOrIv)
        );
    }
}
