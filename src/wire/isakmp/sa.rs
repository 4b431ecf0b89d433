//! Security Association payload (RFC 2408 §3.4 with the IPsec DOI situation), its proposals
//! (§3.5), transforms (§3.6) and data attributes (§3.3, TV and TLV forms).

use super::{be16, be32, PayloadType, ProtocolId, WireError};

/// Most proposals we look at in one SA payload.
pub const MAX_PROPOSALS: usize = 64;
/// Most transforms we look at in one proposal.
pub const MAX_TRANSFORMS: usize = 256;
/// Most attributes we look at in one transform.
pub const MAX_ATTRIBUTES: usize = 64;

/// A parsed SA payload body: DOI, situation and the raw proposal chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaPayload<'a> {
    /// Domain of interpretation (1 = IPsec).
    pub doi: u32,
    /// Situation bitmap (1 = SIT_IDENTITY_ONLY).
    pub situation: u32,
    proposals: &'a [u8],
}

impl<'a> SaPayload<'a> {
    /// Parses the SA body (after the generic header). Only the IPsec DOI's 4-byte situation
    /// layout is supported; labelled-domain/secrecy situations are rejected as [`WireError::BadValue`].
    pub fn parse(body: &'a [u8]) -> Result<SaPayload<'a>, WireError> {
        let doi = be32(body, 0).ok_or(WireError::Truncated)?;
        let situation = be32(body, 4).ok_or(WireError::Truncated)?;
        if situation & !1 != 0 {
            return Err(WireError::BadValue);
        }
        Ok(SaPayload {
            doi,
            situation,
            proposals: body.get(8..).unwrap_or(&[]),
        })
    }

    /// Iterates the proposals (bounded by [`MAX_PROPOSALS`]).
    pub fn proposals(&self) -> ProposalIter<'a> {
        ProposalIter {
            inner: Chain::new(self.proposals, PayloadType::PROPOSAL, MAX_PROPOSALS),
        }
    }
}

/// A nested chain of proposal or transform payloads, where every "next" must be `kind` or NONE.
#[derive(Debug, Clone)]
struct Chain<'a> {
    data: &'a [u8],
    kind: PayloadType,
    max: usize,
    count: usize,
    done: bool,
}

impl<'a> Chain<'a> {
    fn new(data: &'a [u8], kind: PayloadType, max: usize) -> Chain<'a> {
        Chain {
            data,
            kind,
            max,
            count: 0,
            done: data.is_empty(),
        }
    }

    fn next_body(&mut self) -> Option<Result<&'a [u8], WireError>> {
        if self.done {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }

    fn step(&mut self) -> Result<&'a [u8], WireError> {
        if self.count >= self.max {
            return Err(WireError::TooMany);
        }
        let next = PayloadType(*self.data.first().ok_or(WireError::Truncated)?);
        let len = be16(self.data, 2).ok_or(WireError::Truncated)? as usize;
        if len < 4 {
            return Err(WireError::BadLength);
        }
        let body = self.data.get(4..len).ok_or(WireError::BadLength)?;
        self.data = self.data.get(len..).unwrap_or(&[]);
        self.count += 1;
        if next == PayloadType::NONE {
            self.done = true;
        } else if next != self.kind {
            return Err(WireError::BadValue);
        } else if self.data.is_empty() {
            return Err(WireError::Truncated);
        }
        Ok(body)
    }
}

/// Iterator over the proposals of an SA payload.
#[derive(Debug, Clone)]
pub struct ProposalIter<'a> {
    inner: Chain<'a>,
}

impl<'a> Iterator for ProposalIter<'a> {
    type Item = Result<Proposal<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        let body = match self.inner.next_body()? {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        Some(Proposal::parse(body))
    }
}

/// One proposal: number, protocol, SPI and its transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal<'a> {
    /// Proposal number (proposals with equal numbers form an AND bundle).
    pub number: u8,
    /// Protocol of this proposal.
    pub protocol: ProtocolId,
    /// The SPI (empty in phase 1; 4 bytes for ESP).
    pub spi: &'a [u8],
    /// The transform count as declared (not trusted; iteration follows the chain).
    pub declared_transforms: u8,
    transforms: &'a [u8],
}

