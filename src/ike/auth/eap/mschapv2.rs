//! The MS-CHAPv2 computations (RFC 2759 §8) and the MPPE master keys that EAP-MSCHAPv2 exports as
//! its MSK (RFC 3079 §3.4, draft-kamath-pppext-eap-mschapv2 §2). The gateway never holds the
//! password: it verifies the NT-Response from the stored NT hash.

use des::cipher::{BlockEncrypt, KeyInit};
use md4::Md4;
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

/// Length of the authenticator and peer challenges.
pub const CHALLENGE_LEN: usize = 16;
/// Length of the NT-Response.
pub const NT_RESPONSE_LEN: usize = 24;
/// Length of the MSK EAP-MSCHAPv2 exports: MasterReceiveKey ‖ MasterSendKey (server's view).
pub const MSK_LEN: usize = 32;

/// The NT password hash: MD4 of the password in UTF-16LE (RFC 2759 §8.3 NtPasswordHash).
pub type NtHash = Zeroizing<[u8; 16]>;

const MAGIC_SERVER_1: &[u8] = b"Magic server to client signing constant";
const MAGIC_SERVER_2: &[u8] = b"Pad to make it do more than one iteration";
const MAGIC_MASTER: &[u8] = b"This is the MPPE Master Key";
/// RFC 3079 §3.4: the client's send key, the server's receive key.
const MAGIC_CLIENT_SEND: &[u8] =
    b"On the client side, this is the send key; on the server side, it is the receive key.";
/// RFC 3079 §3.4: the client's receive key, the server's send key.
const MAGIC_CLIENT_RECEIVE: &[u8] =
    b"On the client side, this is the receive key; on the server side, it is the send key.";

/// NtPasswordHash (RFC 2759 §8.3): MD4 over the password's UTF-16LE code units.
pub fn nt_password_hash(password: &str) -> NtHash {
    let mut h = Md4::new();
    for unit in password.encode_utf16() {
        h.update(unit.to_le_bytes());
    }
    Zeroizing::new(h.finalize().into())
}

/// ChallengeHash (RFC 2759 §8.2): the first 8 octets of SHA1(peer ‖ authenticator ‖ user name).
pub fn challenge_hash(peer: &[u8; 16], authenticator: &[u8; 16], user: &[u8]) -> [u8; 8] {
    let d = Sha1::new()
        .chain_update(peer)
        .chain_update(authenticator)
        .chain_update(user)
        .finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// ChallengeResponse (RFC 2759 §8.5): the challenge DES-encrypted under three 7-octet keys cut
/// from the zero-padded NT hash.
pub fn challenge_response(challenge: &[u8; 8], nt_hash: &[u8; 16]) -> [u8; NT_RESPONSE_LEN] {
    let mut padded = Zeroizing::new([0u8; 21]);
    padded[..16].copy_from_slice(nt_hash);
    let mut out = [0u8; NT_RESPONSE_LEN];
    for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
        let key = des_key(&padded[i * 7..i * 7 + 7]);
        let cipher = des::Des::new(&(*key).into());
        let mut block = (*challenge).into();
        cipher.encrypt_block(&mut block);
        chunk.copy_from_slice(&block);
    }
    out
}

/// GenerateNTResponse (RFC 2759 §8.1) from the stored NT hash.
pub fn nt_response(
    authenticator: &[u8; 16],
    peer: &[u8; 16],
    user: &[u8],
    nt_hash: &[u8; 16],
) -> [u8; NT_RESPONSE_LEN] {
    challenge_response(&challenge_hash(peer, authenticator, user), nt_hash)
}

