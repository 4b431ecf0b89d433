//! Randomness for the engine comes through [`RandomSource`], passed in by the caller: the daemon
//! gives [`OsRandom`], tests give a [`SeededRandom`] so that runs are reproducible.

use sha2::{Digest, Sha256};

/// A source of random bytes (cookies, nonces, DH exponents, SPIs, message IDs, padding).
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // getrandom only fails if the OS has no entropy source at all; nothing can go on then.
        getrandom::fill(buf).expect("the OS random number generator failed");
    }
}

/// A deterministic stream (SHA-256 of seed and a counter) for tests. Not for production keys.
#[derive(Debug, Clone)]
pub struct SeededRandom {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededRandom {
    /// A stream determined entirely by `seed`.
    pub fn new(seed: u64) -> SeededRandom {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_be_bytes());
        SeededRandom {
            seed: s,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            if self.used == self.block.len() {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.block.copy_from_slice(&h.finalize());
                self.counter += 1;
                self.used = 0;
            }
            *b = self.block.get(self.used).copied().unwrap_or(0);
            self.used += 1;
        }
    }
}

/// Convenience helpers over any [`RandomSource`].
pub(crate) fn random_bytes(rng: &mut dyn RandomSource, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v);
    v
}

/// A random u32.
pub(crate) fn random_u32(rng: &mut dyn RandomSource) -> u32 {
    let mut b = [0u8; 4];
    rng.fill(&mut b);
    u32::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic_and_seed_dependent() {
        let (mut a, mut b, mut c) = (
            SeededRandom::new(1),
            SeededRandom::new(1),
            SeededRandom::new(2),
        );
        let (mut x, mut y, mut z) = ([0u8; 100], [0u8; 100], [0u8; 100]);
        a.fill(&mut x);
        b.fill(&mut y[..33]);
        b.fill(&mut y[33..]);
        c.fill(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
    }
}
