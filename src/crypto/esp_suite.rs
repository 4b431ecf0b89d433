//! ESP transform identifiers and the key material of one ESP SA direction.

use zeroize::Zeroizing;

/// ESP encryption transform (IANA "ESP Transform Identifiers" / IKEv2 transform type 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncAlg {
    /// ESP_NULL (RFC 2410): no confidentiality; only valid together with an integrity algorithm.
    Null,
    /// AES-CBC with a 128-bit key (RFC 3602).
    Aes128Cbc,
    /// AES-CBC with a 192-bit key (RFC 3602).
    Aes192Cbc,
    /// AES-CBC with a 256-bit key (RFC 3602).
    Aes256Cbc,
    /// 3DES-CBC (RFC 2451), 192-bit key.
    TripleDesCbc,
    /// AES-GCM with a 16-octet ICV, 128-bit key (RFC 4106).
    Aes128Gcm16,
    /// AES-GCM with a 16-octet ICV, 256-bit key (RFC 4106).
    Aes256Gcm16,
    /// ChaCha20-Poly1305 (RFC 7634), 256-bit key, 16-octet ICV.
    ChaCha20Poly1305,
}

/// ESP integrity (authentication) algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegAlg {
    /// No separate integrity: only with an AEAD cipher.
    None,
    /// HMAC-MD5-96 (RFC 2403).
    HmacMd5_96,
    /// HMAC-SHA1-96 (RFC 2404).
    HmacSha1_96,
    /// HMAC-SHA-256-128 (RFC 4868).
    HmacSha256_128,
    /// HMAC-SHA-384-192 (RFC 4868).
    HmacSha384_192,
    /// HMAC-SHA-512-256 (RFC 4868).
    HmacSha512_256,
}

impl EncAlg {
    /// Every encryption algorithm, for tests and help texts.
    pub const ALL: [EncAlg; 8] = [
        EncAlg::Null,
        EncAlg::Aes128Cbc,
        EncAlg::Aes192Cbc,
        EncAlg::Aes256Cbc,
        EncAlg::TripleDesCbc,
        EncAlg::Aes128Gcm16,
        EncAlg::Aes256Gcm16,
        EncAlg::ChaCha20Poly1305,
    ];

    /// Cipher key length in bytes, without the GCM salt.
    pub fn key_len(self) -> usize {
        match self {
            EncAlg::Null => 0,
            EncAlg::Aes128Cbc | EncAlg::Aes128Gcm16 => 16,
            EncAlg::Aes192Cbc | EncAlg::TripleDesCbc => 24,
            EncAlg::Aes256Cbc | EncAlg::Aes256Gcm16 | EncAlg::ChaCha20Poly1305 => 32,
        }
    }

    /// Bytes of keying material this direction needs: the key, plus the 4-byte salt for the
    /// AEADs (RFC 4106 §8.1, RFC 7634 §2: the salt is the last four octets of the KEYMAT).
    pub fn keymat_len(self) -> usize {
        self.key_len() + if self.is_aead() { 4 } else { 0 }
    }

