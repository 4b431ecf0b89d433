//! IKEv2 key derivation (RFC 7296 §2.13–2.18): prf+, SKEYSEED and the seven IKE SA keys, the
//! IKE SA rekey SKEYSEED, child SA KEYMAT split into the two ESP directions, and the
//! pre-shared-key AUTH value over the signed octets of §2.15.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::transform::Ikev2Cipher;
use crate::crypto::prf::HashAlg;
use crate::crypto::{EncAlg, EspKeys, IntegAlg};

/// The key pad of the PSK AUTH computation (RFC 7296 §2.15), without a terminating NUL.
pub const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// Why keys could not be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// prf+ has a one-octet counter: at most 255 PRF outputs (RFC 7296 §2.13).
    #[error("prf+ cannot produce {wanted} bytes with {prf} (at most 255 blocks)")]
    TooLong {
        /// The PRF's hash name.
        prf: &'static str,
        /// Bytes requested.
        wanted: usize,
    },
    /// AES-CBC without an integrity algorithm, or an AEAD with one.
    #[error("{cipher} {what}")]
    BadSuite {
        /// The cipher's name.
        cipher: &'static str,
        /// What is wrong with the pairing.
        what: &'static str,
    },
}

/// The algorithms of an IKEv2 SA: cipher, integrity ([`IntegAlg::None`] with an AEAD) and PRF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IkeSaSuite {
    /// ENCR transform.
    pub cipher: Ikev2Cipher,
    /// INTEG transform ([`IntegAlg::None`] for the AEADs).
    pub integ: IntegAlg,
    /// PRF transform (HMAC over this hash).
    pub prf: HashAlg,
}

impl IkeSaSuite {
    /// Checks the cipher / integrity pairing: CBC needs an integrity algorithm, AEADs refuse one.
    pub fn validate(&self) -> Result<(), KeyError> {
        let what = match (self.cipher.is_aead(), self.integ == IntegAlg::None) {
            (true, false) => "is an AEAD and carries its own integrity: no integrity transform",
            (false, true) => "needs an integrity algorithm",
            _ => return Ok(()),
        };
        Err(KeyError::BadSuite {
            cipher: self.cipher.name(),
            what,
        })
    }
}

/// prf+ (RFC 7296 §2.13): `T1 | T2 | …` truncated to `len`, with `T1 = prf(K, S | 0x01)` and
/// `Tn = prf(K, Tn-1 | S | n)`.
pub fn prf_plus(
    prf: HashAlg,
    key: &[u8],
    seed: &[&[u8]],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let blocks = len.div_ceil(prf.output_len());
    if blocks > 255 {
        return Err(KeyError::TooLong {
            prf: prf.name(),
            wanted: len,
        });
    }
    let mut out = Zeroizing::new(Vec::with_capacity(blocks * prf.output_len()));
    let mut t = Zeroizing::new(Vec::new());
    for n in 1..=blocks {
        let counter = [n as u8];
        let mut parts: Vec<&[u8]> = Vec::with_capacity(seed.len() + 2);
        parts.push(&t);
        parts.extend_from_slice(seed);
        parts.push(&counter);
        let next = prf.prf(key, &parts);
        out.extend_from_slice(&next);
        t = next;
    }
    out.truncate(len);
    Ok(out)
}

/// SKEYSEED of a new IKE SA from IKE_SA_INIT: `prf(Ni | Nr, g^ir)` (§2.14). Nonces are the
/// nonce payload bodies; `g^ir` is the shared secret as [`crate::crypto::dh::DhPrivate`] gives it.
pub fn skeyseed(prf: HashAlg, ni: &[u8], nr: &[u8], g_ir: &[u8]) -> Zeroizing<Vec<u8>> {
    let key = Zeroizing::new([ni, nr].concat());
    prf.prf(&key, &[g_ir])
}

/// SKEYSEED of an IKE SA rekeyed by CREATE_CHILD_SA (§2.18):
/// `prf(SK_d (old), g^ir (new) | Ni | Nr)`, with the **old** IKE SA's PRF. With additional key
/// exchanges (RFC 9370 §2.2.4) their secrets follow: `… | Ni | Nr | SK(1) | … | SK(n)`; the key
/// update after an IKE_INTERMEDIATE round is the same formula with that round's secret as
/// `g_ir_new` and no `additional`.
pub fn rekey_skeyseed(
    old_prf: HashAlg,
    old_sk_d: &[u8],
    g_ir_new: &[u8],
    ni: &[u8],
    nr: &[u8],
    additional: &[u8],
) -> Zeroizing<Vec<u8>> {
    old_prf.prf(old_sk_d, &[g_ir_new, ni, nr, additional])
}

/// The keys of one IKE SA (§2.14), zeroized on drop and never printed. `sk_ai` / `sk_ar` are
/// empty with an AEAD; `sk_ei` / `sk_er` include the AEAD's 4-byte salt at the end.
#[derive(Clone, PartialEq, Eq)]
pub struct IkeSaKeys {
    /// The algorithms these keys are for.
    pub suite: IkeSaSuite,
    /// SK_d: derives child SA keys and the next IKE SA's SKEYSEED.
    pub sk_d: Zeroizing<Vec<u8>>,
    /// SK_ai: integrity of messages from the original initiator.
    pub sk_ai: Zeroizing<Vec<u8>>,
    /// SK_ar: integrity of messages from the original responder.
    pub sk_ar: Zeroizing<Vec<u8>>,
    /// SK_ei: encryption of messages from the original initiator.
    pub sk_ei: Zeroizing<Vec<u8>>,
    /// SK_er: encryption of messages from the original responder.
    pub sk_er: Zeroizing<Vec<u8>>,
    /// SK_pi: the initiator's AUTH payload (MACedIDForI).
    pub sk_pi: Zeroizing<Vec<u8>>,
    /// SK_pr: the responder's AUTH payload (MACedIDForR).
    pub sk_pr: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for IkeSaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IkeSaKeys")
            .field("suite", &self.suite)
            .field("keys", &format_args!("<redacted>"))
            .finish()
    }
}

