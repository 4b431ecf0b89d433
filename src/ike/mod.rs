//! The sans-IO IKE engine (IKEv1 Main Mode + Quick Mode with pre-shared keys, NAT-T,
//! informational exchanges). No sockets, clocks or global RNG: time and randomness are passed in.

pub mod diagnostic;
pub mod policy;
pub mod proposal;
pub mod random;
pub(crate) mod v1;

pub use diagnostic::Diagnostic;
pub use policy::{Identity, IkePolicy, NatTraversal, ProxyId, Subnet};
pub use random::{OsRandom, RandomSource, SeededRandom};
