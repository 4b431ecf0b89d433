//! Identification (RFC 7296 §3.5) and Authentication (§3.8) payloads: a type byte, three
//! reserved bytes and data.

use super::writer::PayloadRepr;
use super::{put, Error, PayloadType};

open_enum! {
    /// Identification type (RFC 7296 §3.5).
    IdType(u8) {
        /// One IPv4 address.
        IPV4_ADDR = 1,
        /// A fully-qualified domain name.
        FQDN = 2,
        /// An RFC 822 e-mail address.
        RFC822_ADDR = 3,
        /// One IPv6 address.
        IPV6_ADDR = 5,
        /// A DER-encoded X.500 distinguished name.
        DER_ASN1_DN = 9,
        /// A DER-encoded X.500 general name.
        DER_ASN1_GN = 10,
        /// An opaque key identifier.
        KEY_ID = 11,
    }
}

open_enum! {
    /// Authentication method (RFC 7296 §3.8, RFC 4754, RFC 7427).
    AuthMethod(u8) {
        /// RSA digital signature.
        RSA = 1,
        /// Shared key message integrity code.
        PSK = 2,
        /// DSS digital signature.
        DSS = 3,
        /// ECDSA with SHA-256 on P-256.
        ECDSA_256 = 9,
        /// ECDSA with SHA-384 on P-384.
        ECDSA_384 = 10,
        /// ECDSA with SHA-512 on P-521.
        ECDSA_521 = 11,
        /// Digital signature (RFC 7427).
        DIGITAL_SIGNATURE = 14,
    }
}

/// Which end a payload names: IDi/TSi belong to the initiator, IDr/TSr to the responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The initiator (IDi, TSi).
    Initiator,
    /// The responder (IDr, TSr).
    Responder,
}

/// Parses `type | reserved(3) | data`.
fn typed(body: &[u8]) -> Result<(u8, &[u8]), Error> {
    let t = *body.first().ok_or(Error::Truncated)?;
    Ok((t, body.get(4..).ok_or(Error::Truncated)?))
}

fn emit_typed(buf: &mut [u8], t: u8, data: &[u8]) -> Result<(), Error> {
    put(buf, 0, &[t, 0, 0, 0])?;
    put(buf, 4, data)
}

/// An IDi or IDr payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdRepr<'a> {
    /// Initiator's (IDi) or responder's (IDr).
    pub side: Side,
    /// Identification type.
    pub id_type: IdType,
    /// The identity (address bytes, name, DER …); IPv4/IPv6 lengths are checked.
    pub data: &'a [u8],
}

impl<'a> IdRepr<'a> {
    /// Parses an ID body for `side`.
    pub fn parse(side: Side, body: &'a [u8]) -> Result<IdRepr<'a>, Error> {
        let (t, data) = typed(body)?;
        let id_type = IdType(t);
        let want = match id_type {
            IdType::IPV4_ADDR => Some(4),
            IdType::IPV6_ADDR => Some(16),
            _ => None,
        };
        if want.is_some_and(|n| n != data.len()) {
            return Err(Error::BadLength);
        }
        Ok(IdRepr {
            side,
            id_type,
            data,
        })
    }
}

impl PayloadRepr for IdRepr<'_> {
    fn kind(&self) -> PayloadType {
        match self.side {
            Side::Initiator => PayloadType::IDI,
            Side::Responder => PayloadType::IDR,
        }
    }

    fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        emit_typed(buf, self.id_type.0, self.data)
    }
}

/// An AUTH payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthRepr<'a> {
    /// Authentication method.
    pub method: AuthMethod,
    /// The authentication data (MAC or signature).
    pub data: &'a [u8],
}

impl<'a> AuthRepr<'a> {
    /// Parses an AUTH body.
    pub fn parse(body: &'a [u8]) -> Result<AuthRepr<'a>, Error> {
        let (t, data) = typed(body)?;
        Ok(AuthRepr {
            method: AuthMethod(t),
            data,
        })
    }
}

impl PayloadRepr for AuthRepr<'_> {
    fn kind(&self) -> PayloadType {
        PayloadType::AUTH
    }

    fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        emit_typed(buf, self.method.0, self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_by_hand() {
        let b = [2, 0, 0, 0, b'g', b'w']; // FQDN "gw"
        let id = IdRepr::parse(Side::Initiator, &b).unwrap();
        assert_eq!((id.id_type, id.data), (IdType::FQDN, &b"gw"[..]));
        assert_eq!(id.kind(), PayloadType::IDI);
        let mut out = [0xffu8; 6];
        id.emit(&mut out).unwrap();
        assert_eq!(out, b);
        let v4 = [1, 0, 0, 0, 192, 0, 2, 1];
        assert_eq!(
            IdRepr::parse(Side::Responder, &v4).unwrap().data,
            &[192, 0, 2, 1]
        );
        assert_eq!(
            IdRepr::parse(Side::Responder, &v4[..7]),
            Err(Error::BadLength)
        );
        assert_eq!(
            IdRepr::parse(Side::Responder, &[5, 0, 0, 0, 1]),
            Err(Error::BadLength)
        );
        assert_eq!(
            IdRepr::parse(Side::Responder, &[2, 0, 0]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn auth_round_trip() {
        let b = [2, 0, 0, 0, 1, 2, 3, 4]; // PSK, 4 bytes of MAC
        let a = AuthRepr::parse(&b).unwrap();
        assert_eq!(a.method, AuthMethod::PSK);
        let mut out = [0u8; 8];
        a.emit(&mut out).unwrap();
        assert_eq!(out, b);
        assert_eq!(a.emit(&mut out[..7]), Err(Error::TooLong));
        assert_eq!(AuthMethod(14).to_string(), "DIGITAL-SIGNATURE");
    }
}
