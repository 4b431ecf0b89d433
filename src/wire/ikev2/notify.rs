//! Notify (RFC 7296 §3.10) and Delete (§3.11) payloads.

use super::writer::PayloadRepr;
use super::{be16, put, Error, PayloadType, ProtocolId};

/// Most SPIs we read from one Delete payload.
pub const MAX_DELETE_SPIS: usize = 256;

open_enum! {
    /// Notify message type (RFC 7296 §3.10.1, RFC 7383, RFC 7427, RFC 9242).
    NotifyType(u16) {
        /// UNSUPPORTED_CRITICAL_PAYLOAD (data: the payload type).
        UNSUPPORTED_CRITICAL_PAYLOAD = 1,
        /// INVALID_IKE_SPI.
        INVALID_IKE_SPI = 4,
        /// INVALID_MAJOR_VERSION.
        INVALID_MAJOR_VERSION = 5,
        /// INVALID_SYNTAX.
        INVALID_SYNTAX = 7,
        /// INVALID_MESSAGE_ID.
        INVALID_MESSAGE_ID = 9,
        /// INVALID_SPI.
        INVALID_SPI = 11,
        /// NO_PROPOSAL_CHOSEN.
        NO_PROPOSAL_CHOSEN = 14,
        /// INVALID_KE_PAYLOAD (data: the group the responder wants).
        INVALID_KE_PAYLOAD = 17,
        /// AUTHENTICATION_FAILED.
        AUTHENTICATION_FAILED = 24,
        /// SINGLE_PAIR_REQUIRED.
        SINGLE_PAIR_REQUIRED = 34,
        /// NO_ADDITIONAL_SAS.
        NO_ADDITIONAL_SAS = 35,
        /// INTERNAL_ADDRESS_FAILURE.
        INTERNAL_ADDRESS_FAILURE = 36,
        /// FAILED_CP_REQUIRED.
        FAILED_CP_REQUIRED = 37,
        /// TS_UNACCEPTABLE.
        TS_UNACCEPTABLE = 38,
        /// INVALID_SELECTORS.
        INVALID_SELECTORS = 39,
        /// TEMPORARY_FAILURE.
        TEMPORARY_FAILURE = 43,
        /// CHILD_SA_NOT_FOUND.
        CHILD_SA_NOT_FOUND = 44,
        /// INITIAL_CONTACT.
        INITIAL_CONTACT = 16384,
        /// SET_WINDOW_SIZE.
        SET_WINDOW_SIZE = 16385,
        /// ADDITIONAL_TS_POSSIBLE.
        ADDITIONAL_TS_POSSIBLE = 16386,
        /// IPCOMP_SUPPORTED.
        IPCOMP_SUPPORTED = 16387,
        /// NAT_DETECTION_SOURCE_IP.
        NAT_DETECTION_SOURCE_IP = 16388,
        /// NAT_DETECTION_DESTINATION_IP.
        NAT_DETECTION_DESTINATION_IP = 16389,
        /// COOKIE.
        COOKIE = 16390,
        /// USE_TRANSPORT_MODE.
        USE_TRANSPORT_MODE = 16391,
        /// HTTP_CERT_LOOKUP_SUPPORTED.
        HTTP_CERT_LOOKUP_SUPPORTED = 16392,
        /// REKEY_SA.
        REKEY_SA = 16393,
        /// ESP_TFC_PADDING_NOT_SUPPORTED.
        ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
        /// NON_FIRST_FRAGMENTS_ALSO.
        NON_FIRST_FRAGMENTS_ALSO = 16395,
        /// IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383).
        IKEV2_FRAGMENTATION_SUPPORTED = 16430,
        /// SIGNATURE_HASH_ALGORITHMS (RFC 7427).
        SIGNATURE_HASH_ALGORITHMS = 16431,
        /// INTERMEDIATE_EXCHANGE_SUPPORTED (RFC 9242).
        INTERMEDIATE_EXCHANGE_SUPPORTED = 16438,
        /// ADDITIONAL_KEY_EXCHANGE (RFC 9370): links IKE_FOLLOWUP_KE exchanges to their
        /// CREATE_CHILD_SA.
        ADDITIONAL_KEY_EXCHANGE = 16441,
    }
}

impl NotifyType {
    /// True for the error range (below 16384), which fails the request it answers.
    pub fn is_error(self) -> bool {
        self.0 < 16384
    }
}

/// A Notify payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotifyRepr<'a> {
    /// Protocol of the SA concerned (NONE when not about an SA).
    pub protocol: ProtocolId,
    /// Notify message type.
    pub kind: NotifyType,
    /// SPI (empty, or 4 bytes for a child SA).
    pub spi: &'a [u8],
    /// Notification data.
    pub data: &'a [u8],
}

impl<'a> NotifyRepr<'a> {
    /// Parses a Notify body.
    pub fn parse(body: &'a [u8]) -> Result<NotifyRepr<'a>, Error> {
        let (protocol, spi_len) = match body.get(..2) {
            Some([p, s]) => (ProtocolId(*p), usize::from(*s)),
            _ => return Err(Error::Truncated),
        };
        let kind = NotifyType(be16(body, 2).ok_or(Error::Truncated)?);
        let spi = body.get(4..4 + spi_len).ok_or(Error::Truncated)?;
        let data = body.get(4 + spi_len..).unwrap_or(&[]);
        Ok(NotifyRepr {
            protocol,
            kind,
            spi,
            data,
        })
    }
}

impl PayloadRepr for NotifyRepr<'_> {
    fn kind(&self) -> PayloadType {
        PayloadType::N
    }

