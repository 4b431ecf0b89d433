//! The fixed 28-byte ISAKMP header (RFC 2408 §3.1).

use super::{be32, ExchangeType, PayloadType, WireError};

/// Length of the ISAKMP header.
pub const HEADER_LEN: usize = 28;

mod field {
    use core::ops::Range;
    pub const ICOOKIE: Range<usize> = 0..8;
    pub const RCOOKIE: Range<usize> = 8..16;
    pub const NEXT: usize = 16;
    pub const VERSION: usize = 17;
    pub const EXCHANGE: usize = 18;
    pub const FLAGS: usize = 19;
    pub const MSGID: usize = 20;
    pub const LENGTH: usize = 24;
}

/// ISAKMP header flags (RFC 2408 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// E: the payloads after the header are encrypted.
    pub const ENCRYPTION: u8 = 0x01;
    /// C: commit bit.
    pub const COMMIT: u8 = 0x02;
    /// A: authentication only.
    pub const AUTH_ONLY: u8 = 0x04;

    /// True when the payloads are encrypted.
    pub fn encrypted(self) -> bool {
        self.0 & Self::ENCRYPTION != 0
    }

    /// True when the commit bit is set.
    pub fn commit(self) -> bool {
        self.0 & Self::COMMIT != 0
    }
}

/// A read-only view of an ISAKMP message: header plus the bytes it declares.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps a buffer after checking that it holds a whole header and that the header's length
    /// field is between 28 and the buffer length (trailing bytes beyond it are ignored). After
    /// this no accessor can panic.
    pub fn new_checked(buffer: T) -> Result<Header<T>, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = be32(b, field::LENGTH).ok_or(WireError::Truncated)? as usize;
        if len < HEADER_LEN || len > b.len() {
            return Err(WireError::BadLength);
        }
        Ok(Header { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn cookie(&self, r: core::ops::Range<usize>) -> [u8; 8] {
        let mut c = [0u8; 8];
        if let Some(s) = self.bytes().get(r) {
            c.copy_from_slice(s);
        }
        c
    }

    /// Initiator cookie.
    pub fn icookie(&self) -> [u8; 8] {
        self.cookie(field::ICOOKIE)
    }

    /// Responder cookie (all zero in the first message).
    pub fn rcookie(&self) -> [u8; 8] {
        self.cookie(field::RCOOKIE)
    }

    /// Type of the first payload.
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(self.bytes().get(field::NEXT).copied().unwrap_or(0))
    }

    /// Major version (high nibble; 1 for ISAKMP/IKEv1).
    pub fn major_version(&self) -> u8 {
        self.bytes().get(field::VERSION).copied().unwrap_or(0) >> 4
    }

    /// Minor version (low nibble).
    pub fn minor_version(&self) -> u8 {
        self.bytes().get(field::VERSION).copied().unwrap_or(0) & 0x0f
    }

    /// Exchange type.
    pub fn exchange(&self) -> ExchangeType {
        ExchangeType(self.bytes().get(field::EXCHANGE).copied().unwrap_or(0))
    }

    /// Flags.
    pub fn flags(&self) -> Flags {
        Flags(self.bytes().get(field::FLAGS).copied().unwrap_or(0))
    }

    /// Message ID (0 in phase 1).
    pub fn message_id(&self) -> u32 {
        be32(self.bytes(), field::MSGID).unwrap_or(0)
    }

    /// The header's length field (checked to be within the buffer).
    pub fn length(&self) -> usize {
        be32(self.bytes(), field::LENGTH).unwrap_or(0) as usize
    }

    /// The bytes after the header up to the declared length (payloads, maybe encrypted).
    pub fn body(&self) -> &[u8] {
        self.bytes().get(HEADER_LEN..self.length()).unwrap_or(&[])
    }

    /// The raw 28 header bytes.
    pub fn header_bytes(&self) -> &[u8] {
        self.bytes().get(..HEADER_LEN).unwrap_or(&[])
    }

    /// The whole message up to the declared length.
    pub fn message(&self) -> &[u8] {
        self.bytes().get(..self.length()).unwrap_or(&[])
    }

    /// Parses the header into a [`HeaderRepr`].
    pub fn repr(&self) -> HeaderRepr {
        HeaderRepr {
            icookie: self.icookie(),
            rcookie: self.rcookie(),
            next_payload: self.next_payload(),
            exchange: self.exchange(),
            flags: self.flags(),
            message_id: self.message_id(),
        }
    }
}

/// The fields of an ISAKMP header to emit (version is always 1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRepr {
    /// Initiator cookie.
    pub icookie: [u8; 8],
    /// Responder cookie.
    pub rcookie: [u8; 8],
    /// Type of the first payload.
    pub next_payload: PayloadType,
    /// Exchange type.
    pub exchange: ExchangeType,
    /// Flags.
    pub flags: Flags,
    /// Message ID.
    pub message_id: u32,
}

impl HeaderRepr {
    /// Emits the header followed by `body`, filling in the total length.
    pub fn emit_with_body(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&self.icookie);
        out.extend_from_slice(&self.rcookie);
        out.push(self.next_payload.0);
        out.push(0x10);
        out.push(self.exchange.0);
        out.push(self.flags.0);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header of SEIL's Informational NO-PROPOSAL-CHOSEN reply (seed 003, frame #3006).
    const NO_PROP_HDR: &str = "442f96f6896a2deb544cc5837f7aba350b1005001b6ded2200000038";

    #[test]
    fn parse_seed_header() {
        let mut b = hex::decode(NO_PROP_HDR).unwrap();
        b.resize(56, 0);
        let h = Header::new_checked(&b[..]).unwrap();
        assert_eq!(h.icookie(), hex::decode("442f96f6896a2deb").unwrap()[..]);
        assert_eq!(h.rcookie(), hex::decode("544cc5837f7aba35").unwrap()[..]);
        assert_eq!(h.next_payload(), PayloadType::NOTIFY);
        assert_eq!((h.major_version(), h.minor_version()), (1, 0));
        assert_eq!(h.exchange(), ExchangeType::INFORMATIONAL);
        assert_eq!(h.flags(), Flags(0));
        assert_eq!(h.message_id(), 0x1b6ded22);
        assert_eq!(h.length(), 56);
        assert_eq!(h.body().len(), 28);
        let again = h.repr().emit_with_body(h.body());
        assert_eq!(again, b);
    }

    #[test]
    fn rejects_lying_lengths() {
        let mut b = hex::decode(NO_PROP_HDR).unwrap();
        assert_eq!(
            Header::new_checked(&b[..]).unwrap_err(),
            WireError::BadLength
        );
        b.truncate(27);
        assert_eq!(
            Header::new_checked(&b[..]).unwrap_err(),
            WireError::Truncated
        );
        let mut b = hex::decode(NO_PROP_HDR).unwrap();
        b[24..28].copy_from_slice(&[0, 0, 0, 27]);
        assert_eq!(
            Header::new_checked(&b[..]).unwrap_err(),
            WireError::BadLength
        );
        b[24..28].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            Header::new_checked(&b[..]).unwrap_err(),
            WireError::BadLength
        );
    }

    #[test]
    fn trailing_bytes_beyond_length_are_ignored() {
        let mut b = hex::decode(NO_PROP_HDR).unwrap();
        b[24..28].copy_from_slice(&[0, 0, 0, 28]);
        b.extend_from_slice(&[1, 2, 3]);
        let h = Header::new_checked(&b[..]).unwrap();
        assert!(h.body().is_empty());
        assert_eq!(h.message().len(), 28);
    }
}
