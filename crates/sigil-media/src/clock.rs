//! Wall-clock time for RTCP without reading a clock: NTP timestamps from an
//! `Instant` and an anchor the driver captured once.

use std::time::{Duration, Instant};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Maps monotonic instants to wall-clock time: "at `instant` it was
/// `since_unix_epoch` after 1970".
///
/// The driver builds it once per call from its own clocks, e.g.
/// `WallClock::new(Instant::now(), SystemTime::now().duration_since(UNIX_EPOCH)?)`;
/// this crate never reads a clock. Only differences of NTP timestamps
/// matter for round-trip times, so a wrong wall clock costs nothing but
/// the absolute time in our sender reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    instant: Instant,
    since_unix_epoch: Duration,
}

impl WallClock {
    /// The anchor: at `instant`, the wall clock read `since_unix_epoch`.
    pub fn new(instant: Instant, since_unix_epoch: Duration) -> Self {
        WallClock {
            instant,
            since_unix_epoch,
        }
    }

    /// Wall-clock time at `at`, since the Unix epoch.
    pub fn unix_time(&self, at: Instant) -> Duration {
        match at.checked_duration_since(self.instant) {
            Some(after) => self.since_unix_epoch.saturating_add(after),
            None => self
                .since_unix_epoch
                .saturating_sub(self.instant.duration_since(at)),
        }
    }

    /// The 64-bit NTP timestamp of `at` (32.32 fixed point seconds since 1900).
    pub fn ntp(&self, at: Instant) -> u64 {
        ntp_from_unix(self.unix_time(at))
    }

    /// The middle 32 bits of the NTP timestamp of `at` (16.16 seconds), as
    /// RTCP's LSR and round-trip arithmetic use.
    pub fn ntp_middle(&self, at: Instant) -> u32 {
        (self.ntp(at) >> 16) as u32
    }
}

/// The 64-bit NTP timestamp of a time since the Unix epoch (wrapping in
/// 2036 as NTP era 0 does).
pub fn ntp_from_unix(since_unix_epoch: Duration) -> u64 {
    let seconds = since_unix_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let fraction = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (seconds << 32) | fraction
}

/// A duration in RTCP's 16.16 fixed-point seconds (DLSR), saturating.
pub fn to_ntp_short(d: Duration) -> u32 {
    let units = d.as_nanos().saturating_mul(65536) / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// A 16.16 fixed-point seconds value as a duration.
pub fn from_ntp_short(units: u32) -> Duration {
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / 65536)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_timestamps() {
        // 1970-01-01 is NTP second 2208988800; half a second is 0x80000000.
        assert_eq!(ntp_from_unix(Duration::ZERO), NTP_UNIX_OFFSET << 32);
        assert_eq!(
            ntp_from_unix(Duration::from_millis(1500)),
            (NTP_UNIX_OFFSET + 1) << 32 | 0x8000_0000
        );
        let t0 = Instant::now();
        let clock = WallClock::new(
            t0 + Duration::from_secs(10),
            Duration::from_secs(1_700_000_000),
        );
        assert_eq!(clock.unix_time(t0), Duration::from_secs(1_699_999_990));
        let a = clock.ntp_middle(t0 + Duration::from_secs(10));
        let b = clock.ntp_middle(t0 + Duration::from_millis(10_250));
        assert_eq!(b.wrapping_sub(a), 0x4000);
        assert_eq!(to_ntp_short(Duration::from_millis(250)), 0x4000);
        assert_eq!(from_ntp_short(0x18000), Duration::from_millis(1500));
        assert_eq!(to_ntp_short(Duration::from_secs(1 << 20)), u32::MAX);
    }
}
