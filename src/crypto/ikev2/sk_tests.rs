//! SK payload tests: round trips for every cipher, tampering, padding, and fixed vectors. The
//! fixed vectors were computed independently at development time with Python's `cryptography`
//! 48 (`AESGCM`, `ChaCha20Poly1305`, `Cipher(AES, CBC)`) and `hmac`:
//!
//! ```text
//! key = bytes(range(0x40, 0x60)); salt = a0a1a2a3; iv = 0000000000000001
//! aad = 8f2a0b1c3d4e5f60 0000000000000000 2e202308 00000001 0000004c 29000030
//! pt  = b"IDi payload bytes for the test"
//! AEAD: iv + AESGCM(key[:n]).encrypt(salt + iv, pt + b"\0", aad)     (no padding, pad length 0)
//!       iv + ChaCha20Poly1305(key).encrypt(salt + iv, pt + b"\0", aad)
//! CBC:  key[:16], iv = bytes(range(16)), integ key = bytes(range(0x70, 0x90)),
//!       ct = AES-CBC(pt + 00 01); iv + ct + hmac_sha256(ikey, aad + iv + ct)[:16]
//! ```

use super::*;

const AAD: &str = "8f2a0b1c3d4e5f6000000000000000002e202308000000010000004c29000030";
const PT: &[u8] = b"IDi payload bytes for the test";

fn aead_key_bytes(cipher: Ikev2Cipher) -> Vec<u8> {
    let mut k: Vec<u8> = (0x40u8..0x60).take(cipher.cipher_key_len()).collect();
    k.extend_from_slice(&[0xa0, 0xa1, 0xa2, 0xa3]);
    k
}

fn integ_key_bytes(integ: IntegAlg) -> Vec<u8> {
    (0x70u8..0xf0).take(integ.key_len()).collect()
}

fn suites() -> Vec<(Ikev2Cipher, IntegAlg)> {
    let mut v = vec![];
    for c in Ikev2Cipher::ALL {
        if c.is_aead() {
            v.push((c, IntegAlg::None));
        } else {
            for i in IntegAlg::ALL.into_iter().filter(|i| *i != IntegAlg::None) {
                v.push((c, i));
            }
        }
    }
    v
}

fn enc_key_for(c: Ikev2Cipher) -> Vec<u8> {
    if c.is_aead() {
        aead_key_bytes(c)
    } else {
        (0x40u8..0x60).take(c.key_len()).collect()
    }
}

fn iv_for(c: Ikev2Cipher) -> Vec<u8> {
    if c.is_aead() {
        vec![0, 0, 0, 0, 0, 0, 0, 1]
    } else {
        (0u8..16).collect()
    }
}

#[test]
fn fixed_vectors() {
    let aad = hex::decode(AAD).unwrap();
    let cases = [
        (
            Ikev2Cipher::Aes256Gcm16,
            IntegAlg::None,
            "0000000000000001fcf3fbbba9d14afbb8d7771fd04f3e3a413785e7f64a8db2fc4abc208d9341\
             0057ae6000ff187aaa5305a8c79f4e7d",
        ),
        (
            Ikev2Cipher::Aes128Gcm16,
            IntegAlg::None,
            "0000000000000001da0c009e7adf72d8340a736b2c81d0687a14a54e3c8ccd7ff5b944c6ab08e9\
             f876c2ba8c4e4f9e081ddebcfd04f4b3",
        ),
        (
            Ikev2Cipher::ChaCha20Poly1305,
            IntegAlg::None,
            "0000000000000001b3523b90ef810b02a472164ae710ad9a743da2511c992a33057bd38a3bbca1\
             347d209eebad46be93b0f6c0d2795df9",
        ),
        (
            Ikev2Cipher::Aes128Cbc,
            IntegAlg::HmacSha256_128,
            "000102030405060708090a0b0c0d0e0fe1204a56fdf830a80cde04b52e8bc4bc7890ec6974ba8c\
             2c6d9bd42f93bc12e8ee1001ebd0de59bee60befdd43609028",
        ),
    ];
    for (cipher, integ, expect) in cases {
        let (ek, ik) = (enc_key_for(cipher), integ_key_bytes(integ));
        let key = SkKey {
            cipher,
            integ,
            enc_key: &ek,
            integ_key: &ik,
        };
        let body = seal(&key, &aad, &iv_for(cipher), PT).unwrap();
        assert_eq!(hex::encode(&body), expect, "{}", cipher.name());
        assert_eq!(body.len(), sk_body_len(cipher, integ, PT.len()));
        assert_eq!(open(&key, &aad, &body).unwrap().as_slice(), PT);
    }
}

#[test]
fn round_trips_and_lengths_for_every_suite() {
    let aad = hex::decode(AAD).unwrap();
    for (cipher, integ) in suites() {
        let (ek, ik) = (enc_key_for(cipher), integ_key_bytes(integ));
        let key = SkKey {
            cipher,
            integ,
            enc_key: &ek,
            integ_key: &ik,
        };
        for len in [0usize, 1, 15, 16, 17, 100] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let body = seal(&key, &aad, &iv_for(cipher), &pt).unwrap();
            assert_eq!(
                body.len(),
                sk_body_len(cipher, integ, len),
                "{cipher:?} {integ:?}"
            );
            assert_eq!(open(&key, &aad, &body).unwrap().as_slice(), pt.as_slice());
        }
    }
}

