//! Configuration payload (RFC 7296 §3.15): a CFG type and type/length/value attributes.

use super::writer::PayloadRepr;
use super::{be16, put, Error, PayloadType};

/// Most attributes we read from one CP payload.
pub const MAX_CP_ATTRIBUTES: usize = 64;

/// Configuration attribute types (RFC 7296 §3.15.1): IKEv1 mode-config's registry, which IKEv2
/// shares (1–15; the XAUTH and Cisco Unity types are IKEv1's only).
pub use crate::wire::isakmp::cfg::CfgAttr as CpAttributeType;
/// CFG types (RFC 7296 §3.15): the registry IKEv1 mode-config defined, shared.
pub use crate::wire::isakmp::cfg::CfgType;

/// One configuration attribute (an empty value asks for one in a CFG_REQUEST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CpAttribute<'a> {
    /// Attribute type (the reserved top bit is dropped on parse and refused on emit).
    pub kind: CpAttributeType,
    /// Value.
    pub value: &'a [u8],
}

/// A CP payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CpRepr<'a> {
    /// CFG type.
    pub cfg_type: CfgType,
    /// Attributes in order.
    pub attributes: Vec<CpAttribute<'a>>,
}

impl<'a> CpRepr<'a> {
    /// Parses a CP body (bounded by [`MAX_CP_ATTRIBUTES`]).
    pub fn parse(body: &'a [u8]) -> Result<CpRepr<'a>, Error> {
        let cfg_type = CfgType(*body.first().ok_or(Error::Truncated)?);
        let mut rest = body.get(4..).ok_or(Error::Truncated)?;
        let mut attributes = Vec::new();
        while !rest.is_empty() {
            if attributes.len() >= MAX_CP_ATTRIBUTES {
                return Err(Error::TooMany);
            }
            let kind = CpAttributeType(be16(rest, 0).ok_or(Error::Truncated)? & 0x7fff);
            let len = usize::from(be16(rest, 2).ok_or(Error::Truncated)?);
            let value = rest.get(4..4 + len).ok_or(Error::BadLength)?;
            attributes.push(CpAttribute { kind, value });
            rest = rest.get(4 + len..).unwrap_or(&[]);
        }
        Ok(CpRepr {
            cfg_type,
            attributes,
        })
    }
}

impl PayloadRepr for CpRepr<'_> {
    fn kind(&self) -> PayloadType {
        PayloadType::CP
    }

    fn buffer_len(&self) -> usize {
        4 + self
            .attributes
            .iter()
            .map(|a| 4 + a.value.len())
            .sum::<usize>()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        put(buf, 0, &[self.cfg_type.0, 0, 0, 0])?;
        let mut off = 4;
        for a in &self.attributes {
            if a.kind.0 & 0x8000 != 0 {
                return Err(Error::BadValue);
            }
            let len = u16::try_from(a.value.len()).map_err(|_| Error::TooLong)?;
            put(buf, off, &a.kind.0.to_be_bytes())?;
            put(buf, off + 2, &len.to_be_bytes())?;
            put(buf, off + 4, a.value)?;
            off += 4 + a.value.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_by_hand_and_round_trip() {
        // CFG_REPLY: INTERNAL_IP4_ADDRESS 10.1.0.5, then an empty INTERNAL_IP6_DNS
        let b = [2, 0, 0, 0, 0, 1, 0, 4, 10, 1, 0, 5, 0, 10, 0, 0];
        let cp = CpRepr::parse(&b).unwrap();
        assert_eq!(cp.cfg_type, CfgType::REPLY);
        assert_eq!(
            cp.attributes[0],
            CpAttribute {
                kind: CpAttributeType::INTERNAL_IP4_ADDRESS,
                value: &[10, 1, 0, 5]
            }
        );
        assert_eq!(
            cp.attributes[1],
            CpAttribute {
                kind: CpAttributeType::INTERNAL_IP6_DNS,
                value: &[]
            }
        );
        let mut out = vec![0u8; cp.buffer_len()];
        cp.emit(&mut out).unwrap();
        assert_eq!(out, b);
        assert_eq!(CpRepr::parse(&b[..11]), Err(Error::BadLength));
        assert_eq!(CpRepr::parse(&b[..15]), Err(Error::Truncated));
        assert_eq!(CpRepr::parse(&b[..14]), Err(Error::Truncated));
        assert_eq!(CpRepr::parse(&b[..3]), Err(Error::Truncated));
        let many: Vec<u8> = [1, 0, 0, 0]
            .into_iter()
            .chain((0..65).flat_map(|_| [0, 1, 0, 0]))
            .collect();
        assert_eq!(CpRepr::parse(&many), Err(Error::TooMany));
    }
}
