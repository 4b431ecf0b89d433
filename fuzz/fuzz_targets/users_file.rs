//! See `ikegate::ra::users_file::fuzzing`: any text as a users file (refused naming the line,
//! or parsed into users whose rendering parses back the same).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ikegate::ra::users_file::fuzzing::users_file(data));