    fn buffer_len(&self) -> usize {
        4 + self.spi.len() + self.data.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let spi_len = u8::try_from(self.spi.len()).map_err(|_| Error::TooLong)?;
        put(buf, 0, &[self.protocol.0, spi_len])?;
        put(buf, 2, &self.kind.0.to_be_bytes())?;
        put(buf, 4, self.spi)?;
        put(buf, 4 + self.spi.len(), self.data)
    }
}

/// A Delete payload: the IKE SA itself (no SPIs) or child SAs by their inbound SPIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeleteRepr<'a> {
    /// IKE, AH or ESP.
    pub protocol: ProtocolId,
    /// Bytes per SPI (0 for IKE, 4 for AH/ESP).
    pub spi_size: u8,
    spis: &'a [u8],
}

impl<'a> DeleteRepr<'a> {
    /// A Delete of the given SPIs, all `spi_size` long (`spis` is their concatenation).
    pub fn new(
        protocol: ProtocolId,
        spi_size: u8,
        spis: &'a [u8],
    ) -> Result<DeleteRepr<'a>, Error> {
        let d = DeleteRepr {
            protocol,
            spi_size,
            spis,
        };
        d.count()?;
        Ok(d)
    }

    /// Parses a Delete body; the declared count must match the SPI bytes exactly.
    pub fn parse(body: &'a [u8]) -> Result<DeleteRepr<'a>, Error> {
        let (protocol, spi_size) = match body.get(..2) {
            Some([p, s]) => (ProtocolId(*p), *s),
            _ => return Err(Error::Truncated),
        };
        let n = usize::from(be16(body, 2).ok_or(Error::Truncated)?);
        let spis = body.get(4..).unwrap_or(&[]);
        let d = DeleteRepr {
            protocol,
            spi_size,
            spis,
        };
        if d.count()? != n {
            return Err(Error::BadLength);
        }
        Ok(d)
    }

    /// Number of SPIs (bounded by [`MAX_DELETE_SPIS`]).
    fn count(&self) -> Result<usize, Error> {
        if self.spi_size == 0 {
            return if self.spis.is_empty() {
                Ok(0)
            } else {
                Err(Error::BadLength)
            };
        }
        let size = usize::from(self.spi_size);
        if self.spis.len() % size != 0 {
            return Err(Error::BadLength);
        }
        let n = self.spis.len() / size;
        if n > MAX_DELETE_SPIS {
            return Err(Error::TooMany);
        }
        Ok(n)
    }

    /// The SPIs, each `spi_size` bytes.
    pub fn spis(&self) -> core::slice::ChunksExact<'a, u8> {
        // spi_size 0 (IKE) yields nothing: chunks of 1 over an empty slice.
        let spis = if self.spi_size == 0 {
            &[][..]
        } else {
            self.spis
        };
        spis.chunks_exact(usize::from(self.spi_size.max(1)))
    }
}

impl PayloadRepr for DeleteRepr<'_> {
    fn kind(&self) -> PayloadType {
        PayloadType::D
    }

    fn buffer_len(&self) -> usize {
        4 + self.spis.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let n = u16::try_from(self.count()?).map_err(|_| Error::TooLong)?;
        put(buf, 0, &[self.protocol.0, self.spi_size])?;
        put(buf, 2, &n.to_be_bytes())?;
        put(buf, 4, self.spis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_by_hand() {
        // INVALID_KE_PAYLOAD, no SPI, data: group 19
        let b = [0, 0, 0, 17, 0, 19];
        let n = NotifyRepr::parse(&b).unwrap();
        assert_eq!(
            (n.protocol, n.kind, n.spi, n.data),
            (
                ProtocolId::NONE,
                NotifyType::INVALID_KE_PAYLOAD,
                &[][..],
                &[0, 19][..]
            )
        );
        assert!(n.kind.is_error());
        let mut out = [0u8; 6];
        n.emit(&mut out).unwrap();
        assert_eq!(out, b);
        // REKEY_SA for ESP SPI 0x01020304
        let b = [3, 4, 0x40, 0x09, 1, 2, 3, 4];
        let n = NotifyRepr::parse(&b).unwrap();
        assert_eq!((n.kind, n.spi), (NotifyType::REKEY_SA, &[1, 2, 3, 4][..]));
        assert!(!n.kind.is_error());
        assert_eq!(NotifyRepr::parse(&b[..7]), Err(Error::Truncated));
        assert_eq!(NotifyRepr::parse(&b[..3]), Err(Error::Truncated));
    }

    #[test]
    fn delete_by_hand() {
        let b = [3, 4, 0, 2, 1, 1, 1, 1, 2, 2, 2, 2];
        let d = DeleteRepr::parse(&b).unwrap();
        let spis: Vec<_> = d.spis().collect();
        assert_eq!(spis, [&[1u8; 4][..], &[2u8; 4][..]]);
        let mut out = [0u8; 12];
        d.emit(&mut out).unwrap();
        assert_eq!(out, b);
        let ike = DeleteRepr::parse(&[1, 0, 0, 0]).unwrap();
        assert_eq!(ike.spis().count(), 0);
        assert_eq!(
            DeleteRepr::parse(&[3, 4, 0, 3, 1, 1, 1, 1]),
            Err(Error::BadLength)
        );
        assert_eq!(
            DeleteRepr::parse(&[3, 4, 0, 1, 1, 1, 1]),
            Err(Error::BadLength)
        );
        assert_eq!(DeleteRepr::parse(&[1, 0, 0, 0, 9]), Err(Error::BadLength));
        let many = [1u8; 4 * 257];
        assert_eq!(
            DeleteRepr::new(ProtocolId::ESP, 4, &many),
            Err(Error::TooMany)
        );
    }
}
