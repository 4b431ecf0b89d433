//! Writes an IKEv2 message into a caller's `Vec`: header, then payloads, each new one patching
//! the previous Next Payload field; lengths are checked against their u16/u32 fields.
//!
//! The SK payload is emitted as its generic header (Next Payload = first inner payload) and a
//! zeroed body of the size the crypto layer asks for; [`SkSlot`] tells it where the AAD ends
//! and the body lies so it can encrypt in place.

use core::ops::Range;

use super::payload::{CRITICAL, GENERIC_HEADER_LEN};
use super::{put, Error, HeaderRepr, PayloadType, HEADER_LEN};

/// A payload body that knows its type and emits itself into a caller buffer.
pub trait PayloadRepr {
    /// The payload type announced for it.
    fn kind(&self) -> PayloadType;
    /// Bytes `emit` writes (the body, without the generic header).
    fn buffer_len(&self) -> usize;
    /// Writes the body into `buf` (at least `buffer_len` long); refuses what does not fit.
    fn emit(&self, buf: &mut [u8]) -> Result<(), Error>;
}

/// Where the SK payload's body lies in the finished message, for the crypto layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkSlot {
    /// The associated data: from the IKE header up to the end of the SK generic header.
    pub aad: Range<usize>,
    /// The body (IV, ciphertext with padding, ICV) to fill in place.
    pub body: Range<usize>,
}

/// Appends one IKEv2 message to a `Vec`.
#[derive(Debug)]
pub struct MessageWriter<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
    /// Index of the Next Payload byte to patch when the next payload is added.
    next_field: usize,
}

