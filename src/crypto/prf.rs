//! Hashes and the IKEv1 pseudo-random function (HMAC of the negotiated hash), with the IKEv1 key
//! derivations of RFC 2409 §5 and appendix B.

#![deny(missing_docs)]

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

/// A hash algorithm negotiated in phase 1 (IKE "Hash Algorithm" attribute). Without a separate
/// PRF attribute the IKEv1 PRF is HMAC over this hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// MD5 (attribute value 1).
    Md5,
    /// SHA-1 (attribute value 2).
    Sha1,
    /// SHA2-256 (attribute value 4).
    Sha256,
    /// SHA2-384 (attribute value 5).
    Sha384,
    /// SHA2-512 (attribute value 6).
    Sha512,
}

impl HashAlg {
    /// Every supported hash.
    pub const ALL: [HashAlg; 5] = [
        HashAlg::Md5,
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];

    /// IKE "Hash Algorithm" attribute value (RFC 2409 appendix A, RFC 4868 registry).
    pub fn ike_id(self) -> u16 {
        match self {
            HashAlg::Md5 => 1,
            HashAlg::Sha1 => 2,
            HashAlg::Sha256 => 4,
            HashAlg::Sha384 => 5,
            HashAlg::Sha512 => 6,
        }
    }

    /// The hash for an IKE attribute value, if supported.
    pub fn from_ike_id(v: u16) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|h| h.ike_id() == v)
    }

    /// Configuration / display name (`md5`, `sha1`, `sha256`, `sha384`, `sha512`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Md5 => "md5",
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// Parses a configuration name (see [`HashAlg::name`]).
    pub fn from_name(s: &str) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|h| h.name() == s)
    }

    /// Digest length in bytes (also the PRF output length).
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Md5 => 16,
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// Plain hash over the concatenation of `parts`.
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            HashAlg::Md5 => run::<Md5>(parts),
            HashAlg::Sha1 => run::<Sha1>(parts),
            HashAlg::Sha256 => run::<Sha256>(parts),
            HashAlg::Sha384 => run::<Sha384>(parts),
            HashAlg::Sha512 => run::<Sha512>(parts),
        }
    }

    /// The IKEv1 PRF: `HMAC-<hash>(key, concatenation of parts)`.
    pub fn prf(self, key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
            // HMAC accepts keys of any length, so this cannot fail.
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .expect("HMAC accepts any key length");
            for p in parts {
                m.update(p);
            }
            Zeroizing::new(m.finalize().into_bytes().to_vec())
        }
        match self {
            HashAlg::Md5 => run::<Hmac<Md5>>(key, parts),
            HashAlg::Sha1 => run::<Hmac<Sha1>>(key, parts),
            HashAlg::Sha256 => run::<Hmac<Sha256>>(key, parts),
            HashAlg::Sha384 => run::<Hmac<Sha384>>(key, parts),
            HashAlg::Sha512 => run::<Hmac<Sha512>>(key, parts),
        }
    }
}

/// The phase-1 keying material of RFC 2409 §5 (pre-shared key authentication).
pub struct SkeyId {
    /// SKEYID = prf(pre-shared-key, Ni_b | Nr_b): authenticates HASH_I / HASH_R.
    pub skeyid: Zeroizing<Vec<u8>>,
    /// SKEYID_d: derives phase-2 KEYMAT.
    pub d: Zeroizing<Vec<u8>>,
    /// SKEYID_a: authenticates phase-2 and informational messages.
    pub a: Zeroizing<Vec<u8>>,
    /// SKEYID_e: source of the phase-1 encryption key.
    pub e: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for SkeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SkeyId { .. }")
    }
}

impl SkeyId {
    /// Derives SKEYID and SKEYID_{d,a,e} for pre-shared-key authentication:
    /// `SKEYID = prf(psk, Ni_b | Nr_b)`, `SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)`,
    /// `SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)`,
    /// `SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)`.
    pub fn derive_psk(
        hash: HashAlg,
        psk: &[u8],
        ni: &[u8],
        nr: &[u8],
        gxy: &[u8],
        cky_i: &[u8; 8],
        cky_r: &[u8; 8],
    ) -> SkeyId {
        let skeyid = hash.prf(psk, &[ni, nr]);
        SkeyId::expand(hash, skeyid, gxy, cky_i, cky_r)
    }

