//! Anti-replay window (RFC 4303 §3.4.3), a sliding bitmap of [`ReplayWindow::SIZE`] packets.

/// The receive-side sequence-number window of one inbound SA.
///
/// `check` is cheap and runs before the ICV is verified; `accept` runs only after the ICV
/// verified, so a forged packet can never move the window.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    /// Highest sequence number accepted so far (0: none yet).
    top: u64,
    /// Bit i set: sequence number `top - i` was received.
    bits: [u64; Self::WORDS],
}

/// Why a sequence number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// Sequence number 0 is never sent (RFC 4303 §3.3.3).
    Zero,
    /// Already received.
    Duplicate,
    /// Older than the left edge of the window.
    TooOld,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    const WORDS: usize = 64;
    /// Window size in packets (RFC 4303 asks for at least 32, recommends 64; we keep 4096 so
    /// that multi-queue reordering at multi-gigabit rates stays inside the window).
    pub const SIZE: u64 = (Self::WORDS as u64) * 64;

    /// An empty window.
    pub fn new() -> Self {
        ReplayWindow {
            top: 0,
            bits: [0; Self::WORDS],
        }
    }

    /// Highest sequence number accepted so far.
    pub fn top(&self) -> u64 {
        self.top
    }

    /// Would `seq` be accepted? Does not change the window.
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        if seq == 0 {
            return Err(ReplayError::Zero);
        }
        if seq > self.top {
            return Ok(());
        }
        let age = self.top - seq;
        if age >= Self::SIZE {
            return Err(ReplayError::TooOld);
        }
        if self.bit(age) {
            Err(ReplayError::Duplicate)
        } else {
            Ok(())
        }
    }

    /// Checks `seq` again and marks it received (call after the ICV verified).
    pub fn accept(&mut self, seq: u64) -> Result<(), ReplayError> {
        self.check(seq)?;
        if seq > self.top {
            let shift = seq - self.top;
            self.shift_left(shift);
            self.top = seq;
            self.set_bit(0);
        } else {
            self.set_bit(self.top - seq);
        }
        Ok(())
    }

    fn bit(&self, age: u64) -> bool {
        let (w, b) = ((age / 64) as usize, age % 64);
        self.bits.get(w).is_some_and(|word| word & (1 << b) != 0)
    }

    fn set_bit(&mut self, age: u64) {
        let (w, b) = ((age / 64) as usize, age % 64);
        if let Some(word) = self.bits.get_mut(w) {
            *word |= 1 << b;
        }
    }

    /// Ages every recorded packet by `n` (bit i moves to bit i + n).
    fn shift_left(&mut self, n: u64) {
        if n >= Self::SIZE {
            self.bits = [0; Self::WORDS];
            return;
        }
        let words = (n / 64) as usize;
        let bits = (n % 64) as u32;
        for i in (0..Self::WORDS).rev() {
            let src = i.checked_sub(words);
            let hi = src.and_then(|s| self.bits.get(s)).copied().unwrap_or(0);
            let lo = src
                .and_then(|s| s.checked_sub(1))
                .and_then(|s| self.bits.get(s))
                .copied()
                .unwrap_or(0);
            self.bits[i] = if bits == 0 {
                hi
            } else {
                (hi << bits) | (lo >> (64 - bits))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges_of_the_window() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.accept(0), Err(ReplayError::Zero));
        assert_eq!(w.accept(1), Ok(()));
        assert_eq!(w.accept(1), Err(ReplayError::Duplicate));
        let top = 10_000;
        assert_eq!(w.accept(top), Ok(()));
        // The oldest still inside the window.
        let oldest = top - ReplayWindow::SIZE + 1;
        assert_eq!(w.check(oldest), Ok(()));
        assert_eq!(w.accept(oldest), Ok(()));
        assert_eq!(w.accept(oldest), Err(ReplayError::Duplicate));
        // One further left is too old.
        assert_eq!(w.check(oldest - 1), Err(ReplayError::TooOld));
        // Moving by exactly one shifts the edge.
        assert_eq!(w.accept(top + 1), Ok(()));
        assert_eq!(w.check(oldest), Err(ReplayError::TooOld));
        assert_eq!(w.check(top), Err(ReplayError::Duplicate));
        assert_eq!(w.check(top - 1), Ok(()));
    }

    #[test]
    fn huge_jump_clears_history() {
        let mut w = ReplayWindow::new();
        for s in 1..=100 {
            w.accept(s).unwrap();
        }
        w.accept(1 << 40).unwrap();
        assert_eq!(w.check(100), Err(ReplayError::TooOld));
        assert_eq!(w.check((1 << 40) - 1), Ok(()));
    }

    proptest! {
        /// Against a reference model (a set of seen numbers plus the window rule).
        #[test]
        fn matches_reference_model(seqs in proptest::collection::vec(1u64..12_000, 1..600)) {
            let mut w = ReplayWindow::new();
            let mut seen = std::collections::BTreeSet::new();
            let mut top = 0u64;
            for s in seqs {
                let expect = if s > top {
                    Ok(())
                } else if top - s >= ReplayWindow::SIZE {
                    Err(ReplayError::TooOld)
                } else if seen.contains(&s) {
                    Err(ReplayError::Duplicate)
                } else {
                    Ok(())
                };
                prop_assert_eq!(w.accept(s), expect);
                if expect.is_ok() {
                    seen.insert(s);
                    top = top.max(s);
                }
            }
        }
    }
}
