//! IKEv2 transform identifiers (IANA "IKEv2 Transform Type 1–4" registries, RFC 7296 §3.3.2)
//! for the algorithm enums shared with IKEv1 and ESP, and [`Ikev2Cipher`], the encryption
//! algorithm of an IKEv2 SA with its key, IV, block and ICV lengths.

use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::prf::HashAlg;
use crate::crypto::IntegAlg;

/// IKEv2 transform type 1 (ENCR) number of 3DES-CBC (RFC 7296).
pub const ENCR_3DES: u16 = 3;
/// IKEv2 ENCR number of AES-CBC (RFC 3602); needs a Key Length attribute.
pub const ENCR_AES_CBC: u16 = 12;
/// IKEv2 ENCR number of AES-GCM with a 16-octet ICV (RFC 5282); needs a Key Length attribute.
pub const ENCR_AES_GCM_16: u16 = 20;
/// IKEv2 ENCR number of ChaCha20-Poly1305 (RFC 7634); carries no Key Length attribute.
pub const ENCR_CHACHA20_POLY1305: u16 = 28;

/// The encryption algorithm of an IKEv2 SA (the SK payload cipher): AES-CBC with an HMAC, or
/// one of the AEADs that carry their own integrity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ikev2Cipher {
    /// AES-CBC, 128-bit key (ENCR 12, key length 128).
    Aes128Cbc,
    /// AES-CBC, 192-bit key (ENCR 12, key length 192).
    Aes192Cbc,
    /// AES-CBC, 256-bit key (ENCR 12, key length 256).
    Aes256Cbc,
    /// AES-GCM with a 16-octet ICV, 128-bit key (ENCR 20, key length 128, RFC 5282).
    Aes128Gcm16,
    /// AES-GCM with a 16-octet ICV, 256-bit key (ENCR 20, key length 256, RFC 5282).
    Aes256Gcm16,
    /// ChaCha20-Poly1305 (ENCR 28, RFC 7634), 256-bit key.
    ChaCha20Poly1305,
}

impl Ikev2Cipher {
    /// Every supported cipher.
    pub const ALL: [Ikev2Cipher; 6] = [
        Ikev2Cipher::Aes128Cbc,
        Ikev2Cipher::Aes192Cbc,
        Ikev2Cipher::Aes256Cbc,
        Ikev2Cipher::Aes128Gcm16,
        Ikev2Cipher::Aes256Gcm16,
        Ikev2Cipher::ChaCha20Poly1305,
    ];