impl<'a> Proposal<'a> {
    fn parse(body: &'a [u8]) -> Result<Proposal<'a>, WireError> {
        let (number, protocol, spi_len, n) = match body.get(..4) {
            Some([a, b, c, d]) => (*a, ProtocolId(*b), *c as usize, *d),
            _ => return Err(WireError::Truncated),
        };
        let spi = body.get(4..4 + spi_len).ok_or(WireError::Truncated)?;
        Ok(Proposal {
            number,
            protocol,
            spi,
            declared_transforms: n,
            transforms: body.get(4 + spi_len..).unwrap_or(&[]),
        })
    }

    /// Iterates the transforms (bounded by [`MAX_TRANSFORMS`]).
    pub fn transforms(&self) -> TransformIter<'a> {
        TransformIter {
            inner: Chain::new(self.transforms, PayloadType::TRANSFORM, MAX_TRANSFORMS),
        }
    }
}

/// Iterator over the transforms of a proposal.
#[derive(Debug, Clone)]
pub struct TransformIter<'a> {
    inner: Chain<'a>,
}

impl<'a> Iterator for TransformIter<'a> {
    type Item = Result<Transform<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        let body = match self.inner.next_body()? {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        Some(match body.get(..4) {
            Some([num, id, _, _]) => Ok(Transform {
                number: *num,
                id: *id,
                attrs: body.get(4..).unwrap_or(&[]),
            }),
            _ => Err(WireError::Truncated),
        })
    }
}

/// One transform: number, transform ID and raw attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transform<'a> {
    /// Transform number.
    pub number: u8,
    /// Transform ID (KEY_IKE = 1 in phase 1; ESP transform ID in phase 2).
    pub id: u8,
    attrs: &'a [u8],
}

impl<'a> Transform<'a> {
    /// Iterates the attributes (bounded by [`MAX_ATTRIBUTES`]).
    pub fn attributes(&self) -> AttrIter<'a> {
        AttrIter {
            data: self.attrs,
            count: 0,
            done: false,
        }
    }

    /// All attributes, or the first error.
    pub fn attribute_list(&self) -> Result<Vec<Attribute<'a>>, WireError> {
        self.attributes().collect()
    }
}

/// An attribute value: TV ("basic", 16 bits) or TLV ("variable").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrValue<'a> {
    /// Basic (AF=1) 16-bit value.
    Basic(u16),
    /// Variable-length value.
    Variable(&'a [u8]),
}

impl AttrValue<'_> {
    /// The value as an integer when it fits in 64 bits (variable values are big-endian).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            AttrValue::Basic(v) => Some(u64::from(*v)),
            AttrValue::Variable(b) if b.len() <= 8 => {
                Some(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
            }
            AttrValue::Variable(_) => None,
        }
    }
}

/// One data attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Attribute type without the AF bit.
    pub kind: u16,
    /// Its value.
    pub value: AttrValue<'a>,
}

/// Iterator over data attributes.
#[derive(Debug, Clone)]
pub struct AttrIter<'a> {
    data: &'a [u8],
    count: usize,
    done: bool,
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attribute<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.data.is_empty() {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

impl<'a> AttrIter<'a> {
    /// Iterates the data attributes in `data` (bounded by [`MAX_ATTRIBUTES`]).
    pub(crate) fn new(data: &'a [u8]) -> AttrIter<'a> {
        AttrIter {
            data,
            count: 0,
            done: false,
        }
    }

    fn step(&mut self) -> Result<Attribute<'a>, WireError> {
        if self.count >= MAX_ATTRIBUTES {
            return Err(WireError::TooMany);
        }
        let t = be16(self.data, 0).ok_or(WireError::Truncated)?;
        let v = be16(self.data, 2).ok_or(WireError::Truncated)?;
        self.count += 1;
        if t & 0x8000 != 0 {
            self.data = self.data.get(4..).unwrap_or(&[]);
            Ok(Attribute {
                kind: t & 0x7fff,
                value: AttrValue::Basic(v),
            })
        } else {
            let end = 4 + v as usize;
            let val = self.data.get(4..end).ok_or(WireError::BadLength)?;
            self.data = self.data.get(end..).unwrap_or(&[]);
            Ok(Attribute {
                kind: t,
                value: AttrValue::Variable(val),
            })
        }
    }
}

/// An attribute to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeRepr {
    /// Attribute type (without AF bit).
    pub kind: u16,
    /// Basic value (TV) or variable bytes (TLV).
    pub value: AttrReprValue,
}

