//! Diffie-Hellman for IKE: the MODP groups of RFC 2409 (groups 1 and 2) and RFC 3526 (groups 5,
//! 14, 15, 16), with constant-time modular exponentiation from `crypto-bigint`, and Curve25519
//! (group 31, RFC 8031 encoding; strongSwan offers it in IKEv1 too) from `x25519-dalek`, and the
//! NIST curves P-256 and P-384 (groups 19 and 20, RFC 5903 encoding; see `ecp`).
//!
//! The primes below were generated from their defining formulas
//! (`p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k)`) with a short Python script and
//! compared with OpenSSL's built-in `modp_1536` … `modp_4096` parameters and with the byte
//! tables of RFC 2409 §6.1/6.2; the generator is 2 for all of them.

#![deny(missing_docs)]

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, Uint};
use zeroize::Zeroizing;

use super::ecp::Curve;

/// A Diffie-Hellman group (MODP or elliptic curve), by its IKE "Group Description" / IKEv2
/// Key Exchange transform number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhGroup {
    /// Group 1, 768-bit MODP (RFC 2409 §6.1). Weak; only for old peers.
    Modp768,
    /// Group 2, 1024-bit MODP (RFC 2409 §6.2).
    Modp1024,
    /// Group 5, 1536-bit MODP (RFC 3526 §2).
    Modp1536,
    /// Group 14, 2048-bit MODP (RFC 3526 §3).
    Modp2048,
    /// Group 15, 3072-bit MODP (RFC 3526 §4).
    Modp3072,
    /// Group 16, 4096-bit MODP (RFC 3526 §5).
    Modp4096,
    /// Group 31, Curve25519 (RFC 8031).
    Curve25519,
    /// Group 19, 256-bit random ECP group, NIST P-256 (RFC 5903).
    Ecp256,
    /// Group 20, 384-bit random ECP group, NIST P-384 (RFC 5903).
    Ecp384,
}

/// Why a Diffie-Hellman computation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DhError {
    /// The peer's public value has the wrong length for the group.
    #[error("DH public value is {got} bytes, group {group} needs {expected}")]
    BadLength {
        /// Group name.
        group: &'static str,
        /// Bytes expected (the prime's length).
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// The peer's public value is outside 1 < y < p-1 (a small-subgroup or degenerate value),
    /// or a Curve25519 value of low order.
    #[error("DH public value out of range (must satisfy 1 < y < p-1)")]
    OutOfRange,
    /// The peer's ECP public value `x || y` is not a point on the group's curve.
    #[error("ECP public value is not a point on the curve")]
    NotOnCurve,
}

impl DhGroup {
    /// Every supported group.
    pub const ALL: [DhGroup; 9] = [
        DhGroup::Modp768,
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
        DhGroup::Curve25519,
        DhGroup::Ecp256,
        DhGroup::Ecp384,
    ];

    /// The MODP groups.
    pub const MODP: [DhGroup; 6] = [
        DhGroup::Modp768,
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
    ];

    /// The IKE/IANA group number ("Group Description" attribute value).
    pub fn id(self) -> u16 {
        match self {
            DhGroup::Modp768 => 1,
            DhGroup::Modp1024 => 2,
            DhGroup::Modp1536 => 5,
            DhGroup::Modp2048 => 14,
            DhGroup::Modp3072 => 15,
            DhGroup::Modp4096 => 16,
            DhGroup::Curve25519 => 31,
            DhGroup::Ecp256 => 19,
            DhGroup::Ecp384 => 20,
        }
    }

    /// The group for an IKE group number, if supported.
    pub fn from_id(id: u16) -> Option<DhGroup> {
        DhGroup::ALL.into_iter().find(|g| g.id() == id)
    }

