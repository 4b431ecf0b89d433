//! The COOKIE exchange (RFC 7296 §2.6) without an engine: what the daemon's receive loop does
//! for an IKE_SA_INIT request when the tunnel's queue is filling up (see
//! [`crate::ike::front_door`]), with the same secrets and the same answer as the engine gives
//! under its own half-open limit.

use std::net::SocketAddr;
use std::time::Instant;

use crate::ike::limits::CookieJar;
use crate::ike::random::RandomSource;
use crate::wire::ikev2::{
    ExchangeType, Flags, Header, HeaderRepr, NotifyRepr, NotifyType, Payload, PayloadRepr,
    PayloadType, ProtocolId, HEADER_LEN,
};

use super::message::plain;

/// What an IKE_SA_INIT request gets at the door.
#[derive(Debug, PartialEq, Eq)]
pub enum CookieVerdict {
    /// It carries our COOKIE (or is no IKE_SA_INIT request): let it through.
    Admit,
    /// Send this answer (a COOKIE notification) and forget the request.
    Ask(Vec<u8>),
    /// Not a well-formed IKE_SA_INIT request: drop it.
    Malformed,
}

/// Checks `msg`, an IKE_SA_INIT request from `remote`, for a COOKIE of `jar`'s; other messages
/// are admitted.
pub fn check_cookie(
    jar: &CookieJar,
    now: Instant,
    rng: &mut dyn RandomSource,
    remote: SocketAddr,
    msg: &[u8],
) -> CookieVerdict {
    let Ok(h) = Header::new_checked(msg) else {
        return CookieVerdict::Admit;
    };
    let h = HeaderRepr::parse(&h);
    if h.exchange != ExchangeType::IKE_SA_INIT || h.flags.response() || h.rspi != [0; 8] {
        return CookieVerdict::Admit;
    }
    let body = msg.get(HEADER_LEN..).unwrap_or_default();
    let Ok(payloads) = Payload::parse_chain(body, h.next_payload) else {
        return CookieVerdict::Malformed;
    };
    let mut ni = None;
    let mut offered = None;
    for p in &payloads {
        match p {
            Payload::Nonce(n) => ni = ni.or(Some(n.nonce)),
            Payload::Notify(n) if n.kind == NotifyType::COOKIE => offered = Some(n.data),
            _ => {}
        }
    }
    let Some(ni) = ni else {
        return CookieVerdict::Malformed;
    };
    match jar.admit(now, rng, ni, remote.ip(), &h.ispi, offered) {
        Ok(()) => CookieVerdict::Admit,
        Err(want) => plain_answer(&h, &[&cookie_notify(&want)])
            .map_or(CookieVerdict::Malformed, CookieVerdict::Ask),
    }
}

/// The N(COOKIE) payload asking for `cookie`.
pub(super) fn cookie_notify(cookie: &[u8]) -> NotifyRepr<'_> {
    NotifyRepr {
        protocol: ProtocolId(0),
        kind: NotifyType::COOKIE,
        spi: &[],
        data: cookie,
    }
}

/// An unencrypted answer to the IKE_SA_INIT request `h` (no responder SPI: no state kept).
pub(super) fn plain_answer(h: &HeaderRepr, payloads: &[&dyn PayloadRepr]) -> Option<Vec<u8>> {
    let header = HeaderRepr {
        rspi: [0; 8],
        next_payload: PayloadType::NO_NEXT,
        flags: Flags(Flags::RESPONSE),
        ..*h
    };
    plain(&header, payloads).ok()
}
