//! IKEv2 header, payload chain and every payload parser on arbitrary bytes; what parses is
//! emitted again and must parse back equal.
#![no_main]

use ikegate::wire::ikev2::{
    Header, HeaderRepr, MessageWriter, Payload, PayloadRepr, PayloadType, Payloads, RawPayload,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::new_checked(data) {
        let header = HeaderRepr::parse(&h);
        if let Ok(raws) = Payloads::collect_all(h.body(), h.next_payload()) {
            re_emit(&header, &raws);
        }
    }
    // The same bytes as the body of every payload type, SA first in a chain.
    let _ = Payload::parse_chain(data, PayloadType::SA);
    for kind in 0..=u8::MAX {
        let raw = RawPayload {
            kind: PayloadType(kind),
            next: PayloadType::NO_NEXT,
            critical: false,
            body: data,
            offset: 0,
        };
        if let Ok(p) = Payload::parse(&raw) {
            round_trip(&raw, &p);
        }
    }
});

/// Rebuilds a parsed plain chain with the writer and checks the bodies come back unchanged.
fn re_emit(header: &HeaderRepr, raws: &[RawPayload<'_>]) {
    if raws.iter().any(|r| r.kind.is_encrypted()) {
        return;
    }
    let mut buf = Vec::new();
    let Ok(mut w) = MessageWriter::new(&mut buf, header) else {
        return;
    };
    for r in raws {
        w.raw(r.kind, r.critical, r.body)
            .expect("a parsed payload fits again");
    }
    let range = w.finish_plain();
    let h = Header::new_checked(&buf[range]).expect("writer output has a valid header");
    let again = Payloads::collect_all(h.body(), h.next_payload()).expect("writer output walks");
    assert_eq!(again.len(), raws.len());
    for (a, b) in again.iter().zip(raws) {
        assert_eq!((a.kind, a.critical, a.body), (b.kind, b.critical, b.body));
    }
}

/// Emits a parsed payload's Repr and parses it again.
fn round_trip(raw: &RawPayload<'_>, p: &Payload<'_>) {
    let repr: &dyn PayloadRepr = match p {
        Payload::Sa(x) => x,
        Payload::Ke(x) => x,
        Payload::Id(x) => x,
        Payload::Cert(x) => x,
        Payload::Auth(x) => x,
        Payload::Nonce(x) => x,
        Payload::Notify(x) => x,
        Payload::Delete(x) => x,
        Payload::VendorId(x) => x,
        Payload::Ts(x) => x,
        Payload::Cp(x) => x,
        Payload::Eap(x) => x,
        Payload::Sk { .. } | Payload::Skf { .. } | Payload::Unknown(_) => return,
    };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut out).expect("a parsed payload emits");
    let again = RawPayload { body: &out, ..*raw };
    assert_eq!(Payload::parse(&again).as_ref(), Ok(p));
}
