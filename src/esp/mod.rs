//! ESP (RFC 4303) tunnel and transport mode in userspace: transforms, SAs, anti-replay, the SA table, the
//! outbound selector table.

/// Fuzz harness (not an API; public only for the `fuzz/` crate).
#[doc(hidden)]
pub mod fuzzing;
pub mod replay;
pub mod sa;
pub mod selector;
pub mod table;
pub mod transform;
pub mod transport;

#[cfg(test)]
mod tests;

pub use replay::ReplayWindow;
pub use sa::{DropReason, Encap, InboundSa, OutboundSa};
pub use selector::{OutboundRoutes, SelectorTable};
pub use table::SaTable;
pub use transform::{EspTransform, OpenError, Opened, SealError};
pub use transport::{Hosts, RebuiltHeader};
