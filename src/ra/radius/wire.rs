//! RADIUS packets (RFC 2865 §3, §5): a bounds-checked view over received bytes and an emitter.
//!
//! ```text
//!  Code(1) Identifier(1) Length(2) Authenticator(16) Attributes: { Type(1) Length(1) Value }*
//! ```
//! [`Packet::new_checked`] validates the header length and every attribute header once, so the
//! attribute iterator afterwards cannot step out of bounds.

use crate::wire::open_enum;

/// Header size: code, identifier, length, authenticator.
pub const HEADER_LEN: usize = 20;
/// The largest packet RFC 2865 allows.
pub const MAX_PACKET_LEN: usize = 4096;
/// The largest attribute value (the length octet covers type and length too).
pub const MAX_ATTRIBUTE_VALUE: usize = 253;
/// The Microsoft vendor id (RFC 2548).
pub const VENDOR_MICROSOFT: u32 = 311;

open_enum! {
    /// RADIUS packet codes (RFC 2865 §3, RFC 2866, RFC 5997).
    Code(u8) {
        ACCESS_REQUEST = 1,
        ACCESS_ACCEPT = 2,
        ACCESS_REJECT = 3,
        ACCOUNTING_REQUEST = 4,
        ACCOUNTING_RESPONSE = 5,
        ACCESS_CHALLENGE = 11,
        STATUS_SERVER = 12,
    }
}

open_enum! {
    /// RADIUS attribute types (RFC 2865 §5, RFC 3579).
    AttributeType(u8) {
        USER_NAME = 1,
        USER_PASSWORD = 2,
        NAS_IP_ADDRESS = 4,
        NAS_PORT = 5,
        SERVICE_TYPE = 6,
        FRAMED_MTU = 12,
        REPLY_MESSAGE = 18,
        STATE = 24,
        CLASS = 25,
        VENDOR_SPECIFIC = 26,
        SESSION_TIMEOUT = 27,
        CALLED_STATION_ID = 30,
        CALLING_STATION_ID = 31,
        NAS_IDENTIFIER = 32,
        NAS_PORT_TYPE = 61,
        EAP_MESSAGE = 79,
        MESSAGE_AUTHENTICATOR = 80,
    }
}

open_enum! {
    /// Microsoft vendor attribute types (RFC 2548 §2).
    MsAttributeType(u8) {
        MS_MPPE_SEND_KEY = 16,
        MS_MPPE_RECV_KEY = 17,
    }
}

/// Why bytes are not a RADIUS packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("RADIUS packet of {0} bytes is shorter than its 20-byte header")]
    Truncated(usize),
    #[error(
        "RADIUS Length field {length} is outside 20..=4096 or beyond the {received} bytes received"
    )]
    BadLength { length: usize, received: usize },
    #[error(
        "RADIUS attribute at offset {offset} has length {length}, below 2 or past the packet end"
    )]
    BadAttribute { offset: usize, length: usize },
    #[error("RADIUS attribute {0:?} value of {1} bytes is longer than 253")]
    ValueTooLong(AttributeType, usize),
    #[error("RADIUS packet would be longer than 4096 bytes")]
    PacketTooLong,
}

/// A view over a RADIUS packet whose header and attribute framing were checked.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the header and every attribute header. Bytes past the Length field are padding
    /// and ignored (RFC 2865 §3).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated(b.len()));
        }
        let length = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&length) || length > b.len() {
            return Err(WireError::BadLength {
                length,
                received: b.len(),
            });
        }
        let mut offset = HEADER_LEN;
        while offset < length {
            let alen = b.get(offset + 1).map_or(0, |l| usize::from(*l));
            if alen < 2 || offset + alen > length {
                return Err(WireError::BadAttribute {
                    offset,
                    length: alen,
                });
            }
            offset += alen;
        }
        Ok(Packet { buffer })
    }

    fn bytes(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..self.length()]
    }

    pub fn code(&self) -> Code {
        Code(self.buffer.as_ref()[0])
    }

    pub fn identifier(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The Length field (checked to be within the buffer).
    pub fn length(&self) -> usize {
        let b = self.buffer.as_ref();
        usize::from(u16::from_be_bytes([b[2], b[3]]))
    }

    pub fn authenticator(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[4..HEADER_LEN]);
        a
    }

    /// The packet as far as its Length field says.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes()
    }

    /// The attributes in order.
    pub fn attributes(&self) -> Attributes<'_> {
        Attributes {
            rest: &self.bytes()[HEADER_LEN..],
            offset: HEADER_LEN,
        }
    }

    /// The value of the first attribute of type `t`.
    pub fn first(&self, t: AttributeType) -> Option<&[u8]> {
        self.attributes().find(|a| a.kind == t).map(|a| a.value)
    }
}

/// One attribute: its type, its value and where the value starts in the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub kind: AttributeType,
    pub value: &'a [u8],
    /// Offset of the value from the start of the packet.
    pub value_offset: usize,
}

/// Iterator over attributes already framed by [`Packet::new_checked`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;
    fn next(&mut self) -> Option<Attribute<'a>> {
        let (&kind, tail) = self.rest.split_first()?;
        let len = usize::from(*tail.first()?);
        let value = self.rest.get(2..len)?;
        let attr = Attribute {
            kind: AttributeType(kind),
            value,
            value_offset: self.offset + 2,
        };
        self.rest = self.rest.get(len..)?;
        self.offset += len;
        Some(attr)
    }
}

/// A Vendor-Specific value in the format RFC 2865 §5.26 recommends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorAttributes<'a> {
    pub vendor: u32,
    /// `(vendor type, value)` in order.
    pub attributes: Vec<(u8, &'a [u8])>,
}

