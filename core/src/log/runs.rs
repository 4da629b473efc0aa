//! The stamps of the whole log, as runs: one per leadership that appended,
//! however many entries it appended. What a node needs of entries it no
//! longer holds in memory (see [`super::Log`]'s window) is their stamps — to
//! check that a leader's entries continue the log, to find where two
//! histories part — and a few runs name every stamp of a history of any length.

use super::entry::Stamp;
use serde::{Deserialize, Serialize};

/// A run of consecutive entries of one leadership that a reader has seen: what
/// a client names when it resumes, so its new leader finds where their
/// histories part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeenRun {
    /// The leadership that appended the run.
    pub stamp: Stamp,
    /// Index of its first entry.
    pub first: u64,
    /// Index of its last entry.
    pub last: u64,
}

/// The stamps of entries 1 ..= `last`: each run starts at its `first` index
/// and lasts until the next run's first (or `last`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StampRuns {
    /// (first index, stamp), by first index, each stamp differing from the
    /// one before.
    runs: Vec<(u64, Stamp)>,
    /// The last index covered.
    last: u64,
}

impl StampRuns {
    /// The last index covered.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// How many runs.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether no entry is covered.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The stamp of entry `index` (1 ..= last), `None` outside.
    pub fn stamp_at(&self, index: u64) -> Option<Stamp> {
        self.run_of(index).map(|(_, stamp)| stamp)
    }

    /// The first index and the stamp of the run holding `index`.
    pub fn run_of(&self, index: u64) -> Option<(u64, Stamp)> {
        if index == 0 || index > self.last {
            return None;
        }
        let at = self.runs.partition_point(|(first, _)| *first <= index);
        at.checked_sub(1).and_then(|i| self.runs.get(i)).copied()
    }

    /// Entry `index` (the next after `last`) appended with `stamp`.
    pub fn push(&mut self, index: u64, stamp: Stamp) {
        debug_assert_eq!(index, self.last + 1, "runs cover the log without gaps");
        if self.runs.last().is_none_or(|(_, s)| *s != stamp) {
            self.runs.push((index, stamp));
        }
        self.last = index;
    }

    /// The runs of a log whose entries up to `index` are compacted away (see
    /// [`super::Snapshot`]): only the stamp of `index` is known of them.
    pub fn starting_at(index: u64, stamp: Stamp) -> StampRuns {
        StampRuns {
            runs: (index > 0).then_some((index, stamp)).into_iter().collect(),
            last: index,
        }
    }

    /// Forgets the stamps before `index` (compacted away); the stamp of
    /// `index` itself stays known.
    pub fn forget_before(&mut self, index: u64) {
        let at = self.runs.partition_point(|(first, _)| *first <= index);
        let Some(keep_from) = at.checked_sub(1) else {
            return;
        };
        self.runs.drain(..keep_from);
        if let Some(first) = self.runs.first_mut() {
            first.0 = first.0.max(index);
        }
    }

    /// Keeps entries 1 ..= `keep`.
    pub fn truncate(&mut self, keep: u64) {
        if keep >= self.last {
            return;
        }
        let runs = self.runs.partition_point(|(first, _)| *first <= keep);
        self.runs.truncate(runs);
        self.last = keep;
    }

    /// Runs read back from a driver's summary: `None` unless they are in order,
    /// start at 1 (or where a snapshot left the log) and fit in `last`.
    pub fn from_parts(runs: Vec<(u64, Stamp)>, last: u64) -> Option<StampRuns> {
        let ordered = runs
            .iter()
            .zip(runs.iter().skip(1))
            .all(|(a, b)| a.0 < b.0 && a.1 != b.1);
        let starts = runs.first().is_none_or(|(first, _)| *first >= 1);
        let fits = runs.last().is_none_or(|(first, _)| *first <= last);
        let empty_only_if_last_zero = !runs.is_empty() || last == 0;
        (ordered && starts && fits && empty_only_if_last_zero).then_some(StampRuns { runs, last })
    }

    /// The runs, (first index, stamp), in order.
    pub fn parts(&self) -> &[(u64, Stamp)] {
        &self.runs
    }

