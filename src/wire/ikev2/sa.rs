//! The Security Association payload (RFC 7296 §3.3): proposals, transforms and attributes.
//!
//! Proposal and transform substructures carry a "last substructure" byte: 0 for the last one,
//! 2 (proposal) or 3 (transform) when another follows. [`SaPayload`] walks them without
//! copying; [`SaRepr`] is the owned form the engine builds and emits.

use super::writer::PayloadRepr;
use super::{be16, put, Error, PayloadType};

/// Most proposals we look at in one SA payload.
pub const MAX_PROPOSALS: usize = 64;
/// Most transforms we look at in one proposal.
pub const MAX_TRANSFORMS: usize = 64;
/// Most attributes we look at in one transform.
pub const MAX_ATTRIBUTES: usize = 16;

const MORE_PROPOSALS: u8 = 2;
const MORE_TRANSFORMS: u8 = 3;
const AF_TV: u16 = 0x8000;

open_enum! {
    /// Security protocol of a proposal, notification or delete (RFC 7296 §3.3.1).
    ProtocolId(u8) {
        /// Not about an SA (notifications only).
        NONE = 0,
        /// The IKE SA.
        IKE = 1,
        /// AH.
        AH = 2,
        /// ESP.
        ESP = 3,
    }
}

open_enum! {
    /// Transform type (RFC 7296 §3.3.2, RFC 9370 for the additional key exchanges).
    TransformType(u8) {
        /// Encryption algorithm.
        ENCR = 1,
        /// Pseudorandom function.
        PRF = 2,
        /// Integrity algorithm.
        INTEG = 3,
        /// Key exchange method (formerly Diffie-Hellman group).
        KE = 4,
        /// Extended sequence numbers.
        ESN = 5,
        /// Additional key exchange 1.
        ADDKE1 = 6,
        /// Additional key exchange 2.
        ADDKE2 = 7,
        /// Additional key exchange 3.
        ADDKE3 = 8,
        /// Additional key exchange 4.
        ADDKE4 = 9,
        /// Additional key exchange 5.
        ADDKE5 = 10,
        /// Additional key exchange 6.
        ADDKE6 = 11,
        /// Additional key exchange 7.
        ADDKE7 = 12,
    }
}

open_enum! {
    /// Transform attribute type (RFC 7296 §3.3.5).
    AttributeType(u16) {
        /// Key length in bits (always TV).
        KEY_LENGTH = 14,
    }
}

/// A zero-copy view of an SA payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaPayload<'a> {
    proposals: &'a [u8],
}

impl<'a> SaPayload<'a> {
    /// Wraps an SA body; an SA holds at least one proposal.
    pub fn parse(body: &'a [u8]) -> Result<SaPayload<'a>, Error> {
        if body.is_empty() {
            return Err(Error::Truncated);
        }
        Ok(SaPayload { proposals: body })
    }

    /// Iterates the proposals (bounded by [`MAX_PROPOSALS`]).
    pub fn proposals(&self) -> impl Iterator<Item = Result<Proposal<'a>, Error>> {
        Substructs::new(self.proposals, MORE_PROPOSALS, MAX_PROPOSALS)
            .map(|r| r.and_then(Proposal::parse))
    }
}

/// A walk over proposal or transform substructures; yields `Err` once, then stops.
#[derive(Debug, Clone)]
struct Substructs<'a> {
    data: &'a [u8],
    more: u8,
    max: usize,
    count: usize,
    done: bool,
}

impl<'a> Substructs<'a> {
    fn new(data: &'a [u8], more: u8, max: usize) -> Substructs<'a> {
        Substructs {
            data,
            more,
            max,
            count: 0,
            done: data.is_empty(),
        }
    }

    fn step(&mut self) -> Result<&'a [u8], Error> {
        if self.count >= self.max {
            return Err(Error::TooMany);
        }
        let last = *self.data.first().ok_or(Error::Truncated)?;
        let len = be16(self.data, 2).ok_or(Error::Truncated)? as usize;
        let body = self.data.get(4..len).ok_or(Error::BadLength)?;
        self.data = self.data.get(len..).unwrap_or(&[]);
        self.count += 1;
        match last {
            0 if self.data.is_empty() => self.done = true,
            0 => return Err(Error::BadLength),
            m if m == self.more && self.data.is_empty() => return Err(Error::Truncated),
            m if m == self.more => {}
            _ => return Err(Error::BadValue),
        }
        Ok(body)
    }
}

impl<'a> Iterator for Substructs<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

