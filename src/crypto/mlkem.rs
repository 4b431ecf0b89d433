//! ML-KEM (FIPS 203) as an IKEv2 key exchange method (RFC 9370 additional key exchanges,
//! transform type 4 IDs 35–37 of the IANA "IKEv2 Parameters" registry). The initiator sends an
//! encapsulation key in its KE payload, the responder answers with a ciphertext; both end with a
//! 32-byte shared secret. Built on RustCrypto `ml-kem` (see the README's crate table for why).
//!
//! Randomness comes from the caller as bytes (`d`, `z` for key generation, `m` for
//! encapsulation), so the engine stays sans-IO and seeded tests are reproducible.

use std::fmt;

use ml_kem::kem::Decapsulate;
use ml_kem::{
    Ciphertext, EncapsulateDeterministic, Encoded, EncodedSizeUser, KemCore, MlKem1024, MlKem512,
    MlKem768, B32,
};
use zeroize::Zeroizing;

/// An ML-KEM parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KemAlg {
    /// ML-KEM-512 (security category 1).
    MlKem512,
    /// ML-KEM-768 (category 3).
    MlKem768,
    /// ML-KEM-1024 (category 5).
    MlKem1024,
}

/// Why an ML-KEM operation refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KemError {
    /// A key or ciphertext of the wrong length.
    #[error("{what} of {alg} must be {want} bytes, got {got}")]
    Length {
        /// Which value.
        what: &'static str,
        /// The parameter set.
        alg: &'static str,
        /// Its length.
        want: usize,
        /// What arrived.
        got: usize,
    },
    /// An encapsulation key with a coefficient ≥ q (FIPS 203 §7.2 modulus check).
    #[error("the {0} encapsulation key fails the FIPS 203 modulus check")]
    Modulus(&'static str),
}

impl KemAlg {
    /// Every parameter set, weakest first.
    pub const ALL: [KemAlg; 3] = [KemAlg::MlKem512, KemAlg::MlKem768, KemAlg::MlKem1024];

    /// Transform type 4 (key exchange method) ID for IKEv2 (IANA: 35, 36, 37).
    pub fn id(self) -> u16 {
        match self {
            KemAlg::MlKem512 => 35,
            KemAlg::MlKem768 => 36,
            KemAlg::MlKem1024 => 37,
        }
    }

    /// The parameter set of a transform ID.
    pub fn from_id(id: u16) -> Option<KemAlg> {
        KemAlg::ALL.into_iter().find(|k| k.id() == id)
    }

    /// Configuration and strongSwan name (`mlkem768`).
    pub fn name(self) -> &'static str {
        match self {
            KemAlg::MlKem512 => "mlkem512",
            KemAlg::MlKem768 => "mlkem768",
            KemAlg::MlKem1024 => "mlkem1024",
        }
    }

    /// The parameter set of a configuration name.
    pub fn from_name(s: &str) -> Option<KemAlg> {
        KemAlg::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Length of the encapsulation key (the initiator's KE data).
    pub fn public_len(self) -> usize {
        match self {
            KemAlg::MlKem512 => 800,
            KemAlg::MlKem768 => 1184,
            KemAlg::MlKem1024 => 1568,
        }
    }

    /// Length of the ciphertext (the responder's KE data).
    pub fn ciphertext_len(self) -> usize {
        match self {
            KemAlg::MlKem512 => 768,
            KemAlg::MlKem768 => 1088,
            KemAlg::MlKem1024 => 1568,
        }
    }

    fn fips_name(self) -> &'static str {
        match self {
            KemAlg::MlKem512 => "ML-KEM-512",
            KemAlg::MlKem768 => "ML-KEM-768",
            KemAlg::MlKem1024 => "ML-KEM-1024",
        }
    }
}

/// The decapsulation key of one exchange (zeroized on drop by the crate), with its public half.
pub struct KemPrivate {
    alg: KemAlg,
    dk: Dk,
    public: Vec<u8>,
}

enum Dk {
    K512(Box<<MlKem512 as KemCore>::DecapsulationKey>),
    K768(Box<<MlKem768 as KemCore>::DecapsulationKey>),
    K1024(Box<<MlKem1024 as KemCore>::DecapsulationKey>),
}

impl fmt::Debug for KemPrivate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemPrivate")
            .field("alg", &self.alg)
            .field("dk", &format_args!("<redacted>"))
            .finish()
    }
}

fn b32(x: &[u8; 32]) -> B32 {
    B32::from(*x)
}