    /// Derives them for signature authentication (RFC 2409 §5): `SKEYID = prf(Ni_b | Nr_b,
    /// g^xy)`, the rest as for pre-shared keys.
    pub fn derive_sig(
        hash: HashAlg,
        ni: &[u8],
        nr: &[u8],
        gxy: &[u8],
        cky_i: &[u8; 8],
        cky_r: &[u8; 8],
    ) -> SkeyId {
        let key = Zeroizing::new([ni, nr].concat());
        let skeyid = hash.prf(&key, &[gxy]);
        SkeyId::expand(hash, skeyid, gxy, cky_i, cky_r)
    }

    /// SKEYID_{d,a,e} from SKEYID.
    fn expand(
        hash: HashAlg,
        skeyid: Zeroizing<Vec<u8>>,
        gxy: &[u8],
        cky_i: &[u8; 8],
        cky_r: &[u8; 8],
    ) -> SkeyId {
        let d = hash.prf(&skeyid, &[gxy, cky_i, cky_r, &[0]]);
        let a = hash.prf(&skeyid, &[&d, gxy, cky_i, cky_r, &[1]]);
        let e = hash.prf(&skeyid, &[&a, gxy, cky_i, cky_r, &[2]]);
        SkeyId { skeyid, d, a, e }
    }
}

/// The phase-1 encryption key from SKEYID_e (RFC 2409 §5.3 and appendix B): SKEYID_e truncated
/// to `len` bytes, or when it is too short `Ka = K1 | K2 | …` with `K1 = prf(SKEYID_e, 0)` (one
/// zero octet) and `Kn = prf(SKEYID_e, Kn-1)`, truncated.
pub fn phase1_enc_key(hash: HashAlg, skeyid_e: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    if skeyid_e.len() >= len {
        return Zeroizing::new(skeyid_e.get(..len).unwrap_or(skeyid_e).to_vec());
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len + hash.output_len()));
    let mut k = hash.prf(skeyid_e, &[&[0]]);
    out.extend_from_slice(&k);
    while out.len() < len {
        k = hash.prf(skeyid_e, &[&k]);
        out.extend_from_slice(&k);
    }
    out.truncate(len);
    out
}

/// The inputs of one phase-2 KEYMAT computation besides SKEYID_d (RFC 2409 §5.5).
#[derive(Clone, Copy)]
pub struct KeymatSeed<'a> {
    /// The Quick Mode Diffie-Hellman shared secret when PFS is used.
    pub gxy_qm: Option<&'a [u8]>,
    /// Protocol ID of the SA (3 = ESP).
    pub protocol: u8,
    /// SPI of this direction, as chosen by its receiver (4 bytes for ESP).
    pub spi: &'a [u8],
    /// Body of the initiator's Quick Mode nonce payload.
    pub ni_b: &'a [u8],
    /// Body of the responder's Quick Mode nonce payload.
    pub nr_b: &'a [u8],
}

