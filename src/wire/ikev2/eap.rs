//! EAP payload (RFC 7296 §3.16) carrying one EAP message (RFC 3748 §4).

use super::writer::PayloadRepr;
use super::{be16, put, Error, PayloadType};

open_enum! {
    /// EAP code (RFC 3748 §4).
    EapCode(u8) {
        /// Request (has a type).
        REQUEST = 1,
        /// Response (has a type).
        RESPONSE = 2,
        /// Success (no type, no data).
        SUCCESS = 3,
        /// Failure (no type, no data).
        FAILURE = 4,
    }
}

/// An EAP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EapRepr<'a> {
    /// Code.
    pub code: EapCode,
    /// Identifier matching responses to requests.
    pub identifier: u8,
    /// Method type for requests and responses (1 Identity, 26 MSCHAPv2 …); `None` otherwise.
    pub eap_type: Option<u8>,
    /// Type-data.
    pub data: &'a [u8],
}

impl<'a> EapRepr<'a> {
    /// Parses an EAP body; the EAP length must equal the payload body length.
    pub fn parse(body: &'a [u8]) -> Result<EapRepr<'a>, Error> {
        let (code, identifier) = match body.get(..2) {
            Some([c, i]) => (EapCode(*c), *i),
            _ => return Err(Error::Truncated),
        };
        let len = usize::from(be16(body, 2).ok_or(Error::Truncated)?);
        if len != body.len() {
            return Err(Error::BadLength);
        }
        let typed = code == EapCode::REQUEST || code == EapCode::RESPONSE;
        let (eap_type, data) = if typed {
            (
                Some(*body.get(4).ok_or(Error::Truncated)?),
                body.get(5..).unwrap_or(&[]),
            )
        } else {
            (None, body.get(4..).unwrap_or(&[]))
        };
        Ok(EapRepr {
            code,
            identifier,
            eap_type,
            data,
        })
    }
}

impl PayloadRepr for EapRepr<'_> {
    fn kind(&self) -> PayloadType {
        PayloadType::EAP
    }

    fn buffer_len(&self) -> usize {
        4 + usize::from(self.eap_type.is_some()) + self.data.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let len = u16::try_from(self.buffer_len()).map_err(|_| Error::TooLong)?;
        put(buf, 0, &[self.code.0, self.identifier])?;
        put(buf, 2, &len.to_be_bytes())?;
        let off = match self.eap_type {
            Some(t) => put(buf, 4, &[t]).map(|_| 5)?,
            None => 4,
        };
        put(buf, off, self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eap_by_hand() {
        let b = [1, 7, 0, 7, 1, b'h', b'i']; // Request, id 7, length 7, Identity "hi"
        let e = EapRepr::parse(&b).unwrap();
        assert_eq!(
            (e.code, e.identifier, e.eap_type, e.data),
            (EapCode::REQUEST, 7, Some(1), &b"hi"[..])
        );
        let mut out = [0u8; 7];
        e.emit(&mut out).unwrap();
        assert_eq!(out, b);
        let s = EapRepr::parse(&[3, 7, 0, 4]).unwrap();
        assert_eq!((s.code, s.eap_type), (EapCode::SUCCESS, None));
        assert_eq!(EapRepr::parse(&b[..6]), Err(Error::BadLength));
        assert_eq!(EapRepr::parse(&[1, 7, 0, 4]), Err(Error::Truncated));
        assert_eq!(EapRepr::parse(&[1, 7, 0]), Err(Error::Truncated));
    }
}
