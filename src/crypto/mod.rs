//! Cryptographic algorithms: identifiers shared by configuration, IKE and ESP, and their
//! implementations. AEAD (AES-GCM) runs on `ring`; CBC ciphers, HMACs and hashes on RustCrypto.

pub mod esp_suite;

pub use esp_suite::{EncAlg, EspKeys, IntegAlg};
