//! IKEv2 (RFC 7296) cryptography, independent of the wire module: transform identifiers and
//! the SK payload cipher (`transform`), prf+ and the IKE / child SA key derivations and the PSK
//! AUTH value (`keys`), and SK payload protection over byte slices (`sk`).

#![deny(missing_docs)]

pub mod keys;
pub mod sk;
pub mod transform;

pub use keys::{IkeSaKeys, IkeSaSuite, KeyError};
pub use sk::{open, seal, sk_body_len, SkError, SkKey};
pub use transform::Ikev2Cipher;
