//! The RADIUS shared-secret maths: Request/Response Authenticators and User-Password hiding
//! (RFC 2865 §3, §5.2), Message-Authenticator (RFC 3579 §3.2) and the MS-MPPE key encryption
//! (RFC 2548 §2.4.2).

use super::wire::{AttributeType, Packet, HEADER_LEN};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret byte string (shared secret, password, key): zeroized on drop, `Debug` redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> SecretBytes {
        SecretBytes(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for SecretBytes {
    fn from(s: &str) -> SecretBytes {
        SecretBytes::new(s.as_bytes().to_vec())
    }
}

impl core::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The longest User-Password RFC 2865 §5.2 allows.
pub const MAX_PASSWORD_LEN: usize = 128;

fn md5_parts(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The Response Authenticator the server must have put in `response`:
/// MD5(Code | Identifier | Length | Request Authenticator | Attributes | Secret).
pub fn response_authenticator(
    response: &[u8],
    request_authenticator: &[u8; 16],
    secret: &SecretBytes,
) -> [u8; 16] {
    let head = response.get(..4).unwrap_or(&[]);
    let attrs = response.get(HEADER_LEN..).unwrap_or(&[]);
    md5_parts(&[head, request_authenticator, attrs, secret.expose()])
}

/// Whether `response` carries the right Response Authenticator (constant time).
pub fn verify_response_authenticator(
    response: &Packet<&[u8]>,
    request_authenticator: &[u8; 16],
    secret: &SecretBytes,
) -> bool {
    let want = response_authenticator(response.as_bytes(), request_authenticator, secret);
    bool::from(want.ct_eq(&response.authenticator()))
}

/// Hides a User-Password (RFC 2865 §5.2): padded to a multiple of 16 with zeros, each block
/// XORed with MD5(secret | previous ciphertext block, the Request Authenticator first).
/// `None` when the password is longer than 128 bytes.
pub fn hide_password(
    password: &SecretBytes,
    request_authenticator: &[u8; 16],
    secret: &SecretBytes,
) -> Option<Vec<u8>> {
    let p = password.expose();
    if p.len() > MAX_PASSWORD_LEN {
        return None;
    }
    let padded_len = p.len().div_ceil(16).max(1) * 16;
    let mut out = Zeroizing::new(vec![0u8; padded_len]);
    out[..p.len()].copy_from_slice(p);
    let mut prev: [u8; 16] = *request_authenticator;
    for block in out.chunks_mut(16) {
        let b = md5_parts(&[secret.expose(), &prev]);
        for (c, k) in block.iter_mut().zip(b) {
            *c ^= k;
        }
        prev.copy_from_slice(block);
    }
    Some(out.to_vec())
}

/// The inverse of [`hide_password`], trailing zero padding removed (the server side; used by
/// tests and the fuzz harness).
pub fn unhide_password(
    hidden: &[u8],
    request_authenticator: &[u8; 16],
    secret: &SecretBytes,
) -> Option<SecretBytes> {
    if hidden.is_empty() || hidden.len() % 16 != 0 || hidden.len() > MAX_PASSWORD_LEN {
        return None;
    }
    let mut out = Zeroizing::new(hidden.to_vec());
    let mut prev: &[u8] = request_authenticator;
    for (block, cipher) in out.chunks_mut(16).zip(hidden.chunks(16)) {
        let b = md5_parts(&[secret.expose(), prev]);
        for (c, k) in block.iter_mut().zip(b) {
            *c ^= k;
        }
        prev = cipher;
    }
    let end = out.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    Some(SecretBytes::new(out[..end].to_vec()))
}

/// HMAC-MD5(secret, packet) with the Message-Authenticator value at `value_offset` taken as 16
/// zero bytes and the authenticator field replaced by `authenticator` (the Request
/// Authenticator, also when checking a response: RFC 3579 §3.2).
pub fn message_authenticator(
    packet: &[u8],
    value_offset: usize,
    authenticator: &[u8; 16],
    secret: &SecretBytes,
) -> [u8; 16] {
    // HMAC accepts keys of any length; new_from_slice cannot fail for HMAC.
    let Ok(mut mac) = Hmac::<Md5>::new_from_slice(secret.expose()) else {
        return [0; 16];
    };
    let end = value_offset.saturating_add(16).min(packet.len());
    let start = value_offset.min(end);
    mac.update(packet.get(..4).unwrap_or(&[]));
    mac.update(authenticator);
    mac.update(packet.get(HEADER_LEN..start).unwrap_or(&[]));
    mac.update(&[0u8; 16]);
    mac.update(packet.get(end..).unwrap_or(&[]));
    mac.finalize().into_bytes().into()
}

/// What the Message-Authenticator check of a packet found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageAuthenticator {
    Absent,
    Valid,
    Invalid,
}

/// Checks the (first) Message-Authenticator of `packet` against `authenticator`. A value that
/// is not 16 bytes long, or a second Message-Authenticator, is `Invalid`.
pub fn check_message_authenticator(
    packet: &Packet<&[u8]>,
    authenticator: &[u8; 16],
    secret: &SecretBytes,
) -> MessageAuthenticator {
    let mut found = packet
        .attributes()
        .filter(|a| a.kind == AttributeType::MESSAGE_AUTHENTICATOR);
    let Some(attr) = found.next() else {
        return MessageAuthenticator::Absent;
    };
    if attr.value.len() != 16 || found.next().is_some() {
        return MessageAuthenticator::Invalid;
    }
    let want = message_authenticator(packet.as_bytes(), attr.value_offset, authenticator, secret);
    if bool::from(want.ct_eq(attr.value)) {
        MessageAuthenticator::Valid
    } else {
        MessageAuthenticator::Invalid
    }
}

/// Fills the Message-Authenticator value at `value_offset` of an encoded request whose
/// authenticator field already holds the Request Authenticator.
pub fn sign_request(packet: &mut [u8], value_offset: usize, secret: &SecretBytes) {
    let mut auth = [0u8; 16];
    auth.copy_from_slice(&packet[4..HEADER_LEN]);
    let mac = message_authenticator(packet, value_offset, &auth, secret);
    if let Some(v) = packet.get_mut(value_offset..value_offset + 16) {
        v.copy_from_slice(&mac);
    }
}

/// Decrypts an MS-MPPE-Send-Key or MS-MPPE-Recv-Key value (RFC 2548 §2.4.2): a 2-byte Salt
/// with its high bit set, then blocks of (Key-Length | Key | padding) XORed with
/// MD5(secret | Request Authenticator | Salt), then MD5(secret | previous ciphertext block).
/// `None` when the value is malformed (bad salt, not whole blocks, Key-Length too long).
pub fn decrypt_mppe_key(
    value: &[u8],
    request_authenticator: &[u8; 16],
    secret: &SecretBytes,
) -> Option<SecretBytes> {
    let (salt, cipher) = value.split_at_checked(2)?;
    if salt[0] & 0x80 == 0 || cipher.is_empty() || cipher.len() % 16 != 0 {
        return None;
    }
    let mut plain = Zeroizing::new(cipher.to_vec());
    let mut b = md5_parts(&[secret.expose(), request_authenticator, salt]);
    for (block, c) in plain.chunks_mut(16).zip(cipher.chunks(16)) {
        for (p, k) in block.iter_mut().zip(b) {
            *p ^= k;
        }
        b = md5_parts(&[secret.expose(), c]);
    }
    let key_len = usize::from(*plain.first()?);
    if key_len == 0 || key_len + 1 > plain.len() {
        return None;
    }
    Some(SecretBytes::new(plain[1..=key_len].to_vec()))
}

/// Encrypts an MS-MPPE key (the server side of [`decrypt_mppe_key`]; for tests and fuzzing).
pub fn encrypt_mppe_key(
    key: &[u8],
    salt: [u8; 2],
    request_authenticator: &[u8; 16],
    secret: &SecretBytes,
) -> Vec<u8> {
    let mut plain = Zeroizing::new(Vec::with_capacity(key.len() + 16));
    plain.push(key.len() as u8);
    plain.extend_from_slice(key);
    let padded = plain.len().div_ceil(16) * 16;
    plain.resize(padded, 0);
    let mut out = salt.to_vec();
    let mut b = md5_parts(&[secret.expose(), request_authenticator, &salt]);
    for block in plain.chunks(16) {
        let c: Vec<u8> = block.iter().zip(b).map(|(p, k)| p ^ k).collect();
        b = md5_parts(&[secret.expose(), &c]);
        out.extend_from_slice(&c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ra::radius::wire::{Code, PacketBuilder};

    fn secret() -> SecretBytes {
        SecretBytes::from("xyzzy5461")
    }

    /// RFC 2865 §7.1: the PAP example (user nemo, password arctangent, secret xyzzy5461).
    #[test]
    fn rfc2865_pap_example() {
        let ra: [u8; 16] = hex::decode("0f403f9473978057bd83d5cb98f4227a")
            .unwrap()
            .try_into()
            .unwrap();
        let hidden = hide_password(&SecretBytes::from("arctangent"), &ra, &secret()).unwrap();
        assert_eq!(hex::encode(&hidden), "0dbe708d93d413ce3196e43f782a0aee");
        let back = unhide_password(&hidden, &ra, &secret()).unwrap();
        assert_eq!(back.expose(), b"arctangent");
        // The Access-Accept of the example and its Response Authenticator.
        let accept = hex::decode(
            "0200002686fe220e7624ba2a1005f6bf9b55e0b20606000000010f06000000000e06c0a80103",
        )
        .unwrap();
        let p = Packet::new_checked(&accept[..]).unwrap();
        assert!(verify_response_authenticator(&p, &ra, &secret()));
        assert!(!verify_response_authenticator(
            &p,
            &ra,
            &SecretBytes::from("other")
        ));
    }

    #[test]
    fn long_passwords_chain_blocks() {
        let ra = [3u8; 16];
        for len in [1, 15, 16, 17, 100, 128] {
            let pw = SecretBytes::new(vec![b'a'; len]);
            let hidden = hide_password(&pw, &ra, &secret()).unwrap();
            assert_eq!(hidden.len(), len.div_ceil(16) * 16);
            assert_eq!(unhide_password(&hidden, &ra, &secret()).unwrap(), pw);
        }
        assert!(hide_password(&SecretBytes::new(vec![b'a'; 129]), &ra, &secret()).is_none());
    }

    #[test]
    fn message_authenticator_round_trip() {
        let mut b = PacketBuilder::new(Code::ACCESS_REQUEST, 9, [5; 16]);
        b.push(AttributeType::USER_NAME, b"bob").unwrap();
        b.push(AttributeType::MESSAGE_AUTHENTICATOR, &[0; 16])
            .unwrap();
        let mut bytes = b.emit();
        let off = bytes.len() - 16;
        sign_request(&mut bytes, off, &secret());
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            check_message_authenticator(&p, &[5; 16], &secret()),
            MessageAuthenticator::Valid
        );
        assert_eq!(
            check_message_authenticator(&p, &[6; 16], &secret()),
            MessageAuthenticator::Invalid
        );
        bytes[off] ^= 1;
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            check_message_authenticator(&p, &[5; 16], &secret()),
            MessageAuthenticator::Invalid
        );
    }

    #[test]
    fn mppe_key_round_trip_and_malformed() {
        let ra = [9u8; 16];
        let key = [0x42u8; 32];
        let enc = encrypt_mppe_key(&key, [0x80, 0x01], &ra, &secret());
        assert_eq!(enc.len(), 2 + 48);
        let dec = decrypt_mppe_key(&enc, &ra, &secret()).unwrap();
        assert_eq!(dec.expose(), &key);
        // Salt without its high bit, truncated blocks, a wrong secret (Key-Length garbage).
        let mut bad = enc.clone();
        bad[0] = 0;
        assert!(decrypt_mppe_key(&bad, &ra, &secret()).is_none());
        assert!(decrypt_mppe_key(&enc[..20], &ra, &secret()).is_none());
        let wrong = decrypt_mppe_key(&enc, &ra, &SecretBytes::from("nope"));
        assert!(wrong.is_none_or(|k| k.expose() != key));
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", secret()), "<redacted>");
    }
}
