//! The ISAKMP SA's keys and the IKEv1 encryption rules (RFC 2409 §5, appendix B): SKEYID
//! derivation, HASH_I/HASH_R, the Quick Mode/Informational hashes, phase-1 and per-message-ID
//! IVs, CBC chaining and padding.

use zeroize::Zeroizing;

use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::prf::{keymat, phase1_enc_key, HashAlg, KeymatSeed, SkeyId};

use crate::ike::proposal::Phase1Proposal;

/// Keys of one ISAKMP SA. Never printed.
pub(crate) struct Phase1Keys {
    pub hash: HashAlg,
    pub cipher: IkeCipher,
    skeyid: SkeyId,
    enc_key: Zeroizing<Vec<u8>>,
    /// Plaintexts of the last messages encrypted or decrypted, by their last cipher block, for
    /// the negotiation transcript (the engine drains it; see [`Phase1Keys::take_plaintexts`]).
    tap: std::sync::Mutex<Vec<Plaintext>>,
}

/// A message's plaintext and its last cipher block (the end of its datagram).
pub(crate) type Plaintext = (Vec<u8>, Zeroizing<Vec<u8>>);

/// Plaintexts kept until the engine takes them.
const MAX_TAPPED: usize = 8;

impl std::fmt::Debug for Phase1Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phase1Keys")
            .field("hash", &self.hash)
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

/// The public inputs Main Mode authenticates.
pub(crate) struct MmTranscript<'a> {
    pub gxi: &'a [u8],
    pub gxr: &'a [u8],
    pub cky_i: &'a [u8; 8],
    pub cky_r: &'a [u8; 8],
    pub sai_b: &'a [u8],
}

impl Phase1Keys {
    /// The ISAKMP SA's encryption key, for the explicit, opt-in Wireshark key export only.
    pub fn export_enc_key(&self) -> &[u8] {
        &self.enc_key
    }

