//! The core's notion of time: a point on the driver's clock, in microseconds.
//!
//! The core never reads a clock. The runtime maps its monotonic clock (anchored at
//! the Unix epoch so that start times compare across hosts) to [`Instant`]; the
//! simulator maps its virtual clock, skewed per node.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time on the driver's clock, in microseconds since the driver's epoch.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Instant(u64);

impl Instant {
    /// The driver's epoch.
    pub const ZERO: Instant = Instant(0);
    /// Later than any time a run can reach; used as "never".
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1000))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the epoch, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1000
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(micros(rhs)))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_sub(micros(rhs)))
    }
}

impl fmt::Display for Instant {
    /// Seconds with microsecond precision, e.g. `12.000250s`: stable, so traces can be diffed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Through `pad` so `{:>12}` aligns trace columns.
        f.pad(&format!(
            "{}.{:06}s",
            self.0 / 1_000_000,
            self.0 % 1_000_000
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(
            Instant::from_millis(5).saturating_since(Instant::from_millis(7)),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_millis(1500) + Duration::from_micros(1),
            Instant::from_micros(1_500_001)
        );
    }

    #[test]
    fn display_is_seconds_with_micros() {
        assert_eq!(Instant::from_micros(12_000_250).to_string(), "12.000250s");
        assert_eq!(Instant::ZERO.to_string(), "0.000000s");
        assert_eq!(format!("{:>11}", Instant::ZERO), "  0.000000s");
    }
}
