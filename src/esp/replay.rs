//! Anti-replay window (RFC 4303 §3.4.3), a sliding bitmap of [`ReplayWindow::SIZE`] packets.

/// The receive-side sequence-number window of one inbound SA.
///
/// `check` is cheap and runs before the ICV is verified; `accept` runs only after the ICV
/// verified, so a forged packet can never move the window.
///
/// The bitmap is a ring of 64-bit words indexed by sequence number (RFC 6479): moving the
/// window clears the words it enters instead of shifting the whole bitmap, so each packet costs
/// O(1) however large the window.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    /// Highest sequence number accepted so far (0: none yet).
    top: u64,
    /// Bit `s % 64` of word `(s / 64) % WORDS` set: sequence number `s` was received.
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
    /// Window size in packets (RFC 4303 asks for at least 32, recommends 64; we keep 4032 so
    /// that reordering at multi-gigabit rates stays inside the window). One word of the ring is
    /// the partly filled word of the newest packet, hence 63 × 64.
    pub const SIZE: u64 = (Self::WORDS as u64 - 1) * 64;

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
        if self.top - seq >= Self::SIZE {
            return Err(ReplayError::TooOld);
        }
        if self.bits[Self::word(seq)] & Self::mask(seq) != 0 {
            Err(ReplayError::Duplicate)
        } else {
            Ok(())
        }
    }

    /// Checks `seq` again and marks it received (call after the ICV verified).
    pub fn accept(&mut self, seq: u64) -> Result<(), ReplayError> {
        self.check(seq)?;
        if seq > self.top {
            let (from, to) = (self.top / 64, seq / 64);
            if to - from >= Self::WORDS as u64 {
                self.bits = [0; Self::WORDS];
            } else {
                for w in from + 1..=to {
                    self.bits[(w % Self::WORDS as u64) as usize] = 0;
                }
            }
            self.top = seq;
        }
        self.bits[Self::word(seq)] |= Self::mask(seq);
        Ok(())
    }

    fn word(seq: u64) -> usize {
        ((seq / 64) % Self::WORDS as u64) as usize
    }

    fn mask(seq: u64) -> u64 {
        1 << (seq % 64)
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

    /// The same reference model, for a stream that mostly moves forward (with jumps back of up
    /// to 5000), so the ring wraps many times.
    fn reference_check(seqs: impl IntoIterator<Item = u64>) -> Result<(), TestCaseError> {
        let mut w = ReplayWindow::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut top = 0u64;
        for s in seqs {
            let expect = if s == 0 {
                Err(ReplayError::Zero)
            } else if s > top {
                Ok(())
            } else if top - s >= ReplayWindow::SIZE {
                Err(ReplayError::TooOld)
            } else if seen.contains(&s) {
                Err(ReplayError::Duplicate)
            } else {
                Ok(())
            };
            prop_assert_eq!(w.accept(s), expect, "seq {}", s);
            if expect.is_ok() {
                seen.insert(s);
                top = top.max(s);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn matches_reference_model_while_sliding(
            steps in proptest::collection::vec((0u64..400, 0u64..5000, proptest::bool::ANY), 1..1500)
        ) {
            let mut cur = 1u64;
            let seqs: Vec<u64> = steps
                .into_iter()
                .map(|(fwd, back, go_back)| {
                    cur += fwd;
                    if go_back { cur.saturating_sub(back) } else { cur }
                })
                .collect();
            reference_check(seqs)?;
        }

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
