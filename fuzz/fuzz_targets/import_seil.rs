//! See `ikegate::import::fuzzing::seil`: the harness lives in the library so that `cargo test`
//! replays it too (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ikegate::import::fuzzing::seil(data));
