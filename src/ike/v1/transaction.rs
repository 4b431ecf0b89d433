//! The Transaction exchange (ISAKMP exchange type 6) under an established ISAKMP SA, which
//! carries XAUTH and mode-config (draft-dukes-ike-mode-cfg-02 §3.1):
//!
//! ```text
//! HDR*(6, M-ID), HASH, ATTR   -->        HASH = prf(SKEYID_a, M-ID | ATTR), both directions
//!                             <--  HDR*(6, M-ID), HASH, ATTR
//! ```
//!
//! Each exchange has its own message ID. Its first message is encrypted with the IV
//! hash(last phase-1 CBC block | M-ID); the answer chains from the last cipher block of that
//! first message (as in Quick Mode).

use crate::wire::isakmp::cfg::{AttributePayload, AttributePayloadRepr, CfgType, ModeCfg};
use crate::wire::isakmp::{ExchangeType, Flags, HeaderRepr, PayloadChain, PayloadType};

use super::isakmp_sa::IsakmpSa;
use super::message::Msg;
use super::quick_mode::seal_with_hash;
use super::{ct_eq, DropReason};

/// One received Transaction message, decrypted, authenticated and decoded.
#[derive(Debug)]
pub(crate) struct CfgMessage {
    /// The exchange's message ID.
    pub mid: u32,
    /// REQUEST, REPLY, SET or ACK.
    pub kind: CfgType,
    /// Pairs a REPLY with its REQUEST, an ACK with its SET.
    pub identifier: u16,
    /// The attributes.
    pub attrs: ModeCfg,
    /// The IV our answer in this exchange is encrypted with (the message's last cipher block).
    pub next_iv: Vec<u8>,
}

/// Why a Transaction message was dropped, with the words for the log when it was a peer error.
#[derive(Debug)]
pub(crate) struct CfgDrop {
    pub reason: DropReason,
    /// What was wrong with the attributes, when they did not decode.
    pub detail: Option<String>,
}

impl From<DropReason> for CfgDrop {
    fn from(reason: DropReason) -> CfgDrop {
        CfgDrop {
            reason,
            detail: None,
        }
    }
}

/// The IV of the first message of the exchange `mid`.
pub(crate) fn first_iv(sa: &IsakmpSa, mid: u32) -> Vec<u8> {
    sa.keys.message_iv(&sa.last_block, mid)
}

/// Encrypts `attrs` as a Transaction message with ID `mid`, under `iv`. Returns the datagram and
/// the IV the peer's answer is encrypted with.
pub(crate) fn seal(
    sa: &IsakmpSa,
    mid: u32,
    iv: &[u8],
    attrs: &AttributePayloadRepr,
) -> (Vec<u8>, Vec<u8>) {
    seal_body(sa, mid, iv, &attrs.emit())
}

/// [`seal`] of an Attribute payload body given as bytes.
pub(crate) fn seal_body(
    sa: &IsakmpSa,
    mid: u32,
    iv: &[u8],
    attr_body: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut rest = PayloadChain::new();
    rest.push(PayloadType::ATTRIBUTE, attr_body);
    let hash = sa.keys.prf_a(&[&mid.to_be_bytes(), rest.bytes()]);
    seal_with_hash(sa, header(sa, mid), iv, &hash, rest)
}

/// The ISAKMP header of an encrypted Transaction message `mid` under `sa` (HASH first).
pub(crate) fn header(sa: &IsakmpSa, mid: u32) -> HeaderRepr {
    HeaderRepr {
        icookie: sa.icookie,
        rcookie: sa.rcookie,
        next_payload: PayloadType::HASH,
        exchange: ExchangeType::TRANSACTION,
        flags: Flags(Flags::ENCRYPTION),
        message_id: mid,
    }
}

/// Decrypts a Transaction message with `iv`, verifies its HASH and decodes its Attribute payload.
pub(crate) fn open(
    sa: &IsakmpSa,
    iv: &[u8],
    hdr: &HeaderRepr,
    body: &[u8],
) -> Result<CfgMessage, CfgDrop> {
    if hdr.exchange != ExchangeType::TRANSACTION || !hdr.flags.encrypted() {
        return Err(DropReason::Unexpected.into());
    }
    let (plain, next_iv) = sa.keys.decrypt(iv, body).ok_or(DropReason::Malformed)?;
    let msg = Msg::parse(&plain, hdr.next_payload).map_err(|_| DropReason::Malformed)?;
    let (hash, rest) = msg.leading_hash().ok_or(DropReason::Malformed)?;
    let expected = sa.keys.prf_a(&[&hdr.message_id.to_be_bytes(), rest]);
    if !ct_eq(&expected, hash) {
        return Err(DropReason::BadHash.into());
    }
    let attr = msg
        .find(PayloadType::ATTRIBUTE)
        .ok_or(DropReason::Malformed)?;
    let p = AttributePayload::parse(attr.body).map_err(|_| DropReason::Malformed)?;
    let attrs = ModeCfg::decode(&p).map_err(|e| CfgDrop {
        reason: DropReason::Malformed,
        detail: Some(format!("mode-config {}: {e}", p.kind)),
    })?;
    Ok(CfgMessage {
        mid: hdr.message_id,
        kind: p.kind,
        identifier: p.identifier,
        attrs,
        next_iv,
    })
}
