//! The negotiation transcript's decoders (`ike::transcript`) on arbitrary bytes: datagrams of
//! either IKE version and decrypted inner payload chains, into bounded payload trees.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ikegate::ike::transcript::fuzzing::transcript(data);
});
