//! IKEv1 fragmentation as Cisco defined it and strongSwan, racoon and Windows implement it:
//! the fragment payload (type 132) and the cutting of a message into fragment messages.
//!
//! ```text
//!  0                   1                   2                   3
//! | Next Payload  |   RESERVED    |        Payload Length         |
//! |         Fragment ID           |  Fragment Num |     Flags     |   (0x01: last fragment)
//! ~                        Fragment Data                          ~
//! ```
//!
//! The fragments carry the whole ISAKMP message (its header and, after message 4, its encrypted
//! body) cut into pieces, each in an ISAKMP message of its own: the original cookies, exchange
//! type Identity Protection (Aggressive in Aggressive Mode), flags 0, message ID 0 and one
//! fragment payload. Numbers start at 1; the last one carries the flag. The receiver puts the
//! pieces back together by number and then handles the message as if it came whole.

use super::{be16, ExchangeType, Flags, HeaderRepr, PayloadChain, PayloadType, WireError};

/// Length of the fragment payload's fixed part after the generic header (ID, number, flags).
pub const FRAGMENT_FIXED_LEN: usize = 4;
/// Flags bit of the last fragment.
pub const LAST_FRAGMENT: u8 = 0x01;
/// Most fragments one message is cut into (the number is one byte, 0 is invalid).
pub const MAX_FRAGMENT_NUMBER: u8 = u8::MAX;

/// A parsed fragment payload body (after the generic header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentPayload<'a> {
    /// Which message the fragment belongs to (the same in every fragment of one message).
    pub id: u16,
    /// Position of the fragment, from 1.
    pub number: u8,
    /// This is the last fragment of the message.
    pub last: bool,
    /// The piece of the original message.
    pub data: &'a [u8],
}