/// Phase-2 KEYMAT for one SA direction (RFC 2409 §5.5):
/// `K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)`,
/// `Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)`, `KEYMAT = K1 | K2 | …`
/// truncated to `len`.
pub fn keymat(
    hash: HashAlg,
    skeyid_d: &[u8],
    seed: &KeymatSeed<'_>,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let g = seed.gxy_qm.unwrap_or(&[]);
    let proto = [seed.protocol];
    let tail: [&[u8]; 5] = [g, &proto, seed.spi, seed.ni_b, seed.nr_b];
    let mut out = Zeroizing::new(Vec::with_capacity(len + hash.output_len()));
    let mut k = hash.prf(skeyid_d, &tail);
    out.extend_from_slice(&k);
    while out.len() < len {
        let prev = k;
        let parts: [&[u8]; 6] = [&prev, g, &proto, seed.spi, seed.ni_b, seed.nr_b];
        k = hash.prf(skeyid_d, &parts);
        out.extend_from_slice(&k);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed with Python's hmac/hashlib (one-off script, kept here as the recipe):
    //
    //   import hmac, hashlib
    //   prf = lambda h, k, d: hmac.new(k, d, h).digest()
    //   psk = b"xeeB5gohvaYi"; ni = bytes(range(16)); nr = bytes(range(16, 48))
    //   gxy = bytes([0xab]) * 128; ci = bytes.fromhex("80f5f36ce1766d90")
    //   cr = bytes.fromhex("8cfaf864c7f83e09")
    //   for h in (hashlib.sha1, hashlib.sha256):
    //       s = prf(h, psk, ni + nr)
    //       d = prf(h, s, gxy + ci + cr + b"\0")
    //       a = prf(h, s, d + gxy + ci + cr + b"\1")
    //       e = prf(h, s, a + gxy + ci + cr + b"\2")
    //       k1 = prf(h, e, b"\0"); k2 = prf(h, e, k1)      # appendix B expansion
    //       km = prf(h, d, b"\3" + bytes.fromhex("c0ffee01") + ni + nr)
    //       km += prf(h, d, km + b"\3" + bytes.fromhex("c0ffee01") + ni + nr)
    //       if len(km) < 52:  # SHA-1 needs K3 = prf(d, K2 | ...)
    //           km += prf(h, d, km[-len(s):] + b"\3" + bytes.fromhex("c0ffee01") + ni + nr)
    //       # Ka is SKEYID_e[:32] when SKEYID_e is long enough (SHA-256)
    //       print(s.hex(), d.hex(), a.hex(), e.hex(), (k1 + k2)[:32].hex(), km[:52].hex())
    type Inputs = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, [u8; 8], [u8; 8]);

    fn inputs() -> Inputs {
        (
            b"xeeB5gohvaYi".to_vec(),
            (0u8..16).collect(),
            (16u8..48).collect(),
            vec![0xab; 128],
            hex::decode("80f5f36ce1766d90").unwrap().try_into().unwrap(),
            hex::decode("8cfaf864c7f83e09").unwrap().try_into().unwrap(),
        )
    }

    /// Signature authentication: `SKEYID = prf(Ni_b | Nr_b, g^xy)`, recipe as above with
    /// `s = prf(h, ni + nr, gxy)`.
    #[test]
    fn skeyid_for_signatures() {
        let (_, ni, nr, gxy, ci, cr) = inputs();
        for (hash, skeyid, d) in [
            (
                HashAlg::Sha1,
                "281f65623f6f37ef1b143d822244db6da297bac0",
                "7957d0609f4859cf57a8e3bbc9a333f310284512",
            ),
            (
                HashAlg::Sha256,
                "6eae26a495b6234812111e94d7712882acd8100aa95603e33dedac14c1c57462",
                "8f412452759e7756daa6a7741c9d7045388778f729a70f6521b0f340e7a6985d",
            ),
        ] {
            let k = SkeyId::derive_sig(hash, &ni, &nr, &gxy, &ci, &cr);
            assert_eq!(hex::encode(&k.skeyid[..]), skeyid);
            assert_eq!(hex::encode(&k.d[..]), d);
        }
    }

    fn check(hash: HashAlg, expect: &str) {
        let (psk, ni, nr, gxy, ci, cr) = inputs();
        let k = SkeyId::derive_psk(hash, &psk, &ni, &nr, &gxy, &ci, &cr);
        let ka = phase1_enc_key(hash, &k.e, 32);
        let seed = KeymatSeed {
            gxy_qm: None,
            protocol: 3,
            spi: &[0xc0, 0xff, 0xee, 0x01],
            ni_b: &ni,
            nr_b: &nr,
        };
        let km = keymat(hash, &k.d, &seed, 52);
        let got = [&k.skeyid[..], &k.d, &k.a, &k.e, &ka, &km]
            .iter()
            .map(hex::encode)
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(got, expect);
    }

    #[test]
    fn kat_sha1() {
        check(
            HashAlg::Sha1,
            include_str!("testdata/ikev1_sha1.txt").trim(),
        );
    }

    #[test]
    fn kat_sha256() {
        check(
            HashAlg::Sha256,
            include_str!("testdata/ikev1_sha256.txt").trim(),
        );
    }

    #[test]
    fn enc_key_truncates_when_long_enough() {
        let e = [7u8; 32];
        assert_eq!(phase1_enc_key(HashAlg::Sha256, &e, 16).as_slice(), &e[..16]);
    }

    /// RFC 2202 test case 2 for HMAC-MD5 and HMAC-SHA1; RFC 4231 test case 2 for SHA-2.
    #[test]
    fn hmac_rfc_vectors() {
        let key = b"Jefe";
        let data: &[&[u8]] = &[b"what do ya want ", b"for nothing?"];
        assert_eq!(
            hex::encode(HashAlg::Md5.prf(key, data)),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hex::encode(HashAlg::Sha1.prf(key, data)),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex::encode(HashAlg::Sha256.prf(key, data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(hex::encode(HashAlg::Sha384.prf(key, data))
            .starts_with("af45d2e376484031617f78d2b58a6b1b"));
        assert!(hex::encode(HashAlg::Sha512.prf(key, data))
            .starts_with("164b7a7bfcf819e2e395fbe73b56e0a3"));
    }
}