fn keygen<K: KemCore>(d: &[u8; 32], z: &[u8; 32]) -> (K::DecapsulationKey, Vec<u8>) {
    let (dk, ek) = K::generate_deterministic(&b32(d), &b32(z));
    let public = ek.as_bytes().to_vec();
    (dk, public)
}

impl KemPrivate {
    /// ML-KEM.KeyGen_internal(d, z) (FIPS 203 Algorithm 16); `d` and `z` must be fresh random.
    pub fn from_seed(alg: KemAlg, d: &[u8; 32], z: &[u8; 32]) -> KemPrivate {
        let (dk, public) = match alg {
            KemAlg::MlKem512 => {
                let (dk, p) = keygen::<MlKem512>(d, z);
                (Dk::K512(Box::new(dk)), p)
            }
            KemAlg::MlKem768 => {
                let (dk, p) = keygen::<MlKem768>(d, z);
                (Dk::K768(Box::new(dk)), p)
            }
            KemAlg::MlKem1024 => {
                let (dk, p) = keygen::<MlKem1024>(d, z);
                (Dk::K1024(Box::new(dk)), p)
            }
        };
        KemPrivate { alg, dk, public }
    }

    /// The parameter set.
    pub fn alg(&self) -> KemAlg {
        self.alg
    }

