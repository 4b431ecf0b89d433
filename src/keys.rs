//! Key export for Wireshark (an explicit, opt-in action: nothing else ever prints keys).

use std::fmt::Write;
use std::net::IpAddr;

use crate::config::{Config, Keying};
use crate::crypto::EspKeys;

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// One line of Wireshark's `esp_sa` table for an SA from `src` to `dst`.
pub fn esp_sa_line(src: IpAddr, dst: IpAddr, k: &EspKeys) -> String {
    let fam = if src.is_ipv4() { "IPv4" } else { "IPv6" };
    let enc_key = if k.enc_key.is_empty() {
        String::new()
    } else {
        format!("0x{}", hex(&k.enc_key))
    };
    let auth_key = if k.integ_key.is_empty() {
        String::new()
    } else {
        format!("0x{}", hex(&k.integ_key))
    };
    format!(
        "\"{fam}\",\"{src}\",\"{dst}\",\"0x{:08x}\",\"{}\",\"{enc_key}\",\"{}\",\"{auth_key}\"",
        k.spi,
        k.enc.wireshark_name(),
        k.integ.wireshark_name(),
    )
}

/// One line of Wireshark's `ikev2_decryption_table` for an IKE SA: SPIs, SK_ei, SK_er (with the
/// AEAD salt), the encryption algorithm, SK_ai, SK_ar and the integrity algorithm as Wireshark
/// names them.
pub fn ikev2_decryption_line(
    spi_i: &[u8; 8],
    spi_r: &[u8; 8],
    k: &crate::crypto::ikev2::IkeSaKeys,
) -> String {
    use crate::crypto::ikev2::Ikev2Cipher;
    use crate::crypto::IntegAlg;
    let enc = match k.suite.cipher {
        Ikev2Cipher::Aes128Cbc => "AES-CBC-128 [RFC3602]",
        Ikev2Cipher::Aes192Cbc => "AES-CBC-192 [RFC3602]",
        Ikev2Cipher::Aes256Cbc => "AES-CBC-256 [RFC3602]",
        Ikev2Cipher::Aes128Gcm16 => "AES-GCM-128 with 16 octet ICV [RFC5282]",
        Ikev2Cipher::Aes256Gcm16 => "AES-GCM-256 with 16 octet ICV [RFC5282]",
        // Not in Wireshark's table as of 4.x: the line still carries the keys.
        Ikev2Cipher::ChaCha20Poly1305 => "CHACHA20-POLY1305 [RFC7634]",
    };
    let integ = match k.suite.integ {
        IntegAlg::None => "NONE [RFC4306]",
        IntegAlg::HmacMd5_96 => "HMAC_MD5_96 [RFC2403]",
        IntegAlg::HmacSha1_96 => "HMAC_SHA1_96 [RFC2404]",
        IntegAlg::HmacSha256_128 => "HMAC_SHA2_256_128 [RFC4868]",
        IntegAlg::HmacSha384_192 => "HMAC_SHA2_384_192 [RFC4868]",
        IntegAlg::HmacSha512_256 => "HMAC_SHA2_512_256 [RFC4868]",
    };
    format!(
        "{},{},{},{},\"{enc}\",{},{},\"{integ}\"",
        hex(spi_i),
        hex(spi_r),
        hex(&k.sk_ei),
        hex(&k.sk_er),
        hex(&k.sk_ai),
        hex(&k.sk_ar),
    )
}

/// The `esp_sa` lines of every manually keyed SA in a configuration, both directions. (Keys of
/// IKE-negotiated SAs exist only in the running daemon: see `ikegate run --wireshark-keylog`.)
pub fn wireshark_esp(cfg: &Config) -> String {
    let mut out = String::new();
    for i in &cfg.interfaces {
        let Keying::Manual { outbound, inbound } = &i.keying else {
            continue;
        };
        out.push_str(&esp_sa_line(i.source, i.destination, outbound));
        out.push('\n');
        out.push_str(&esp_sa_line(i.destination, i.source, inbound));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{EncAlg, IntegAlg};
    use zeroize::Zeroizing;

    #[test]
    fn formats_like_the_seil_article() {
        let k = EspKeys {
            spi: 0x1001,
            enc: EncAlg::Aes128Gcm16,
            enc_key: Zeroizing::new(vec![0xab; 20]),
            integ: IntegAlg::None,
            integ_key: Zeroizing::new(vec![]),
        };
        let l = esp_sa_line("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), &k);
        assert_eq!(
            l,
            format!(
                "\"IPv4\",\"10.0.0.1\",\"10.0.0.2\",\"0x00001001\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x{}\",\"NULL\",\"\"",
                "ab".repeat(20)
            )
        );
        let k = EspKeys {
            spi: 0xc0ffee,
            enc: EncAlg::Aes256Cbc,
            enc_key: Zeroizing::new(vec![1; 32]),
            integ: IntegAlg::HmacSha256_128,
            integ_key: Zeroizing::new(vec![2; 32]),
        };
        let l = esp_sa_line("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap(), &k);
        assert!(l.contains("\"0x00c0ffee\",\"AES-CBC [RFC3602]\""), "{l}");
        assert!(
            l.ends_with(&format!(
                "\"HMAC-SHA-256-128 [RFC4868]\",\"0x{}\"",
                "02".repeat(32)
            )),
            "{l}"
        );
    }
}
