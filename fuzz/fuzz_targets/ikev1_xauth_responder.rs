//! The gateway's IKEv1 XAUTH and mode-config (push, pull, auto) driven by a hostile client that
//! holds the ISAKMP SA's keys: see `ikegate::ike::v1_xauth_fuzzing::xauth_responder`; the seeds
//! are replayed by `cargo test` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ikegate::ike::v1_xauth_fuzzing::xauth_responder(data));
