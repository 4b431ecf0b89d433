//! The thin OS layer: TUN devices (tun-rs, with offloads), UDP and raw-ESP sockets, netlink
//! routes. Only this module talks to the kernel.

#![allow(unsafe_code)] // the only module that may hold `unsafe`, each use with a SAFETY note

pub mod batch;
pub mod heap;
pub mod next_hop;
pub mod packet_path;
pub mod packet_tx;
pub mod route;
pub mod socket;
pub mod tun;
