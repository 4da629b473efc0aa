//! The core's clock for a real process: microseconds since the Unix epoch at start,
//! then advanced by the monotonic clock, so time never goes backwards while
//! incarnations and timestamps stay comparable across processes.

use ringleader_core::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

/// Maps tokio's monotonic instants to the core's [`Instant`].
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base: tokio::time::Instant,
    base_micros: u64,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        Clock {
            base: tokio::time::Instant::now(),
            base_micros: since_epoch,
        }
    }

    /// The core's time now.
    pub fn now(&self) -> Instant {
        self.to_core(tokio::time::Instant::now())
    }

    /// The core's time of a tokio instant.
    pub fn to_core(&self, at: tokio::time::Instant) -> Instant {
        let elapsed = at.saturating_duration_since(self.base);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        Instant::from_micros(self.base_micros.saturating_add(micros))
    }

    /// The tokio instant of a core time (a deadline).
    pub fn to_tokio(&self, at: Instant) -> tokio::time::Instant {
        let micros = at.as_micros().saturating_sub(self.base_micros);
        // Far-future deadlines (Instant::MAX) are capped at a day: a timer that long
        // is as good as none, and tokio rejects instants that overflow.
        let micros = micros.min(86_400_000_000);
        self.base + std::time::Duration::from_micros(micros)
    }
}
