//! The sans-IO IKE engine (IKEv1 Main Mode + Quick Mode with pre-shared keys, NAT-T,
//! informational exchanges). No sockets, clocks or global RNG: time and randomness are passed in.
//!
//! One [`Engine`] per tunnel (one configured peer). The caller owns sockets and clock:
//!
//! ```no_run
//! use std::time::Instant;
//! use ikegate::ike::{Engine, Event, IkePolicy, OsRandom};
//!
//! let policy = IkePolicy::seil_defaults("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), b"psk");
//! policy.validate().expect("config");
//! let mut engine = Engine::new(policy, Box::new(OsRandom));
//! engine.initiate(Instant::now());
//! loop {
//!     while let Some(t) = engine.poll_transmit() {
//!         // send t.data from UDP port t.local_port to t.remote
//!         // (prepend the 4-byte non-ESP marker when t.local_port == 4500)
//!     }
//!     while let Some(ev) = engine.poll_event() {
//!         match ev {
//!             Event::ChildSaUp { inbound, outbound, udp_encap, .. } => { /* install both */ }
//!             Event::ChildSaDown { inbound_spi, outbound_spi, .. } => { /* remove both */ }
//!             Event::Failed { cause } => eprintln!("{cause}"),
//!             _ => {}
//!         }
//!     }
//!     // wait for a datagram or until engine.poll_timeout(), then:
//!     // engine.handle_datagram(now, local, remote, &data) or engine.handle_timeout(now)
//!     # break;
//! }
//! ```

#![deny(missing_docs)]

pub mod auth;
mod core;
pub mod diagnostic;
pub mod endpoint;
mod engine;
pub mod event;
pub mod front_door;
pub mod limits;
pub mod pacing;
pub mod policy;
pub mod proposal;
pub mod random;
pub mod status;
pub mod transcript;
mod tunnel;
pub(crate) mod v1;
/// Fuzz harness for IKEv1 fragmentation (`fuzz/`); not an API.
#[doc(hidden)]
pub use v1::fuzzing as v1_fuzzing;
/// Fuzz harness for the IKEv1 XAUTH and mode-config responder (`fuzz/`); not an API.
#[doc(hidden)]
pub use v1::fuzzing_ra as v1_xauth_fuzzing;
pub mod v2;

pub use diagnostic::{AuthSide, Diagnostic};
pub use endpoint::Endpoint;
pub use engine::{Engine, SpiTaken};
pub use event::{DownReason, Event, Role, Transmit};
pub use policy::{
    DpdPolicy, EspMode, ExchangeMode, Identity, IkePolicy, IkeVersion, NatTraversal, Phase1Policy,
    Phase2Policy, ProxyId, RetransmitPolicy, Subnet,
};
pub use random::{OsRandom, RandomSource, SeededRandom};
pub use status::{ChildStatus, DpdStatus, EngineStats, EngineStatus, NatStatus, Phase1Status};
pub use tunnel::TunnelEngine;
pub use v1::main_mode::aggressive_initiator_identity;

#[cfg(test)]
pub(crate) mod tests;
