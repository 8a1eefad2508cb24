//! The replay window (RFC 3711 §3.3.2): a sliding bitmap of recently
//! accepted packet indices, checked before authentication and updated only
//! after it.
//!
//! The bitmap is a ring of 64-bit words indexed by `index mod (64 · words)`,
//! so advancing the window clears only the words it passes over: O(1) per
//! packet whatever the window size (a 32768-packet window is 1024 words,
//! 8 KiB: the word count is rounded up to a power of two).

/// Why the window refuses an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Already accepted.
    Replayed,
    /// Behind the window.
    TooOld,
}

#[derive(Clone)]
pub(crate) struct ReplayWindow {
    words: Box<[u64]>,
    /// Highest accepted index, if any.
    top: Option<u64>,
    size: u64,
}

/// Words of the ring for a window of `size` packets: one spare word so that
/// the word holding `top` never aliases the oldest index still inside the
/// window; a power of two so that the ring index is a mask, not a division.
fn ring_words(size: usize) -> usize {
    (size.div_ceil(64) + 1).next_power_of_two()
}

/// Heap bytes one replay window of `size` packets takes.
pub(crate) fn window_bytes(size: usize) -> usize {
    ring_words(size) * std::mem::size_of::<u64>()
}

impl ReplayWindow {
    /// A window of `size` packets (64..=32768, checked by the policy).
    pub(crate) fn new(size: usize) -> ReplayWindow {
        let words = ring_words(size);
        ReplayWindow {
            words: vec![0; words].into_boxed_slice(),
            top: None,
            size: size as u64,
        }
    }

    /// Highest index accepted so far.
    #[inline]
    pub(crate) fn top(&self) -> Option<u64> {
        self.top
    }

    #[inline(always)]
    fn slot(&self, index: u64) -> (usize, u64) {
        let word = (index / 64) & (self.words.len() as u64 - 1);
        (word as usize, 1u64 << (index % 64))
    }

    /// Whether `index` may be accepted (does not change the window).
    #[inline]
    pub(crate) fn check(&self, index: u64) -> Result<(), Refusal> {
        let Some(top) = self.top else { return Ok(()) };
        if index > top {
            return Ok(());
        }
        if top - index >= self.size {
            return Err(Refusal::TooOld);
        }
        let (word, bit) = self.slot(index);
        match self.words.get(word) {
            Some(w) if w & bit != 0 => Err(Refusal::Replayed),
            _ => Ok(()),
        }
    }

    /// Records `index` as accepted (call only after [`Self::check`] passed and
    /// the packet authenticated).
    #[inline]
    pub(crate) fn accept(&mut self, index: u64) {
        match self.top {
            Some(top) if index <= top => {}
            Some(top) => {
                let ring = self.words.len() as u64;
                let from = top / 64;
                let to = index / 64;
                if to - from >= ring {
                    self.words.fill(0);
                } else {
                    for w in from + 1..=to {
                        if let Some(word) = self.words.get_mut((w & (ring - 1)) as usize) {
                            *word = 0;
                        }
                    }
                }
                self.top = Some(index);
            }
            None => {
                self.words.fill(0);
                self.top = Some(index);
            }
        }
        let (word, bit) = self.slot(index);
        if let Some(w) = self.words.get_mut(word) {
            *w |= bit;
        }
    }

    /// Forgets everything (used when the ROC is set explicitly).
    pub(crate) fn reset(&mut self, top: Option<u64>) {
        self.words.fill(0);
        self.top = top;
        if let Some(top) = top {
            let (word, bit) = self.slot(top);
            if let Some(w) = self.words.get_mut(word) {
                *w |= bit;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_once_and_forgets_the_old() {
        let mut w = ReplayWindow::new(128);
        assert_eq!(w.check(1000), Ok(()));
        w.accept(1000);
        assert_eq!(w.check(1000), Err(Refusal::Replayed));
        assert_eq!(w.check(999), Ok(()));
        w.accept(999);
        assert_eq!(w.check(999), Err(Refusal::Replayed));
        assert_eq!(w.check(1000 - 127), Ok(()));
        assert_eq!(w.check(1000 - 128), Err(Refusal::TooOld));
        w.accept(1200);
        assert_eq!(w.check(1000), Err(Refusal::TooOld));
        assert_eq!(w.check(1100), Ok(()));
        assert_eq!(w.check(1200), Err(Refusal::Replayed));
        // A big jump clears everything.
        w.accept(100_000);
        for i in 100_000 - 127..100_000 {
            assert_eq!(w.check(i), Ok(()), "{i}");
        }
    }

    #[test]
    fn window_memory() {
        // 128 packets: 2 words + 1 spare, rounded up to 4 words.
        assert_eq!(window_bytes(128), 32);
        assert_eq!(window_bytes(1024), 256);
        assert_eq!(window_bytes(32768), 8192);
        assert_eq!(ReplayWindow::new(1024).words.len() * 8, window_bytes(1024));
    }

    #[test]
    fn matches_a_naive_model() {
        // Deterministic pseudo-random walk compared against a set-based model.
        for size in [64usize, 100, 128, 1000] {
            let mut w = ReplayWindow::new(size);
            let mut seen = std::collections::BTreeSet::new();
            let mut top: Option<u64> = None;
            let mut x: u64 = 0x1234_5678;
            let mut base: u64 = 5000;
            for _ in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                base += x % 3;
                let index = base + (x >> 20) % 200 - 100 + (size as u64 / 4);
                let model = match top {
                    None => Ok(()),
                    Some(t) if index > t => Ok(()),
                    Some(t) if t - index >= size as u64 => Err(Refusal::TooOld),
                    Some(_) if seen.contains(&index) => Err(Refusal::Replayed),
                    Some(_) => Ok(()),
                };
                assert_eq!(w.check(index), model, "size {size} index {index}");
                if model.is_ok() {
                    w.accept(index);
                    seen.insert(index);
                    top = Some(top.map_or(index, |t| t.max(index)));
                }
            }
        }
    }
}
