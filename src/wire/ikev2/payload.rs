//! The IKEv2 generic payload header (RFC 7296 §3.2) and a bounded iterator over a payload chain.
//!
//! Each payload starts with `next payload (1) | C + reserved (1) | payload length (2)`; the
//! length covers the generic header. The chain ends at Next Payload 0, or at an SK/SKF payload,
//! whose Next Payload names the first payload inside the encryption. IKEv2 has no padding, so
//! bytes after the end of the chain are an error.

use super::{be16, Error, PayloadType};

/// Length of the generic payload header.
pub const GENERIC_HEADER_LEN: usize = 4;
/// The most payloads we accept in one chain.
pub const MAX_PAYLOADS: usize = 64;
/// The critical bit in the second byte of the generic header.
pub const CRITICAL: u8 = 0x80;

/// One payload of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPayload<'a> {
    /// This payload's type (announced by the previous header).
    pub kind: PayloadType,
    /// The Next Payload field: the following payload's type, or for SK/SKF the first inner one.
    pub next: PayloadType,
    /// The critical bit: a recipient that does not know `kind` must reject the message.
    pub critical: bool,
    /// The body after the generic header.
    pub body: &'a [u8],
    /// Offset of the generic header within the chain handed to [`Payloads::new`].
    pub offset: usize,
}

/// Iterator over a payload chain. Yields `Err` once and then stops on malformed input.
///
/// An unknown payload type with the critical bit yields [`Error::UnsupportedCritical`]; an
/// unknown type without it is yielded for the caller to skip.
#[derive(Debug, Clone)]
pub struct Payloads<'a> {
    data: &'a [u8],
    offset: usize,
    next: PayloadType,
    count: usize,
    done: bool,
}

impl<'a> Payloads<'a> {
    /// Iterates the chain in `data` (a message body, or a decrypted SK body) whose first
    /// payload has type `first`.
    pub fn new(data: &'a [u8], first: PayloadType) -> Payloads<'a> {
        Payloads {
            data,
            offset: 0,
            next: first,
            count: 0,
            done: false,
        }
    }

    /// Collects the whole chain, or the first error.
    pub fn collect_all(data: &'a [u8], first: PayloadType) -> Result<Vec<RawPayload<'a>>, Error> {
        Payloads::new(data, first).collect()
    }

    fn step(&mut self) -> Result<Option<RawPayload<'a>>, Error> {
        let rest = self.data.get(self.offset..).unwrap_or(&[]);
        if self.next == PayloadType::NO_NEXT {
            return if rest.is_empty() {
                Ok(None)
            } else {
                Err(Error::BadLength)
            };
        }
        if self.count >= MAX_PAYLOADS {
            return Err(Error::TooMany);
        }
        let (next, flags) = match rest.get(..2) {
            Some([n, f]) => (PayloadType(*n), *f),
            _ => return Err(Error::Truncated),
        };
        let len = be16(rest, 2).ok_or(Error::Truncated)? as usize;
        if len < GENERIC_HEADER_LEN {
            return Err(Error::BadLength);
        }
        let body = rest.get(GENERIC_HEADER_LEN..len).ok_or(Error::BadLength)?;
        let critical = flags & CRITICAL != 0;
        if critical && !self.next.is_known() {
            return Err(Error::UnsupportedCritical(self.next));
        }
        let item = RawPayload {
            kind: self.next,
            next,
            critical,
            body,
            offset: self.offset,
        };
        self.offset += len;
        self.count += 1;
        // After SK/SKF the Next Payload field belongs to the encrypted chain: ours ends here.
        self.next = if item.kind.is_encrypted() {
            PayloadType::NO_NEXT
        } else {
            next
        };
        Ok(Some(item))
    }
}

impl<'a> Iterator for Payloads<'a> {
    type Item = Result<RawPayload<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_a_chain_by_hand() {
        let b = [
            40, 0, 0, 6, 0xaa, 0xbb, // KE (announced), next NONCE, length 6
            99, 0, 0, 4, // NONCE, next 99
            0, 0, 0, 5, 7, // unknown 99, not critical: yielded
        ];
        let v = Payloads::collect_all(&b, PayloadType::KE).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(
            (v[0].kind, v[0].next, v[0].body),
            (PayloadType::KE, PayloadType::NONCE, &[0xaa, 0xbb][..])
        );
        assert_eq!((v[1].kind, v[1].offset), (PayloadType::NONCE, 6));
        assert_eq!(
            (v[2].kind, v[2].body, v[2].critical),
            (PayloadType(99), &[7][..], false)
        );
    }

    #[test]
    fn unknown_critical_payload_is_reported() {
        let b = [0, 0x80, 0, 4];
        assert_eq!(
            Payloads::collect_all(&b, PayloadType(200)),
            Err(Error::UnsupportedCritical(PayloadType(200)))
        );
        // a known type with the critical bit is fine
        assert!(Payloads::collect_all(&b, PayloadType::NONCE).unwrap()[0].critical);
    }

    #[test]
    fn sk_ends_the_outer_chain() {
        let b = [35, 0, 0, 6, 1, 2]; // SK, first inner payload IDi
        let v = Payloads::collect_all(&b, PayloadType::SK).unwrap();
        assert_eq!((v.len(), v[0].next), (1, PayloadType::IDI));
        let b = [35, 0, 0, 6, 1, 2, 0]; // a byte after SK
        assert_eq!(
            Payloads::collect_all(&b, PayloadType::SK),
            Err(Error::BadLength)
        );
    }

    #[test]
    fn lying_lengths_stop_the_iterator() {
        assert_eq!(
            Payloads::collect_all(&[0, 0, 0, 3], PayloadType::N),
            Err(Error::BadLength)
        );
        assert_eq!(
            Payloads::collect_all(&[0, 0, 0, 9, 1], PayloadType::N),
            Err(Error::BadLength)
        );
        assert_eq!(
            Payloads::collect_all(&[41, 0, 0, 4], PayloadType::N),
            Err(Error::Truncated)
        );
        assert_eq!(
            Payloads::collect_all(&[0, 0, 0, 4, 0], PayloadType::N),
            Err(Error::BadLength)
        );
        assert!(Payloads::collect_all(&[], PayloadType::NO_NEXT)
            .unwrap()
            .is_empty());
        let mut it = Payloads::new(&[0, 0, 0, 3], PayloadType::N);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn payload_count_is_bounded() {
        let b: Vec<u8> = (0..200).flat_map(|_| [43u8, 0, 0, 4]).collect();
        assert_eq!(
            Payloads::collect_all(&b, PayloadType::V),
            Err(Error::TooMany)
        );
    }
}
