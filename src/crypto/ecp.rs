//! Elliptic-curve Diffie-Hellman over the NIST prime curves P-256 and P-384 (IKE groups 19 and
//! 20, RFC 5903). The two scalar multiplications of a negotiation (our public value, the shared
//! secret) run on AWS-LC (`aws-lc-rs`), whose P-256 uses a precomputed table for the generator:
//! 19 µs and 66 µs here against 172 µs and 148 µs for RustCrypto's generic `p256` arithmetic,
//! which was most of an IKE handshake's CPU (`bench/handshakes.sh`). AWS-LC's key is made once,
//! with our public value, and kept for the shared secret ([`EcdhKey`]): building it again from
//! the scalar recomputed `scalar · G` (18 of the 66 µs). RustCrypto's `p256` /
//! `p384` still reduce the injected secret, check the peer's point, and are the fallback should
//! AWS-LC refuse a key (it never should: the scalar is in range by construction), so nothing
//! here fails for want of AWS-LC. The secret comes from the caller (sans-IO): AWS-LC's own
//! random generator is never used.
//!
//! ECDSA signing ([`ecdsa_p256`], [`ecdsa_p384`]) shares the fixed-base multiplication: the
//! nonce is RFC 6979's, derived exactly as RustCrypto's `SigningKey::sign_prehash` derives it,
//! `k·G` comes from AWS-LC, and `s = k⁻¹(z + r·d)` is RustCrypto scalar arithmetic, so the
//! signature is the same, byte for byte, as RustCrypto's (deterministic, no RNG) at a fraction
//! of the cost (the tests compare the two).
//!
//! RFC 5903 encodings: a public value is the affine point as `x || y` (each coordinate
//! big-endian, padded to the field length, no SEC1 `04` prefix); the shared secret is the `x`
//! coordinate of the product point alone. A peer's point is checked to lie on the curve (and not
//! to be the point at infinity) before use.

#![deny(missing_docs)]

use zeroize::Zeroizing;

use super::dh::DhError;

/// One of the two curves, for the helpers below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

impl Curve {
    /// Field (and scalar) length in bytes.
    pub(crate) fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    /// Reduces `secret` (big-endian, exactly [`Curve::field_len`] bytes) modulo the group order
    /// and returns the scalar bytes and the public value `x || y`. A scalar that reduces to zero
    /// (probability about 2^-256 for random input) is replaced by one, so this never fails.
    #[cfg(test)]
    pub(crate) fn keypair(self, secret: &[u8]) -> (Zeroizing<Vec<u8>>, Vec<u8>) {
        let (scalar, public, _) = self.keypair_keyed(secret);
        (scalar, public)
    }

    /// [`Curve::keypair`], and AWS-LC's key for the shared secret later: made once here, it
    /// spares [`Curve::shared_secret`] recomputing `scalar · G` (18 µs on P-256) to build it.
    pub(crate) fn keypair_keyed(
        self,
        secret: &[u8],
    ) -> (Zeroizing<Vec<u8>>, Vec<u8>, Option<EcdhKey>) {
        let scalar = match self {
            Curve::P256 => p256_impl::reduce(secret),
            Curve::P384 => p384_impl::reduce(secret),
        };
        match aws_lc::keyed_public_value(self, &scalar) {
            Some((xy, key)) => (scalar, xy, Some(key)),
            None => {
                let (scalar, xy) = match self {
                    Curve::P256 => p256_impl::keypair(secret),
                    Curve::P384 => p384_impl::keypair(secret),
                };
                (scalar, xy, None)
            }
        }
    }