/// One proposal: number, protocol, SPI and its transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal<'a> {
    /// Proposal number (1 for the first, then one more each).
    pub number: u8,
    /// Protocol negotiated.
    pub protocol: ProtocolId,
    /// The SPI (empty or 8 bytes for IKE, 4 for ESP/AH).
    pub spi: &'a [u8],
    /// The transform count as declared (checked against the chain by [`SaRepr::parse`]).
    pub declared_transforms: u8,
    transforms: &'a [u8],
}

impl<'a> Proposal<'a> {
    fn parse(body: &'a [u8]) -> Result<Proposal<'a>, Error> {
        let (number, protocol, spi_len, n) = match body.get(..4) {
            Some([a, b, c, d]) => (*a, ProtocolId(*b), usize::from(*c), *d),
            _ => return Err(Error::Truncated),
        };
        let spi = body.get(4..4 + spi_len).ok_or(Error::Truncated)?;
        Ok(Proposal {
            number,
            protocol,
            spi,
            declared_transforms: n,
            transforms: body.get(4 + spi_len..).unwrap_or(&[]),
        })
    }

    /// Iterates the transforms (bounded by [`MAX_TRANSFORMS`]).
    pub fn transforms(&self) -> impl Iterator<Item = Result<Transform<'a>, Error>> {
        Substructs::new(self.transforms, MORE_TRANSFORMS, MAX_TRANSFORMS)
            .map(|r| r.and_then(Transform::parse))
    }
}

/// One transform: type, ID and raw attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transform<'a> {
    /// Transform type.
    pub kind: TransformType,
    /// Transform ID within its type (e.g. ENCR_AES_CBC 12, a key exchange group number).
    pub id: u16,
    attrs: &'a [u8],
}

impl<'a> Transform<'a> {
    fn parse(body: &'a [u8]) -> Result<Transform<'a>, Error> {
        let kind = TransformType(*body.first().ok_or(Error::Truncated)?);
        let id = be16(body, 2).ok_or(Error::Truncated)?;
        Ok(Transform {
            kind,
            id,
            attrs: body.get(4..).unwrap_or(&[]),
        })
    }

    /// Iterates the attributes (bounded by [`MAX_ATTRIBUTES`]).
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            data: self.attrs,
            count: 0,
            done: false,
        }
    }
}

/// An attribute's value: TV (two bytes in the header) or TLV.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrValue<T> {
    /// Type/Value form (AF bit set).
    Tv(u16),
    /// Type/Length/Value form.
    Tlv(T),
}

/// A transform attribute (RFC 7296 §3.3.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute<T> {
    /// Attribute type (15 bits).
    pub kind: AttributeType,
    /// Its value.
    pub value: AttrValue<T>,
}

/// Iterator over transform attributes; yields `Err` once, then stops.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    data: &'a [u8],
    count: usize,
    done: bool,
}

impl<'a> Attributes<'a> {
    fn step(&mut self) -> Result<Attribute<&'a [u8]>, Error> {
        if self.count >= MAX_ATTRIBUTES {
            return Err(Error::TooMany);
        }
        let t = be16(self.data, 0).ok_or(Error::Truncated)?;
        let v = be16(self.data, 2).ok_or(Error::Truncated)?;
        let kind = AttributeType(t & !AF_TV);
        let (value, used) = if t & AF_TV != 0 {
            (AttrValue::Tv(v), 4)
        } else {
            let end = 4 + usize::from(v);
            (
                AttrValue::Tlv(self.data.get(4..end).ok_or(Error::BadLength)?),
                end,
            )
        };
        self.data = self.data.get(used..).unwrap_or(&[]);
        self.count += 1;
        Ok(Attribute { kind, value })
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Result<Attribute<&'a [u8]>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.data.is_empty() {
            return None;
        }
        let r = self.step();
        self.done = r.is_err();
        Some(r)
    }
}

/// An owned transform to emit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransformRepr {
    /// Transform type.
    pub kind: TransformType,
    /// Transform ID.
    pub id: u16,
    /// Attributes (Key Length for variable-key ciphers).
    pub attributes: Vec<Attribute<Vec<u8>>>,
}