impl<'a> FragmentPayload<'a> {
    /// Parses the body. Fragment number 0 is [`WireError::BadValue`] (numbers start at 1).
    pub fn parse(body: &'a [u8]) -> Result<FragmentPayload<'a>, WireError> {
        let id = be16(body, 0).ok_or(WireError::Truncated)?;
        let (number, flags) = match body.get(2..FRAGMENT_FIXED_LEN) {
            Some([n, f]) => (*n, *f),
            _ => return Err(WireError::Truncated),
        };
        if number == 0 {
            return Err(WireError::BadValue);
        }
        Ok(FragmentPayload {
            id,
            number,
            last: flags & LAST_FRAGMENT != 0,
            data: body.get(FRAGMENT_FIXED_LEN..).unwrap_or(&[]),
        })
    }

    /// Encodes a body.
    pub fn emit(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(FRAGMENT_FIXED_LEN + self.data.len());
        v.extend_from_slice(&self.id.to_be_bytes());
        v.push(self.number);
        v.push(if self.last { LAST_FRAGMENT } else { 0 });
        v.extend_from_slice(self.data);
        v
    }
}

/// Cuts the ISAKMP message `message` (cookies taken from its header) into fragment messages
/// whose fragment data is at most `chunk` bytes each. Returns `None` when the message does not
/// need it (at most `chunk` bytes), when it is not an ISAKMP message, or when it would take
/// more than [`MAX_FRAGMENT_NUMBER`] fragments.
pub fn split(
    message: &[u8],
    chunk: usize,
    id: u16,
    exchange: ExchangeType,
) -> Option<Vec<Vec<u8>>> {
    let h = super::Header::new_checked(message).ok()?;
    let whole = h.message();
    if chunk == 0 || whole.len() <= chunk {
        return None;
    }
    let count = whole.len().div_ceil(chunk);
    if count > usize::from(MAX_FRAGMENT_NUMBER) {
        return None;
    }
    let header = HeaderRepr {
        icookie: h.icookie(),
        rcookie: h.rcookie(),
        next_payload: PayloadType::FRAGMENT,
        exchange,
        flags: Flags(0),
        message_id: 0,
    };
    let out = whole
        .chunks(chunk)
        .zip(1u8..)
        .map(|(data, number)| {
            let body = FragmentPayload {
                id,
                number,
                last: usize::from(number) == count,
                data,
            }
            .emit();
            let mut c = PayloadChain::new();
            c.push(PayloadType::FRAGMENT, &body);
            header.emit_with_body(c.bytes())
        })
        .collect();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::{Header, Payloads};
    use super::*;

    /// A fragment as strongSwan 5.9 sends it (charon's `fragment_payload_create_from_data`:
    /// ID 1, number 2, last): generic header, ID, number, flags, data.
    #[test]
    fn parse_and_emit() {
        let b = hex::decode("0001020161626364").unwrap();
        let f = FragmentPayload::parse(&b).unwrap();
        assert_eq!((f.id, f.number, f.last), (1, 2, true));
        assert_eq!(f.data, b"abcd");
        assert_eq!(f.emit(), b);
        let b = hex::decode("12340700").unwrap();
        let f = FragmentPayload::parse(&b).unwrap();
        assert_eq!(
            (f.id, f.number, f.last, f.data),
            (0x1234, 7, false, &[][..])
        );
        assert_eq!(
            FragmentPayload::parse(&[0, 1, 0, 1]),
            Err(WireError::BadValue)
        );
        assert_eq!(
            FragmentPayload::parse(&[0, 1, 1]),
            Err(WireError::Truncated)
        );
    }

    fn message(len: usize) -> Vec<u8> {
        let h = HeaderRepr {
            icookie: [1; 8],
            rcookie: [2; 8],
            next_payload: PayloadType::ID,
            exchange: ExchangeType::IDENTITY_PROTECTION,
            flags: Flags(Flags::ENCRYPTION),
            message_id: 0,
        };
        let body: Vec<u8> = (0..len - 28).map(|i| i as u8).collect();
        h.emit_with_body(&body)
    }

    #[test]
    fn split_cuts_the_whole_message_and_marks_the_last() {
        let m = message(1000);
        assert!(split(&m, 1000, 9, ExchangeType::IDENTITY_PROTECTION).is_none());
        let frags = split(&m, 300, 9, ExchangeType::IDENTITY_PROTECTION).unwrap();
        assert_eq!(frags.len(), 4);
        let mut joined = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let h = Header::new_checked(&f[..]).unwrap();
            assert_eq!(h.icookie(), [1; 8]);
            assert_eq!(h.rcookie(), [2; 8]);
            assert_eq!(h.next_payload(), PayloadType::FRAGMENT);
            assert_eq!(h.exchange(), ExchangeType::IDENTITY_PROTECTION);
            assert_eq!((h.flags(), h.message_id()), (Flags(0), 0));
            let p: Vec<_> = Payloads::new(h.body(), h.next_payload())
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(p.len(), 1);
            let fr = FragmentPayload::parse(p[0].body).unwrap();
            assert_eq!(fr.id, 9);
            assert_eq!(usize::from(fr.number), i + 1);
            assert_eq!(fr.last, i == 3);
            assert_eq!(f.len(), 28 + 4 + 4 + fr.data.len());
            joined.extend_from_slice(fr.data);
        }
        assert_eq!(joined, m);
        // The first fragment in bytes: header (next payload 132, ID_PROT, flags 0, M-ID 0,
        // length 28 + 8 + 300), then the fragment payload header (length 4 + 4 + 300).
        assert_eq!(
            hex::encode(&frags[0][..36]),
            "0101010101010101020202020202020284100200000000000000015000000134000901 00"
                .replace(' ', "")
        );
    }

    #[test]
    fn split_refuses_what_it_cannot_do() {
        assert!(split(&[0; 10], 4, 1, ExchangeType::AGGRESSIVE).is_none());
        let m = message(1000);
        assert!(split(&m, 0, 1, ExchangeType::AGGRESSIVE).is_none());
        assert!(
            split(&m, 3, 1, ExchangeType::AGGRESSIVE).is_none(),
            "334 fragments"
        );
        assert_eq!(
            split(&m, 4, 1, ExchangeType::AGGRESSIVE).unwrap().len(),
            250
        );
    }
}