#[test]
fn any_flipped_byte_is_refused() {
    let aad = hex::decode(AAD).unwrap();
    for (cipher, integ) in suites() {
        let (ek, ik) = (enc_key_for(cipher), integ_key_bytes(integ));
        let key = SkKey {
            cipher,
            integ,
            enc_key: &ek,
            integ_key: &ik,
        };
        let body = seal(&key, &aad, &iv_for(cipher), PT).unwrap();
        for i in 0..body.len() {
            let mut b = body.clone();
            b[i] ^= 0x01;
            assert_eq!(
                open(&key, &aad, &b),
                Err(SkError::IntegrityFailed),
                "body byte {i}"
            );
        }
        for i in 0..aad.len() {
            let mut a = aad.clone();
            a[i] ^= 0x80;
            assert_eq!(
                open(&key, &a, &body),
                Err(SkError::IntegrityFailed),
                "aad byte {i}"
            );
        }
        // Truncated bodies are refused without panicking.
        for n in 0..body.len() {
            assert!(open(&key, &aad, &body[..n]).is_err(), "{n}");
        }
    }
}

#[test]
fn wrong_padding_is_refused() {
    let aad = hex::decode(AAD).unwrap();
    for (cipher, integ) in [
        (Ikev2Cipher::Aes256Cbc, IntegAlg::HmacSha1_96),
        (Ikev2Cipher::Aes128Gcm16, IntegAlg::None),
        (Ikev2Cipher::ChaCha20Poly1305, IntegAlg::None),
    ] {
        let (ek, ik) = (enc_key_for(cipher), integ_key_bytes(integ));
        let key = SkKey {
            cipher,
            integ,
            enc_key: &ek,
            integ_key: &ik,
        };
        // 16 bytes whose pad-length octet claims 16 bytes of padding (only 15 precede it).
        let mut inner = [0u8; 16];
        inner[15] = 16;
        let body = seal_padded(&key, &aad, &iv_for(cipher), &inner).unwrap();
        assert_eq!(open(&key, &aad, &body), Err(SkError::BadPadding));
        // 15 bytes of padding is fine and leaves nothing.
        inner[15] = 15;
        let body = seal_padded(&key, &aad, &iv_for(cipher), &inner).unwrap();
        assert!(open(&key, &aad, &body).unwrap().is_empty());
    }
}

#[test]
fn bad_keys_and_ivs_are_errors() {
    let ek = enc_key_for(Ikev2Cipher::Aes128Gcm16);
    let key = SkKey {
        cipher: Ikev2Cipher::Aes128Gcm16,
        integ: IntegAlg::None,
        enc_key: &ek,
        integ_key: &[],
    };
    assert!(matches!(
        seal(&key, b"", &[0; 16], PT),
        Err(SkError::BadIv {
            expected: 8,
            got: 16
        })
    ));
    let short = SkKey {
        enc_key: &ek[..16],
        ..key
    };
    assert!(matches!(
        seal(&short, b"", &[0; 8], PT),
        Err(SkError::BadKey(_))
    ));
    let paired = SkKey {
        integ: IntegAlg::HmacSha1_96,
        ..key
    };
    assert!(matches!(
        open(&paired, b"", &[0; 64]),
        Err(SkError::BadKey(_))
    ));
    let s = format!("{key:?}");
    assert!(s.contains("<redacted>") && !s.contains("64"), "{s}");
}

#[test]
fn ike_sa_keys_select_the_direction() {
    use crate::crypto::ikev2::IkeSaSuite;
    use crate::crypto::prf::HashAlg;
    let suite = IkeSaSuite {
        cipher: Ikev2Cipher::ChaCha20Poly1305,
        integ: IntegAlg::None,
        prf: HashAlg::Sha256,
    };
    let k = IkeSaKeys::derive(suite, b"seed", b"ni", b"nr", &[1; 8], &[2; 8]).unwrap();
    let (i, r) = (k.sk_key(true), k.sk_key(false));
    let body = seal(&i, b"hdr", &[9; 8], PT).unwrap();
    assert_eq!(open(&i, b"hdr", &body).unwrap().as_slice(), PT);
    assert_eq!(open(&r, b"hdr", &body), Err(SkError::IntegrityFailed));
}

/// RFC 7539 §2.8.2 (AEAD_CHACHA20_POLY1305) laid out as an SK payload: RFC 7634 takes the
/// nonce as salt (the RFC's constant 07000000) | IV (4041424344454647). The RFC's plaintext ends
/// in '.', 0x2e, which `open` reads as 46 octets of padding after 67 octets of payload.
#[test]
fn rfc7539_chacha20_poly1305_as_an_sk_body() {
    let mut ek: Vec<u8> = (0x80u8..0xa0).collect();
    ek.extend_from_slice(&[0x07, 0, 0, 0]);
    let key = SkKey {
        cipher: Ikev2Cipher::ChaCha20Poly1305,
        integ: IntegAlg::None,
        enc_key: &ek,
        integ_key: &[],
    };
    let aad = hex::decode("50515253c0c1c2c3c4c5c6c7").unwrap();
    let iv = hex::decode("4041424344454647").unwrap();
    let pt: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one \
                      tip for the future, sunscreen would be it.";
    let expect = concat!(
        "4041424344454647",
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6",
        "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36",
        "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc",
        "3ff4def08e4b7a9de576d26586cec64b6116",
        "1ae10b594f09e26a7e902ecbd0600691"
    );
    let body = seal_padded(&key, &aad, &iv, pt).unwrap();
    assert_eq!(hex::encode(&body), expect);
    assert_eq!(open(&key, &aad, &body).unwrap().as_slice(), &pt[..67]);
}