    /// Configuration / display name, e.g. `modp1536`.
    pub fn name(self) -> &'static str {
        match self {
            DhGroup::Modp768 => "modp768",
            DhGroup::Modp1024 => "modp1024",
            DhGroup::Modp1536 => "modp1536",
            DhGroup::Modp2048 => "modp2048",
            DhGroup::Modp3072 => "modp3072",
            DhGroup::Modp4096 => "modp4096",
            DhGroup::Curve25519 => "curve25519",
            DhGroup::Ecp256 => "ecp256",
            DhGroup::Ecp384 => "ecp384",
        }
    }

    /// Parses a configuration name (see [`DhGroup::name`]).
    pub fn from_name(s: &str) -> Option<DhGroup> {
        DhGroup::ALL.into_iter().find(|g| g.name() == s)
    }

    /// Length in bytes of public values (the prime's length for MODP, `x || y` for ECP); see
    /// [`DhGroup::shared_len`] for the shared secret.
    pub fn len(self) -> usize {
        match self {
            DhGroup::Modp768 => 96,
            DhGroup::Modp1024 => 128,
            DhGroup::Modp1536 => 192,
            DhGroup::Modp2048 => 256,
            DhGroup::Modp3072 => 384,
            DhGroup::Modp4096 => 512,
            DhGroup::Curve25519 => 32,
            DhGroup::Ecp256 => 64,
            DhGroup::Ecp384 => 96,
        }
    }

    /// Length in bytes of the shared secret: the public value's length, except for ECP where
    /// it is the `x` coordinate alone (RFC 5903 §7).
    pub fn shared_len(self) -> usize {
        match self.curve() {
            Some(c) => c.field_len(),
            None => self.len(),
        }
    }

    /// The NIST curve of an ECP group.
    fn curve(self) -> Option<Curve> {
        match self {
            DhGroup::Ecp256 => Some(Curve::P256),
            DhGroup::Ecp384 => Some(Curve::P384),
            _ => None,
        }
    }

    /// Always false: a group has a non-zero length (present for clippy's `len_without_is_empty`).
    pub fn is_empty(self) -> bool {
        false
    }

    /// Length of the private exponent we draw, in bytes: twice the group's symmetric strength
    /// rounded up (RFC 3526 §8), so exponentiation stays fast.
    pub fn secret_len(self) -> usize {
        match self {
            DhGroup::Modp768
            | DhGroup::Modp1024
            | DhGroup::Modp1536
            | DhGroup::Modp2048
            | DhGroup::Curve25519
            | DhGroup::Ecp256 => 32,
            DhGroup::Modp3072 | DhGroup::Ecp384 => 48,
            DhGroup::Modp4096 => 64,
        }
    }

    fn prime_hex(self) -> &'static str {
        match self {
            DhGroup::Modp768 => MODP768_HEX,
            DhGroup::Modp1024 => MODP1024_HEX,
            DhGroup::Modp1536 => MODP1536_HEX,
            DhGroup::Modp2048 => MODP2048_HEX,
            DhGroup::Modp3072 => MODP3072_HEX,
            DhGroup::Modp4096 => MODP4096_HEX,
            DhGroup::Curve25519 | DhGroup::Ecp256 | DhGroup::Ecp384 => "",
        }
    }

    /// The MODP prime as big-endian bytes (empty for the elliptic-curve groups).
    pub fn prime(self) -> Vec<u8> {
        decode_hex(self.prime_hex())
    }

    /// `base^exp mod p` for a public base (big-endian, exactly [`DhGroup::len`] bytes) and a
    /// secret exponent of [`DhGroup::secret_len`] bytes. Constant time in the exponent.
    fn modexp(self, base: &[u8], exp: &[u8]) -> Zeroizing<Vec<u8>> {
        let hex = self.prime_hex();
        match self {
            DhGroup::Modp768 => modexp::<12, 4>(hex, base, exp),
            DhGroup::Modp1024 => modexp::<16, 4>(hex, base, exp),
            DhGroup::Modp1536 => modexp::<24, 4>(hex, base, exp),
            DhGroup::Modp2048 => modexp::<32, 4>(hex, base, exp),
            DhGroup::Modp3072 => modexp::<48, 6>(hex, base, exp),
            DhGroup::Modp4096 => modexp::<64, 8>(hex, base, exp),
            DhGroup::Curve25519 => {
                let mut k = [0u8; 32];
                let mut u = [0u8; 32];
                copy_right_aligned(&mut k, exp);
                copy_right_aligned(&mut u, base);
                let r = Zeroizing::new(x25519_dalek::x25519(k, u).to_vec());
                k.fill(0);
                r
            }
            // ECP arithmetic lives in `ecp`; `from_secret` and `shared_secret` never get here.
            DhGroup::Ecp256 | DhGroup::Ecp384 => Zeroizing::new(Vec::new()),
        }
    }

    /// Checks a peer's public value: exact length, and for MODP 1 < y < p-1 (RFC 2631 style
    /// validation), for ECP a point on the curve (RFC 5903 §7 / SP 800-56A partial validation).
    /// Curve25519 values are checked on use (no all-zero shared secret).
    pub fn validate_public(self, y: &[u8]) -> Result<(), DhError> {
        if y.len() != self.len() {
            return Err(DhError::BadLength {
                group: self.name(),
                expected: self.len(),
                got: y.len(),
            });
        }
        if self == DhGroup::Curve25519 {
            return Ok(());
        }
        if let Some(c) = self.curve() {
            return c.validate_point(y);
        }
        // Public values are public: a variable-time byte comparison is fine.
        let p = self.prime();
        let mut p_minus_1 = p.clone();
        if let Some(last) = p_minus_1.last_mut() {
            *last = last.wrapping_sub(1); // p is odd, so no borrow
        }
        let mut one = vec![0u8; y.len()];
        if let Some(last) = one.last_mut() {
            *last = 1;
        }
        if y <= one.as_slice() || y >= p_minus_1.as_slice() {
            return Err(DhError::OutOfRange);
        }
        Ok(())
    }
}