    /// The shared secret (the `x` coordinate) of our scalar and the peer's `x || y`, after
    /// checking that the peer's point lies on the curve. `key`: AWS-LC's key for `scalar`
    /// from [`Curve::keypair_keyed`], if there is one.
    pub(crate) fn shared_secret(
        self,
        scalar: &[u8],
        key: Option<&EcdhKey>,
        peer: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, DhError> {
        // AWS-LC refuses a point off the curve; RustCrypto then names why (`NotOnCurve`).
        if let Some(x) = aws_lc::shared_x(self, scalar, key, peer) {
            return Ok(x);
        }
        self.shared_secret_rustcrypto(scalar, peer)
    }

    /// [`Curve::shared_secret`] on RustCrypto alone (the fallback, and the reference the tests
    /// hold AWS-LC to).
    fn shared_secret_rustcrypto(
        self,
        scalar: &[u8],
        peer: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, DhError> {
        match self {
            Curve::P256 => p256_impl::shared_secret(scalar, peer),
            Curve::P384 => p384_impl::shared_secret(scalar, peer),
        }
    }

    /// Checks that `xy` (exactly `2 * field_len` bytes) is a point on the curve.
    pub(crate) fn validate_point(self, xy: &[u8]) -> Result<(), DhError> {
        match self {
            Curve::P256 => p256_impl::public_key(xy).map(|_| ()),
            Curve::P384 => p384_impl::public_key(xy).map(|_| ()),
        }
    }
}

/// The same code for both curves: each crate has its own types, so a macro instantiates it.
macro_rules! curve_impl {
    ($module:ident, $krate:ident, $uint:ident, $curve:ident, $which:expr) => {
        pub(crate) mod $module {
            use super::DhError;
            use zeroize::Zeroizing;
            use $krate::elliptic_curve::ops::Reduce;
            use $krate::elliptic_curve::sec1::ToEncodedPoint;
            // p256 takes `is_zero` from `Field`, p384 has it inherent: one of them warns.
            #[allow(unused_imports)]
            use $krate::elliptic_curve::ff::Field as _;
            use $krate::elliptic_curve::ff::PrimeField as _;
            use $krate::elliptic_curve::subtle::ConditionallySelectable as _;
            use $krate::{$uint, FieldBytes, ProjectivePoint, PublicKey, Scalar};

            /// The secret reduced modulo the group order, zero replaced by one.
            fn scalar(secret: &[u8]) -> Scalar {
                let mut bytes = FieldBytes::default();
                super::copy_right_aligned(&mut bytes, secret);
                let reduced = <Scalar as Reduce<$uint>>::reduce_bytes(&bytes);
                bytes.iter_mut().for_each(|b| *b = 0);
                Scalar::conditional_select(&reduced, &Scalar::ONE, reduced.is_zero())
            }

            /// The scalar of [`super::Curve::keypair`] as big-endian bytes of the field length.
            pub(super) fn reduce(secret: &[u8]) -> Zeroizing<Vec<u8>> {
                Zeroizing::new(scalar(secret).to_bytes().to_vec())
            }

            /// See [`super::Curve::keypair`] (RustCrypto's generic arithmetic).
            pub(super) fn keypair(secret: &[u8]) -> (Zeroizing<Vec<u8>>, Vec<u8>) {
                let scalar = scalar(secret);
                let point = (ProjectivePoint::GENERATOR * scalar).to_affine();
                let encoded = point.to_encoded_point(false);
                let xy = encoded.as_bytes().get(1..).unwrap_or_default().to_vec();
                (Zeroizing::new(scalar.to_bytes().to_vec()), xy)
            }

            /// Parses and validates an RFC 5903 `x || y` public value.
            pub(super) fn public_key(xy: &[u8]) -> Result<PublicKey, DhError> {
                let mut sec1 = Vec::with_capacity(xy.len() + 1);
                sec1.push(0x04);
                sec1.extend_from_slice(xy);
                // from_sec1_bytes checks the curve equation and rejects the identity.
                PublicKey::from_sec1_bytes(&sec1).map_err(|_| DhError::NotOnCurve)
            }

            /// See [`super::Curve::shared_secret`].
            pub(super) fn shared_secret(
                scalar: &[u8],
                peer: &[u8],
            ) -> Result<Zeroizing<Vec<u8>>, DhError> {
                let public = public_key(peer)?;
                let mut bytes = FieldBytes::default();
                super::copy_right_aligned(&mut bytes, scalar);
                let scalar = Option::<Scalar>::from(Scalar::from_repr(bytes));
                bytes.iter_mut().for_each(|b| *b = 0);
                let scalar = scalar.ok_or(DhError::OutOfRange)?;
                let product = (public.to_projective() * scalar).to_affine();
                // The identity (a zero scalar) has no x coordinate.
                let encoded = product.to_encoded_point(false);
                let x = encoded.x().ok_or(DhError::OutOfRange)?;
                Ok(Zeroizing::new(x.to_vec()))
            }

            /// ECDSA over `prehash` (see the module comment), on RustCrypto's own signing where
            /// AWS-LC refuses the nonce.
            pub(crate) fn ecdsa_sign(
                key: &$krate::ecdsa::SigningKey,
                prehash: &[u8],
            ) -> Result<$krate::ecdsa::Signature, $krate::ecdsa::Error> {
                use $krate::ecdsa::signature::hazmat::PrehashSigner;
                match ecdsa_sign_fast(key, prehash) {
                    Some(sig) => Ok(sig),
                    None => key.sign_prehash(prehash),
                }
            }

            /// `k⁻¹ mod n`, constant-time: crypto-bigint's safegcd (Bernstein–Yang), 5 µs on
            /// P-256 here against 24–28 µs for the curve crate's Fermat inversion (`k^(n-2)`).
            /// `None` for `k = 0` (which RFC 6979 never gives).
            fn invert_nonce(k: &FieldBytes, order: &FieldBytes) -> Option<Scalar> {
                use crypto_bigint::$uint as Wide;
                let n = Option::<crypto_bigint::Odd<Wide>>::from(crypto_bigint::Odd::new(
                    Wide::from_be_slice(order),
                ))?;
                let k = Zeroizing::new(Wide::from_be_slice(k));
                let inv = Zeroizing::new(Option::<Wide>::from(k.invert_odd_mod(&n))?);
                let bytes = Zeroizing::new(FieldBytes::clone_from_slice(
                    crypto_bigint::Encoding::to_be_bytes(&*inv).as_ref(),
                ));
                Option::from(Scalar::from_repr(*bytes))
            }

            /// [`ecdsa_sign`] with `k·G` on AWS-LC; `None` where AWS-LC refuses the nonce.
            pub(super) fn ecdsa_sign_fast(
                key: &$krate::ecdsa::SigningKey,
                prehash: &[u8],
            ) -> Option<$krate::ecdsa::Signature> {
                use ecdsa::hazmat::{bits2field, DigestPrimitive};
                use $krate::elliptic_curve::{Curve as _, FieldBytesEncoding as _};
                type Digest = <$krate::$curve as DigestPrimitive>::Digest;
                let d: Scalar = **key.as_nonzero_scalar();
                let z_bytes = bits2field::<$krate::$curve>(prehash).ok()?;
                let order = $krate::$curve::ORDER.encode_field_bytes();
                let d_bytes = Zeroizing::new(d.to_repr());
                let k_bytes = Zeroizing::new(rfc6979::generate_k::<Digest, _>(
                    &d_bytes,
                    &order,
                    &z_bytes,
                    &[],
                ));
                // RFC 6979 gives 0 < k < n; a k outside is refused, not reduced.
                if bool::from(Scalar::from_repr(*k_bytes).is_none()) {
                    return None;
                }
                let xy = super::aws_lc::public_value($which, &k_bytes)?;
                let mut x = FieldBytes::default();
                let n = x.len();
                x.copy_from_slice(xy.get(..n)?);
                let r = <Scalar as Reduce<$uint>>::reduce_bytes(&x);
                let z = <Scalar as Reduce<$uint>>::reduce_bytes(&z_bytes);
                let k_inv = invert_nonce(&k_bytes, &order)?;
                let s = k_inv * (z + r * d);
                // from_scalars refuses a zero r or s.
                $krate::ecdsa::Signature::from_scalars(r, s).ok()
            }
        }
    };
}

/// The two multiplications on AWS-LC; `None` where it refuses (then RustCrypto computes them).
mod aws_lc {
    use super::Curve;
    use aws_lc_rs::agreement::{self, Algorithm, PrivateKey, UnparsedPublicKey};
    use zeroize::Zeroizing;

    fn algorithm(curve: Curve) -> &'static Algorithm {
        match curve {
            Curve::P256 => &agreement::ECDH_P256,
            Curve::P384 => &agreement::ECDH_P384,
        }
    }

    /// AWS-LC's private key for a scalar, kept from our public value to the shared secret.
    pub(crate) struct EcdhKey(PrivateKey);

    /// `x || y` of `scalar · G` (`scalar` already reduced, non-zero, of the field length).
    pub(super) fn public_value(curve: Curve, scalar: &[u8]) -> Option<Vec<u8>> {
        keyed_public_value(curve, scalar).map(|(xy, _)| xy)
    }

    /// [`public_value`] and the key it was computed with.
    pub(super) fn keyed_public_value(curve: Curve, scalar: &[u8]) -> Option<(Vec<u8>, EcdhKey)> {
        let key = PrivateKey::from_private_key(algorithm(curve), scalar).ok()?;
        let public = key.compute_public_key().ok()?;
        // SEC1 uncompressed: 04 || x || y.
        let xy = public.as_ref().get(1..)?;
        (xy.len() == 2 * curve.field_len()).then(|| (xy.to_vec(), EcdhKey(key)))
    }

    /// The `x` coordinate of `scalar · peer`, `peer` being RFC 5903's `x || y`; `key` is
    /// `scalar`'s AWS-LC key when the caller kept it.
    pub(super) fn shared_x(
        curve: Curve,
        scalar: &[u8],
        key: Option<&EcdhKey>,
        peer: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let made;
        let key = match key {
            Some(EcdhKey(k)) => k,
            None => {
                made = PrivateKey::from_private_key(algorithm(curve), scalar).ok()?;
                &made
            }
        };
        let mut sec1 = Vec::with_capacity(peer.len() + 1);
        sec1.push(0x04);
        sec1.extend_from_slice(peer);
        let peer = UnparsedPublicKey::new(algorithm(curve), &sec1);
        agreement::agree(key, peer, (), |x| Ok(Zeroizing::new(x.to_vec()))).ok()
    }
}

pub(crate) use aws_lc::EcdhKey;

curve_impl!(p256_impl, p256, U256, NistP256, super::Curve::P256);
curve_impl!(p384_impl, p384, U384, NistP384, super::Curve::P384);

pub(crate) use p256_impl::ecdsa_sign as ecdsa_p256;
pub(crate) use p384_impl::ecdsa_sign as ecdsa_p384;

fn copy_right_aligned(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    let d0 = dst.len() - n;
    let s0 = src.len() - n;
    if let (Some(d), Some(s)) = (dst.get_mut(d0..), src.get(s0..)) {
        d.copy_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secrets spread over the scalar range, including the edges the reduction handles.
    fn secrets(curve: Curve) -> Vec<Vec<u8>> {
        let n = curve.field_len();
        let mut out = vec![vec![0u8; n], vec![0xff; n], vec![1u8; n]];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..24 {
            out.push(
                (0..n)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn aws_lc_agrees_with_rustcrypto() {
        for curve in [Curve::P256, Curve::P384] {
            let all = secrets(curve);
            for pair in all.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                let reference = match curve {
                    Curve::P256 => p256_impl::keypair(a),
                    Curve::P384 => p384_impl::keypair(a),
                };
                let (scalar, public, key) = curve.keypair_keyed(a);
                assert!(key.is_some(), "{curve:?}: AWS-LC keyed it");
                assert_eq!(*scalar, *reference.0, "{curve:?} scalar");
                assert_eq!(public, reference.1, "{curve:?} public value");
                assert!(aws_lc::public_value(curve, &scalar).is_some());
                let (_, peer) = curve.keypair(b);
                let fast = curve.shared_secret(&scalar, key.as_ref(), &peer).unwrap();
                let unkeyed = curve.shared_secret(&scalar, None, &peer).unwrap();
                let slow = curve.shared_secret_rustcrypto(&scalar, &peer).unwrap();
                assert_eq!(*fast, *slow, "{curve:?} shared secret");
                assert_eq!(*unkeyed, *slow, "{curve:?} shared secret, key made again");
                assert!(aws_lc::shared_x(curve, &scalar, None, &peer).is_some());
            }
        }
    }

    #[test]
    fn ecdsa_signatures_are_rustcrypto_s_byte_for_byte() {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        for curve in [Curve::P256, Curve::P384] {
            let all = secrets(curve);
            for pair in all.windows(2) {
                let (scalar, _) = curve.keypair(&pair[0]);
                // Prehashes of every length bits2field takes: short, the field's, longer.
                for len in [curve.field_len() / 2, 32, 48, 64] {
                    let prehash: Vec<u8> = pair[1].iter().cycle().take(len).copied().collect();
                    match curve {
                        Curve::P256 => {
                            let key = p256::ecdsa::SigningKey::from_slice(&scalar).unwrap();
                            let slow: p256::ecdsa::Signature = key.sign_prehash(&prehash).unwrap();
                            let fast = p256_impl::ecdsa_sign_fast(&key, &prehash);
                            assert_eq!(fast, Some(slow), "P-256 {len}");
                            assert_eq!(ecdsa_p256(&key, &prehash).ok(), Some(slow));
                        }
                        Curve::P384 => {
                            let key = p384::ecdsa::SigningKey::from_slice(&scalar).unwrap();
                            let slow: p384::ecdsa::Signature = key.sign_prehash(&prehash).unwrap();
                            let fast = p384_impl::ecdsa_sign_fast(&key, &prehash);
                            assert_eq!(fast, Some(slow), "P-384 {len}");
                            assert_eq!(ecdsa_p384(&key, &prehash).ok(), Some(slow));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn aws_lc_refuses_what_rustcrypto_refuses() {
        for curve in [Curve::P256, Curve::P384] {
            let (scalar, mut peer, key) = curve.keypair_keyed(&[0x42; 48]);
            if let Some(b) = peer.last_mut() {
                *b ^= 1;
            }
            for key in [key.as_ref(), None] {
                assert_eq!(
                    curve.shared_secret(&scalar, key, &peer),
                    Err(DhError::NotOnCurve)
                );
            }
            assert!(aws_lc::shared_x(curve, &scalar, None, &peer).is_none());
        }
    }
}