    /// True for the combined-mode (AEAD) ciphers.
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            EncAlg::Aes128Gcm16 | EncAlg::Aes256Gcm16 | EncAlg::ChaCha20Poly1305
        )
    }

    /// Length of the IV carried in each ESP packet.
    pub fn iv_len(self) -> usize {
        match self {
            EncAlg::Null => 0,
            EncAlg::Aes128Cbc | EncAlg::Aes192Cbc | EncAlg::Aes256Cbc => 16,
            EncAlg::TripleDesCbc => 8,
            EncAlg::Aes128Gcm16 | EncAlg::Aes256Gcm16 | EncAlg::ChaCha20Poly1305 => 8,
        }
    }

    /// Alignment of the encrypted part (payload + padding + pad length + next header).
    pub fn block_len(self) -> usize {
        match self {
            EncAlg::Aes128Cbc | EncAlg::Aes192Cbc | EncAlg::Aes256Cbc => 16,
            EncAlg::TripleDesCbc => 8,
            // RFC 4303 §2.4: 4-byte alignment at least.
            EncAlg::Null | EncAlg::Aes128Gcm16 | EncAlg::Aes256Gcm16 | EncAlg::ChaCha20Poly1305 => {
                4
            }
        }
    }

    /// ICV length of the AEAD cipher itself (0 for non-AEAD).
    pub fn aead_icv_len(self) -> usize {
        if self.is_aead() {
            16
        } else {
            0
        }
    }

    /// The name used in the configuration file (`encryption:`).
    pub fn config_name(self) -> &'static str {
        match self {
            EncAlg::Null => "null",
            EncAlg::Aes128Cbc => "aes128",
            EncAlg::Aes192Cbc => "aes192",
            EncAlg::Aes256Cbc => "aes256",
            EncAlg::TripleDesCbc => "3des",
            EncAlg::Aes128Gcm16 => "aes128-gcm",
            EncAlg::Aes256Gcm16 => "aes256-gcm",
            EncAlg::ChaCha20Poly1305 => "chacha20-poly1305",
        }
    }

    /// Parses a configuration name (see [`EncAlg::config_name`]).
    pub fn from_config_name(s: &str) -> Option<EncAlg> {
        EncAlg::ALL.into_iter().find(|a| a.config_name() == s)
    }

    /// The encryption algorithm's name in Wireshark's `esp_sa` table.
    pub fn wireshark_name(self) -> &'static str {
        match self {
            EncAlg::Null => "NULL",
            EncAlg::Aes128Cbc | EncAlg::Aes192Cbc | EncAlg::Aes256Cbc => "AES-CBC [RFC3602]",
            EncAlg::TripleDesCbc => "TripleDES-CBC [RFC2451]",
            EncAlg::Aes128Gcm16 | EncAlg::Aes256Gcm16 => "AES-GCM with 16 octet ICV [RFC4106]",
            EncAlg::ChaCha20Poly1305 => "ChaCha20 with Poly1305 [RFC7634]",
        }
    }

    /// IPsec DOI (RFC 2407) / IKEv2 transform ID of this cipher.
    pub fn transform_id(self) -> u8 {
        match self {
            EncAlg::TripleDesCbc => 3,
            EncAlg::Null => 11,
            EncAlg::Aes128Cbc | EncAlg::Aes192Cbc | EncAlg::Aes256Cbc => 12,
            EncAlg::Aes128Gcm16 | EncAlg::Aes256Gcm16 => 20,
            EncAlg::ChaCha20Poly1305 => 28,
        }
    }
}

impl IntegAlg {
    /// Every integrity algorithm, for tests and help texts.
    pub const ALL: [IntegAlg; 6] = [
        IntegAlg::None,
        IntegAlg::HmacMd5_96,
        IntegAlg::HmacSha1_96,
        IntegAlg::HmacSha256_128,
        IntegAlg::HmacSha384_192,
        IntegAlg::HmacSha512_256,
    ];

