//! The fixed 28-byte IKEv2 header (RFC 7296 §3.1).

use super::{be32, put, Error, ExchangeType, PayloadType};

/// Length of the IKE header.
pub const HEADER_LEN: usize = 28;

/// The version byte we emit: major 2, minor 0.
const VERSION_2_0: u8 = 0x20;

mod field {
    use core::ops::Range;
    pub const ISPI: Range<usize> = 0..8;
    pub const RSPI: Range<usize> = 8..16;
    pub const NEXT: usize = 16;
    pub const VERSION: usize = 17;
    pub const EXCHANGE: usize = 18;
    pub const FLAGS: usize = 19;
    pub const MSGID: usize = 20;
    pub const LENGTH: usize = 24;
}

/// IKEv2 header flags (RFC 7296 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(pub u8);

impl Flags {
    /// I: set by the original initiator of the IKE SA.
    pub const INITIATOR: u8 = 0x08;
    /// V: the sender can speak a higher major version.
    pub const VERSION: u8 = 0x10;
    /// R: this message is a response.
    pub const RESPONSE: u8 = 0x20;

    /// True when sent by the original initiator.
    pub fn initiator(self) -> bool {
        self.0 & Self::INITIATOR != 0
    }

    /// True when the sender claims a higher major version.
    pub fn version(self) -> bool {
        self.0 & Self::VERSION != 0
    }

    /// True for a response.
    pub fn response(self) -> bool {
        self.0 & Self::RESPONSE != 0
    }
}

/// A read-only view of an IKEv2 message: the header plus the bytes its length declares.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps a buffer after checking that it holds a whole header, that the major version is 2
    /// and that the length field is between 28 and the buffer length (bytes beyond it are
    /// ignored). After this no accessor can panic.
    pub fn new_checked(buffer: T) -> Result<Header<T>, Error> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let major = b.get(field::VERSION).copied().unwrap_or(0) >> 4;
        if major != 2 {
            return Err(Error::BadVersion(major));
        }
        let len = be32(b, field::LENGTH).ok_or(Error::Truncated)? as usize;
        if len < HEADER_LEN || len > b.len() {
            return Err(Error::BadLength);
        }
        Ok(Header { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn byte(&self, i: usize) -> u8 {
        self.bytes().get(i).copied().unwrap_or(0)
    }

    fn spi(&self, r: core::ops::Range<usize>) -> [u8; 8] {
        let mut s = [0u8; 8];
        if let Some(b) = self.bytes().get(r) {
            s.copy_from_slice(b);
        }
        s
    }

    /// IKE SA initiator's SPI.
    pub fn ispi(&self) -> [u8; 8] {
        self.spi(field::ISPI)
    }

    /// IKE SA responder's SPI (zero in the first IKE_SA_INIT request).
    pub fn rspi(&self) -> [u8; 8] {
        self.spi(field::RSPI)
    }

    /// Type of the first payload.
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(self.byte(field::NEXT))
    }

    /// Major version (2, checked by `new_checked`).
    pub fn major_version(&self) -> u8 {
        self.byte(field::VERSION) >> 4
    }

    /// Minor version.
    pub fn minor_version(&self) -> u8 {
        self.byte(field::VERSION) & 0x0f
    }

    /// Exchange type.
    pub fn exchange(&self) -> ExchangeType {
        ExchangeType(self.byte(field::EXCHANGE))
    }

    /// Flags.
    pub fn flags(&self) -> Flags {
        Flags(self.byte(field::FLAGS))
    }

    /// Message ID.
    pub fn message_id(&self) -> u32 {
        be32(self.bytes(), field::MSGID).unwrap_or(0)
    }

    /// The length field (checked to lie within the buffer).
    pub fn length(&self) -> usize {
        be32(self.bytes(), field::LENGTH).unwrap_or(0) as usize
    }

    /// The payload chain after the header, up to the declared length.
    pub fn body(&self) -> &[u8] {
        self.bytes().get(HEADER_LEN..self.length()).unwrap_or(&[])
    }

    /// The whole message up to the declared length.
    pub fn message(&self) -> &[u8] {
        self.bytes().get(..self.length()).unwrap_or(&[])
    }
}

