//! The Encrypted and Authenticated Fragment payload SKF (RFC 7383 §2.5): fragment number,
//! total fragments, then IV, ciphertext and ICV as the crypto layer reads them.
//!
//! The plain SK payload (RFC 7296 §3.14) has no fixed part: its body is all opaque, so the
//! chain iterator's body is what the crypto layer takes.

use super::{be16, Error};

/// A parsed SKF body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SkfRepr<'a> {
    /// This fragment's number, from 1.
    pub fragment_number: u16,
    /// How many fragments the message was split into.
    pub total_fragments: u16,
    /// IV, encrypted data and ICV.
    pub encrypted: &'a [u8],
}

impl<'a> SkfRepr<'a> {
    /// Parses an SKF body; 1 <= fragment number <= total fragments.
    pub fn parse(body: &'a [u8]) -> Result<SkfRepr<'a>, Error> {
        let fragment_number = be16(body, 0).ok_or(Error::Truncated)?;
        let total_fragments = be16(body, 2).ok_or(Error::Truncated)?;
        if fragment_number == 0 || fragment_number > total_fragments {
            return Err(Error::BadValue);
        }
        Ok(SkfRepr {
            fragment_number,
            total_fragments,
            encrypted: body.get(4..).unwrap_or(&[]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skf_by_hand() {
        let f = SkfRepr::parse(&[0, 2, 0, 3, 0xaa]).unwrap();
        assert_eq!(
            (f.fragment_number, f.total_fragments, f.encrypted),
            (2, 3, &[0xaa][..])
        );
        assert_eq!(SkfRepr::parse(&[0, 0, 0, 3]), Err(Error::BadValue));
        assert_eq!(SkfRepr::parse(&[0, 4, 0, 3]), Err(Error::BadValue));
        assert_eq!(SkfRepr::parse(&[0, 1, 0]), Err(Error::Truncated));
    }
}