/// The value of an [`AttributeRepr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrReprValue {
    /// TV form.
    Basic(u16),
    /// TLV form.
    Variable(Vec<u8>),
}

impl AttributeRepr {
    /// A TV attribute.
    pub fn basic(kind: u16, v: u16) -> AttributeRepr {
        AttributeRepr {
            kind,
            value: AttrReprValue::Basic(v),
        }
    }

    /// A numeric attribute: TV when it fits in 16 bits, otherwise a 4-byte (or 8-byte) TLV,
    /// as racoon and strongSwan encode life durations.
    pub fn number(kind: u16, v: u64) -> AttributeRepr {
        if let Ok(s) = u16::try_from(v) {
            return AttributeRepr::basic(kind, s);
        }
        let bytes = match u32::try_from(v) {
            Ok(w) => w.to_be_bytes().to_vec(),
            Err(_) => v.to_be_bytes().to_vec(),
        };
        AttributeRepr {
            kind,
            value: AttrReprValue::Variable(bytes),
        }
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        match &self.value {
            AttrReprValue::Basic(v) => {
                out.extend_from_slice(&(self.kind | 0x8000).to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
            AttrReprValue::Variable(b) => {
                out.extend_from_slice(&(self.kind & 0x7fff).to_be_bytes());
                out.extend_from_slice(&(b.len() as u16).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
}

/// A transform to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformRepr {
    /// Transform number.
    pub number: u8,
    /// Transform ID.
    pub id: u8,
    /// Attributes, in emission order.
    pub attrs: Vec<AttributeRepr>,
}

/// A proposal to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalRepr {
    /// Proposal number.
    pub number: u8,
    /// Protocol.
    pub protocol: ProtocolId,
    /// SPI bytes.
    pub spi: Vec<u8>,
    /// Transforms (at most 255).
    pub transforms: Vec<TransformRepr>,
}

/// An SA payload body to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaRepr {
    /// Domain of interpretation.
    pub doi: u32,
    /// Situation.
    pub situation: u32,
    /// Proposals.
    pub proposals: Vec<ProposalRepr>,
}

impl SaRepr {
    /// Encodes the SA body (without the SA's own generic header).
    pub fn emit(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.doi.to_be_bytes());
        out.extend_from_slice(&self.situation.to_be_bytes());
        let np = self.proposals.len();
        for (i, p) in self.proposals.iter().enumerate() {
            let mut body = vec![
                p.number,
                p.protocol.0,
                p.spi.len() as u8,
                p.transforms.len().min(255) as u8,
            ];
            body.extend_from_slice(&p.spi);
            let nt = p.transforms.len().min(255);
            for (j, t) in p.transforms.iter().take(nt).enumerate() {
                let mut tb = vec![t.number, t.id, 0, 0];
                for a in &t.attrs {
                    a.emit(&mut tb);
                }
                let next = if j + 1 < nt {
                    PayloadType::TRANSFORM.0
                } else {
                    0
                };
                push_generic(&mut body, next, &tb);
            }
            let next = if i + 1 < np {
                PayloadType::PROPOSAL.0
            } else {
                0
            };
            push_generic(&mut out, next, &body);
        }
        out
    }
}

fn push_generic(out: &mut Vec<u8>, next: u8, body: &[u8]) {
    out.push(next);
    out.push(0);
    out.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Transform #1 of SEIL's default Main Mode message 1 (seed 003, frame #1010):
    /// Life-Type seconds, Life-Duration 86400 (TLV, 4 bytes), AES-CBC, Key-Length 256, PSK,
    /// SHA2-256, group 5 — 40 bytes.
    const SEIL_T1: &str =
        "03000028 01010000 800b0001 000c0004 00015180 80010007 800e0100 80030001 80020004 80040005";

    fn seil_t1() -> Vec<u8> {
        hex::decode(SEIL_T1.replace(' ', "")).unwrap()
    }

    fn t1_repr(number: u8) -> TransformRepr {
        TransformRepr {
            number,
            id: 1,
            attrs: vec![
                AttributeRepr::basic(11, 1),
                AttributeRepr::number(12, 86400),
                AttributeRepr::basic(1, 7),
                AttributeRepr::basic(14, 256),
                AttributeRepr::basic(3, 1),
                AttributeRepr::basic(2, 4),
                AttributeRepr::basic(4, 5),
            ],
        }
    }

    #[test]
    fn emit_matches_seil_bytes() {
        let sa = SaRepr {
            doi: 1,
            situation: 1,
            proposals: vec![ProposalRepr {
                number: 1,
                protocol: ProtocolId::ISAKMP,
                spi: vec![],
                transforms: vec![t1_repr(1)],
            }],
        };
        let b = sa.emit();
        // SA body: DOI, situation, proposal header (next 0, len 48), #1 ISAKMP spi 0 n=1.
        assert_eq!(hex::encode(&b[..16]), "00000001000000010000003001010001");
        let mut t = seil_t1();
        t[0] = 0; // last transform
        assert_eq!(&b[16..], &t[..]);
        // 60 bytes with the 4-byte life duration; SEIL's 56-byte one-transform SA (#3005) has
        // lifetime 777, which fits a TV attribute.
        assert_eq!(b.len() + 4, 60);
    }

    #[test]
    fn parse_roundtrip_with_six_transforms() {
        let sa = SaRepr {
            doi: 1,
            situation: 1,
            proposals: vec![ProposalRepr {
                number: 1,
                protocol: ProtocolId::ISAKMP,
                spi: vec![],
                transforms: (1..=6).map(t1_repr).collect(),
            }],
        };
        let b = sa.emit();
        assert_eq!(b.len() + 4, 4 + 8 + 8 + 6 * 40);
        let p = SaPayload::parse(&b).unwrap();
        assert_eq!((p.doi, p.situation), (1, 1));
        let props: Vec<_> = p.proposals().collect::<Result<_, _>>().unwrap();
        assert_eq!(props.len(), 1);
        assert_eq!(props[0].protocol, ProtocolId::ISAKMP);
        let ts: Vec<_> = props[0].transforms().collect::<Result<_, _>>().unwrap();
        assert_eq!(ts.len(), 6);
        let attrs = ts[5].attribute_list().unwrap();
        assert_eq!(ts[5].number, 6);
        assert_eq!(attrs[1].kind, 12);
        assert_eq!(attrs[1].value, AttrValue::Variable(&[0, 1, 0x51, 0x80]));
        assert_eq!(attrs[1].value.as_u64(), Some(86400));
        assert_eq!(attrs[6].value, AttrValue::Basic(5));
    }

    #[test]
    fn malformed_nesting_is_an_error_not_a_panic() {
        // proposal claiming more bytes than present
        let b = hex::decode("0000000100000001000000ff01010001").unwrap();
        let p = SaPayload::parse(&b).unwrap();
        assert!(p.proposals().any(|r| r.is_err()));
        // transform with a TLV attribute whose length overruns
        let mut t = seil_t1();
        t[0] = 0;
        t[14] = 0x7f;
        let body: Vec<u8> = [vec![1, 1, 0, 1], t].concat();
        let mut sa = hex::decode("0000000100000001").unwrap();
        sa.extend_from_slice(&[0, 0]);
        sa.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        sa.extend_from_slice(&body);
        let p = SaPayload::parse(&sa).unwrap();
        let prop = p.proposals().next().unwrap().unwrap();
        let tr = prop.transforms().next().unwrap().unwrap();
        assert_eq!(tr.attribute_list().unwrap_err(), WireError::BadLength);
        // wrong nested type (a proposal chain that announces an SA)
        let mut sa2 = sa.clone();
        sa2[8] = 1;
        let p = SaPayload::parse(&sa2).unwrap();
        assert_eq!(
            p.proposals().next().unwrap().unwrap_err(),
            WireError::BadValue
        );
        assert!(SaPayload::parse(&[0, 0, 0]).is_err());
    }

    #[test]
    fn hundreds_of_transforms_are_bounded() {
        let mut body = vec![1u8, 3, 4, 255, 1, 2, 3, 4];
        for i in 0..300u16 {
            let next = if i == 299 { 0 } else { 3 };
            body.extend_from_slice(&[next, 0, 0, 8, 1, 12, 0, 0]);
        }
        let mut sa = hex::decode("0000000100000001").unwrap();
        sa.extend_from_slice(&[0, 0]);
        sa.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        sa.extend_from_slice(&body);
        let p = SaPayload::parse(&sa).unwrap();
        let prop = p.proposals().next().unwrap().unwrap();
        let r: Result<Vec<_>, _> = prop.transforms().collect();
        assert_eq!(r.unwrap_err(), WireError::TooMany);
    }
}
