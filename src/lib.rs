//! ikegate: a userspace IPsec VPN gateway on route-based TUN interfaces.
//!
//! Layers, bottom up (see README "Architecture"):
//! - [`wire`]: zero-copy, bounds-checked packet views and emitters (std only).
//! - [`crypto`]: algorithm identifiers and implementations (ciphers, integrity, PRF, DH).
//! - [`esp`]: ESP security associations, seal/open, anti-replay, the SA table.
//! - [`ike`]: the sans-IO IKE engine (IKEv1 Main/Quick Mode, informational).
//! - [`config`]: YAML configuration into validated types, with errors naming the key.
//! - [`io`]: the thin OS layer: TUN devices, UDP/raw sockets, netlink routes, namespaces.
//! - [`daemon`]: per-tunnel tasks tying the engine, the data plane and the OS together.
//! - [`import`]: SEIL and swanctl.conf configurations into ours (`ikegate import`).
//!
//! Everything except [`io`] is free of `unsafe`.
#![deny(unsafe_code)]

pub mod api;
pub mod config;
pub mod crypto;
pub mod daemon;
pub mod esp;
pub mod ike;
pub mod import;
pub mod io;
pub mod keys;
pub mod ra;
pub mod wire;
