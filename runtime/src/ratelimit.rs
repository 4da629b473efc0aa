//! Rate-limited logging of bad input: a flood of garbage must not become a flood
//! of log lines. Each [`LogLimit`] lets one line through per second and counts
//! what it held back, for the next line to report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// One kind of log line, limited to one per second.
#[derive(Debug)]
pub struct LogLimit {
    /// The second (since the process's first check) of the last line, plus one.
    last: AtomicU64,
    held_back: AtomicU64,
}

fn seconds() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs()
}

impl LogLimit {
    /// Nothing logged yet.
    pub const fn new() -> Self {
        LogLimit {
            last: AtomicU64::new(0),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(n)` if a line may be logged now, `n` being the lines held back since
    /// the last one; `None` (counted) otherwise.
    pub fn check(&self) -> Option<u64> {
        let now = seconds() + 1;
        let last = self.last.load(Ordering::Relaxed);
        if last != now
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.held_back.swap(0, Ordering::Relaxed));
        }
        self.held_back.fetch_add(1, Ordering::Relaxed);
        None
    }
}

impl Default for LogLimit {
    fn default() -> Self {
        Self::new()
    }
}

/// Logs a warning through `limit`: at most one a second, with the count of the
/// lines held back since the previous one.
#[macro_export]
macro_rules! warn_limited {
    ($limit:expr, $($arg:tt)+) => {
        if let Some(held_back) = $limit.check() {
            tracing::warn!(held_back, $($arg)+);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_and_the_rest_counted() {
        let l = LogLimit::new();
        assert_eq!(l.check(), Some(0));
        let mut allowed = 0;
        for _ in 0..10_000 {
            if l.check().is_some() {
                allowed += 1;
            }
        }
        // A slow machine may cross one second boundary during the loop.
        assert!(allowed <= 1, "{allowed}");
    }
}
