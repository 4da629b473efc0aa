//! Per-node clocks: an offset from virtual time and a drift rate.
//!
//! A node's clock is `local = base_local + (virtual - base_virtual) * (1 + ppm / 10^6)`.
//! Changing the drift re-anchors the clock at the current instant, so a node's time
//! never jumps and never runs backwards.

use ringleader_core::Instant;
use std::time::Duration;

const MILLION: i128 = 1_000_000;

/// Drift is limited so a clock always runs forwards.
pub const MAX_DRIFT_PPM: i32 = 100_000;

/// One node's view of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeClock {
    base_virtual: u64,
    base_local: u64,
    drift_ppm: i32,
}

impl NodeClock {
    /// A clock that reads `offset` when virtual time is zero and runs at the true rate.
    pub fn new(offset: Duration) -> Self {
        NodeClock {
            base_virtual: 0,
            base_local: u64::try_from(offset.as_micros()).unwrap_or(u64::MAX / 2),
            drift_ppm: 0,
        }
    }

    /// The node's time at virtual time `at`.
    pub fn local(&self, at: Instant) -> Instant {
        if self.drift_ppm == 0 {
            // Most clocks do not drift: skip the 128-bit arithmetic on the hot path.
            let elapsed = at.as_micros().saturating_sub(self.base_virtual);
            return Instant::from_micros(self.base_local.saturating_add(elapsed));
        }
        let elapsed = at.as_micros().saturating_sub(self.base_virtual);
        let rate = (1_000_000 + i64::from(self.drift_ppm)).unsigned_abs();
        if let Some(product) = elapsed.checked_mul(rate) {
            // Within 2^64 (runs shorter than about half a year): the same
            // arithmetic in 64 bits, without a 128-bit division.
            return Instant::from_micros(self.base_local.saturating_add(product / 1_000_000));
        }
        let elapsed = i128::from(elapsed);
        let scaled = elapsed * (MILLION + i128::from(self.drift_ppm)) / MILLION;
        let local = i128::from(self.base_local) + scaled;
        Instant::from_micros(u64::try_from(local).unwrap_or(u64::MAX))
    }

    /// The earliest virtual time at which the node's clock reads `local` or later.
    pub fn virtual_at(&self, local: Instant) -> Instant {
        if local == Instant::MAX {
            return Instant::MAX;
        }
        let ahead = i128::from(local.as_micros()) - i128::from(self.base_local);
        if ahead <= 0 {
            return Instant::from_micros(self.base_virtual);
        }
        if self.drift_ppm == 0 {
            let ahead = u64::try_from(ahead).unwrap_or(u64::MAX);
            return Instant::from_micros(self.base_virtual.saturating_add(ahead));
        }
        let rate = MILLION + i128::from(self.drift_ppm);
        let small = u64::try_from(ahead)
            .ok()
            .and_then(|a| a.checked_mul(1_000_000));
        if let (Some(scaled), Ok(rate)) = (small, u64::try_from(rate)) {
            // The same rounding up, in 64 bits (see `local`).
            let elapsed = scaled.div_ceil(rate);
            return Instant::from_micros(self.base_virtual.saturating_add(elapsed));
        }
        let elapsed = (ahead * MILLION + rate - 1) / rate;
        Instant::from_micros(
            u64::try_from(i128::from(self.base_virtual) + elapsed).unwrap_or(u64::MAX),
        )
    }

    /// Sets a new drift from virtual time `at` on, keeping the clock continuous.
    pub fn set_drift(&mut self, at: Instant, drift_ppm: i32) {
        let local = self.local(at);
        self.base_virtual = at.as_micros();
        self.base_local = local.as_micros();
        self.drift_ppm = drift_ppm.clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM);
    }

    /// The drift in force, in parts per million.
    pub fn drift_ppm(&self) -> i32 {
        self.drift_ppm
    }
}

/// How long `local` of a clock drifting at `ppm` lasts in virtual time, rounded up.
pub fn virtual_duration(local: Duration, ppm: i32) -> Duration {
    let micros = i128::try_from(local.as_micros()).unwrap_or(i128::MAX / MILLION);
    let rate = MILLION + i128::from(ppm);
    let v = (micros * MILLION + rate - 1) / rate;
    Duration::from_micros(u64::try_from(v).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_fast_clock_runs_ahead_and_converts_back() {
        let mut c = NodeClock::new(Duration::from_secs(10));
        c.set_drift(Instant::ZERO, 1000);
        let local = c.local(Instant::from_millis(1000));
        assert_eq!(local, Instant::from_micros(10_000_000 + 1_001_000));
        assert_eq!(c.virtual_at(local), Instant::from_millis(1000));
    }

    proptest! {
        #[test]
        fn virtual_at_is_the_earliest_time_the_clock_reaches_a_reading(
            offset in 0u64..1_000_000_000, ppm in -MAX_DRIFT_PPM..MAX_DRIFT_PPM,
            change in 0u64..1_000_000_000, target in 0u64..2_000_000_000,
        ) {
            let mut c = NodeClock::new(Duration::from_micros(offset));
            c.set_drift(Instant::from_micros(change), ppm);
            let want = Instant::from_micros(target);
            let v = c.virtual_at(want);
            if want.as_micros() >= c.base_local {
                prop_assert!(c.local(v) >= want);
                if v.as_micros() > c.base_virtual {
                    prop_assert!(c.local(Instant::from_micros(v.as_micros() - 1)) < want);
                }
            }
        }

        #[test]
        fn the_64_bit_paths_agree_with_128_bit_arithmetic(
            base_virtual in 0u64..u64::MAX / 2, base_local in 0u64..u64::MAX / 2,
            ppm in -MAX_DRIFT_PPM..MAX_DRIFT_PPM, span in 0u32..64, bits in any::<u64>(),
        ) {
            // Spans of every magnitude, across the point where 64 bits overflow.
            let step = bits >> span;
            let c = NodeClock { base_virtual, base_local, drift_ppm: ppm };
            let at = base_virtual.saturating_add(step);
            let elapsed = i128::from(at - base_virtual);
            let want = i128::from(base_local) + elapsed * (MILLION + i128::from(ppm)) / MILLION;
            let want = Instant::from_micros(u64::try_from(want).unwrap_or(u64::MAX));
            prop_assert_eq!(c.local(Instant::from_micros(at)), want);
            let reading = base_local.saturating_add(step);
            let ahead = i128::from(reading - base_local);
            if ahead > 0 && reading != u64::MAX {
                let rate = MILLION + i128::from(ppm);
                let back = i128::from(base_virtual) + (ahead * MILLION + rate - 1) / rate;
                let back = Instant::from_micros(u64::try_from(back).unwrap_or(u64::MAX));
                prop_assert_eq!(c.virtual_at(Instant::from_micros(reading)), back);
            }
        }

        #[test]
        fn clocks_never_run_backwards(a in 0u64..1_000_000_000, b in 0u64..1_000_000_000, ppm in -MAX_DRIFT_PPM..MAX_DRIFT_PPM) {
            let mut c = NodeClock::new(Duration::ZERO);
            let (early, late) = (a.min(b), a.max(b));
            let before = c.local(Instant::from_micros(early));
            c.set_drift(Instant::from_micros(early), ppm);
            prop_assert_eq!(c.local(Instant::from_micros(early)), before);
            prop_assert!(c.local(Instant::from_micros(late)) >= before);
        }
    }
}
