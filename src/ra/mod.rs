//! Remote access: many clients on one tunnel interface, each with a virtual address from the
//! interface's pool, authenticated against a user directory.
//!
//! - [`acceptor`]: one engine per client, created on its first message, found by SPI;
//! - [`board`]: what the admin API shows of an interface (published snapshots, disconnect);
//! - [`login`]: the sans-IO seam through which engines ask the directory (sync or async);
//! - [`pool`]: the address pool and its leases (sans-IO);
//! - [`registry`]: the connected clients, lease release on Delete/DPD, login failures;
//! - [`routes`]: the data plane's per-client table, indexed by pool offset;
//! - [`directory`]: the [`directory::Directory`] trait user lookups go through, and
//!   [`directory::LoginFailure`], why a login failed in words;
//! - [`users_file`]: the users file (`ikegate users add/remove`), one directory;
//! - [`radius`]: RADIUS (RFC 2865/3579/2548) as the directory behind XAUTH and EAP;
//! - [`throttle`]: the slowing-down of repeated login failures per user and per source;
//! - [`timers`]: each client engine's next deadline, in a heap.

pub mod acceptor;
pub mod board;
pub mod directory;
pub mod login;
pub mod pool;
pub mod radius;
pub mod registry;
pub mod routes;
pub mod throttle;
pub mod timers;
pub mod users_file;

pub use directory::{Directory, LoginFailure};
pub use pool::{AddressPool, Lease, PoolUsage};
pub use registry::{ClientInfo, ClientRegistry, Departure};
pub use users_file::UsersFile;
