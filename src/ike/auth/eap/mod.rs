//! EAP for remote-access logins: the server side of EAP-MD5 and EAP-MSCHAPv2 ([`server`]), the
//! client side ([`peer`], our own remote-access client), the
//! MS-CHAPv2 and MPPE key maths ([`mschapv2`]) and the methods' type-data ([`wire`]). Shared by
//! IKEv2 (EAP in IKE_AUTH) and, later, EAP relayed to RADIUS.

#[doc(hidden)]
pub mod fuzzing;
pub mod mschapv2;
pub mod peer;
pub mod server;
#[cfg(test)]
mod tests;
pub mod wire;

pub use peer::{EapCredentials, EapPeer, PeerStep};
pub use server::{EapMethod, EapServer, EapStep};