/// Our half of a Diffie-Hellman exchange: the secret exponent and the public value `g^x mod p`.
pub struct DhPrivate {
    group: DhGroup,
    secret: Zeroizing<Vec<u8>>,
    public: Vec<u8>,
    /// ECP: AWS-LC's key for `secret`, made with the public value and used for the shared
    /// secret (`crypto::ecp`).
    ecdh: Option<super::ecp::EcdhKey>,
}

impl std::fmt::Debug for DhPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhPrivate")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl DhPrivate {
    /// Builds a key pair from secret bytes (from the caller's random source). `secret` is used
    /// as the exponent; it is truncated or zero-extended to [`DhGroup::secret_len`] bytes. For
    /// ECP it is the big-endian scalar, reduced modulo the group order (RFC 5903 test vectors
    /// pass their `i` / `r` unchanged).
    pub fn from_secret(group: DhGroup, secret: &[u8]) -> DhPrivate {
        let n = group.secret_len();
        let mut x = Zeroizing::new(vec![0u8; n]);
        let take = secret.len().min(n);
        if let (Some(dst), Some(src)) = (x.get_mut(n - take..), secret.get(..take)) {
            dst.copy_from_slice(src);
        }
        if let Some(c) = group.curve() {
            let (secret, public, ecdh) = c.keypair_keyed(&x);
            return DhPrivate {
                group,
                secret,
                public,
                ecdh,
            };
        }
        let mut g = vec![0u8; group.len()];
        if group == DhGroup::Curve25519 {
            // RFC 7748: little-endian scalars, clamped by x25519(); the base point u = 9.
            x.reverse();
            g = x25519_dalek::X25519_BASEPOINT_BYTES.to_vec();
        } else {
            // Make sure the exponent is not tiny: set the top bit.
            if let Some(b) = x.first_mut() {
                *b |= 0x80;
            }
            if let Some(last) = g.last_mut() {
                *last = 2;
            }
        }
        let public = group.modexp(&g, &x).to_vec();
        DhPrivate {
            group,
            secret: x,
            public,
            ecdh: None,
        }
    }

    /// The group of this key.
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// Our public value `g^x mod p`, big-endian, padded to the prime's length (the KE payload).
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// The shared secret `g^xy mod p` (big-endian, padded to the prime's length; for ECP the
    /// `x` coordinate, [`DhGroup::shared_len`] bytes) for the peer's public value, after
    /// validating it.
    pub fn shared_secret(&self, peer_public: &[u8]) -> Result<Zeroizing<Vec<u8>>, DhError> {
        self.group.validate_public(peer_public)?;
        if let Some(c) = self.group.curve() {
            return c.shared_secret(&self.secret, self.ecdh.as_ref(), peer_public);
        }
        let s = self.group.modexp(peer_public, &self.secret);
        if self.group == DhGroup::Curve25519 && s.iter().all(|b| *b == 0) {
            // A low-order point: no contribution from the peer (RFC 7748 §6.1).
            return Err(DhError::OutOfRange);
        }
        Ok(s)
    }
}

fn modexp<const L: usize, const E: usize>(
    prime_hex: &str,
    base: &[u8],
    exp: &[u8],
) -> Zeroizing<Vec<u8>> {
    let p = Uint::<L>::from_be_hex(prime_hex);
    // The prime is a compile-time constant and odd; `Odd::new` cannot fail for it.
    let p = Odd::new(p).expect("MODP primes are odd");
    let params = FixedMontyParams::new_vartime(p);
    let mut b = Zeroizing::new([0u8; 512]);
    let mut e = Zeroizing::new([0u8; 64]);
    let (bn, en) = (L * 8, E * 8);
    // Right-align into exactly-sized buffers (callers pass exact lengths; be safe anyway).
    copy_right_aligned(&mut b[..bn], base);
    copy_right_aligned(&mut e[..en], exp);
    let base = Uint::<L>::from_be_slice(&b[..bn]);
    let exp = Zeroizing::new(Uint::<E>::from_be_slice(&e[..en]));
    let r = FixedMontyForm::new(&base, &params).pow(&exp).retrieve();
    Zeroizing::new(r.to_be_bytes().as_ref().to_vec())
}

