//! The IKEv1/ISAKMP parsers of `wire::isakmp` on arbitrary bytes: header, payload chain, SA
//! with its proposals, transforms and attributes, ID, Notify, Delete, CERT/CERTREQ and fragment.
#![no_main]

use ikegate::wire::isakmp::{
    CertPayload, DeletePayload, FragmentPayload, Header, IdPayload, NotifyPayload, PayloadType,
    Payloads, SaPayload,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::new_checked(data) {
        let _ = h.repr();
        for p in Payloads::new(h.body(), h.next_payload()).flatten() {
            body(p.kind, p.body);
        }
    }
    for kind in [
        PayloadType::SA,
        PayloadType::ID,
        PayloadType::NOTIFY,
        PayloadType::DELETE,
        PayloadType::CERT,
        PayloadType::FRAGMENT,
    ] {
        body(kind, data);
    }
});

fn body(kind: PayloadType, b: &[u8]) {
    match kind {
        PayloadType::SA => sa(b),
        PayloadType::ID => drop(IdPayload::parse(b)),
        PayloadType::NOTIFY => drop(NotifyPayload::parse(b)),
        PayloadType::CERT | PayloadType::CERT_REQ => drop(CertPayload::parse(b)),
        PayloadType::FRAGMENT => drop(FragmentPayload::parse(b)),
        PayloadType::DELETE => {
            if let Ok(d) = DeletePayload::parse(b) {
                d.spis().for_each(drop);
            }
        }
        _ => {}
    }
}

fn sa(b: &[u8]) {
    let Ok(sa) = SaPayload::parse(b) else { return };
    for p in sa.proposals().flatten() {
        for t in p.transforms().flatten() {
            for a in t.attributes().flatten() {
                let _ = a.value.as_u64();
            }
        }
    }
}
