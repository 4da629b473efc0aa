//! The replay window of sealed datagrams.
//!
//! Each sender numbers its datagrams: `life` (the wall-clock microsecond at
//! which its process started) and a counter from 1 within that life. A receiver
//! keeps, per sender, the newest life it has heard and which of the last
//! [`REPLAY_WINDOW`] counters of it arrived. A datagram is taken once: one of an
//! older life, one below the window, or one seen already, is a replay (or a
//! delay the protocol would treat as stale anyway) and is refused.
//!
//! The window's limits, as documented in the README: a receiver that restarts
//! forgets what it heard, and would take once more a captured datagram of the
//! sender's current life; that datagram says what the sender said then, which
//! the core already handles as a late delivery (the network may delay as much).
//! A sender whose clock went back between two starts is refused by the peers
//! that heard its previous life until they restart or the clock passes it.

use std::collections::BTreeMap;

/// Counters below the newest one still accepted, out of order.
pub const REPLAY_WINDOW: u64 = 1024;
const WORDS: usize = (REPLAY_WINDOW / 64) as usize;
/// Senders remembered; beyond it the least recently heard is forgotten.
const MAX_SENDERS: usize = 4096;

/// What became of a datagram's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// New: accepted, and now remembered.
    Fresh,
    /// From a life older than the newest heard from this sender.
    OldLife,
    /// Heard already, or too far behind the newest counter.
    Replayed,
}

#[derive(Clone, Debug)]
struct Window {
    life: u64,
    top: u64,
    /// Bit i of the ring: counter `c` with `c % REPLAY_WINDOW == i` was seen.
    seen: [u64; WORDS],
    heard_at: u64,
}

impl Window {
    fn new(life: u64) -> Window {
        Window {
            life,
            top: 0,
            seen: [0; WORDS],
            heard_at: 0,
        }
    }

    fn bit(counter: u64) -> (usize, u64) {
        let i = counter % REPLAY_WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    fn check(&self, counter: u64) -> Freshness {
        if counter == 0 || counter.saturating_add(REPLAY_WINDOW) <= self.top {
            return Freshness::Replayed;
        }
        if counter > self.top {
            return Freshness::Fresh;
        }
        let (w, b) = Self::bit(counter);
        match self.seen.get(w) {
            Some(word) if word & b == 0 => Freshness::Fresh,
            _ => Freshness::Replayed,
        }
    }

    fn mark(&mut self, counter: u64) {
        if counter > self.top {
            // Forget the counters the window slides past.
            let gap = counter - self.top;
            if gap >= REPLAY_WINDOW {
                self.seen = [0; WORDS];
            } else {
                for c in self.top + 1..=counter {
                    let (w, b) = Self::bit(c);
                    if let Some(word) = self.seen.get_mut(w) {
                        *word &= !b;
                    }
                }
            }
            self.top = counter;
        }
        let (w, b) = Self::bit(counter);
        if let Some(word) = self.seen.get_mut(w) {
            *word |= b;
        }
    }
}

/// Per-sender windows, bounded in number.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    windows: BTreeMap<(u8, u64), Window>,
    clock: u64,
}

impl ReplayGuard {
    /// Nobody heard yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks, and if fresh remembers, datagram `counter` of `life` from
    /// `sender` of kind `kind`. Call it only for datagrams whose tag verified:
    /// otherwise a forger could fill the table.
    pub fn accept(&mut self, kind: u8, sender: u64, life: u64, counter: u64) -> Freshness {
        self.clock += 1;
        let key = (kind, sender);
        if !self.windows.contains_key(&key) && self.windows.len() >= MAX_SENDERS {
            self.forget_oldest();
        }
        let now = self.clock;
        let window = self.windows.entry(key).or_insert_with(|| Window::new(life));
        if life < window.life {
            return Freshness::OldLife;
        }
        if life > window.life {
            *window = Window::new(life);
        }
        let verdict = window.check(counter);
        if verdict == Freshness::Fresh {
            window.mark(counter);
            window.heard_at = now;
        }
        verdict
    }

    fn forget_oldest(&mut self) {
        let oldest = self
            .windows
            .iter()
            .min_by_key(|(_, w)| w.heard_at)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.windows.remove(&k);
        }
    }

    /// Senders remembered.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no sender is remembered.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_datagram_is_taken_once_and_old_lives_are_refused() {
        let mut g = ReplayGuard::new();
        assert_eq!(g.accept(0, 1, 100, 1), Freshness::Fresh);
        assert_eq!(g.accept(0, 1, 100, 1), Freshness::Replayed);
        assert_eq!(g.accept(0, 1, 100, 3), Freshness::Fresh);
        assert_eq!(g.accept(0, 1, 100, 2), Freshness::Fresh, "late but new");
        assert_eq!(g.accept(0, 1, 100, 2), Freshness::Replayed);
        assert_eq!(g.accept(0, 1, 100, 0), Freshness::Replayed);
        assert_eq!(g.accept(0, 1, 100, 5000), Freshness::Fresh);
        assert_eq!(
            g.accept(0, 1, 100, 3),
            Freshness::Replayed,
            "below the window"
        );
        assert_eq!(
            g.accept(0, 1, 100, 5000 - REPLAY_WINDOW + 1),
            Freshness::Fresh
        );
        assert_eq!(g.accept(0, 2, 100, 3), Freshness::Fresh, "senders apart");
        assert_eq!(g.accept(1, 1, 100, 3), Freshness::Fresh, "kinds apart");
        assert_eq!(g.accept(0, 1, 200, 1), Freshness::Fresh, "a new life");
        assert_eq!(g.accept(0, 1, 100, 6000), Freshness::OldLife);
        assert_eq!(g.accept(0, 1, 200, u64::MAX), Freshness::Fresh);
        assert_eq!(g.accept(0, 1, 200, u64::MAX), Freshness::Replayed);
    }

    #[test]
    fn a_sliding_window_forgets_what_it_slides_past() {
        let mut g = ReplayGuard::new();
        for c in 1..=3 * REPLAY_WINDOW {
            assert_eq!(g.accept(0, 1, 1, c), Freshness::Fresh, "{c}");
        }
        for c in 2 * REPLAY_WINDOW + 1..=3 * REPLAY_WINDOW {
            assert_eq!(g.accept(0, 1, 1, c), Freshness::Replayed, "{c}");
        }
    }

    #[test]
    fn the_table_is_bounded() {
        let mut g = ReplayGuard::new();
        for s in 0..(MAX_SENDERS as u64 + 100) {
            g.accept(0, s, 1, 1);
        }
        assert_eq!(g.len(), MAX_SENDERS);
    }
}