    /// Derives SKEYID, SKEYID_{d,a,e} and the encryption key: from the pre-shared key, or for
    /// signature authentication from the nonces alone (`psk` unused).
    pub fn derive(
        p: &Phase1Proposal,
        psk: &[u8],
        ni_b: &[u8],
        nr_b: &[u8],
        gxy: &[u8],
        cky_i: &[u8; 8],
        cky_r: &[u8; 8],
    ) -> Phase1Keys {
        let skeyid = if p.auth.is_signature() {
            SkeyId::derive_sig(p.hash, ni_b, nr_b, gxy, cky_i, cky_r)
        } else {
            SkeyId::derive_psk(p.hash, psk, ni_b, nr_b, gxy, cky_i, cky_r)
        };
        let enc_key = phase1_enc_key(p.hash, &skeyid.e, p.cipher.key_len());
        Phase1Keys {
            hash: p.hash,
            cipher: p.cipher,
            skeyid,
            enc_key,
            tap: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The plaintexts of the messages encrypted or decrypted since the last call, with their
    /// last cipher blocks (for the negotiation transcript).
    pub fn take_plaintexts(&self) -> Vec<Plaintext> {
        self.tap
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
    }

    fn tap(&self, last_block: &[u8], plain: &[u8]) {
        if let Ok(mut t) = self.tap.lock() {
            if t.len() == MAX_TAPPED {
                t.remove(0);
            }
            t.push((last_block.to_vec(), Zeroizing::new(plain.to_vec())));
        }
    }

    /// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
    pub fn hash_i(&self, t: &MmTranscript<'_>, idii_b: &[u8]) -> Zeroizing<Vec<u8>> {
        self.hash.prf(
            &self.skeyid.skeyid,
            &[t.gxi, t.gxr, t.cky_i, t.cky_r, t.sai_b, idii_b],
        )
    }

    /// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
    pub fn hash_r(&self, t: &MmTranscript<'_>, idir_b: &[u8]) -> Zeroizing<Vec<u8>> {
        self.hash.prf(
            &self.skeyid.skeyid,
            &[t.gxr, t.gxi, t.cky_r, t.cky_i, t.sai_b, idir_b],
        )
    }

    /// prf(SKEYID_a, parts): the Quick Mode and Informational hashes.
    pub fn prf_a(&self, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        self.hash.prf(&self.skeyid.a, parts)
    }

    /// KEYMAT for one ESP direction.
    pub fn keymat(&self, seed: &KeymatSeed<'_>, len: usize) -> Zeroizing<Vec<u8>> {
        keymat(self.hash, &self.skeyid.d, seed, len)
    }

    /// The first phase-1 IV: hash(g^xi | g^xr) truncated to the block size.
    pub fn phase1_iv(&self, gxi: &[u8], gxr: &[u8]) -> Vec<u8> {
        truncate(self.hash.hash(&[gxi, gxr]), self.cipher.block_len())
    }

    /// The first IV of a Quick Mode or Informational exchange: hash(last phase-1 CBC block |
    /// M-ID) truncated to the block size.
    pub fn message_iv(&self, last_phase1_block: &[u8], mid: u32) -> Vec<u8> {
        truncate(
            self.hash.hash(&[last_phase1_block, &mid.to_be_bytes()]),
            self.cipher.block_len(),
        )
    }

    /// Encrypts a payload chain: zero padding to the block size (as strongSwan does; peers read
    /// the chain by its lengths), CBC with `iv`. Returns the ciphertext and the next IV (its
    /// last block).
    pub fn encrypt(&self, iv: &[u8], chain: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let bl = self.cipher.block_len();
        let mut buf = chain.to_vec();
        let padded = chain.len().div_ceil(bl).max(1) * bl;
        buf.resize(padded, 0);
        // Lengths are ours and correct: encryption cannot fail.
        if self.cipher.encrypt(&self.enc_key, iv, &mut buf).is_err() {
            buf.clear();
        }
        let next_iv = last_block(&buf, bl);
        self.tap(&next_iv, chain);
        (buf, next_iv)
    }

    /// Decrypts a message body with `iv`. Returns the plaintext (padding included) and the
    /// next IV, or `None` when the body is not a non-empty whole number of blocks.
    pub fn decrypt(&self, iv: &[u8], body: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        let bl = self.cipher.block_len();
        if body.is_empty() || body.len() % bl != 0 {
            return None;
        }
        let next_iv = last_block(body, bl);
        let mut buf = body.to_vec();
        self.cipher.decrypt(&self.enc_key, iv, &mut buf).ok()?;
        self.tap(&next_iv, &buf);
        Some((buf, next_iv))
    }
}

fn truncate(mut v: Vec<u8>, n: usize) -> Vec<u8> {
    v.truncate(n);
    v
}

fn last_block(b: &[u8], bl: usize) -> Vec<u8> {
    b.get(b.len().saturating_sub(bl)..).unwrap_or(&[]).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::dh::DhGroup;

    fn keys(hash: HashAlg, cipher: IkeCipher) -> Phase1Keys {
        let p = Phase1Proposal {
            cipher,
            hash,
            group: DhGroup::Modp1024,
            lifetime_secs: 1,
            auth: Default::default(),
        };
        Phase1Keys::derive(
            &p,
            b"xeeB5gohvaYi",
            &[1; 16],
            &[2; 32],
            &[0xab; 128],
            &[3; 8],
            &[4; 8],
        )
    }

    /// IV rules, checked against Python (hashlib):
    ///   sha1(bytes([5])*128 + bytes([6])*128).hexdigest()[:32]            -> phase-1 IV (AES)
    ///   sha1(bytes.fromhex("00112233445566778899aabbccddeeff") + bytes.fromhex("74763459"))
    ///   .hexdigest()[:16]                                                  -> QM IV (3DES)
    #[test]
    fn iv_rules() {
        let k = keys(HashAlg::Sha1, IkeCipher::Aes128Cbc);
        let iv = k.phase1_iv(&[5; 128], &[6; 128]);
        assert_eq!(
            hex::encode(&iv),
            include_str!("testdata/iv_phase1.hex").trim()
        );
        let k = keys(HashAlg::Sha1, IkeCipher::TripleDesCbc);
        let last = hex::decode("00112233445566778899aabbccddeeff").unwrap();
        let iv = k.message_iv(&last, 0x74763459);
        assert_eq!(hex::encode(&iv), include_str!("testdata/iv_qm.hex").trim());
        assert_eq!(iv.len(), 8);
    }

    #[test]
    fn cbc_chaining_and_padding() {
        let k = keys(HashAlg::Sha256, IkeCipher::Aes256Cbc);
        let iv = vec![9u8; 16];
        let (c1, iv2) = k.encrypt(&iv, &[0x55; 20]);
        assert_eq!(c1.len(), 32);
        assert_eq!(iv2, c1[16..].to_vec());
        let (p1, iv2b) = k.decrypt(&iv, &c1).unwrap();
        assert_eq!(&p1[..20], &[0x55; 20]);
        assert_eq!(&p1[20..], &[0; 12]);
        assert_eq!(iv2, iv2b);
        // The next message chains from the last block of the previous one.
        let (c2, _) = k.encrypt(&iv2, &[0x66; 16]);
        assert_eq!(c2.len(), 16);
        let (p2, _) = k.decrypt(&iv2b, &c2).unwrap();
        assert_eq!(p2, vec![0x66; 16]);
        assert!(k.decrypt(&iv, &c1[..17]).is_none());
        assert!(k.decrypt(&iv, &[]).is_none());
    }
}