/// The sub-attributes of a Vendor-Specific value, or `None` when it does not follow the
/// recommended format.
pub fn vendor_attributes(value: &[u8]) -> Option<VendorAttributes<'_>> {
    let id = u32::from_be_bytes(value.get(..4)?.try_into().ok()?);
    let mut rest = value.get(4..)?;
    let mut out = Vec::new();
    while let Some((&t, tail)) = rest.split_first() {
        let len = usize::from(*tail.first()?);
        if len < 2 {
            return None;
        }
        out.push((t, rest.get(2..len)?));
        rest = rest.get(len..)?;
    }
    Some(VendorAttributes {
        vendor: id,
        attributes: out,
    })
}

/// A packet being built: header fields and encoded attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketBuilder {
    code: Code,
    identifier: u8,
    authenticator: [u8; 16],
    attributes: Vec<u8>,
}

impl PacketBuilder {
    pub fn new(code: Code, identifier: u8, authenticator: [u8; 16]) -> PacketBuilder {
        PacketBuilder {
            code,
            identifier,
            authenticator,
            attributes: Vec::new(),
        }
    }

    /// Appends one attribute.
    pub fn push(&mut self, kind: AttributeType, value: &[u8]) -> Result<&mut Self, WireError> {
        if value.len() > MAX_ATTRIBUTE_VALUE {
            return Err(WireError::ValueTooLong(kind, value.len()));
        }
        if HEADER_LEN + self.attributes.len() + 2 + value.len() > MAX_PACKET_LEN {
            return Err(WireError::PacketTooLong);
        }
        self.attributes.push(kind.0);
        self.attributes.push((value.len() + 2) as u8);
        self.attributes.extend_from_slice(value);
        Ok(self)
    }

    /// Appends a Vendor-Specific attribute holding one sub-attribute.
    pub fn push_vendor(
        &mut self,
        vendor: u32,
        vendor_type: u8,
        value: &[u8],
    ) -> Result<&mut Self, WireError> {
        if value.len() > MAX_ATTRIBUTE_VALUE - 6 {
            return Err(WireError::ValueTooLong(
                AttributeType::VENDOR_SPECIFIC,
                value.len() + 6,
            ));
        }
        let mut v = Vec::with_capacity(value.len() + 6);
        v.extend_from_slice(&vendor.to_be_bytes());
        v.push(vendor_type);
        v.push((value.len() + 2) as u8);
        v.extend_from_slice(value);
        self.push(AttributeType::VENDOR_SPECIFIC, &v)
    }

    /// The encoded packet.
    pub fn emit(&self) -> Vec<u8> {
        let len = HEADER_LEN + self.attributes.len();
        let mut out = Vec::with_capacity(len);
        out.push(self.code.0);
        out.push(self.identifier);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&self.authenticator);
        out.extend_from_slice(&self.attributes);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = PacketBuilder::new(Code::ACCESS_REQUEST, 7, [0xaa; 16]);
        b.push(AttributeType::USER_NAME, b"alice").unwrap();
        b.push_vendor(VENDOR_MICROSOFT, 16, &[1, 2, 3]).unwrap();
        let bytes = b.emit();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.code(), Code::ACCESS_REQUEST);
        assert_eq!(p.identifier(), 7);
        assert_eq!(p.authenticator(), [0xaa; 16]);
        assert_eq!(p.first(AttributeType::USER_NAME), Some(&b"alice"[..]));
        let vsa = p.first(AttributeType::VENDOR_SPECIFIC).unwrap();
        let v = vendor_attributes(vsa).unwrap();
        assert_eq!(v.vendor, VENDOR_MICROSOFT);
        assert_eq!(v.attributes, vec![(16u8, &[1u8, 2, 3][..])]);
    }

    #[test]
    fn rejects_bad_framing() {
        assert_eq!(
            Packet::new_checked(&[0u8; 19][..]).unwrap_err(),
            WireError::Truncated(19)
        );
        let mut b = PacketBuilder::new(Code::ACCESS_ACCEPT, 1, [0; 16]).emit();
        b[3] = 30; // Length past the end
        assert!(matches!(
            Packet::new_checked(&b[..]),
            Err(WireError::BadLength { .. })
        ));
        let mut b = PacketBuilder::new(Code::ACCESS_ACCEPT, 1, [0; 16]);
        b.push(AttributeType::STATE, b"xy").unwrap();
        let mut bytes = b.emit();
        bytes[21] = 1; // attribute length below 2
        assert!(matches!(
            Packet::new_checked(&bytes[..]),
            Err(WireError::BadAttribute { offset: 20, .. })
        ));
        bytes[21] = 9; // attribute past the end
        assert!(Packet::new_checked(&bytes[..]).is_err());
    }

    #[test]
    fn padding_after_length_is_ignored() {
        let mut bytes = PacketBuilder::new(Code::ACCESS_REJECT, 1, [0; 16]).emit();
        bytes.extend_from_slice(&[0xff; 5]);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.attributes().count(), 0);
        assert_eq!(p.as_bytes().len(), 20);
    }

    #[test]
    fn builder_limits() {
        let mut b = PacketBuilder::new(Code::ACCESS_REQUEST, 1, [0; 16]);
        assert!(b.push(AttributeType::STATE, &[0; 254]).is_err());
        for _ in 0..15 {
            b.push(AttributeType::STATE, &[0; 253]).unwrap();
        }
        assert_eq!(
            b.push(AttributeType::STATE, &[0; 253]).unwrap_err(),
            WireError::PacketTooLong
        );
    }
}