fn copy_right_aligned(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    let d0 = dst.len() - n;
    let s0 = src.len() - n;
    if let (Some(d), Some(s)) = (dst.get_mut(d0..), src.get(s0..)) {
        d.copy_from_slice(s);
    }
}

fn decode_hex(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    b.chunks(2)
        .map(|c| {
            let v = |x: u8| match x {
                b'0'..=b'9' => x - b'0',
                b'a'..=b'f' => x - b'a' + 10,
                b'A'..=b'F' => x - b'A' + 10,
                _ => 0,
            };
            match c {
                [h, l] => (v(*h) << 4) | v(*l),
                _ => 0,
            }
        })
        .collect()
}

/// MODP 768-bit prime.
const MODP768_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF",
);

/// MODP 1024-bit prime.
const MODP1024_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
);

/// MODP 1536-bit prime.
const MODP1536_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
);

/// MODP 2048-bit prime.
const MODP2048_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
);

/// MODP 3072-bit prime.
const MODP3072_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// MODP 4096-bit prime.
const MODP4096_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7",
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8",
    "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2",
    "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9",
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes_have_the_right_length_and_shape() {
        for g in DhGroup::MODP {
            let p = g.prime();
            assert_eq!(p.len(), g.len(), "{}", g.name());
            assert_eq!(&p[..8], &[0xff; 8]);
            assert_eq!(&p[p.len() - 8..], &[0xff; 8]);
            assert_eq!(&p[8..12], &[0xc9, 0x0f, 0xda, 0xa2]);
        }
        // Tail bytes checked against RFC 2409 §6.1 / §6.2 and RFC 3526.
        let tail = |g: DhGroup| hex::encode(&g.prime()[g.len() - 12..g.len() - 8]);
        assert_eq!(tail(DhGroup::Modp768), "a63a3620");
        assert_eq!(tail(DhGroup::Modp1024), "ece65381");
        assert_eq!(tail(DhGroup::Modp1536), "ca237327");
        assert_eq!(tail(DhGroup::Modp2048), "8aacaa68");
        assert_eq!(tail(DhGroup::Modp3072), "a93ad2ca");
        assert_eq!(tail(DhGroup::Modp4096), "34063199");
    }

    #[test]
    fn agreement_in_every_group() {
        for g in DhGroup::ALL {
            let a = DhPrivate::from_secret(g, &[0x11; 64]);
            let b = DhPrivate::from_secret(g, &[0x22; 64]);
            let s1 = a.shared_secret(b.public_value()).unwrap();
            let s2 = b.shared_secret(a.public_value()).unwrap();
            assert_eq!(s1.as_slice(), s2.as_slice(), "{}", g.name());
            assert_eq!(s1.len(), g.shared_len());
        }
    }

    /// Known answer: `from_secret(modp1024, [0x80])` right-aligns the byte and sets the top bit,
    /// so x = 2^255 + 0x80. The expected value was computed with Python:
    /// `format(pow(2, 2**255 + 128, p), '0256x')`.
    #[test]
    fn kat_modp1024_public_value() {
        let k = DhPrivate::from_secret(DhGroup::Modp1024, &[0x80]);
        assert_eq!(
            hex::encode(k.public_value()),
            include_str!("testdata/modp1024_pub.hex").trim()
        );
    }

    /// RFC 7748 §6.1 test vector (Alice and Bob).
    #[test]
    fn curve25519_rfc7748() {
        // from_secret reverses the bytes (we draw big-endian-style random bytes), so pass the
        // RFC's little-endian scalar reversed.
        let mut a = hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
            .unwrap();
        a.reverse();
        let k = DhPrivate::from_secret(DhGroup::Curve25519, &a);
        assert_eq!(
            hex::encode(k.public_value()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
        let bob = hex::decode("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
            .unwrap();
        assert_eq!(
            hex::encode(k.shared_secret(&bob).unwrap()),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
        );
        assert_eq!(k.shared_secret(&[0u8; 32]), Err(DhError::OutOfRange));
        assert!(matches!(
            k.shared_secret(&[1u8; 31]),
            Err(DhError::BadLength { .. })
        ));
    }

    #[test]
    fn rejects_degenerate_public_values() {
        let g = DhGroup::Modp1536;
        let k = DhPrivate::from_secret(g, &[7; 32]);
        let mut one = vec![0u8; g.len()];
        one[g.len() - 1] = 1;
        assert_eq!(k.shared_secret(&one), Err(DhError::OutOfRange));
        assert_eq!(
            k.shared_secret(&vec![0u8; g.len()]),
            Err(DhError::OutOfRange)
        );
        let mut pm1 = g.prime();
        pm1[g.len() - 1] -= 1;
        assert_eq!(k.shared_secret(&pm1), Err(DhError::OutOfRange));
        assert_eq!(k.shared_secret(&g.prime()), Err(DhError::OutOfRange));
        assert!(matches!(
            k.shared_secret(&[5u8; 10]),
            Err(DhError::BadLength { .. })
        ));
        let mut two = vec![0u8; g.len()];
        two[g.len() - 1] = 2;
        assert!(k.shared_secret(&two).is_ok());
    }

    /// RFC 5903 §8.1 (256-bit random ECP group) and §8.2 (384-bit): `i`, `g^i`, `r`, `g^r` and
    /// the x coordinate of `g^ir`.
    const RFC5903: [(DhGroup, [&str; 5]); 2] = [
        (
            DhGroup::Ecp256,
            [
                "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
                "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180\
                 5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
                "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
                "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63\
                 56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
                "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de",
            ],
        ),
        (
            DhGroup::Ecp384,
            [
                "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655\
                 e35b538041e649ee3faef896783ab194",
                "667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6\
                 de3ac808acb4bdb4c88732aee95f41aa9482ed1fc0eeb9cafc4984625ccfc23f\
                 65032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c634573a81c",
                "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942\
                 e0308312916b8ed2960e4bd55a7448fc",
                "e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d\
                 0d1ac43a0336def96fda41d0774a3571dcfbec7aacf3196472169e838430367f\
                 66eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96db9e6386c",
                "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4\
                 d603135569b9e9d09cf5d4a270f59746",
            ],
        ),
    ];

    #[test]
    fn ecp_rfc5903_vectors() {
        for (g, [i, gi, r, gr, gir]) in RFC5903 {
            let ki = DhPrivate::from_secret(g, &hex::decode(i).unwrap());
            let kr = DhPrivate::from_secret(g, &hex::decode(r).unwrap());
            assert_eq!(hex::encode(ki.public_value()), gi, "{}", g.name());
            assert_eq!(hex::encode(kr.public_value()), gr, "{}", g.name());
            let s1 = ki.shared_secret(kr.public_value()).unwrap();
            let s2 = kr.shared_secret(ki.public_value()).unwrap();
            assert_eq!(hex::encode(&s1), gir, "{}", g.name());
            assert_eq!(s1.as_slice(), s2.as_slice());
            assert_eq!(s1.len(), g.shared_len());
        }
    }

    #[test]
    fn ecp_ids_and_names() {
        assert_eq!(DhGroup::from_id(19), Some(DhGroup::Ecp256));
        assert_eq!(DhGroup::from_id(20), Some(DhGroup::Ecp384));
        assert_eq!(DhGroup::from_name("ecp256"), Some(DhGroup::Ecp256));
        assert_eq!(DhGroup::from_name("ecp384"), Some(DhGroup::Ecp384));
        assert_eq!((DhGroup::Ecp256.len(), DhGroup::Ecp384.len()), (64, 96));
    }

    #[test]
    fn ecp_rejects_points_off_the_curve() {
        for g in [DhGroup::Ecp256, DhGroup::Ecp384] {
            let k = DhPrivate::from_secret(g, &[0x42; 48]);
            let peer = DhPrivate::from_secret(g, &[0x17; 48]);
            let mut bad = peer.public_value().to_vec();
            let last = bad.len() - 1;
            bad[last] ^= 1; // y no longer matches x
            assert_eq!(k.shared_secret(&bad), Err(DhError::NotOnCurve));
            assert_eq!(g.validate_public(&bad), Err(DhError::NotOnCurve));
            // The point at infinity has no affine encoding; all zeros is not on the curve.
            assert!(k.shared_secret(&vec![0u8; g.len()]).is_err());
            assert!(k.shared_secret(&vec![0xffu8; g.len()]).is_err());
            assert!(matches!(
                k.shared_secret(&bad[1..]),
                Err(DhError::BadLength { .. })
            ));
            assert!(k.shared_secret(peer.public_value()).is_ok());
        }
    }

    #[test]
    fn ecp_zero_scalar_does_not_panic() {
        let k = DhPrivate::from_secret(DhGroup::Ecp256, &[0u8; 32]);
        assert_eq!(k.public_value().len(), 64);
    }
}
