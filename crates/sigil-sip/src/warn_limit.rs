//! Rate limiting for warnings a peer can trigger at will (malformed messages
//! on one connection): a flood of garbage must not become a flood of log lines.

use std::time::{Duration, Instant};

/// Lets the first `burst` warnings of each `window` through and counts the
/// rest; the count is reported with the next warning let through, or by
/// [`WarnLimiter::take_suppressed`] when the source goes away.
///
/// ```
/// use std::time::{Duration, Instant};
/// use sigil_sip::WarnLimiter;
///
/// let mut limiter = WarnLimiter::new(2, Duration::from_secs(60));
/// let now = Instant::now();
/// assert_eq!(limiter.admit(now), Some(0));
/// assert_eq!(limiter.admit(now), Some(0));
/// assert_eq!(limiter.admit(now), None); // counted, not logged
/// let later = now + Duration::from_secs(61);
/// assert_eq!(limiter.admit(later), Some(1)); // "… (1 similar warning suppressed)"
/// ```
#[derive(Debug, Clone)]
pub struct WarnLimiter {
    burst: u32,
    window: Duration,
    window_start: Option<Instant>,
    in_window: u32,
    suppressed: u64,
}

impl Default for WarnLimiter {
    /// 5 warnings a minute.
    fn default() -> Self {
        WarnLimiter::new(5, Duration::from_secs(60))
    }
}

impl WarnLimiter {
    /// At most `burst` warnings per `window`.
    pub const fn new(burst: u32, window: Duration) -> Self {
        WarnLimiter {
            burst,
            window,
            window_start: None,
            in_window: 0,
            suppressed: 0,
        }
    }

    /// Whether a warning at `now` may be logged: `Some(n)` with the number
    /// of warnings suppressed since the last one logged (say so in the line),
    /// or `None` (counted; do not log).
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        let expired = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= self.window);
        if expired {
            self.window_start = Some(now);
            self.in_window = 0;
        }
        if self.in_window < self.burst {
            self.in_window += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            None
        }
    }

    /// The warnings suppressed and not yet reported (to summarise when the
    /// connection closes); the count restarts at zero.
    pub fn take_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.suppressed)
    }
}

/// ` (N similar warnings suppressed)` for `n > 0`, else empty: the suffix of
/// a warning line let through by a [`WarnLimiter`].
pub fn suppressed_note(n: u64) -> String {
    match n {
        0 => String::new(),
        1 => " (1 similar warning suppressed)".to_owned(),
        n => format!(" ({n} similar warnings suppressed)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_logs_a_handful_and_counts_the_rest() {
        let mut limiter = WarnLimiter::default();
        let start = Instant::now();
        let logged = (0..5000)
            .filter(|i| limiter.admit(start + Duration::from_millis(*i)).is_some())
            .count();
        assert_eq!(logged, 5);
        assert_eq!(limiter.take_suppressed(), 4995);
        assert_eq!(limiter.take_suppressed(), 0);
        assert_eq!(suppressed_note(2), " (2 similar warnings suppressed)");
    }
}