impl<'a> MessageWriter<'a> {
    /// Starts a message at the end of `buf` with the given header (its Next Payload and length
    /// are filled in as payloads are added).
    pub fn new(buf: &'a mut Vec<u8>, header: &HeaderRepr) -> Result<MessageWriter<'a>, Error> {
        let start = buf.len();
        buf.resize(start + HEADER_LEN, 0);
        let h = HeaderRepr {
            next_payload: PayloadType::NO_NEXT,
            ..*header
        };
        h.emit(
            buf.get_mut(start..).ok_or(Error::TooLong)?,
            HEADER_LEN as u32,
        )?;
        Ok(MessageWriter {
            buf,
            start,
            next_field: start + 16,
        })
    }

    /// Appends a payload with a raw body.
    pub fn raw(
        &mut self,
        kind: PayloadType,
        critical: bool,
        body: &[u8],
    ) -> Result<&mut Self, Error> {
        let off = self.open(kind, critical, PayloadType::NO_NEXT, body.len())?;
        put(self.buf, off, body)?;
        self.finish()?;
        Ok(self)
    }

    /// Appends a payload emitted by its `Repr`.
    pub fn payload(&mut self, p: &dyn PayloadRepr) -> Result<&mut Self, Error> {
        let off = self.open(p.kind(), false, PayloadType::NO_NEXT, p.buffer_len())?;
        p.emit(self.buf.get_mut(off..).ok_or(Error::TooLong)?)?;
        self.finish()?;
        Ok(self)
    }

    /// Appends the SK payload, whose inner chain starts with `first_inner`, with a zeroed body
    /// of `body_len` bytes, and finishes the message: nothing may follow SK.
    pub fn sk(self, first_inner: PayloadType, body_len: usize) -> Result<SkSlot, Error> {
        self.encrypted(PayloadType::SK, first_inner, &[], body_len)
    }

    /// Appends an SKF payload (RFC 7383 §2.5): `fragment_number`/`total_fragments` and a zeroed
    /// body of `body_len` bytes; `first_inner` is the inner first payload in fragment 1 and
    /// NO_NEXT in the others. The AAD covers the fragment numbers.
    pub fn skf(
        self,
        first_inner: PayloadType,
        fragment_number: u16,
        total_fragments: u16,
        body_len: usize,
    ) -> Result<SkSlot, Error> {
        let mut fixed = [0u8; 4];
        fixed[..2].copy_from_slice(&fragment_number.to_be_bytes());
        fixed[2..].copy_from_slice(&total_fragments.to_be_bytes());
        self.encrypted(PayloadType::SKF, first_inner, &fixed, body_len)
    }

    /// Finishes a message whose last payload is in the clear; returns its byte range in the Vec.
    pub fn finish_plain(self) -> Range<usize> {
        self.start..self.buf.len()
    }

    fn encrypted(
        mut self,
        kind: PayloadType,
        first: PayloadType,
        fixed: &[u8],
        body_len: usize,
    ) -> Result<SkSlot, Error> {
        let total = fixed.len().checked_add(body_len).ok_or(Error::TooLong)?;
        let off = self.open(kind, false, first, total)?;
        put(self.buf, off, fixed)?;
        let body_start = off + fixed.len();
        self.finish()?;
        Ok(SkSlot {
            aad: self.start..body_start,
            body: body_start..self.buf.len(),
        })
    }

    /// Adds a generic header and `body_len` zero bytes; returns the body's offset.
    fn open(
        &mut self,
        kind: PayloadType,
        critical: bool,
        next: PayloadType,
        body_len: usize,
    ) -> Result<usize, Error> {
        let len = u16::try_from(
            body_len
                .checked_add(GENERIC_HEADER_LEN)
                .ok_or(Error::TooLong)?,
        )
        .map_err(|_| Error::TooLong)?;
        let total = self.buf.len() - self.start + usize::from(len);
        u32::try_from(total).map_err(|_| Error::TooLong)?;
        put(self.buf, self.next_field, &[kind.0])?;
        let at = self.buf.len();
        self.buf.resize(at + usize::from(len), 0);
        let flags = if critical { CRITICAL } else { 0 };
        put(self.buf, at, &[next.0, flags])?;
        put(self.buf, at + 2, &len.to_be_bytes())?;
        self.next_field = at;
        Ok(at + GENERIC_HEADER_LEN)
    }

    /// Writes the message length into the header.
    fn finish(&mut self) -> Result<(), Error> {
        let total = u32::try_from(self.buf.len() - self.start).map_err(|_| Error::TooLong)?;
        put(self.buf, self.start + 24, &total.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ExchangeType, Flags, Header, Payloads};
    use super::*;

    fn header() -> HeaderRepr {
        HeaderRepr {
            ispi: [1; 8],
            rspi: [2; 8],
            next_payload: PayloadType::NO_NEXT,
            minor_version: 0,
            exchange: ExchangeType::IKE_AUTH,
            flags: Flags(Flags::INITIATOR),
            message_id: 1,
        }
    }

    #[test]
    fn chains_payloads_and_patches_lengths() {
        let mut v = vec![0xee]; // bytes already in the caller's Vec stay
        let mut w = MessageWriter::new(&mut v, &header()).unwrap();
        w.raw(PayloadType::NONCE, false, &[9; 3])
            .unwrap()
            .raw(PayloadType::V, true, &[])
            .unwrap();
        let r = w.finish_plain();
        assert_eq!(r, 1..40);
        let m = &v[1..];
        assert_eq!(m[16], 40); // header next: NONCE
        assert_eq!(&m[24..28], &[0, 0, 0, 39]);
        assert_eq!(&m[28..32], &[43, 0, 0, 7]); // NONCE -> V, length 7
        assert_eq!(&m[32..35], &[9; 3]);
        let h = Header::new_checked(m).unwrap();
        let p = Payloads::collect_all(h.body(), h.next_payload()).unwrap();
        assert_eq!(
            (p.len(), p[1].kind, p[1].critical),
            (2, PayloadType::V, true)
        );
        assert_eq!(&v[36..40], &[0, 0x80, 0, 4]);
    }

    #[test]
    fn sk_slot_marks_aad_and_body() {
        let mut v = Vec::new();
        let mut w = MessageWriter::new(&mut v, &header()).unwrap();
        w.raw(PayloadType::N, false, &[0; 4]).unwrap();
        let slot = w.sk(PayloadType::IDI, 20).unwrap();
        assert_eq!(
            slot,
            SkSlot {
                aad: 0..40,
                body: 40..60
            }
        );
        assert_eq!(&v[28..32], &[46, 0, 0, 8]);
        assert_eq!(&v[36..40], &[35, 0, 0, 24]);
        assert_eq!(&v[24..28], &[0, 0, 0, 60]);
        let h = Header::new_checked(&v[..]).unwrap();
        let p = Payloads::collect_all(h.body(), h.next_payload()).unwrap();
        assert_eq!(
            (p[1].kind, p[1].next, p[1].body.len()),
            (PayloadType::SK, PayloadType::IDI, 20)
        );
    }

    #[test]
    fn skf_carries_fragment_numbers_in_the_aad() {
        let mut v = Vec::new();
        let w = MessageWriter::new(&mut v, &header()).unwrap();
        let slot = w.skf(PayloadType::NO_NEXT, 2, 3, 10).unwrap();
        assert_eq!(
            slot,
            SkSlot {
                aad: 0..36,
                body: 36..46
            }
        );
        assert_eq!(&v[28..36], &[0, 0, 0, 18, 0, 2, 0, 3]);
        assert_eq!(v[16], 53);
    }

    #[test]
    fn refuses_overlong_payloads() {
        let mut v = Vec::new();
        let mut w = MessageWriter::new(&mut v, &header()).unwrap();
        assert_eq!(
            w.raw(PayloadType::V, false, &[0; 65532]).unwrap_err(),
            Error::TooLong
        );
        assert!(w.raw(PayloadType::V, false, &[0; 65531]).is_ok());
        assert_eq!(
            w.sk(PayloadType::IDI, usize::MAX).unwrap_err(),
            Error::TooLong
        );
    }
}