    /// The newest `max` runs, oldest first, as a reader that saw these
    /// entries names them (see [`StampRuns::shared_with`]).
    pub fn seen(&self, max: usize) -> Vec<SeenRun> {
        let n = self.runs.len();
        let from = n.saturating_sub(max);
        let ends = self.runs.iter().skip(1).map(|(first, _)| first - 1);
        let ends = ends.chain(std::iter::once(self.last));
        self.runs
            .iter()
            .zip(ends)
            .skip(from)
            .map(|(&(first, stamp), last)| SeenRun { stamp, first, last })
            .collect()
    }

    /// The last index up to which these runs (entries before `start` are
    /// compacted away, so committed and shared) hold the history that `runs`
    /// (oldest first, each starting right after the one before) describe: 0
    /// when they share nothing these runs can tell. Two histories that carry
    /// the same stamp at an index hold the same entries up to it.
    pub fn shared_with(&self, start: u64, runs: &[SeenRun]) -> u64 {
        let stamp_at = |index: u64| {
            if index == 0 {
                Some(Stamp::default())
            } else {
                self.stamp_at(index)
            }
        };
        for run in runs.iter().rev() {
            if run.first == 0 || run.last < run.first {
                continue; // malformed: proves nothing
            }
            if run.last < start {
                // Compacted away, so committed here: what the reader saw of it
                // can only be this history's (a run it saw is committed history).
                return run.last;
            }
            let run = SeenRun {
                first: run.first.max(start.saturating_sub(1).max(1)),
                ..*run
            };
            if stamp_at(run.first) != Some(run.stamp) {
                continue; // the histories parted earlier
            }
            // The run's stamps are contiguous here too: find where they end.
            let (mut lo, mut hi) = (run.first, run.last.min(self.last));
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if stamp_at(mid) == Some(run.stamp) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            return lo;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::NodeId;

    fn s(epoch: u64) -> Stamp {
        Stamp {
            epoch,
            leader: NodeId(1),
        }
    }

    #[test]
    fn runs_name_every_stamp_and_follow_truncation() {
        let mut runs = StampRuns::default();
        for (i, e) in [1, 1, 1, 2, 2, 3].into_iter().enumerate() {
            runs.push(i as u64 + 1, s(e));
        }
        assert_eq!(runs.len(), 3);
        assert_eq!(runs.stamp_at(0), None);
        assert_eq!(runs.stamp_at(3), Some(s(1)));
        assert_eq!(runs.run_of(5), Some((4, s(2))));
        assert_eq!(runs.stamp_at(7), None);
        runs.truncate(4);
        assert_eq!((runs.len(), runs.last()), (2, 4));
        runs.push(5, s(4));
        assert_eq!(runs.stamp_at(5), Some(s(4)));
        runs.truncate(0);
        assert!(runs.is_empty());
        let mut runs = StampRuns::default();
        for (i, e) in [1, 1, 2, 2, 2, 3].into_iter().enumerate() {
            runs.push(i as u64 + 1, s(e));
        }
        runs.forget_before(4);
        assert_eq!((runs.stamp_at(3), runs.stamp_at(4)), (None, Some(s(2))));
        assert_eq!(runs.stamp_at(6), Some(s(3)));
        let after = StampRuns::starting_at(9, s(4));
        assert_eq!(
            (after.stamp_at(8), after.stamp_at(9), after.last()),
            (None, Some(s(4)), 9)
        );
    }

    #[test]
    fn runs_from_a_summary_are_checked() {
        assert!(StampRuns::from_parts(vec![(1, s(1)), (4, s(2))], 9).is_some());
        assert!(StampRuns::from_parts(vec![(0, s(1))], 9).is_none());
        assert!(StampRuns::from_parts(vec![(1, s(1)), (1, s(2))], 9).is_none());
        assert!(StampRuns::from_parts(vec![(1, s(1)), (4, s(1))], 9).is_none());
        assert!(StampRuns::from_parts(vec![(1, s(1)), (12, s(2))], 9).is_none());
        assert!(StampRuns::from_parts(vec![], 3).is_none());
    }
}
