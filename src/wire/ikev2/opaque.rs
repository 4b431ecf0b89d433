//! Payloads whose bodies are one field each, or a small fixed part and opaque data: Key
//! Exchange (RFC 7296 §3.4), Nonce (§3.9) and Vendor ID (§3.12).

use super::writer::PayloadRepr;
use super::{be16, put, Error, PayloadType};

/// Shortest nonce RFC 7296 §3.9 allows.
pub const MIN_NONCE_LEN: usize = 16;
/// Longest nonce RFC 7296 §3.9 allows.
pub const MAX_NONCE_LEN: usize = 256;

/// A Key Exchange payload: the key exchange method (group) and the public value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeRepr<'a> {
    /// Key exchange method number (e.g. 14 MODP-2048, 19 ECP-256, 31 Curve25519).
    pub group: u16,
    /// The public key exchange data.
    pub data: &'a [u8],
}

impl<'a> KeRepr<'a> {
    /// Parses a KE body: group, two reserved bytes, data.
    pub fn parse(body: &'a [u8]) -> Result<KeRepr<'a>, Error> {
        let group = be16(body, 0).ok_or(Error::Truncated)?;
        let data = body.get(4..).ok_or(Error::Truncated)?;
        Ok(KeRepr { group, data })
    }
}

impl PayloadRepr for KeRepr<'_> {
    fn kind(&self) -> PayloadType {
        PayloadType::KE
    }

    fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        put(buf, 0, &self.group.to_be_bytes())?;
        put(buf, 2, &[0, 0])?;
        put(buf, 4, self.data)
    }
}

/// A Nonce payload (16 to 256 bytes of random data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NonceRepr<'a> {
    /// The nonce.
    pub nonce: &'a [u8],
}

impl<'a> NonceRepr<'a> {
    /// Parses a Nonce body, refusing lengths outside 16..=256.
    pub fn parse(body: &'a [u8]) -> Result<NonceRepr<'a>, Error> {
        if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&body.len()) {
            return Err(Error::BadLength);
        }
        Ok(NonceRepr { nonce: body })
    }
}

impl PayloadRepr for NonceRepr<'_> {
    fn kind(&self) -> PayloadType {
        PayloadType::NONCE
    }

    fn buffer_len(&self) -> usize {
        self.nonce.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&self.nonce.len()) {
            return Err(Error::BadLength);
        }
        put(buf, 0, self.nonce)
    }
}

/// A Vendor ID payload (an opaque identifier, usually a hash of a product string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VendorIdRepr<'a> {
    /// The vendor ID bytes.
    pub id: &'a [u8],
}

impl<'a> VendorIdRepr<'a> {
    /// Parses a Vendor ID body (any length, including empty).
    pub fn parse(body: &'a [u8]) -> Result<VendorIdRepr<'a>, Error> {
        Ok(VendorIdRepr { id: body })
    }
}

impl PayloadRepr for VendorIdRepr<'_> {
    fn kind(&self) -> PayloadType {
        PayloadType::V
    }

    fn buffer_len(&self) -> usize {
        self.id.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        put(buf, 0, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ke_by_hand_and_round_trip() {
        let b = [0, 31, 0, 0, 0xde, 0xad]; // Curve25519, reserved, 2 data bytes
        let ke = KeRepr::parse(&b).unwrap();
        assert_eq!((ke.group, ke.data), (31, &[0xde, 0xad][..]));
        let mut out = [0u8; 6];
        ke.emit(&mut out).unwrap();
        assert_eq!(out, b);
        assert_eq!(ke.emit(&mut out[..5]), Err(Error::TooLong));
        assert_eq!(KeRepr::parse(&b[..3]), Err(Error::Truncated));
    }

    #[test]
    fn nonce_length_is_bounded() {
        assert_eq!(NonceRepr::parse(&[0; 15]), Err(Error::BadLength));
        assert_eq!(NonceRepr::parse(&[0; 257]), Err(Error::BadLength));
        let n = NonceRepr::parse(&[7; 32]).unwrap();
        let mut out = [0u8; 32];
        n.emit(&mut out).unwrap();
        assert_eq!(out, [7; 32]);
        let short = NonceRepr { nonce: &[1; 8] };
        assert_eq!(short.emit(&mut out), Err(Error::BadLength));
    }

    #[test]
    fn vendor_id_round_trip() {
        let v = VendorIdRepr::parse(b"strongSwan").unwrap();
        let mut out = [0u8; 10];
        v.emit(&mut out).unwrap();
        assert_eq!(&out, b"strongSwan");
    }
}
