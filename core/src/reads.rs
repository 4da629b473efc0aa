//! Reading back entries older than the log's window in memory (see
//! [`crate::log`]): a part that needs them (a lagging follower's catch-up, a
//! client resuming from an old index, a peer fetching a branch) says so while
//! it handles an input; at the end of the step the node asks its driver for
//! them ([`Action::ReadLog`]), a few reads at a time; the driver answers with
//! [`Event::LogRead`], the entries go to the log's read cache, and the parts
//! that wait for them go on.
//!
//! A read the driver does not answer, or answers with nothing (it failed), is
//! asked again after [`READ_RETRY`], when a reader still wants it: a failing
//! disk slows the readers, never the rest of the node.
//!
//! [`Event::LogRead`]: crate::Event::LogRead

use crate::action::Action;
use crate::log::READ_CHUNKS;
use crate::time::Instant;
use std::collections::BTreeMap;
use std::time::Duration;

/// Most entries one read asks for.
pub const READ_ENTRIES_MAX: usize = 4096;

/// How long a read may stay unanswered (or a failed one be remembered)
/// before it is asked again.
pub const READ_RETRY: Duration = Duration::from_millis(500);

/// The reads asked for and the ones wanted in this step.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reads {
    /// Reads in flight (or failed lately): first index → when asked.
    asked: BTreeMap<u64, Instant>,
    /// First indexes wanted in this step.
    wanted: Vec<u64>,
}

impl Reads {
    /// A part needs the entries from `from` on.
    pub(crate) fn want(&mut self, from: u64) {
        if !self.wanted.contains(&from) {
            self.wanted.push(from);
        }
    }

    /// Whether a read in flight covers `index`.
    fn covered(&self, index: u64) -> bool {
        self.asked
            .range(..=index)
            .next_back()
            .is_some_and(|(first, _)| index < first.saturating_add(READ_ENTRIES_MAX as u64))
    }

    /// End of a step: the wanted reads not in flight leave, a few at a time.
    pub(crate) fn end_step(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.wanted.is_empty() {
            return;
        }
        self.asked.retain(|_, at| now < *at + READ_RETRY);
        let mut wanted = std::mem::take(&mut self.wanted);
        wanted.sort_unstable();
        for from in wanted.drain(..) {
            if self.asked.len() >= READ_CHUNKS || self.covered(from) {
                continue;
            }
            self.asked.insert(from, now);
            out.push(Action::ReadLog {
                from,
                max: READ_ENTRIES_MAX,
            });
        }
        self.wanted = wanted;
    }

    /// The driver answered the read from `from`: whether it was asked for
    /// (an answer nobody asked for is dropped). A failed read (no entries)
    /// stays remembered until it may be retried.
    pub(crate) fn answered(&mut self, from: u64, failed: bool) -> bool {
        if !self.asked.contains_key(&from) {
            return false;
        }
        if !failed {
            self.asked.remove(&from);
        }
        true
    }
}