impl TransformRepr {
    /// The Key Length attribute, if present in TV form.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a.value {
            AttrValue::Tv(v) if a.kind == AttributeType::KEY_LENGTH => Some(v),
            _ => None,
        })
    }

    fn parse(t: Transform<'_>) -> Result<TransformRepr, Error> {
        let attributes = t
            .attributes()
            .map(|r| {
                r.map(|a| Attribute {
                    kind: a.kind,
                    value: match a.value {
                        AttrValue::Tv(v) => AttrValue::Tv(v),
                        AttrValue::Tlv(b) => AttrValue::Tlv(b.to_vec()),
                    },
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(TransformRepr {
            kind: t.kind,
            id: t.id,
            attributes,
        })
    }

    fn buffer_len(&self) -> usize {
        8 + self.attributes.iter().map(attr_len).sum::<usize>()
    }

    fn emit(&self, buf: &mut [u8], last: bool) -> Result<usize, Error> {
        let len = checked_u16(self.buffer_len())?;
        let more = if last { 0 } else { MORE_TRANSFORMS };
        put(buf, 0, &[more, 0])?;
        put(buf, 2, &len.to_be_bytes())?;
        put(buf, 4, &[self.kind.0, 0])?;
        put(buf, 6, &self.id.to_be_bytes())?;
        let mut off = 8;
        for a in &self.attributes {
            off += emit_attr(a, buf.get_mut(off..).ok_or(Error::TooLong)?)?;
        }
        Ok(off)
    }
}

fn attr_len(a: &Attribute<Vec<u8>>) -> usize {
    match &a.value {
        AttrValue::Tv(_) => 4,
        AttrValue::Tlv(v) => 4 + v.len(),
    }
}

fn emit_attr(a: &Attribute<Vec<u8>>, buf: &mut [u8]) -> Result<usize, Error> {
    if a.kind.0 & AF_TV != 0 {
        return Err(Error::BadValue);
    }
    match &a.value {
        AttrValue::Tv(v) => {
            put(buf, 0, &(a.kind.0 | AF_TV).to_be_bytes())?;
            put(buf, 2, &v.to_be_bytes())?;
            Ok(4)
        }
        AttrValue::Tlv(v) => {
            put(buf, 0, &a.kind.0.to_be_bytes())?;
            put(buf, 2, &checked_u16(v.len())?.to_be_bytes())?;
            put(buf, 4, v)?;
            Ok(4 + v.len())
        }
    }
}

fn checked_u16(n: usize) -> Result<u16, Error> {
    u16::try_from(n).map_err(|_| Error::TooLong)
}

/// An owned proposal to emit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProposalRepr {
    /// Proposal number.
    pub number: u8,
    /// Protocol.
    pub protocol: ProtocolId,
    /// SPI (at most 255 bytes).
    pub spi: Vec<u8>,
    /// Transforms (at most 255).
    pub transforms: Vec<TransformRepr>,
}

impl ProposalRepr {
    fn parse(p: Proposal<'_>) -> Result<ProposalRepr, Error> {
        let transforms: Vec<_> = p
            .transforms()
            .map(|r| r.and_then(TransformRepr::parse))
            .collect::<Result<_, _>>()?;
        if transforms.len() != usize::from(p.declared_transforms) {
            return Err(Error::BadValue);
        }
        Ok(ProposalRepr {
            number: p.number,
            protocol: p.protocol,
            spi: p.spi.to_vec(),
            transforms,
        })
    }

    fn buffer_len(&self) -> usize {
        8 + self.spi.len()
            + self
                .transforms
                .iter()
                .map(TransformRepr::buffer_len)
                .sum::<usize>()
    }

    fn emit(&self, buf: &mut [u8], last: bool) -> Result<usize, Error> {
        let len = checked_u16(self.buffer_len())?;
        let spi_len = u8::try_from(self.spi.len()).map_err(|_| Error::TooLong)?;
        let n = u8::try_from(self.transforms.len()).map_err(|_| Error::TooLong)?;
        let more = if last { 0 } else { MORE_PROPOSALS };
        put(buf, 0, &[more, 0])?;
        put(buf, 2, &len.to_be_bytes())?;
        put(buf, 4, &[self.number, self.protocol.0, spi_len, n])?;
        put(buf, 8, &self.spi)?;
        let mut off = 8 + self.spi.len();
        for (i, t) in self.transforms.iter().enumerate() {
            let last = i + 1 == self.transforms.len();
            off += t.emit(buf.get_mut(off..).ok_or(Error::TooLong)?, last)?;
        }
        Ok(off)
    }
}

/// An owned SA payload: its proposals in order of preference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SaRepr {
    /// The proposals (at least one).
    pub proposals: Vec<ProposalRepr>,
}

impl SaRepr {
    /// Parses an SA body, checking every transform count.
    pub fn parse(body: &[u8]) -> Result<SaRepr, Error> {
        let proposals = SaPayload::parse(body)?
            .proposals()
            .map(|r| r.and_then(ProposalRepr::parse))
            .collect::<Result<_, _>>()?;
        Ok(SaRepr { proposals })
    }
}

impl PayloadRepr for SaRepr {
    fn kind(&self) -> PayloadType {
        PayloadType::SA
    }

    fn buffer_len(&self) -> usize {
        self.proposals.iter().map(ProposalRepr::buffer_len).sum()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        if self.proposals.is_empty() {
            return Err(Error::BadValue);
        }
        let mut off = 0;
        for (i, p) in self.proposals.iter().enumerate() {
            let last = i + 1 == self.proposals.len();
            off += p.emit(buf.get_mut(off..).ok_or(Error::TooLong)?, last)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One IKE proposal, AES-CBC-256 / PRF-HMAC-SHA2-256 / AUTH-HMAC-SHA2-256-128 / ECP-256,
    /// written field by field from RFC 7296 §3.3.1, §3.3.2 and §3.3.5.
    const IKE_PROPOSAL: [u8; 44] = [
        0, 0, 0, 44, // last proposal, reserved, length 44
        1, 1, 0, 4, // proposal 1, IKE, SPI size 0, 4 transforms
        3, 0, 0, 12, 1, 0, 0, 12, // more, length 12, ENCR, id 12 (AES-CBC)
        0x80, 14, 1, 0, // Key Length (TV) = 256
        3, 0, 0, 8, 2, 0, 0, 5, // PRF_HMAC_SHA2_256
        3, 0, 0, 8, 3, 0, 0, 12, // AUTH_HMAC_SHA2_256_128
        0, 0, 0, 8, 4, 0, 0, 19, // last, KE 19 (ECP-256)
    ];

    #[test]
    fn parses_a_proposal_by_hand() {
        let sa = SaRepr::parse(&IKE_PROPOSAL).unwrap();
        assert_eq!(sa.proposals.len(), 1);
        let p = &sa.proposals[0];
        assert_eq!((p.number, p.protocol, p.spi.len()), (1, ProtocolId::IKE, 0));
        let t: Vec<_> = p.transforms.iter().map(|t| (t.kind, t.id)).collect();
        assert_eq!(
            t,
            [
                (TransformType::ENCR, 12),
                (TransformType::PRF, 5),
                (TransformType::INTEG, 12),
                (TransformType::KE, 19)
            ]
        );
        assert_eq!(p.transforms[0].key_length(), Some(256));
        assert_eq!(p.transforms[1].key_length(), None);
    }

    #[test]
    fn round_trip_with_esp_spi_and_tlv() {
        let mut sa = SaRepr::parse(&IKE_PROPOSAL).unwrap();
        sa.proposals.push(ProposalRepr {
            number: 2,
            protocol: ProtocolId::ESP,
            spi: vec![0xc0, 1, 2, 3],
            transforms: vec![TransformRepr {
                kind: TransformType::ESN,
                id: 0,
                attributes: vec![Attribute {
                    kind: AttributeType(99),
                    value: AttrValue::Tlv(vec![7; 3]),
                }],
            }],
        });
        let mut buf = vec![0u8; sa.buffer_len()];
        sa.emit(&mut buf).unwrap();
        assert_eq!(&buf[..44], &{
            let mut b = IKE_PROPOSAL;
            b[0] = 2; // another proposal follows now
            b
        });
        assert_eq!(SaRepr::parse(&buf).unwrap(), sa);
        assert_eq!(sa.emit(&mut buf[..60]), Err(Error::TooLong));
    }

    #[test]
    fn rejects_malformed_substructures() {
        let mut b = IKE_PROPOSAL;
        b[7] = 3; // declares 3 transforms, carries 4
        assert_eq!(SaRepr::parse(&b), Err(Error::BadValue));
        let mut b = IKE_PROPOSAL;
        b[36] = 3; // last transform says "more"
        assert_eq!(SaRepr::parse(&b), Err(Error::Truncated));
        let mut b = IKE_PROPOSAL;
        b[3] = 45; // proposal longer than the payload
        assert_eq!(SaRepr::parse(&b), Err(Error::BadLength));
        let mut b = IKE_PROPOSAL;
        b[0] = 7; // neither last nor more
        assert_eq!(SaRepr::parse(&b), Err(Error::BadValue));
        assert_eq!(SaRepr::parse(&IKE_PROPOSAL[..43]), Err(Error::BadLength));
        assert_eq!(SaRepr::parse(&[]), Err(Error::Truncated));
        let mut b = IKE_PROPOSAL.to_vec();
        b[19] = 0x10; // TLV attribute claiming 4096 bytes
        b[16] = 0;
        assert_eq!(SaRepr::parse(&b), Err(Error::BadLength));
    }
}