/// The fields of an IKEv2 header (the length is the writer's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderRepr {
    /// Initiator's SPI.
    pub ispi: [u8; 8],
    /// Responder's SPI.
    pub rspi: [u8; 8],
    /// Type of the first payload.
    pub next_payload: PayloadType,
    /// Minor version (0 today; the major version is always 2).
    pub minor_version: u8,
    /// Exchange type.
    pub exchange: ExchangeType,
    /// Flags.
    pub flags: Flags,
    /// Message ID.
    pub message_id: u32,
}

impl HeaderRepr {
    /// Parses the header of a checked view.
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> HeaderRepr {
        HeaderRepr {
            ispi: h.ispi(),
            rspi: h.rspi(),
            next_payload: h.next_payload(),
            minor_version: h.minor_version(),
            exchange: h.exchange(),
            flags: h.flags(),
            message_id: h.message_id(),
        }
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header with `length` as the total message length into `buf`.
    pub fn emit(&self, buf: &mut [u8], length: u32) -> Result<(), Error> {
        put(buf, field::ISPI.start, &self.ispi)?;
        put(buf, field::RSPI.start, &self.rspi)?;
        let version = VERSION_2_0 | (self.minor_version & 0x0f);
        put(buf, field::NEXT, &[self.next_payload.0, version])?;
        put(buf, field::EXCHANGE, &[self.exchange.0, self.flags.0])?;
        put(buf, field::MSGID, &self.message_id.to_be_bytes())?;
        put(buf, field::LENGTH, &length.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IKE_SA_INIT request header laid out by hand from RFC 7296 §3.1.
    fn sa_init_request() -> Vec<u8> {
        let mut b = vec![1, 2, 3, 4, 5, 6, 7, 8]; // IKE SA initiator's SPI
        b.extend_from_slice(&[0; 8]); // responder's SPI (unknown yet)
        b.push(33); // next payload: SA
        b.push(0x20); // major 2, minor 0
        b.push(34); // IKE_SA_INIT
        b.push(0x08); // Initiator
        b.extend_from_slice(&[0, 0, 0, 0]); // message ID 0
        b.extend_from_slice(&[0, 0, 0, 32]); // length: header + 4 bytes
        b.extend_from_slice(&[0, 0, 0, 4]);
        b
    }

    #[test]
    fn parses_fields_by_hand() {
        let b = sa_init_request();
        let h = Header::new_checked(&b[..]).unwrap();
        assert_eq!(h.ispi(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(h.rspi(), [0; 8]);
        assert_eq!(h.next_payload(), PayloadType::SA);
        assert_eq!((h.major_version(), h.minor_version()), (2, 0));
        assert_eq!(h.exchange(), ExchangeType::IKE_SA_INIT);
        assert!(h.flags().initiator() && !h.flags().response() && !h.flags().version());
        assert_eq!(h.message_id(), 0);
        assert_eq!(h.length(), 32);
        assert_eq!(h.body(), &[0, 0, 0, 4]);
    }

    #[test]
    fn round_trip() {
        let b = sa_init_request();
        let r = HeaderRepr::parse(&Header::new_checked(&b[..]).unwrap());
        let mut out = [0u8; HEADER_LEN];
        r.emit(&mut out, 32).unwrap();
        assert_eq!(&out[..], &b[..HEADER_LEN]);
        let mut short = [0u8; 27];
        assert_eq!(r.emit(&mut short, 32), Err(Error::TooLong));
    }

    #[test]
    fn rejects_bad_lengths_and_versions() {
        let mut b = sa_init_request();
        assert_eq!(Header::new_checked(&b[..27]).unwrap_err(), Error::Truncated);
        b[27] = 33; // one byte more than the buffer
        assert_eq!(Header::new_checked(&b[..]).unwrap_err(), Error::BadLength);
        b[27] = 27; // below the header
        assert_eq!(Header::new_checked(&b[..]).unwrap_err(), Error::BadLength);
        b[27] = 32;
        b[17] = 0x10; // IKEv1
        assert_eq!(
            Header::new_checked(&b[..]).unwrap_err(),
            Error::BadVersion(1)
        );
    }

    #[test]
    fn trailing_bytes_beyond_length_are_ignored() {
        let mut b = sa_init_request();
        b[27] = 28;
        let h = Header::new_checked(&b[..]).unwrap();
        assert!(h.body().is_empty());
        assert_eq!(h.message().len(), 28);
    }
}
