//! The receive loop's gate in front of the tunnels' IKE queues: see
//! `ikegate::ike::front_door::fuzz_admit`; the seeds are replayed by `cargo test` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ikegate::ike::front_door::fuzz_admit(data));
