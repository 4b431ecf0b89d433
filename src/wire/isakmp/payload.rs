//! The generic payload header (RFC 2408 §3.2) and a bounded iterator over a payload chain.
//!
//! Each payload starts with `next payload (1) | reserved (1) | payload length (2)`; the length
//! covers the generic header. The iterator stops with an error when a length is below 4 or runs
//! past the data, and after [`MAX_PAYLOADS`] payloads; since every payload advances by at least
//! four bytes, a chain cannot loop. Bytes after the last payload (next payload 0) are padding.

use super::{be16, PayloadType, WireError};

/// The most payloads we accept in one message (a Quick Mode with many proposals fits easily).
pub const MAX_PAYLOADS: usize = 64;

/// One payload of a chain: its type, the type of the next one, and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPayload<'a> {
    /// This payload's type (announced by the previous header).
    pub kind: PayloadType,
    /// The type of the payload that follows (NONE for the last one).
    pub next: PayloadType,
    /// The payload body after the 4-byte generic header.
    pub body: &'a [u8],
    /// The whole payload including its generic header.
    pub whole: &'a [u8],
}

/// Iterator over a payload chain. Yields `Err` once and then stops on malformed input.
#[derive(Debug, Clone)]
pub struct Payloads<'a> {
    data: &'a [u8],
    offset: usize,
    next: PayloadType,
    count: usize,
    done: bool,
}

impl<'a> Payloads<'a> {
    /// Iterates the chain in `data` whose first payload has type `first`.
    pub fn new(data: &'a [u8], first: PayloadType) -> Payloads<'a> {
        Payloads {
            data,
            offset: 0,
            next: first,
            count: 0,
            done: first == PayloadType::NONE,
        }
    }

    /// Offset just past the last payload returned so far (the end of the chain once the
    /// iterator is exhausted without error; what follows is padding).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Collects the whole chain, or the first error.
    pub fn collect_all(
        data: &'a [u8],
        first: PayloadType,
    ) -> Result<Vec<RawPayload<'a>>, WireError> {
        Payloads::new(data, first).collect()
    }
}

impl<'a> Iterator for Payloads<'a> {
    type Item = Result<RawPayload<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let fail = |s: &mut Self, e| {
            s.done = true;
            Some(Err(e))
        };
        if self.count >= MAX_PAYLOADS {
            return fail(self, WireError::TooMany);
        }
        let rest = match self.data.get(self.offset..) {
            Some(r) => r,
            None => return fail(self, WireError::Truncated),
        };
        let (next, len) = match (rest.first(), be16(rest, 2)) {
            (Some(n), Some(l)) => (PayloadType(*n), l as usize),
            _ => return fail(self, WireError::Truncated),
        };
        if len < 4 {
            return fail(self, WireError::BadLength);
        }
        let whole = match rest.get(..len) {
            Some(w) => w,
            None => return fail(self, WireError::BadLength),
        };
        let item = RawPayload {
            kind: self.next,
            next,
            body: whole.get(4..).unwrap_or(&[]),
            whole,
        };
        self.offset += len;
        self.count += 1;
        self.next = next;
        if next == PayloadType::NONE {
            self.done = true;
        }
        Some(Ok(item))
    }
}

/// Builds a payload chain: each [`PayloadChain::push`] patches the previous payload's "next
/// payload" byte. The chain's first type goes into the ISAKMP header.
#[derive(Debug, Clone, Default)]
pub struct PayloadChain {
    first: Option<PayloadType>,
    bytes: Vec<u8>,
    last_header: Option<usize>,
}

impl PayloadChain {
    /// An empty chain.
    pub fn new() -> PayloadChain {
        PayloadChain::default()
    }

    /// Appends a payload with the given body. Bodies longer than 65531 bytes are truncated
    /// (none of ours come close).
    pub fn push(&mut self, kind: PayloadType, body: &[u8]) -> &mut PayloadChain {
        let body = body.get(..usize::from(u16::MAX) - 4).unwrap_or(body);
        match self.last_header.and_then(|i| self.bytes.get_mut(i)) {
            Some(b) => *b = kind.0,
            None => self.first = Some(kind),
        }
        self.last_header = Some(self.bytes.len());
        self.bytes.push(0);
        self.bytes.push(0);
        self.bytes
            .extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        self.bytes.extend_from_slice(body);
        self
    }

    /// Type of the first payload (NONE for an empty chain).
    pub fn first(&self) -> PayloadType {
        self.first.unwrap_or(PayloadType::NONE)
    }

    /// The encoded chain.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the chain into its first type and bytes.
    pub fn into_parts(self) -> (PayloadType, Vec<u8>) {
        (self.first(), self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_iterate() {
        let mut c = PayloadChain::new();
        c.push(PayloadType::HASH, &[1; 20])
            .push(PayloadType::NOTIFY, &[2; 12])
            .push(PayloadType(99), &[]);
        let (first, mut bytes) = c.into_parts();
        assert_eq!(first, PayloadType::HASH);
        assert_eq!(&bytes[..4], &[11, 0, 0, 24]);
        assert_eq!(&bytes[24..28], &[99, 0, 0, 16]);
        assert_eq!(&bytes[40..44], &[0, 0, 0, 4]);
        bytes.extend_from_slice(&[0; 7]); // padding
        let mut it = Payloads::new(&bytes, first);
        let v: Vec<_> = it.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].kind, PayloadType::HASH);
        assert_eq!(v[1].kind, PayloadType::NOTIFY);
        assert_eq!(v[1].body, &[2; 12]);
        assert_eq!(v[2].kind, PayloadType(99));
        assert!(v[2].body.is_empty());
        assert_eq!(it.offset(), 44);
    }

    #[test]
    fn lying_lengths_stop_the_iterator() {
        // length 3 (< 4)
        let b = [0u8, 0, 0, 3];
        let r: Result<Vec<_>, _> = Payloads::new(&b, PayloadType::HASH).collect();
        assert_eq!(r.unwrap_err(), WireError::BadLength);
        // length beyond the data
        let b = [0u8, 0, 0, 40, 1, 2];
        let r: Result<Vec<_>, _> = Payloads::new(&b, PayloadType::HASH).collect();
        assert_eq!(r.unwrap_err(), WireError::BadLength);
        // chain announces another payload but the data ends
        let b = [8u8, 0, 0, 4];
        let r: Result<Vec<_>, _> = Payloads::new(&b, PayloadType::HASH).collect();
        assert_eq!(r.unwrap_err(), WireError::Truncated);
    }

    #[test]
    fn payload_count_is_bounded() {
        let mut b = Vec::new();
        for _ in 0..200 {
            b.extend_from_slice(&[13, 0, 0, 4]);
        }
        let r: Result<Vec<_>, _> = Payloads::new(&b, PayloadType::VENDOR_ID).collect();
        assert_eq!(r.unwrap_err(), WireError::TooMany);
    }
}
