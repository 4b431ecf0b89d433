//! IKEv1 mode-config / XAUTH Attribute payloads: see
//! `ikegate::wire::isakmp::cfg::fuzz_round_trip` (parse, decode, re-encode, decode again); the
//! seeds are replayed by `cargo test` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ikegate::wire::isakmp::cfg::fuzz_round_trip(data));
