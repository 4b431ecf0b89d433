//! Zero-copy, bounds-checked views and emitters for the packets the gateway handles.

pub mod ip;
pub mod isakmp;
pub mod tcp_mss;
pub mod udp_encap;
