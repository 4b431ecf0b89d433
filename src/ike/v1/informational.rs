//! Informational exchanges (RFC 2408 §4.8, RFC 2409 §5.7): notifications and deletes, clear
//! before phase 1 completes, otherwise encrypted under the ISAKMP SA with HASH(1) =
//! prf(SKEYID_a, M-ID | N/D).

use crate::wire::isakmp::{
    DeletePayload, ExchangeType, Flags, HeaderRepr, NotifyPayload, NotifyType, PayloadChain,
    PayloadType, ProtocolId, DOI_IPSEC,
};

use super::isakmp_sa::IsakmpSa;
use super::message::Msg;
use super::quick_mode::seal_with_hash;
use super::{ct_eq, DropReason, NotifySpec};

/// One item of a received informational message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InfoItem {
    /// A notification.
    Notify {
        protocol: ProtocolId,
        kind: NotifyType,
        spi: Vec<u8>,
        data: Vec<u8>,
    },
    /// A delete.
    Delete {
        protocol: ProtocolId,
        spis: Vec<Vec<u8>>,
    },
}

fn info_header(
    icookie: [u8; 8],
    rcookie: [u8; 8],
    mid: u32,
    first: PayloadType,
    flags: u8,
) -> HeaderRepr {
    HeaderRepr {
        icookie,
        rcookie,
        next_payload: first,
        exchange: ExchangeType::INFORMATIONAL,
        flags: Flags(flags),
        message_id: mid,
    }
}

/// An unencrypted notification (before phase 1 has keys).
pub(crate) fn plain_notify(
    icookie: [u8; 8],
    rcookie: [u8; 8],
    mid: u32,
    n: &NotifySpec,
) -> Vec<u8> {
    let body = NotifyPayload::emit(DOI_IPSEC, n.protocol, n.kind, &n.spi, &[]);
    let mut chain = PayloadChain::new();
    chain.push(PayloadType::NOTIFY, &body);
    let (first, bytes) = chain.into_parts();
    info_header(icookie, rcookie, mid, first, 0).emit_with_body(&bytes)
}

/// An encrypted notification under `sa` with message ID `mid`.
pub(crate) fn encrypted_notify(sa: &IsakmpSa, mid: u32, n: &NotifySpec, data: &[u8]) -> Vec<u8> {
    let mut chain = PayloadChain::new();
    chain.push(
        PayloadType::NOTIFY,
        &NotifyPayload::emit(DOI_IPSEC, n.protocol, n.kind, &n.spi, data),
    );
    seal(sa, mid, chain)
}

/// An encrypted Delete of `spis` (4-byte ESP SPIs or one 16-byte cookie pair).
pub(crate) fn encrypted_delete(
    sa: &IsakmpSa,
    mid: u32,
    protocol: ProtocolId,
    spis: &[&[u8]],
) -> Vec<u8> {
    let mut chain = PayloadChain::new();
    chain.push(
        PayloadType::DELETE,
        &DeletePayload::emit(DOI_IPSEC, protocol, spis),
    );
    seal(sa, mid, chain)
}

fn seal(sa: &IsakmpSa, mid: u32, rest: PayloadChain) -> Vec<u8> {
    let hash = sa.keys.prf_a(&[&mid.to_be_bytes(), rest.bytes()]);
    let iv = sa.keys.message_iv(&sa.last_block, mid);
    let hdr = info_header(
        sa.icookie,
        sa.rcookie,
        mid,
        PayloadType::HASH,
        Flags::ENCRYPTION,
    );
    seal_with_hash(sa, hdr, &iv, &hash, rest).0
}

/// Parses the notify and delete payloads of a (decrypted or clear) informational message.
pub(crate) fn items(msg: &Msg<'_>) -> Result<Vec<InfoItem>, DropReason> {
    let mut out = Vec::new();
    for p in &msg.payloads {
        match p.kind {
            PayloadType::NOTIFY => {
                let n = NotifyPayload::parse(p.body).map_err(|_| DropReason::Malformed)?;
                out.push(InfoItem::Notify {
                    protocol: n.protocol,
                    kind: n.kind,
                    spi: n.spi.to_vec(),
                    data: n.data.to_vec(),
                });
            }
            PayloadType::DELETE => {
                let d = DeletePayload::parse(p.body).map_err(|_| DropReason::Malformed)?;
                out.push(InfoItem::Delete {
                    protocol: d.protocol,
                    spis: d.spis().map(|s| s.to_vec()).collect(),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Decrypts an informational message under `sa`, verifies HASH(1) and returns its items.
pub(crate) fn open_encrypted(
    sa: &IsakmpSa,
    hdr: &HeaderRepr,
    body: &[u8],
) -> Result<Vec<InfoItem>, DropReason> {
    let iv = sa.keys.message_iv(&sa.last_block, hdr.message_id);
    let (plain, _) = sa.keys.decrypt(&iv, body).ok_or(DropReason::Malformed)?;
    let msg = Msg::parse(&plain, hdr.next_payload).map_err(|_| DropReason::Malformed)?;
    let (hash, rest) = msg.leading_hash().ok_or(DropReason::Malformed)?;
    let expected = sa.keys.prf_a(&[&hdr.message_id.to_be_bytes(), rest]);
    if !ct_eq(&expected, hash) {
        return Err(DropReason::BadHash);
    }
    items(&msg)
}
