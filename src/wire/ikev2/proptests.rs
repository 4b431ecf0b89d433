//! Property tests: arbitrary bytes never panic any parser, and emitted Reprs parse back equal.

use proptest::prelude::*;

use super::sa::{AttrValue, Attribute, AttributeType, ProposalRepr, TransformRepr};
use super::*;

/// Runs the header, the chain walk and every payload parser over `bytes`.
fn parse_everything(bytes: &[u8]) {
    if let Ok(h) = Header::new_checked(bytes) {
        let _ = HeaderRepr::parse(&h);
        let _ = Payload::parse_chain(h.body(), h.next_payload());
    }
    let _ = Payload::parse_chain(bytes, PayloadType::SA);
    for kind in 0..=u8::MAX {
        let raw = RawPayload {
            kind: PayloadType(kind),
            next: PayloadType::NO_NEXT,
            critical: false,
            body: bytes,
            offset: 0,
        };
        let _ = Payload::parse(&raw);
    }
}

fn transform() -> impl Strategy<Value = TransformRepr> {
    let attr = prop_oneof![
        any::<u16>().prop_map(|v| Attribute {
            kind: AttributeType::KEY_LENGTH,
            value: AttrValue::Tv(v)
        }),
        (0u16..0x8000, proptest::collection::vec(any::<u8>(), 0..8)).prop_map(|(k, v)| Attribute {
            kind: AttributeType(k),
            value: AttrValue::Tlv(v)
        }),
    ];
    (1u8..13, any::<u16>(), proptest::collection::vec(attr, 0..3)).prop_map(
        |(k, id, attributes)| TransformRepr {
            kind: TransformType(k),
            id,
            attributes,
        },
    )
}

fn selector() -> impl Strategy<Value = TrafficSelector> {
    let v4 = (any::<[u8; 4]>(), any::<[u8; 4]>())
        .prop_map(|(a, b)| (std::net::IpAddr::from(a), std::net::IpAddr::from(b)));
    let v6 = (any::<[u8; 16]>(), any::<[u8; 16]>())
        .prop_map(|(a, b)| (std::net::IpAddr::from(a), std::net::IpAddr::from(b)));
    (any::<u8>(), any::<u16>(), any::<u16>(), prop_oneof![v4, v6]).prop_map(
        |(ip_protocol, start_port, end_port, (start, end))| TrafficSelector {
            ip_protocol,
            start_port,
            end_port,
            start,
            end,
        },
    )
}

fn emit(p: &dyn PayloadRepr) -> Vec<u8> {
    let mut b = vec![0u8; p.buffer_len()];
    p.emit(&mut b).unwrap();
    b
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        parse_everything(&bytes);
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(
        next in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut m = vec![0u8; HEADER_LEN];
        m[16] = next;
        m[17] = 0x20;
        m[24..28].copy_from_slice(&((HEADER_LEN + body.len()) as u32).to_be_bytes());
        m.extend_from_slice(&body);
        prop_assert!(Header::new_checked(&m[..]).is_ok());
        parse_everything(&m);
    }

    #[test]
    fn sa_round_trip(props in proptest::collection::vec(
        (any::<u8>(), 1u8..4, proptest::collection::vec(any::<u8>(), 0..9), proptest::collection::vec(transform(), 0..5)),
        1..4,
    )) {
        let sa = SaRepr {
            proposals: props.into_iter().map(|(number, p, spi, transforms)| ProposalRepr { number, protocol: ProtocolId(p), spi, transforms }).collect(),
        };
        prop_assert_eq!(SaRepr::parse(&emit(&sa)).unwrap(), sa);
    }

    #[test]
    fn ts_round_trip(selectors in proptest::collection::vec(selector(), 1..6), initiator in any::<bool>()) {
        let side = if initiator { Side::Initiator } else { Side::Responder };
        let ts = TsRepr { side, selectors };
        prop_assert_eq!(TsRepr::parse(side, &emit(&ts)).unwrap(), ts);
    }

    #[test]
    fn small_payload_round_trips(
        t in any::<u8>(),
        id in any::<u16>(),
        spi in proptest::collection::vec(any::<u8>(), 0..9),
        data in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let ke = KeRepr { group: id, data: &data };
        let b1 = emit(&ke);
        prop_assert_eq!(KeRepr::parse(&b1).unwrap(), ke);
        let n = NotifyRepr { protocol: ProtocolId(t), kind: NotifyType(id), spi: &spi, data: &data };
        let b = emit(&n);
        prop_assert_eq!(NotifyRepr::parse(&b).unwrap(), n);
        let a = AuthRepr { method: AuthMethod(t), data: &data };
        let b2 = emit(&a);
        prop_assert_eq!(AuthRepr::parse(&b2).unwrap(), a);
        let c = CertRepr { request: t % 2 == 0, encoding: CertEncoding(t), data: &data };
        let b3 = emit(&c);
        prop_assert_eq!(CertRepr::parse(c.request, &b3).unwrap(), c);
        let e = EapRepr { code: EapCode(1 + t % 2), identifier: t, eap_type: Some(t), data: &data };
        let b4 = emit(&e);
        prop_assert_eq!(EapRepr::parse(&b4).unwrap(), e);
        let cp = CpRepr { cfg_type: CfgType(t), attributes: vec![CpAttribute { kind: CpAttributeType(id & 0x7fff), value: &data }] };
        let b5 = emit(&cp);
        prop_assert_eq!(CpRepr::parse(&b5).unwrap(), cp);
    }

    #[test]
    fn writer_output_walks_back(bodies in proptest::collection::vec((33u8..49, proptest::collection::vec(any::<u8>(), 0..30)), 0..8)) {
        let header = HeaderRepr {
            ispi: [1; 8], rspi: [2; 8], next_payload: PayloadType::NO_NEXT, minor_version: 0,
            exchange: ExchangeType::INFORMATIONAL, flags: Flags(Flags::RESPONSE), message_id: 7,
        };
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf, &header).unwrap();
        // SK (46) must be last, so it is left out of the random chain.
        let bodies: Vec<_> = bodies.into_iter().filter(|(k, _)| *k != 46).collect();
        for (k, b) in &bodies {
            w.raw(PayloadType(*k), false, b).unwrap();
        }
        let r = w.finish_plain();
        let h = Header::new_checked(&buf[r]).unwrap();
        let raw = Payloads::collect_all(h.body(), h.next_payload()).unwrap();
        let got: Vec<_> = raw.iter().map(|p| (p.kind.0, p.body.to_vec())).collect();
        prop_assert_eq!(got, bodies);
    }
}
