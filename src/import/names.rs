//! Algorithm words of SEIL and strongSwan onto our configuration's names (the lists our parser
//! accepts: `IkeCipher`/`Ikev2Cipher`, `HashAlg`, `DhGroup`, `EncAlg`, `IntegAlg`, `KemAlg`).

use crate::crypto::dh::DhGroup;
use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::ikev2::transform::Ikev2Cipher;
use crate::crypto::prf::HashAlg;
use crate::crypto::{EncAlg, IntegAlg};

/// A phase-1 cipher (either IKE version): `aes256`, `aes128-gcm` …
pub fn ike_cipher(w: &str) -> Option<&'static str> {
    let w = normal_cipher(w);
    IkeCipher::ALL
        .iter()
        .map(|c| c.name())
        .chain(Ikev2Cipher::ALL.iter().map(|c| c.name()))
        .find(|n| *n == w)
}

/// A hash / PRF / IKE integrity: `sha256`, `sha1` …
pub fn hash(w: &str) -> Option<&'static str> {
    let w = w.to_ascii_lowercase();
    let w = w
        .trim_start_matches("hmac-")
        .trim_start_matches("prf")
        .trim_start_matches("hmac_");
    let w = match w {
        "sha" => "sha1",
        "sha2_256" | "sha2-256" => "sha256",
        "sha2_384" | "sha2-384" => "sha384",
        "sha2_512" | "sha2-512" => "sha512",
        other => other,
    };
    HashAlg::ALL.iter().map(|h| h.name()).find(|n| *n == w)
}

/// A Diffie-Hellman group: `modp1536`, `ecp256`, `curve25519` (also `x25519`).
pub fn dh_group(w: &str) -> Option<&'static str> {
    let w = w.to_ascii_lowercase();
    let w = match w.as_str() {
        "x25519" => "curve25519",
        other => other,
    };
    DhGroup::ALL.iter().map(|g| g.name()).find(|n| *n == w)
}

/// An ML-KEM round: `mlkem768` …
pub fn kem(w: &str) -> Option<&'static str> {
    let w = w.to_ascii_lowercase();
    ["mlkem512", "mlkem768", "mlkem1024"]
        .into_iter()
        .find(|n| *n == w)
}

/// An ESP cipher: `aes256`, `aes128-gcm`, `null` …
pub fn esp_cipher(w: &str) -> Option<&'static str> {
    let w = normal_cipher(w);
    EncAlg::ALL
        .iter()
        .map(|e| e.config_name())
        .find(|n| *n == w)
}

/// An ESP integrity algorithm: `hmac-sha256` … (`sha256` and `sha2_256` too).
pub fn esp_integrity(w: &str) -> Option<&'static str> {
    let h = hash(w)?;
    let want = format!("hmac-{h}");
    IntegAlg::ALL
        .iter()
        .map(|a| a.config_name())
        .find(|n| *n == want)
}

/// Cipher spellings onto ours: strongSwan's `aes128gcm16`, `aes`, `chacha20poly1305`; SEIL's
/// `aes-256`, `aes-cbc-256`.
fn normal_cipher(w: &str) -> String {
    let w = w.to_ascii_lowercase().replace("-cbc", "").replace('_', "-");
    let w = match w.as_str() {
        "aes" => "aes128".to_string(),
        "aes-128" => "aes128".into(),
        "aes-192" => "aes192".into(),
        "aes-256" => "aes256".into(),
        "3des-cbc" | "des3" | "des-ede3" => "3des".into(),
        "chacha20poly1305" => "chacha20-poly1305".into(),
        _ => w,
    };
    for (bits, name) in [("128", "aes128-gcm"), ("256", "aes256-gcm")] {
        for icv in ["", "16", "128"] {
            if w == format!("aes{bits}gcm{icv}") || w == format!("aes{bits}-gcm{icv}") {
                return name.into();
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_map_onto_our_names() {
        assert_eq!(ike_cipher("aes256"), Some("aes256"));
        assert_eq!(ike_cipher("AES128GCM16"), Some("aes128-gcm"));
        assert_eq!(ike_cipher("aes"), Some("aes128"));
        assert_eq!(ike_cipher("chacha20poly1305"), Some("chacha20-poly1305"));
        assert_eq!(ike_cipher("des"), None);
        assert_eq!(hash("sha2_256"), Some("sha256"));
        assert_eq!(hash("prfsha384"), Some("sha384"));
        assert_eq!(hash("sha"), Some("sha1"));
        assert_eq!(dh_group("x25519"), Some("curve25519"));
        assert_eq!(dh_group("modp8192"), None);
        assert_eq!(esp_cipher("aes256gcm16"), Some("aes256-gcm"));
        assert_eq!(esp_cipher("null"), Some("null"));
        assert_eq!(esp_integrity("hmac-md5"), Some("hmac-md5"));
        assert_eq!(esp_integrity("sha256"), Some("hmac-sha256"));
        assert_eq!(esp_integrity("aesxcbc"), None);
        assert_eq!(kem("mlkem768"), Some("mlkem768"));
    }
}
