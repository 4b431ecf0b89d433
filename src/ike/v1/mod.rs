//! IKEv1 (RFC 2409): the exchanges as typestate machines. Each state is a struct whose
//! `on_*` method consumes it and returns the next state and the message to send, or a
//! [`Fault`] that either gives the state back (input ignored) or ends the exchange.

use std::net::SocketAddr;

use crate::wire::isakmp::{NotifyType, ProtocolId};

use super::diagnostic::Diagnostic;
use super::policy::IkePolicy;
use super::random::RandomSource;

pub(crate) mod auth;
pub(crate) mod fragment;
#[doc(hidden)]
pub mod fuzzing;
#[doc(hidden)]
pub mod fuzzing_engine;
#[doc(hidden)]
pub mod fuzzing_ra;
pub(crate) mod informational;
pub(crate) mod isakmp_sa;
pub(crate) mod keys;
// A failed transition hands its (large) state back inside `Fault::Ignore` so that the caller can
// keep it; it is moved once, never propagated with `?` through layers, so boxing buys nothing.
#[allow(clippy::result_large_err)]
pub(crate) mod main_mode;
pub(crate) mod message;
pub(crate) mod nat;
#[allow(clippy::result_large_err)]
pub(crate) mod quick_mode;
pub(crate) mod remote_access;
pub(crate) mod transaction;

/// What a state transition may use: the policy, randomness and the current addresses.
pub(crate) struct Ctx<'a> {
    pub policy: &'a IkePolicy,
    pub rng: &'a mut dyn RandomSource,
    /// Our address for this exchange (policy address, current local port).
    pub local: SocketAddr,
    /// The peer's address as seen on the datagram (or configured, when initiating).
    pub remote: SocketAddr,
    /// Wall-clock time (seconds since the Unix epoch) to judge certificates at, when known.
    pub now_unix: Option<i64>,
    /// Set by a transition that dropped its input until this CRL is fetched.
    pub fetch_crl: Option<String>,
}

/// Why an input was dropped without changing state (for the engine's counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// Could not be parsed or decrypted.
    Malformed,
    /// An authentication hash did not verify.
    BadHash,
    /// Set aside until the CRL its certificate names is fetched (`Ctx::fetch_crl`).
    AwaitingCrl,
    /// Well-formed but not what this state expects.
    Unexpected,
}

/// A notification to send to the peer when an exchange fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotifySpec {
    pub kind: NotifyType,
    pub protocol: ProtocolId,
    pub spi: Vec<u8>,
}

impl NotifySpec {
    /// A notification about the ISAKMP SA (SPI = the cookie pair).
    pub fn isakmp(kind: NotifyType, cky_i: &[u8; 8], cky_r: &[u8; 8]) -> NotifySpec {
        NotifySpec {
            kind,
            protocol: ProtocolId::ISAKMP,
            spi: [&cky_i[..], &cky_r[..]].concat(),
        }
    }
}

/// The failure side of a state transition.
pub(crate) enum Fault<S> {
    /// The input is ignored; the state is unchanged.
    Ignore(S, DropReason),
    /// The exchange is over; tell the operator (and maybe the peer).
    Fail(Diagnostic, Option<NotifySpec>),
}

/// Compares two MACs without early exit.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random non-zero cookie.
pub(crate) fn new_cookie(rng: &mut dyn RandomSource) -> [u8; 8] {
    let mut c = [0u8; 8];
    while c == [0u8; 8] {
        rng.fill(&mut c);
    }
    c
}
