//! The sans-IO IKE engine (IKEv1 Main Mode + Quick Mode with pre-shared keys, NAT-T,
//! informational exchanges). No sockets, clocks or global RNG: time and randomness are passed in.
//!
//! One [`Engine`] per tunnel (one configured peer); see [`Engine`] for the call pattern.

#![deny(missing_docs)]

pub mod diagnostic;
mod engine;
pub mod event;
pub mod policy;
pub mod proposal;
pub mod random;
pub mod status;
pub(crate) mod v1;

pub use diagnostic::{AuthSide, Diagnostic};
pub use engine::Engine;
pub use event::{DownReason, Event, Role, Transmit};
pub use policy::{
    DpdPolicy, ExchangeMode, Identity, IkePolicy, NatTraversal, Phase1Policy, Phase2Policy,
    ProxyId, RetransmitPolicy, Subnet,
};
pub use random::{OsRandom, RandomSource, SeededRandom};
pub use status::{ChildStatus, DpdStatus, EngineStats, EngineStatus, NatStatus, Phase1Status};

#[cfg(test)]
mod tests;
