//! Branches of the history: where two histories part, and how a node takes the
//! merged history after a split brain healed (`bully`/`ring` only).
//!
//! Two logs that hold an entry with the same stamp at the same index hold the
//! same entries up to it (the log matching property: a leadership appends each
//! index once, after what it holds). So a few runs of stamps name a history well
//! enough to find where another one parts from it.

use super::{Entry, Log, Reject, Stamp};
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

impl Log {
    /// How many times committed entries were replaced by a merged history.
    pub fn rewrites(&self) -> u64 {
        self.rewrites
    }

    /// The last index up to which this log holds the history that `runs` (oldest
    /// first, each starting right after the one before) describe: 0 when they
    /// share nothing this log can tell.
    pub fn shared_with(&self, runs: &[SeenRun]) -> u64 {
        for run in runs.iter().rev() {
            if run.first == 0 || run.last < run.first {
                continue; // malformed: proves nothing
            }
            if self.stamp_at(run.first) != Some(run.stamp) {
                continue; // this log parted earlier
            }
            // The run's stamps are contiguous here too: find where they end.
            let (mut lo, mut hi) = (run.first, run.last.min(self.last_index()));
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if self.stamp_at(mid) == Some(run.stamp) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            return lo;
        }
        0
    }

    /// Follower side, on its leader's word after it took this node's committed
    /// branch in: replaces everything after `prev_index` (committed or not) with
    /// `entries`, then commits up to `commit` as far as they reach. The entry at
    /// `prev_index` must carry stamp `prev` (the fork point both histories share).
    /// Returns the index up to which the log now matches the leader's.
    pub fn rewrite(
        &mut self,
        prev_index: u64,
        prev: Stamp,
        entries: &[Entry],
        commit: u64,
    ) -> Result<u64, Reject> {
        if self.stamp_at(prev_index) != Some(prev) {
            return Err(Reject::Mismatch {
                hint: self.last_index().min(prev_index.saturating_sub(1)),
            });
        }
        let contiguous = entries
            .iter()
            .enumerate()
            .all(|(offset, e)| e.index == prev_index + 1 + offset as u64);
        if !contiguous {
            return Err(Reject::Mismatch {
                hint: self.last_index().min(prev_index),
            });
        }
        if prev_index < self.last_index() {
            let keep = usize::try_from(prev_index).unwrap_or(usize::MAX);
            self.entries.truncate(keep);
            self.rewritten_from = Some(
                self.rewritten_from
                    .map_or(prev_index + 1, |r| r.min(prev_index + 1)),
            );
            if self.commit > prev_index {
                self.commit = prev_index;
                self.rewrites += 1;
            }
            self.rebuild_clients();
        }
        for entry in entries {
            self.push(entry.clone());
        }
        let matched = prev_index + entries.len() as u64;
        self.commit_to(commit.min(matched));
        Ok(matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::NodeId;
    use crate::log::ClientMsgId;
    use crate::time::Instant;

    fn stamp(epoch: u64, leader: u32) -> Stamp {
        Stamp {
            epoch,
            leader: NodeId(leader),
        }
    }

    fn entry(index: u64, s: Stamp, client: u64, seq: u64) -> Entry {
        let mut e = Entry::new(
            ClientMsgId { client, seq },
            "u".to_owned(),
            vec![1],
            Instant::ZERO,
        );
        e.index = index;
        e.epoch = s.epoch;
        e.leader = s.leader;
        e
    }

    /// 1..=3 of (1, n1), then `tail` entries of `s` by client 7.
    fn log_with(s: Stamp, tail: u64, commit: u64) -> Log {
        let base = stamp(1, 1);
        let mut entries: Vec<Entry> = (1..=3).map(|i| entry(i, base, 9, i)).collect();
        entries.extend((4..4 + tail).map(|i| entry(i, s, 7, i - 3)));
        Log::restore(entries, commit).unwrap()
    }

    #[test]
    fn the_shared_prefix_is_found_from_the_runs_a_reader_saw() {
        let a = log_with(stamp(2, 2), 5, 8); // 1..3 base, 4..8 of (2, n2)
        let seen = [
            SeenRun {
                stamp: stamp(1, 1),
                first: 1,
                last: 3,
            },
            SeenRun {
                stamp: stamp(2, 3),
                first: 4,
                last: 6,
            },
        ];
        assert_eq!(a.shared_with(&seen), 3, "parted after the common run");
        let same = [SeenRun {
            stamp: stamp(2, 2),
            first: 4,
            last: 20,
        }];
        assert_eq!(a.shared_with(&same), 8, "holds the run up to its end");
        assert_eq!(a.shared_with(&[]), 0);
    }

    #[test]
    fn a_rewrite_replaces_a_committed_branch_and_counts() {
        let mut b = log_with(stamp(2, 3), 4, 7);
        let theirs: Vec<Entry> = (4..=5).map(|i| entry(i, stamp(3, 2), 8, i - 3)).collect();
        let wrong = b.rewrite(3, stamp(9, 9), &theirs, 5);
        assert!(matches!(wrong, Err(Reject::Mismatch { .. })), "{wrong:?}");
        assert_eq!(b.rewrites(), 0);
        assert_eq!(b.rewrite(3, stamp(1, 1), &theirs, 5), Ok(5));
        assert_eq!(b.last_index(), 5);
        assert_eq!(b.commit_index(), 5);
        assert_eq!(b.rewrites(), 1);
        assert_eq!(b.take_rewritten_from(), Some(4));
        assert_eq!(b.client_position(7), (0, 0), "the old branch's client is gone");
        assert_eq!(b.client_position(8), (2, 5));
    }
}
