//! One parsed payload of any type, and the parse of every payload of a message chain: what
//! the engine matches on after [`Payloads`](super::Payloads) has walked the generic headers.

use super::{
    AuthRepr, CertRepr, CpRepr, DeleteRepr, EapRepr, Error, IdRepr, KeRepr, NonceRepr, NotifyRepr,
    PayloadType, Payloads, RawPayload, SaRepr, Side, SkfRepr, TsRepr, VendorIdRepr,
};

/// A payload parsed by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// Security Association.
    Sa(SaRepr),
    /// Key Exchange.
    Ke(KeRepr<'a>),
    /// IDi or IDr.
    Id(IdRepr<'a>),
    /// CERT or CERTREQ.
    Cert(CertRepr<'a>),
    /// Authentication.
    Auth(AuthRepr<'a>),
    /// Nonce.
    Nonce(NonceRepr<'a>),
    /// Notify.
    Notify(NotifyRepr<'a>),
    /// Delete.
    Delete(DeleteRepr<'a>),
    /// Vendor ID.
    VendorId(VendorIdRepr<'a>),
    /// TSi or TSr.
    Ts(TsRepr),
    /// Encrypted and Authenticated: the first inner payload type and the opaque body.
    Sk {
        /// Type of the first payload inside.
        first_inner: PayloadType,
        /// IV, ciphertext, ICV.
        body: &'a [u8],
    },
    /// Configuration.
    Cp(CpRepr<'a>),
    /// EAP.
    Eap(EapRepr<'a>),
    /// Encrypted fragment: the first inner payload type (in fragment 1) and the fragment.
    Skf {
        /// Type of the first payload inside (NO_NEXT in fragments after the first).
        first_inner: PayloadType,
        /// The fragment.
        fragment: SkfRepr<'a>,
    },
    /// A payload type we do not know, without the critical bit: to be skipped.
    Unknown(PayloadType),
}

impl<'a> Payload<'a> {
    /// Parses the body of one payload of a chain by its type.
    pub fn parse(raw: &RawPayload<'a>) -> Result<Payload<'a>, Error> {
        let b = raw.body;
        Ok(match raw.kind {
            PayloadType::SA => Payload::Sa(SaRepr::parse(b)?),
            PayloadType::KE => Payload::Ke(KeRepr::parse(b)?),
            PayloadType::IDI => Payload::Id(IdRepr::parse(Side::Initiator, b)?),
            PayloadType::IDR => Payload::Id(IdRepr::parse(Side::Responder, b)?),
            PayloadType::CERT => Payload::Cert(CertRepr::parse(false, b)?),
            PayloadType::CERTREQ => Payload::Cert(CertRepr::parse(true, b)?),
            PayloadType::AUTH => Payload::Auth(AuthRepr::parse(b)?),
            PayloadType::NONCE => Payload::Nonce(NonceRepr::parse(b)?),
            PayloadType::N => Payload::Notify(NotifyRepr::parse(b)?),
            PayloadType::D => Payload::Delete(DeleteRepr::parse(b)?),
            PayloadType::V => Payload::VendorId(VendorIdRepr::parse(b)?),
            PayloadType::TSI => Payload::Ts(TsRepr::parse(Side::Initiator, b)?),
            PayloadType::TSR => Payload::Ts(TsRepr::parse(Side::Responder, b)?),
            PayloadType::SK => Payload::Sk {
                first_inner: raw.next,
                body: b,
            },
            PayloadType::CP => Payload::Cp(CpRepr::parse(b)?),
            PayloadType::EAP => Payload::Eap(EapRepr::parse(b)?),
            PayloadType::SKF => Payload::Skf {
                first_inner: raw.next,
                fragment: SkfRepr::parse(b)?,
            },
            other => Payload::Unknown(other),
        })
    }

    /// Walks a chain and parses every payload, stopping at the first error.
    pub fn parse_chain(data: &'a [u8], first: PayloadType) -> Result<Vec<Payload<'a>>, Error> {
        Payloads::new(data, first)
            .map(|r| r.and_then(|raw| Payload::parse(&raw)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::sa::{ProposalRepr, ProtocolId, TransformRepr, TransformType};
    use super::super::{ExchangeType, Flags, Header, HeaderRepr, MessageWriter, NotifyType};
    use super::*;

    fn sa() -> SaRepr {
        let t = |kind, id| TransformRepr {
            kind,
            id,
            attributes: vec![],
        };
        SaRepr {
            proposals: vec![ProposalRepr {
                number: 1,
                protocol: ProtocolId::IKE,
                spi: vec![],
                transforms: vec![
                    t(TransformType::ENCR, 20),
                    t(TransformType::PRF, 5),
                    t(TransformType::KE, 31),
                ],
            }],
        }
    }

    #[test]
    fn ike_sa_init_request_round_trip() {
        let header = HeaderRepr {
            ispi: [9; 8],
            rspi: [0; 8],
            next_payload: PayloadType::NO_NEXT,
            minor_version: 0,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: Flags(Flags::INITIATOR),
            message_id: 0,
        };
        let (sa, key, nonce) = (sa(), [5u8; 32], [6u8; 32]);
        let ke = KeRepr {
            group: 31,
            data: &key,
        };
        let n = NonceRepr { nonce: &nonce };
        let frag = NotifyRepr {
            protocol: ProtocolId::NONE,
            kind: NotifyType::IKEV2_FRAGMENTATION_SUPPORTED,
            spi: &[],
            data: &[],
        };
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf, &header).unwrap();
        w.payload(&sa)
            .unwrap()
            .payload(&ke)
            .unwrap()
            .payload(&n)
            .unwrap()
            .payload(&frag)
            .unwrap();
        let range = w.finish_plain();
        let h = Header::new_checked(&buf[range]).unwrap();
        assert_eq!(
            HeaderRepr::parse(&h),
            HeaderRepr {
                next_payload: PayloadType::SA,
                ..header
            }
        );
        let p = Payload::parse_chain(h.body(), h.next_payload()).unwrap();
        assert_eq!(
            p,
            [
                Payload::Sa(sa),
                Payload::Ke(ke),
                Payload::Nonce(n),
                Payload::Notify(frag)
            ]
        );
    }

    #[test]
    fn unknown_payloads_are_skipped_or_refused() {
        let b = [41, 0, 0, 5, 1, 0, 0, 0, 8, 0, 0, 0x40, 0x00];
        let p = Payload::parse_chain(&b, PayloadType(60)).unwrap();
        assert_eq!(p[0], Payload::Unknown(PayloadType(60)));
        assert!(matches!(
            p[1],
            Payload::Notify(NotifyRepr {
                kind: NotifyType::INITIAL_CONTACT,
                ..
            })
        ));
        let mut c = b;
        c[1] = 0x80;
        assert_eq!(
            Payload::parse_chain(&c, PayloadType(60)),
            Err(Error::UnsupportedCritical(PayloadType(60)))
        );
    }
}