/// GenerateAuthenticatorResponse (RFC 2759 §8.7): the `S=` + 40 upper-case hex digits that prove
/// to the client that the server knows its password too.
pub fn authenticator_response(
    nt_hash: &[u8; 16],
    nt_response: &[u8; NT_RESPONSE_LEN],
    peer: &[u8; 16],
    authenticator: &[u8; 16],
    user: &[u8],
) -> String {
    let hash_hash = Zeroizing::new(Md4::digest(nt_hash));
    let digest = Sha1::new()
        .chain_update(hash_hash.as_slice())
        .chain_update(nt_response)
        .chain_update(MAGIC_SERVER_1)
        .finalize();
    let challenge = challenge_hash(peer, authenticator, user);
    let digest = Sha1::new()
        .chain_update(digest)
        .chain_update(challenge)
        .chain_update(MAGIC_SERVER_2)
        .finalize();
    let mut s = String::from("S=");
    for b in digest {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// GetMasterKey (RFC 3079 §3.4): 16 octets from the hash of the NT hash and the NT-Response.
pub fn master_key(nt_hash: &[u8; 16], nt_response: &[u8; NT_RESPONSE_LEN]) -> Zeroizing<[u8; 16]> {
    let hash_hash = Zeroizing::new(Md4::digest(nt_hash));
    let d = Sha1::new()
        .chain_update(hash_hash.as_slice())
        .chain_update(nt_response)
        .chain_update(MAGIC_MASTER)
        .finalize();
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(&d[..16]);
    out
}

/// The MSK of EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2 §2, as Windows, strongSwan and
/// hostapd compute it): the server's MasterReceiveKey ‖ MasterSendKey, 16 octets each.
pub fn msk(nt_hash: &[u8; 16], nt_response: &[u8; NT_RESPONSE_LEN]) -> Zeroizing<Vec<u8>> {
    let master = master_key(nt_hash, nt_response);
    let mut out = Zeroizing::new(Vec::with_capacity(MSK_LEN));
    out.extend_from_slice(&*asymmetric_start_key(&master, MAGIC_CLIENT_SEND));
    out.extend_from_slice(&*asymmetric_start_key(&master, MAGIC_CLIENT_RECEIVE));
    out
}

/// GetAsymmetricStartKey (RFC 3079 §3.4) for 128-bit keys.
fn asymmetric_start_key(master: &[u8; 16], magic: &[u8]) -> Zeroizing<[u8; 16]> {
    let d = Sha1::new()
        .chain_update(master)
        .chain_update([0u8; 40])
        .chain_update(magic)
        .chain_update([0xf2u8; 40])
        .finalize();
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(&d[..16]);
    out
}

/// Spreads 7 key octets over 8 DES key octets (the parity bits are ignored by DES).
fn des_key(seven: &[u8]) -> Zeroizing<[u8; 8]> {
    let mut k = Zeroizing::new([0u8; 8]);
    let bits = seven.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    for (i, out) in k.iter_mut().enumerate() {
        *out = (((bits >> (49 - 7 * i)) & 0x7f) as u8) << 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex<const N: usize>(s: &str) -> [u8; N] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    // RFC 2759 §9.2: UserName "User", Password "clientPass".
    const AUTHENTICATOR: &str = "5B5D7C7D7B3F2F3E3C2C602132262628";
    const PEER: &str = "21402324255E262A28295F2B3A337C7E";

    #[test]
    fn rfc2759_section_9_2() {
        let (a, p) = (unhex::<16>(AUTHENTICATOR), unhex::<16>(PEER));
        let h = nt_password_hash("clientPass");
        assert_eq!(*h, unhex::<16>("44EBBA8D5312B8D611474411F56989AE"));
        assert_eq!(
            Md4::digest(*h)[..],
            hex::decode("41C00C584BD2D91C4017A2A12FA59F3F").unwrap()[..]
        );
        assert_eq!(
            challenge_hash(&p, &a, b"User"),
            unhex::<8>("D02E4386BCE91226")
        );
        let r = nt_response(&a, &p, b"User", &h);
        assert_eq!(
            r,
            unhex::<24>("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
        );
        assert_eq!(
            authenticator_response(&h, &r, &p, &a, b"User"),
            "S=407A5589115FD0D6209F510FE9C04566932CDA56"
        );
    }

    #[test]
    fn rfc3079_master_and_start_keys() {
        let h = nt_password_hash("clientPass");
        let r = unhex::<24>("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF");
        let m = master_key(&h, &r);
        assert_eq!(*m, unhex::<16>("FDECE3717A8C838CB388E527AE3CDD31"));
        // §3.5.3's SendStartKey128 is derived from the server's view (IsSend, IsServer: the
        // client's receive magic): the second half of the MSK. The first half is the client's
        // send key (the server's receive key), as Android's and strongSwan's tests have it.
        let k = msk(&h, &r);
        assert_eq!(k.len(), MSK_LEN);
        assert_eq!(k[16..], unhex::<16>("8B7CDC149B993A1BA118CB153F56DCCB"));
        assert_eq!(k[..16], unhex::<16>("D5F0E9521E3EA9589645E86051C82226"));
    }
}
