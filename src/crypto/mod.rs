//! Cryptographic algorithms: identifiers shared by configuration, IKE and ESP, and their
//! implementations. AEAD (AES-GCM) runs on `ring`; CBC ciphers, HMACs and hashes on RustCrypto.

pub mod dh;
pub(crate) mod ecp;
pub mod esp_suite;
pub mod ike_cipher;
pub mod ikev2;
pub mod mlkem;
pub mod prf;

pub use esp_suite::{suite_name, EncAlg, EspKeys, IntegAlg};
