//! A RADIUS server's answer (any bytes) to a client with a PAP and an EAP request outstanding:
//! as is, then with identifier, Length and authenticators fixed up so that the attribute
//! decoding (EAP reassembly, State, Reply-Message, MS-MPPE keys) is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ikegate::ra::radius::fuzzing::radius_response(data);
});
