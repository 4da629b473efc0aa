//! Progress of a long run of simulations, on stderr: a bar redrawn in place on a
//! terminal, a line every few seconds otherwise (so CI logs show it too).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Shows how far a batch of `total` runs has come.
pub struct Progress {
    what: &'static str,
    total: u64,
    done: u64,
    failed: u64,
    started: Instant,
    last_drawn: Option<Instant>,
    terminal: bool,
}

impl Progress {
    /// A progress display for `total` runs of `what` (e.g. "seeds").
    pub fn new(what: &'static str, total: u64) -> Self {
        Progress {
            what,
            total,
            done: 0,
            failed: 0,
            started: Instant::now(),
            last_drawn: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Runs finished per wall second so far.
    fn rate(&self) -> f64 {
        self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    /// Wall time since the start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// One more run finished.
    pub fn tick(&mut self, failed: bool) {
        self.done += 1;
        self.failed += u64::from(failed);
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        let due = self.last_drawn.is_none_or(|t| t.elapsed() >= every);
        if due || self.done == self.total {
            self.draw();
        }
    }

    fn draw(&mut self) {
        self.last_drawn = Some(Instant::now());
        let rate = self.rate();
        let left = self.total.saturating_sub(self.done);
        let eta = if rate > 0.0 { left as f64 / rate } else { 0.0 };
        let line = format!(
            "{}/{} {} · {} failed · {:.1} runs/s · {:.0}s left",
            self.done, self.total, self.what, self.failed, rate, eta
        );
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let width = 30usize;
            let filled = (self.done as usize * width)
                .checked_div(self.total as usize)
                .unwrap_or(width)
                .min(width);
            let _ = write!(
                err,
                "\r[{}{}] {line}\x1b[K",
                "#".repeat(filled),
                ".".repeat(width - filled)
            );
            if self.done == self.total {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
    }

    /// Ends the display (a batch cut short by --fail-fast ends before its total).
    pub fn finish(&mut self) {
        if self.terminal && self.done < self.total {
            self.draw();
            let _ = writeln!(std::io::stderr());
        }
    }
}