    /// HMAC key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            IntegAlg::None => 0,
            IntegAlg::HmacMd5_96 => 16,
            IntegAlg::HmacSha1_96 => 20,
            IntegAlg::HmacSha256_128 => 32,
            IntegAlg::HmacSha384_192 => 48,
            IntegAlg::HmacSha512_256 => 64,
        }
    }

    /// Length of the truncated ICV appended to each packet.
    pub fn icv_len(self) -> usize {
        match self {
            IntegAlg::None => 0,
            IntegAlg::HmacMd5_96 | IntegAlg::HmacSha1_96 => 12,
            IntegAlg::HmacSha256_128 => 16,
            IntegAlg::HmacSha384_192 => 24,
            IntegAlg::HmacSha512_256 => 32,
        }
    }

    /// The name used in the configuration file (`authentication:`).
    pub fn config_name(self) -> &'static str {
        match self {
            IntegAlg::None => "none",
            IntegAlg::HmacMd5_96 => "hmac-md5",
            IntegAlg::HmacSha1_96 => "hmac-sha1",
            IntegAlg::HmacSha256_128 => "hmac-sha256",
            IntegAlg::HmacSha384_192 => "hmac-sha384",
            IntegAlg::HmacSha512_256 => "hmac-sha512",
        }
    }

    /// Parses a configuration name (see [`IntegAlg::config_name`]).
    pub fn from_config_name(s: &str) -> Option<IntegAlg> {
        IntegAlg::ALL.into_iter().find(|a| a.config_name() == s)
    }

    /// The integrity algorithm's name in Wireshark's `esp_sa` table.
    pub fn wireshark_name(self) -> &'static str {
        match self {
            IntegAlg::None => "NULL",
            IntegAlg::HmacMd5_96 => "HMAC-MD5-96 [RFC2403]",
            IntegAlg::HmacSha1_96 => "HMAC-SHA-1-96 [RFC2404]",
            IntegAlg::HmacSha256_128 => "HMAC-SHA-256-128 [RFC4868]",
            IntegAlg::HmacSha384_192 => "HMAC-SHA-384-192 [RFC4868]",
            IntegAlg::HmacSha512_256 => "HMAC-SHA-512-256 [RFC4868]",
        }
    }

    /// IPsec DOI "Authentication Algorithm" attribute value (RFC 2407 §4.5) for IKEv1 phase 2.
    pub fn ikev1_auth_attr(self) -> Option<u16> {
        match self {
            IntegAlg::None => None,
            IntegAlg::HmacMd5_96 => Some(1),
            IntegAlg::HmacSha1_96 => Some(2),
            IntegAlg::HmacSha256_128 => Some(5),
            IntegAlg::HmacSha384_192 => Some(6),
            IntegAlg::HmacSha512_256 => Some(7),
        }
    }
}

/// A suite's name as configured and logged: `aes128-gcm`, `aes256/hmac-sha256`, …
pub fn suite_name(enc: EncAlg, integ: IntegAlg) -> String {
    if enc.is_aead() {
        enc.config_name().to_string()
    } else {
        format!("{}/{}", enc.config_name(), integ.config_name())
    }
}

/// The keys of one direction of an ESP SA. Key bytes are zeroized on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct EspKeys {
    /// Security Parameter Index, host byte order.
    pub spi: u32,
    /// Encryption algorithm.
    pub enc: EncAlg,
    /// Encryption key; for the AEADs the 4-byte salt is appended (length [`EncAlg::keymat_len`]).
    pub enc_key: Zeroizing<Vec<u8>>,
    /// Integrity algorithm ([`IntegAlg::None`] with AEAD).
    pub integ: IntegAlg,
    /// Integrity key (length [`IntegAlg::key_len`]).
    pub integ_key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for EspKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EspKeys")
            .field("spi", &format_args!("0x{:08x}", self.spi))
            .field("enc", &self.enc)
            .field("integ", &self.integ)
            .finish_non_exhaustive()
    }
}

impl EspKeys {
    /// Checks that the algorithm pair is usable and the key lengths match it.
    pub fn validate(&self) -> Result<(), String> {
        if self.enc.is_aead() && self.integ != IntegAlg::None {
            return Err(format!(
                "{} is an AEAD cipher and carries its own integrity: remove the authentication algorithm",
                self.enc.config_name()
            ));
        }
        if !self.enc.is_aead() && self.integ == IntegAlg::None {
            return Err(format!(
                "{} needs an authentication algorithm (e.g. hmac-sha256): ESP without integrity is not allowed",
                self.enc.config_name()
            ));
        }
        if self.enc_key.len() != self.enc.keymat_len() {
            return Err(format!(
                "{} needs a {}-byte key{} ({} hex digits), got {} bytes",
                self.enc.config_name(),
                self.enc.keymat_len(),
                if self.enc.is_aead() {
                    " including the 4-byte salt"
                } else {
                    ""
                },
                self.enc.keymat_len() * 2,
                self.enc_key.len()
            ));
        }
        if self.integ_key.len() != self.integ.key_len() {
            return Err(format!(
                "{} needs a {}-byte key ({} hex digits), got {} bytes",
                self.integ.config_name(),
                self.integ.key_len(),
                self.integ.key_len() * 2,
                self.integ_key.len()
            ));
        }
        Ok(())
    }
}