    /// Configuration / display name: `aes128`, `aes192`, `aes256` (as [`IkeCipher::name`]),
    /// `aes128-gcm`, `aes256-gcm`, `chacha20-poly1305` (as the ESP names).
    pub fn name(self) -> &'static str {
        match self {
            Ikev2Cipher::Aes128Cbc => "aes128",
            Ikev2Cipher::Aes192Cbc => "aes192",
            Ikev2Cipher::Aes256Cbc => "aes256",
            Ikev2Cipher::Aes128Gcm16 => "aes128-gcm",
            Ikev2Cipher::Aes256Gcm16 => "aes256-gcm",
            Ikev2Cipher::ChaCha20Poly1305 => "chacha20-poly1305",
        }
    }

    /// Parses a configuration name (see [`Ikev2Cipher::name`]).
    pub fn from_name(s: &str) -> Option<Ikev2Cipher> {
        Ikev2Cipher::ALL.into_iter().find(|c| c.name() == s)
    }

    /// The ENCR transform ID.
    pub fn transform_id(self) -> u16 {
        match self {
            Ikev2Cipher::Aes128Cbc | Ikev2Cipher::Aes192Cbc | Ikev2Cipher::Aes256Cbc => {
                ENCR_AES_CBC
            }
            Ikev2Cipher::Aes128Gcm16 | Ikev2Cipher::Aes256Gcm16 => ENCR_AES_GCM_16,
            Ikev2Cipher::ChaCha20Poly1305 => ENCR_CHACHA20_POLY1305,
        }
    }

    /// The Key Length attribute in bits (AES only; RFC 7634 §2 forbids it for ChaCha20).
    pub fn key_length_attr(self) -> Option<u16> {
        match self {
            Ikev2Cipher::Aes128Cbc | Ikev2Cipher::Aes128Gcm16 => Some(128),
            Ikev2Cipher::Aes192Cbc => Some(192),
            Ikev2Cipher::Aes256Cbc | Ikev2Cipher::Aes256Gcm16 => Some(256),
            Ikev2Cipher::ChaCha20Poly1305 => None,
        }
    }

    /// The cipher for an ENCR transform ID and its Key Length attribute. AES requires the
    /// attribute (RFC 3602 / RFC 5282 define no default); ChaCha20-Poly1305 must not carry one.
    pub fn from_transform(id: u16, key_bits: Option<u16>) -> Option<Ikev2Cipher> {
        Ikev2Cipher::ALL
            .into_iter()
            .find(|c| c.transform_id() == id && c.key_length_attr() == key_bits)
    }

    /// True for the AEADs (no separate integrity transform, no SK_ai / SK_ar).
    pub fn is_aead(self) -> bool {
        !matches!(
            self,
            Ikev2Cipher::Aes128Cbc | Ikev2Cipher::Aes192Cbc | Ikev2Cipher::Aes256Cbc
        )
    }

    /// Length of the cipher key alone, in bytes.
    pub fn cipher_key_len(self) -> usize {
        match self {
            Ikev2Cipher::Aes128Cbc | Ikev2Cipher::Aes128Gcm16 => 16,
            Ikev2Cipher::Aes192Cbc => 24,
            _ => 32,
        }
    }

    /// Bytes of SK_ei / SK_er: the cipher key, plus the 4-byte salt for the AEADs (RFC 5282 §7.1,
    /// RFC 7634 §2: the salt is the last four octets).
    pub fn key_len(self) -> usize {
        self.cipher_key_len() + self.salt_len()
    }

    /// Length of the implicit salt taken from the keying material (AEADs: 4, CBC: 0).
    pub fn salt_len(self) -> usize {
        if self.is_aead() {
            4
        } else {
            0
        }
    }

    /// Length of the IV sent in each SK payload (CBC: one block; AEADs: 8).
    pub fn iv_len(self) -> usize {
        if self.is_aead() {
            8
        } else {
            16
        }
    }

    /// Alignment of plaintext | padding | pad length (CBC: the block; AEADs: 1, no padding
    /// needed).
    pub fn block_len(self) -> usize {
        if self.is_aead() {
            1
        } else {
            16
        }
    }

    /// The AEAD's own ICV length (16), or 0 for CBC (the integrity transform supplies it).
    pub fn aead_icv_len(self) -> usize {
        if self.is_aead() {
            16
        } else {
            0
        }
    }

    /// The IKEv1-style CBC cipher of the same key length, for the CBC ciphers.
    pub fn cbc(self) -> Option<IkeCipher> {
        match self {
            Ikev2Cipher::Aes128Cbc => Some(IkeCipher::Aes128Cbc),
            Ikev2Cipher::Aes192Cbc => Some(IkeCipher::Aes192Cbc),
            Ikev2Cipher::Aes256Cbc => Some(IkeCipher::Aes256Cbc),
            _ => None,
        }
    }
}

impl IkeCipher {
    /// The IKEv2 ENCR transform ID and Key Length attribute of this CBC cipher.
    pub fn ikev2_transform(self) -> (u16, Option<u16>) {
        match self {
            IkeCipher::TripleDesCbc => (ENCR_3DES, None),
            c => (ENCR_AES_CBC, c.key_length_attr()),
        }
    }
}

impl HashAlg {
    /// The IKEv2 transform type 2 (PRF) ID of HMAC over this hash (RFC 7296, RFC 4868).
    pub fn ikev2_prf_id(self) -> u16 {
        match self {
            HashAlg::Md5 => 1,
            HashAlg::Sha1 => 2,
            HashAlg::Sha256 => 5,
            HashAlg::Sha384 => 6,
            HashAlg::Sha512 => 7,
        }
    }

    /// The hash whose HMAC is the IKEv2 PRF with this transform ID, if supported.
    pub fn from_ikev2_prf_id(id: u16) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|h| h.ikev2_prf_id() == id)
    }
}

