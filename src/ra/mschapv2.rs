//! MS-CHAPv2 maths (RFC 2759 §8) and its MPPE keys (RFC 3079 §3.4), from which EAP-MSCHAPv2
//! derives the MSK that keys the IKEv2 AUTH payloads.
//!
//! Names follow the RFCs' pseudo-code. Inputs are a user's password or its NT hash; every
//! derived secret is returned in `Zeroizing` buffers.

use des::cipher::{BlockEncrypt, KeyInit};
use md4::Md4;
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

/// MD4 of the UTF-16LE password (`NtPasswordHash`, RFC 2759 §8.3).
pub fn nt_password_hash(password: &str) -> Zeroizing<[u8; 16]> {
    let mut utf16 = Zeroizing::new(Vec::with_capacity(password.len() * 2));
    for unit in password.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    Zeroizing::new(Md4::digest(&utf16[..]).into())
}

/// MD4 of the NT hash (`HashNtPasswordHash`, RFC 2759 §8.4).
pub fn hash_nt_password_hash(nt_hash: &[u8; 16]) -> Zeroizing<[u8; 16]> {
    Zeroizing::new(Md4::digest(nt_hash).into())
}

/// The 8-byte challenge both sides feed to DES (`ChallengeHash`, RFC 2759 §8.2): the first
/// 8 bytes of SHA-1(PeerChallenge | AuthenticatorChallenge | UserName). `user` is the name
/// without any domain prefix.
pub fn challenge_hash(
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user: &[u8],
) -> [u8; 8] {
    let d = Sha1::new()
        .chain_update(peer_challenge)
        .chain_update(authenticator_challenge)
        .chain_update(user)
        .finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// Spreads 7 key bytes over the 8 bytes DES takes (the parity bits, ignored, stay 0).
fn des_key(k: &[u8]) -> [u8; 8] {
    let mut bits = 0u64;
    for &b in k.iter().take(7) {
        bits = (bits << 8) | u64::from(b);
    }
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (((bits >> (49 - 7 * i)) & 0x7f) as u8) << 1;
    }
    out
}

/// `ChallengeResponse` (RFC 2759 §8.5): the challenge DES-encrypted under the three 7-byte
/// thirds of the zero-padded NT hash.
pub fn challenge_response(challenge: &[u8; 8], nt_hash: &[u8; 16]) -> [u8; 24] {
    let mut z = Zeroizing::new([0u8; 21]);
    z[..16].copy_from_slice(nt_hash);
    let mut out = [0u8; 24];
    for (third, o) in z.chunks(7).zip(out.chunks_mut(8)) {
        let key = Zeroizing::new(des_key(third));
        let cipher = des::Des::new(&(*key).into());
        let mut block = (*challenge).into();
        cipher.encrypt_block(&mut block);
        o.copy_from_slice(&block);
    }
    out
}

/// The peer's NT-Response (`GenerateNTResponse`, RFC 2759 §8.1), from the NT hash.
pub fn nt_response(
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user: &[u8],
    nt_hash: &[u8; 16],
) -> [u8; 24] {
    let c = challenge_hash(peer_challenge, authenticator_challenge, user);
    challenge_response(&c, nt_hash)
}

const MAGIC1: &[u8] = b"Magic server to client signing constant";
const MAGIC2: &[u8] = b"Pad to make it do more than one iteration";

/// The authenticator's proof, `S=` and 40 upper-case hex digits
/// (`GenerateAuthenticatorResponse`, RFC 2759 §8.7).
pub fn authenticator_response(
    nt_hash: &[u8; 16],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user: &[u8],
) -> String {
    let hash_hash = hash_nt_password_hash(nt_hash);
    let digest = Sha1::new()
        .chain_update(&hash_hash[..])
        .chain_update(nt_response)
        .chain_update(MAGIC1)
        .finalize();
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user);
    let digest = Sha1::new()
        .chain_update(digest)
        .chain_update(challenge)
        .chain_update(MAGIC2)
        .finalize();
    let mut s = String::from("S=");
    for b in digest {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// The 16-byte master key (`GetMasterKey`, RFC 3079 §3.4).
pub fn master_key(nt_hash: &[u8; 16], nt_response: &[u8; 24]) -> Zeroizing<[u8; 16]> {
    let hash_hash = hash_nt_password_hash(nt_hash);
    let d = Sha1::new()
        .chain_update(&hash_hash[..])
        .chain_update(nt_response)
        .chain_update(b"This is the MPPE Master Key")
        .finalize();
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(&d[..16]);
    out
}

const CLIENT_SEND: &[u8] =
    b"On the client side, this is the send key; on the server side, it is the receive key.";
const CLIENT_RECEIVE: &[u8] =
    b"On the client side, this is the receive key; on the server side, it is the send key.";

/// A 16-byte session key (`GetAsymmetricStartKey`, RFC 3079 §3.4): the one the client sends
/// with when `client_send`, else the one it receives with.
pub fn asymmetric_start_key(master: &[u8; 16], client_send: bool) -> Zeroizing<[u8; 16]> {
    let magic = if client_send {
        CLIENT_SEND
    } else {
        CLIENT_RECEIVE
    };
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

/// The EAP-MSCHAPv2 MSK: the client's send key, then its receive key (32 bytes; what a
/// RADIUS server returns as MS-MPPE-Recv-Key | MS-MPPE-Send-Key).
pub fn msk(nt_hash: &[u8; 16], nt_response: &[u8; 24]) -> Zeroizing<Vec<u8>> {
    let master = master_key(nt_hash, nt_response);
    let mut out = Zeroizing::new(Vec::with_capacity(32));
    out.extend_from_slice(&asymmetric_start_key(&master, true)[..]);
    out.extend_from_slice(&asymmetric_start_key(&master, false)[..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        hex::decode(s.replace(' ', "")).unwrap().try_into().unwrap()
    }

    /// RFC 2759 §9.2 and RFC 3079 §3.5.3.
    #[test]
    fn rfc_vectors() {
        let auth_challenge: [u8; 16] = h("5B5D7C7D7B3F2F3E3C2C602132262628");
        let peer_challenge: [u8; 16] = h("21402324255E262A28295F2B3A337C7E");
        let nt_hash = nt_password_hash("clientPass");
        assert_eq!(*nt_hash, h::<16>("44EBBA8D5312B8D611474411F56989AE"));
        assert_eq!(
            *hash_nt_password_hash(&nt_hash),
            h::<16>("41C00C584BD2D91C4017A2A12FA59F3F")
        );
        assert_eq!(
            challenge_hash(&peer_challenge, &auth_challenge, b"User"),
            h::<8>("D02E4386BCE91226")
        );
        let nt_response = nt_response(&auth_challenge, &peer_challenge, b"User", &nt_hash);
        assert_eq!(
            nt_response,
            h::<24>("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
        );
        assert_eq!(
            authenticator_response(
                &nt_hash,
                &nt_response,
                &peer_challenge,
                &auth_challenge,
                b"User"
            ),
            "S=407A5589115FD0D6209F510FE9C04566932CDA56"
        );
        let master = master_key(&nt_hash, &nt_response);
        assert_eq!(*master, h::<16>("FDECE3717A8C838CB388E527AE3CDD31"));
        // The RFC's SendStartKey128 is the server's send key: the client's receive key.
        assert_eq!(
            *asymmetric_start_key(&master, false),
            h::<16>("8B7CDC149B993A1BA118CB153F56DCCB")
        );
        let m = msk(&nt_hash, &nt_response);
        assert_eq!(m.len(), 32);
        assert_eq!(&m[..16], &asymmetric_start_key(&master, true)[..]);
    }
}
