//! Fuzz harnesses of the two importers, shared by the cargo-fuzz targets `import_seil` and
//! `import_swanctl` and by the `cargo test` replay below. Not an API: `#[doc(hidden)] pub` for
//! the fuzz crate only.
//!
//! Any bytes: the reader refuses them with a line inside the file, or writes YAML that parses as
//! YAML (so no input can inject keys or break out of a comment) and that the configuration
//! parser reads without panicking.

use super::{import, Format};

/// `ikegate import seil` on arbitrary input.
pub fn seil(data: &[u8]) {
    run(Format::Seil, data);
}

/// `ikegate import swanctl` on arbitrary input.
pub fn swanctl(data: &[u8]) {
    run(Format::Swanctl, data);
}

fn run(format: Format, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match import(format, text, "fuzz input") {
        Ok(yaml) => {
            let v: Result<yaml_serde::Value, _> = yaml_serde::from_str(&yaml);
            assert!(v.is_ok(), "the import wrote invalid YAML:\n{yaml}");
            let _ = crate::config::parse(&yaml, std::path::Path::new("/nonexistent"));
        }
        Err(e) => assert!(
            e.line <= text.lines().count() + 1,
            "error line {} past the end: {e}",
            e.line
        ),
    }
}

#[cfg(test)]
mod tests {
    //! The CI form of the two fuzz targets: the committed seeds, and each seed mutated a few
    //! hundred times (bytes flipped, lines cut, repeated and swapped) by a seeded generator.

    use super::*;
    use crate::ike::random::{RandomSource, SeededRandom};
    use crate::ike::v2::fuzzing::tests::seeds;

    fn mutate(rng: &mut SeededRandom, seed: &[u8]) -> Vec<u8> {
        let mut b = [0u8; 4];
        rng.fill(&mut b);
        let mut out = seed.to_vec();
        let at = |x: u8| {
            if out.is_empty() {
                0
            } else {
                usize::from(x) * out.len() / 256
            }
        };
        let i = at(b[1]);
        match b[0] % 5 {
            0 => {
                if let Some(x) = out.get_mut(i) {
                    *x = b"{}=:#\"\\\n.-,[]/ 0"[usize::from(b[2]) % 16];
                }
            }
            1 => out.truncate(i),
            2 => {
                let j = at(b[2]).max(i);
                let piece = out[i..j].to_vec();
                out.splice(i..i, piece);
            }
            3 => {
                if i < out.len() {
                    out.remove(i);
                }
            }
            _ => out.insert(i.min(out.len()), b[3]),
        }
        out
    }

    fn replay(target: &str, harness: fn(&[u8])) {
        let seeds = seeds(target);
        assert!(seeds.len() >= 2, "fuzz/seeds/{target} is missing");
        let mut rng = SeededRandom::new(16);
        for s in &seeds {
            harness(s);
            let mut m = s.clone();
            for _ in 0..300 {
                m = mutate(&mut rng, &m);
                harness(&m);
            }
        }
    }

    #[test]
    fn seil_survives_seeds_and_mutations() {
        replay("import_seil", seil);
    }

    #[test]
    fn swanctl_survives_seeds_and_mutations() {
        replay("import_swanctl", swanctl);
    }
}