    /// The encapsulation key, as sent in the KE payload.
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// ML-KEM.Decaps: the shared secret of the peer's ciphertext (a wrong but well-formed
    /// ciphertext yields an unrelated secret, FIPS 203 implicit rejection).
    pub fn decapsulate(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, KemError> {
        match &self.dk {
            Dk::K512(dk) => decaps::<MlKem512>(self.alg, dk, ct),
            Dk::K768(dk) => decaps::<MlKem768>(self.alg, dk, ct),
            Dk::K1024(dk) => decaps::<MlKem1024>(self.alg, dk, ct),
        }
    }

    /// The decapsulation key's encoding (tests compare it with FIPS 203 vectors).
    #[cfg(test)]
    fn dk_bytes(&self) -> Vec<u8> {
        match &self.dk {
            Dk::K512(dk) => dk.as_bytes().to_vec(),
            Dk::K768(dk) => dk.as_bytes().to_vec(),
            Dk::K1024(dk) => dk.as_bytes().to_vec(),
        }
    }
}

fn decaps<K: KemCore>(
    alg: KemAlg,
    dk: &K::DecapsulationKey,
    ct: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KemError> {
    let c = Ciphertext::<K>::try_from(ct).map_err(|_| KemError::Length {
        what: "the ciphertext",
        alg: alg.fips_name(),
        want: alg.ciphertext_len(),
        got: ct.len(),
    })?;
    // Decapsulation of a well-formed ciphertext cannot fail (implicit rejection).
    let k = dk.decapsulate(&c).unwrap_or_default();
    Ok(Zeroizing::new(k.to_vec()))
}

/// ML-KEM.Encaps_internal(ek, m) (FIPS 203 Algorithm 17) after the encapsulation key check:
/// `(ciphertext, shared secret)`. `m` must be fresh random.
pub fn encapsulate(
    alg: KemAlg,
    ek: &[u8],
    m: &[u8; 32],
) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), KemError> {
    match alg {
        KemAlg::MlKem512 => encaps::<MlKem512>(alg, ek, m),
        KemAlg::MlKem768 => encaps::<MlKem768>(alg, ek, m),
        KemAlg::MlKem1024 => encaps::<MlKem1024>(alg, ek, m),
    }
}

fn encaps<K: KemCore>(
    alg: KemAlg,
    ek: &[u8],
    m: &[u8; 32],
) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), KemError> {
    let enc = Encoded::<K::EncapsulationKey>::try_from(ek).map_err(|_| KemError::Length {
        what: "the encapsulation key",
        alg: alg.fips_name(),
        want: alg.public_len(),
        got: ek.len(),
    })?;
    let key = K::EncapsulationKey::from_bytes(&enc);
    // FIPS 203 §7.2: decoding then encoding must give the input back (no coefficient ≥ q).
    if key.as_bytes() != enc {
        return Err(KemError::Modulus(alg.fips_name()));
    }
    let (ct, k) = key
        .encapsulate_deterministic(&b32(m))
        .map_err(|_| KemError::Modulus(alg.fips_name()))?;
    Ok((ct.to_vec(), Zeroizing::new(k.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `key = value` block of `testdata/mlkem_acvp.txt`.
    struct Vector {
        fields: Vec<(String, String)>,
    }

    impl Vector {
        fn get(&self, k: &str) -> Vec<u8> {
            let v = self.fields.iter().find(|(n, _)| n == k).expect(k);
            hex::decode(&v.1).expect("hex")
        }
        fn text(&self, k: &str) -> &str {
            &self.fields.iter().find(|(n, _)| n == k).expect(k).1
        }
        fn alg(&self) -> KemAlg {
            KemAlg::ALL
                .into_iter()
                .find(|a| a.fips_name() == self.text("set"))
                .expect("set")
        }
    }

    fn vectors(kind: &str) -> Vec<Vector> {
        include_str!("testdata/mlkem_acvp.txt")
            .split("\n\n")
            .map(|block| Vector {
                fields: block
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .filter_map(|l| l.split_once(" = "))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            })
            .filter(|v| v.fields.iter().any(|(k, x)| k == "kind" && x == kind))
            .collect()
    }

    fn arr(v: Vec<u8>) -> [u8; 32] {
        v.try_into().expect("32 bytes")
    }

    #[test]
    fn fips203_keygen_vectors() {
        let vs = vectors("keygen");
        assert_eq!(vs.len(), 3);
        for v in vs {
            let k = KemPrivate::from_seed(v.alg(), &arr(v.get("d")), &arr(v.get("z")));
            assert_eq!(k.public_value(), v.get("ek"), "{:?} ek", v.alg());
            assert_eq!(k.public_value().len(), v.alg().public_len());
            assert_eq!(k.dk_bytes(), v.get("dk"), "{:?} dk", v.alg());
        }
    }

    #[test]
    fn fips203_encapsulation_vectors() {
        let vs = vectors("encaps");
        assert_eq!(vs.len(), 3);
        for v in vs {
            let (c, k) = encapsulate(v.alg(), &v.get("ek"), &arr(v.get("m"))).unwrap();
            assert_eq!(c, v.get("c"), "{:?} c", v.alg());
            assert_eq!(c.len(), v.alg().ciphertext_len());
            assert_eq!(k.as_slice(), v.get("k"), "{:?} k", v.alg());
        }
    }

    /// Decapsulation with a dk from the vectors: the valid case and implicit rejection of a
    /// modified ciphertext (an unrelated key, no error).
    #[test]
    fn fips203_decapsulation_vectors() {
        let vs = vectors("decaps");
        assert_eq!(vs.len(), 6);
        for v in vs {
            let alg = v.alg();
            let dk = v.get("dk");
            let k = match alg {
                KemAlg::MlKem512 => decaps_with::<MlKem512>(alg, &dk, &v.get("c")),
                KemAlg::MlKem768 => decaps_with::<MlKem768>(alg, &dk, &v.get("c")),
                KemAlg::MlKem1024 => decaps_with::<MlKem1024>(alg, &dk, &v.get("c")),
            };
            assert_eq!(k.as_slice(), v.get("k"), "{alg:?}");
        }
    }

    fn decaps_with<K: KemCore>(alg: KemAlg, dk: &[u8], ct: &[u8]) -> Zeroizing<Vec<u8>> {
        let enc = Encoded::<K::DecapsulationKey>::try_from(dk).unwrap();
        decaps::<K>(alg, &K::DecapsulationKey::from_bytes(&enc), ct).unwrap()
    }

    #[test]
    fn round_trip_and_tamper() {
        for alg in KemAlg::ALL {
            let k = KemPrivate::from_seed(alg, &[1; 32], &[2; 32]);
            let (c, s1) = encapsulate(alg, k.public_value(), &[3; 32]).unwrap();
            assert_eq!(k.decapsulate(&c).unwrap(), s1);
            let mut bad = c.clone();
            bad[0] ^= 1;
            assert_ne!(k.decapsulate(&bad).unwrap(), s1);
            assert!(k.decapsulate(&c[1..]).is_err());
            assert!(encapsulate(alg, &k.public_value()[1..], &[3; 32]).is_err());
            // A coefficient 0xfff ≥ q in the first position fails the modulus check.
            let mut ek = k.public_value().to_vec();
            ek[0] = 0xff;
            ek[1] |= 0x0f;
            assert_eq!(
                encapsulate(alg, &ek, &[3; 32]),
                Err(KemError::Modulus(alg.fips_name()))
            );
            assert!(format!("{k:?}").contains("<redacted>"));
        }
    }

    #[test]
    fn names_and_ids() {
        for alg in KemAlg::ALL {
            assert_eq!(KemAlg::from_id(alg.id()), Some(alg));
            assert_eq!(KemAlg::from_name(alg.name()), Some(alg));
        }
        assert_eq!(KemAlg::MlKem768.id(), 36);
        assert_eq!(KemAlg::from_id(31), None);
    }
}