impl IntegAlg {
    /// The IKEv2 transform type 3 (INTEG) ID; `None` for [`IntegAlg::None`] (the AEAD case,
    /// where the transform is omitted).
    pub fn ikev2_integ_id(self) -> Option<u16> {
        match self {
            IntegAlg::None => None,
            IntegAlg::HmacMd5_96 => Some(1),
            IntegAlg::HmacSha1_96 => Some(2),
            IntegAlg::HmacSha256_128 => Some(12),
            IntegAlg::HmacSha384_192 => Some(13),
            IntegAlg::HmacSha512_256 => Some(14),
        }
    }

    /// The integrity algorithm for an INTEG transform ID, if supported (0, NONE, included).
    pub fn from_ikev2_integ_id(id: u16) -> Option<IntegAlg> {
        if id == 0 {
            return Some(IntegAlg::None);
        }
        IntegAlg::ALL
            .into_iter()
            .find(|a| a.ikev2_integ_id() == Some(id))
    }

    /// The hash under the HMAC (`None` for [`IntegAlg::None`]).
    pub fn hmac_hash(self) -> Option<HashAlg> {
        match self {
            IntegAlg::None => None,
            IntegAlg::HmacMd5_96 => Some(HashAlg::Md5),
            IntegAlg::HmacSha1_96 => Some(HashAlg::Sha1),
            IntegAlg::HmacSha256_128 => Some(HashAlg::Sha256),
            IntegAlg::HmacSha384_192 => Some(HashAlg::Sha384),
            IntegAlg::HmacSha512_256 => Some(HashAlg::Sha512),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::dh::DhGroup;

    #[test]
    fn cipher_ids_names_and_lengths() {
        for c in Ikev2Cipher::ALL {
            assert_eq!(Ikev2Cipher::from_name(c.name()), Some(c));
            assert_eq!(
                Ikev2Cipher::from_transform(c.transform_id(), c.key_length_attr()),
                Some(c)
            );
        }
        let c = Ikev2Cipher::Aes256Gcm16;
        assert_eq!((c.transform_id(), c.key_len(), c.iv_len()), (20, 36, 8));
        let c = Ikev2Cipher::ChaCha20Poly1305;
        assert_eq!(
            (c.transform_id(), c.key_len(), c.aead_icv_len()),
            (28, 36, 16)
        );
        assert_eq!(Ikev2Cipher::from_transform(28, Some(256)), None);
        assert_eq!(Ikev2Cipher::from_transform(12, None), None);
        let c = Ikev2Cipher::Aes192Cbc;
        assert_eq!((c.key_len(), c.iv_len(), c.block_len()), (24, 16, 16));
        // CBC names agree with IKEv1's.
        for c in IkeCipher::ALL.into_iter().filter(|c| c.block_len() == 16) {
            assert_eq!(
                Ikev2Cipher::from_name(c.name()).and_then(|v| v.cbc()),
                Some(c)
            );
        }
        assert_eq!(IkeCipher::TripleDesCbc.ikev2_transform(), (3, None));
        assert_eq!(IkeCipher::Aes192Cbc.ikev2_transform(), (12, Some(192)));
    }

    #[test]
    fn prf_integ_and_ke_ids() {
        let prf: Vec<u16> = HashAlg::ALL.iter().map(|h| h.ikev2_prf_id()).collect();
        assert_eq!(prf, [1, 2, 5, 6, 7]);
        let integ: Vec<Option<u16>> = IntegAlg::ALL.iter().map(|a| a.ikev2_integ_id()).collect();
        assert_eq!(
            integ,
            [None, Some(1), Some(2), Some(12), Some(13), Some(14)]
        );
        for a in IntegAlg::ALL {
            assert_eq!(
                IntegAlg::from_ikev2_integ_id(a.ikev2_integ_id().unwrap_or(0)),
                Some(a)
            );
        }
        assert_eq!(HashAlg::from_ikev2_prf_id(5), Some(HashAlg::Sha256));
        assert_eq!(HashAlg::from_ikev2_prf_id(4), None);
        let ke: Vec<u16> = DhGroup::ALL.iter().map(|g| g.id()).collect();
        assert_eq!(ke, [1, 2, 5, 14, 15, 16, 31, 19, 20]);
    }
}