impl IkeSaKeys {
    /// `{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi |
    /// SPIr)` (§2.14), with lengths from `suite`: SK_d, SK_p* the PRF's output, SK_a* the
    /// integrity key (none for an AEAD), SK_e* [`Ikev2Cipher::key_len`]. For a rekeyed IKE SA
    /// pass the rekey SKEYSEED and the new SPIs and nonces; `suite` is the new SA's.
    pub fn derive(
        suite: IkeSaSuite,
        skeyseed: &[u8],
        ni: &[u8],
        nr: &[u8],
        spi_i: &[u8; 8],
        spi_r: &[u8; 8],
    ) -> Result<IkeSaKeys, KeyError> {
        suite.validate()?;
        let (p, a, e) = (
            suite.prf.output_len(),
            suite.integ.key_len(),
            suite.cipher.key_len(),
        );
        let lens = [p, a, a, e, e, p, p];
        let total = lens.iter().sum();
        let km = prf_plus(suite.prf, skeyseed, &[ni, nr, spi_i, spi_r], total)?;
        let mut rest: &[u8] = &km;
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            Zeroizing::new(head.to_vec())
        };
        Ok(IkeSaKeys {
            suite,
            sk_d: take(p),
            sk_ai: take(a),
            sk_ar: take(a),
            sk_ei: take(e),
            sk_er: take(e),
            sk_pi: take(p),
            sk_pr: take(p),
        })
    }
}

/// Child SA keys (§2.17): `KEYMAT = prf+(SK_d, [g^ir (new)] | Ni | Nr [| SK(1) | … | SK(n)])`
/// (the secrets of RFC 9370 additional key exchanges last, in `additional`), split into the
/// initiator→responder direction first and then responder→initiator, each as encryption key
/// (with the AEAD salt) then integrity key. `spi_i` / `spi_r` are the ESP SPIs the initiator and
/// the responder chose (each is the *inbound* SPI of its chooser), so the returned pair is
/// `(initiator→responder keys with spi_r, responder→initiator keys with spi_i)`.
pub fn child_sa_keys(
    prf: HashAlg,
    sk_d: &[u8],
    g_ir_new: Option<&[u8]>,
    nonces: (&[u8], &[u8]),
    algs: (EncAlg, IntegAlg),
    spis: (u32, u32),
    additional: &[u8],
) -> Result<(EspKeys, EspKeys), KeyError> {
    let (enc, integ) = algs;
    let (e, a) = (enc.keymat_len(), integ.key_len());
    let g = g_ir_new.unwrap_or(&[]);
    let km = prf_plus(prf, sk_d, &[g, nonces.0, nonces.1, additional], 2 * (e + a))?;
    let part =
        |from: usize, n: usize| Zeroizing::new(km.get(from..from + n).unwrap_or(&[]).to_vec());
    let keys = |spi: u32, at: usize| EspKeys {
        spi,
        enc,
        enc_key: part(at, e),
        integ,
        integ_key: part(at + e, a),
    };
    Ok((keys(spis.1, 0), keys(spis.0, e + a)))
}

/// The octets an AUTH payload signs or MACs (§2.15): `RealMessage | Nonce | prf(SK_p, RestOfID)`,
/// then RFC 9242's `IntAuth` when IKE_INTERMEDIATE exchanges ran (empty otherwise).
/// For the initiator: its IKE_SA_INIT request, the responder's nonce body, SK_pi and its own ID
/// payload body (ID type, three reserved octets, identification data); for the responder: its
/// IKE_SA_INIT response, the initiator's nonce, SK_pr and its ID body.
pub fn signed_octets(
    prf: HashAlg,
    real_message: &[u8],
    peer_nonce: &[u8],
    sk_p: &[u8],
    id_body: &[u8],
    int_auth: &[u8],
) -> Vec<u8> {
    let maced_id = prf.prf(sk_p, &[id_body]);
    [real_message, peer_nonce, &maced_id, int_auth].concat()
}

/// The pre-shared-key AUTH value (§2.15): `prf(prf(PSK, "Key Pad for IKEv2"), signed octets)`.
pub fn psk_auth(prf: HashAlg, psk: &[u8], signed_octets: &[u8]) -> Zeroizing<Vec<u8>> {
    let padded = prf.prf(psk, &[KEY_PAD]);
    prf.prf(&padded, &[signed_octets])
}

/// Checks a peer's PSK AUTH value in constant time.
pub fn verify_psk_auth(prf: HashAlg, psk: &[u8], signed_octets: &[u8], auth: &[u8]) -> bool {
    let expect = psk_auth(prf, psk, signed_octets);
    expect.len() == auth.len() && bool::from(expect.as_slice().ct_eq(auth))
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
