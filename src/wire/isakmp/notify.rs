//! Notification (RFC 2408 §3.14) and Delete (§3.15) payloads with the IPsec DOI.

use super::{be16, be32, NotifyType, ProtocolId, WireError};

/// Most SPIs we read from one Delete payload.
pub const MAX_DELETE_SPIS: usize = 256;

/// A parsed Notification payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyPayload<'a> {
    /// Domain of interpretation.
    pub doi: u32,
    /// Protocol the notification is about.
    pub protocol: ProtocolId,
    /// Notify message type.
    pub kind: NotifyType,
    /// SPI (16-byte cookie pair for ISAKMP, 4 bytes for ESP, or empty).
    pub spi: &'a [u8],
    /// Notification data.
    pub data: &'a [u8],
}

impl<'a> NotifyPayload<'a> {
    /// Parses the body (after the generic header).
    pub fn parse(body: &'a [u8]) -> Result<NotifyPayload<'a>, WireError> {
        let doi = be32(body, 0).ok_or(WireError::Truncated)?;
        let protocol = ProtocolId(*body.get(4).ok_or(WireError::Truncated)?);
        let spi_len = *body.get(5).ok_or(WireError::Truncated)? as usize;
        let kind = NotifyType(be16(body, 6).ok_or(WireError::Truncated)?);
        let spi = body.get(8..8 + spi_len).ok_or(WireError::Truncated)?;
        Ok(NotifyPayload {
            doi,
            protocol,
            kind,
            spi,
            data: body.get(8 + spi_len..).unwrap_or(&[]),
        })
    }

    /// Encodes a body.
    pub fn emit(
        doi: u32,
        protocol: ProtocolId,
        kind: NotifyType,
        spi: &[u8],
        data: &[u8],
    ) -> Vec<u8> {
        let mut v = doi.to_be_bytes().to_vec();
        v.push(protocol.0);
        v.push(spi.len().min(255) as u8);
        v.extend_from_slice(&kind.0.to_be_bytes());
        v.extend_from_slice(spi.get(..255).unwrap_or(spi));
        v.extend_from_slice(data);
        v
    }
}

/// A parsed Delete payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletePayload<'a> {
    /// Domain of interpretation.
    pub doi: u32,
    /// Protocol of the SAs deleted.
    pub protocol: ProtocolId,
    /// Size of each SPI (16 for ISAKMP, 4 for ESP).
    pub spi_size: u8,
    spis: &'a [u8],
}

impl<'a> DeletePayload<'a> {
    /// Parses the body; the declared SPI count must fit the data (capped at [`MAX_DELETE_SPIS`]).
    pub fn parse(body: &'a [u8]) -> Result<DeletePayload<'a>, WireError> {
        let doi = be32(body, 0).ok_or(WireError::Truncated)?;
        let protocol = ProtocolId(*body.get(4).ok_or(WireError::Truncated)?);
        let spi_size = *body.get(5).ok_or(WireError::Truncated)?;
        let n = be16(body, 6).ok_or(WireError::Truncated)? as usize;
        if spi_size == 0 || n == 0 {
            return Err(WireError::BadValue);
        }
        let n = n.min(MAX_DELETE_SPIS);
        let spis = body
            .get(8..8 + n * spi_size as usize)
            .ok_or(WireError::Truncated)?;
        Ok(DeletePayload {
            doi,
            protocol,
            spi_size,
            spis,
        })
    }

    /// The SPIs, each `spi_size` bytes.
    pub fn spis(&self) -> impl Iterator<Item = &'a [u8]> {
        self.spis.chunks_exact(usize::from(self.spi_size.max(1)))
    }

    /// Encodes a body deleting `spis` (all of the same size).
    pub fn emit(doi: u32, protocol: ProtocolId, spis: &[&[u8]]) -> Vec<u8> {
        let size = spis.first().map(|s| s.len()).unwrap_or(0);
        let mut v = doi.to_be_bytes().to_vec();
        v.push(protocol.0);
        v.push(size as u8);
        v.extend_from_slice(&(spis.len() as u16).to_be_bytes());
        for s in spis {
            v.extend_from_slice(s);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NO-PROPOSAL-CHOSEN from strongSwan (seed 003, #3006), body after the generic header.
    #[test]
    fn seed_no_proposal_chosen() {
        let b = hex::decode("000000010110000e442f96f6896a2deb544cc5837f7aba35").unwrap();
        let n = NotifyPayload::parse(&b).unwrap();
        assert_eq!(n.doi, 1);
        assert_eq!(n.protocol, ProtocolId::ISAKMP);
        assert_eq!(n.kind, NotifyType::NO_PROPOSAL_CHOSEN);
        assert_eq!(n.spi.len(), 16);
        assert!(n.data.is_empty());
        assert_eq!(
            NotifyPayload::emit(
                1,
                ProtocolId::ISAKMP,
                NotifyType::NO_PROPOSAL_CHOSEN,
                n.spi,
                &[]
            ),
            b
        );
    }

    /// R-U-THERE with sequence 2367 (seed 003, #994).
    #[test]
    fn seed_r_u_there() {
        let b = hex::decode(
            "000000010110 8d28 80f5f36ce1766d908cfaf864c7f83e09 0000093f".replace(' ', ""),
        )
        .unwrap();
        let n = NotifyPayload::parse(&b).unwrap();
        assert_eq!(n.kind, NotifyType::R_U_THERE);
        assert_eq!(n.data, &[0, 0, 9, 0x3f]);
    }

    /// Delete of ESP SPI cd4b0c11 (seed 003, #4748) and of the ISAKMP SA (#4750).
    #[test]
    fn seed_deletes() {
        let b = hex::decode("0000000103040001cd4b0c11").unwrap();
        let d = DeletePayload::parse(&b).unwrap();
        assert_eq!(d.protocol, ProtocolId::IPSEC_ESP);
        assert_eq!(
            d.spis().collect::<Vec<_>>(),
            vec![&[0xcd, 0x4b, 0x0c, 0x11][..]]
        );
        assert_eq!(
            DeletePayload::emit(1, ProtocolId::IPSEC_ESP, &[&[0xcd, 0x4b, 0x0c, 0x11]]),
            b
        );
        let b = hex::decode("00000001011000013e630be8eae722e37e702f546e15df42").unwrap();
        let d = DeletePayload::parse(&b).unwrap();
        assert_eq!(d.spi_size, 16);
        assert_eq!(d.spis().count(), 1);
        // count that lies
        let mut bad = b.clone();
        bad[7] = 9;
        assert_eq!(
            DeletePayload::parse(&bad).unwrap_err(),
            WireError::Truncated
        );
        bad[5] = 0;
        assert_eq!(DeletePayload::parse(&bad).unwrap_err(), WireError::BadValue);
    }
}
