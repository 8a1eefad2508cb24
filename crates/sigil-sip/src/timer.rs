//! Deadline arithmetic that cannot panic.
//!
//! `Instant + Duration` panics on overflow, and many durations come from
//! outside: an integrator's options, a registrar's `expires`, a peer's
//! header. Every such deadline is computed here instead.

use std::time::{Duration, Instant};

/// About a year: what an absurdly long delay is cut to.
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// `now + delay`, or about a year from `now` when that is not representable
/// (a delay of `Duration::MAX`, say). Never panics.
pub fn deadline_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_delays_saturate_instead_of_panicking() {
        let now = Instant::now();
        assert_eq!(
            deadline_after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert_eq!(deadline_after(now, Duration::MAX), now + FAR);
    }
}
