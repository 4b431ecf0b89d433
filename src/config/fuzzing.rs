//! Fuzz harness for the configuration parser (target `config_yaml` in `fuzz/`), shared with the
//! `cargo test` replay below, like `ike::v2::fuzzing`. Not an API.

use std::path::Path;

/// Where relative file paths of a fuzzed configuration point: nowhere.
const BASE: &str = "/nonexistent/ikegate-fuzz";

/// Configuration text as `ikegate check` and the daemon read it: either a configuration, or at
/// least one error, each naming what is wrong; `Debug` of what parses never panics.
pub fn yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match super::parse(text, Path::new(BASE)) {
        Ok(cfg) => {
            let _ = format!("{cfg:?}");
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without a reason");
            for e in &errors {
                assert!(
                    !e.message.is_empty(),
                    "an error without words at {}",
                    e.path
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::v2::fuzzing::tests::{random_inputs, seeds};

    #[test]
    fn yaml_survives_seeds_and_random_inputs() {
        for s in seeds("config_yaml") {
            yaml(&s);
        }
        for s in random_inputs(41, 500, 300) {
            yaml(&s);
        }
    }

    /// The example configuration is among the seeds and parses: the fuzzer starts from a
    /// configuration that reaches every section's validation.
    #[test]
    fn the_example_seed_parses() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/seeds/config_yaml/example"
        );
        let text = std::fs::read_to_string(dir).expect("seed");
        super::super::parse(&text, Path::new(BASE)).expect("the example seed parses");
    }
}
