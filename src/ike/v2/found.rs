//! The payloads an exchange handler looks for, found in one walk over a parsed message.

use crate::wire::ikev2::{
    AuthRepr, CertEncoding, CpRepr, EapRepr, IdRepr, KeRepr, NotifyType, Payload, SaRepr, Side,
    TsRepr,
};

/// The first payload of each kind in a message, and its first error notification.
#[derive(Default)]
pub(super) struct Found<'a> {
    pub sa: Option<&'a SaRepr>,
    pub ke: Option<KeRepr<'a>>,
    pub nonce: Option<&'a [u8]>,
    pub idi: Option<IdRepr<'a>>,
    pub idr: Option<IdRepr<'a>>,
    pub auth: Option<AuthRepr<'a>>,
    pub tsi: Option<&'a TsRepr>,
    pub tsr: Option<&'a TsRepr>,
    pub error: Option<NotifyType>,
    /// USE_TRANSPORT_MODE was present (RFC 7296 §1.3.1).
    pub transport: bool,
    /// X.509 certificates of the CERT payloads, in order (the first holds the AUTH key).
    pub certs: Vec<&'a [u8]>,
    /// The EAP payload (remote access, RFC 7296 §2.16).
    pub eap: Option<EapRepr<'a>>,
    /// The configuration payload (RFC 7296 §3.15).
    pub cp: Option<&'a CpRepr<'a>>,
}

impl<'a> Found<'a> {
    /// Walks `payloads` once.
    pub fn of(payloads: &'a [Payload<'a>]) -> Found<'a> {
        let mut f = Found::default();
        for p in payloads {
            match p {
                Payload::Sa(s) => f.sa = f.sa.or(Some(s)),
                Payload::Ke(k) => f.ke = f.ke.or(Some(*k)),
                Payload::Nonce(n) => f.nonce = f.nonce.or(Some(n.nonce)),
                Payload::Id(d) if d.side == Side::Initiator => f.idi = f.idi.or(Some(*d)),
                Payload::Id(d) => f.idr = f.idr.or(Some(*d)),
                Payload::Auth(a) => f.auth = f.auth.or(Some(*a)),
                Payload::Ts(t) if t.side == Side::Initiator => f.tsi = f.tsi.or(Some(t)),
                Payload::Ts(t) => f.tsr = f.tsr.or(Some(t)),
                Payload::Notify(n) if n.kind.is_error() => f.error = f.error.or(Some(n.kind)),
                Payload::Notify(n) if n.kind == NotifyType::USE_TRANSPORT_MODE => {
                    f.transport = true
                }
                Payload::Cert(c) if !c.request && c.encoding == CertEncoding::X509_SIGNATURE => {
                    f.certs.push(c.data)
                }
                Payload::Eap(e) => f.eap = f.eap.or(Some(*e)),
                Payload::Cp(c) => f.cp = f.cp.or(Some(c)),
                _ => {}
            }
        }
        f
    }
}
