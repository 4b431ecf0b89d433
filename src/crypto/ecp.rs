//! Elliptic-curve Diffie-Hellman over the NIST prime curves P-256 and P-384 (IKE groups 19 and
//! 20, RFC 5903), on RustCrypto's `p256` / `p384`.
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
    pub(crate) fn keypair(self, secret: &[u8]) -> (Zeroizing<Vec<u8>>, Vec<u8>) {
        match self {
            Curve::P256 => p256_impl::keypair(secret),
            Curve::P384 => p384_impl::keypair(secret),
        }
    }

    /// The shared secret (the `x` coordinate) of our scalar and the peer's `x || y`, after
    /// checking that the peer's point lies on the curve.
    pub(crate) fn shared_secret(
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
    ($module:ident, $krate:ident, $uint:ident) => {
        mod $module {
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

            /// See [`super::Curve::keypair`].
            pub(super) fn keypair(secret: &[u8]) -> (Zeroizing<Vec<u8>>, Vec<u8>) {
                let mut bytes = FieldBytes::default();
                super::copy_right_aligned(&mut bytes, secret);
                let reduced = <Scalar as Reduce<$uint>>::reduce_bytes(&bytes);
                bytes.iter_mut().for_each(|b| *b = 0);
                let scalar = Scalar::conditional_select(&reduced, &Scalar::ONE, reduced.is_zero());
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
        }
    };
}

curve_impl!(p256_impl, p256, U256);
curve_impl!(p384_impl, p384, U384);

fn copy_right_aligned(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    let d0 = dst.len() - n;
    let s0 = src.len() - n;
    if let (Some(d), Some(s)) = (dst.get_mut(d0..), src.get(s0..)) {
        d.copy_from_slice(s);
    }
}
