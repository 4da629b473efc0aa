//! Your state machine, ringleader's log: an application's state built from the
//! committed history, the same way in a real node and in the simulator.
//!
//! An application implements [`StateMachine`]; a [`Replica`] feeds it the
//! committed entries in order, takes a snapshot of it every so many entries,
//! and follows a rewrite of the history.
//!
//! Under `quorum` a committed entry is final. Under `bully` and `ring` a
//! healed split brain can replace committed entries from some index on (the
//! cost of electing without a majority); the reader of the history is told
//! the index ([`Replica::rewritten`]), and the replica follows by restoring
//! the newest snapshot taken before that index and replaying from there. An
//! application that cannot live with that runs under `quorum` only: see
//! [`StateMachine::QUORUM_ONLY`].

pub use crate::log::AppSnapshot;
use crate::log::{Entry, SeenRun, Stamp, StampRuns};
use std::collections::VecDeque;
use std::fmt;

/// Snapshots a replica keeps (besides the empty state's).
pub const SNAPSHOTS_KEPT: usize = 4;

/// An application's state, built from committed entries.
pub trait StateMachine {
    /// Whether the application refuses to run under `bully` and `ring`, whose
    /// committed history can be rewritten after a split brain.
    const QUORUM_ONLY: bool = false;

    /// Applies the next committed entry. Every entry comes, in index order:
    /// leaders' epoch markers ([`Entry::is_marker`]) and entries of other
    /// writers too; an application skips what is not its own. Must be
    /// deterministic: every replica applies the same entries to the same state.
    fn apply(&mut self, entry: &Entry);

    /// The whole state as bytes.
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the state with one [`StateMachine::snapshot`] returned.
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String>;
}

/// Why a replica cannot go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicaError {
    /// The entry is not the next one.
    OutOfOrder {
        /// The index expected.
        expected: u64,
        /// The index given.
        got: u64,
    },
    /// The history before `first` was deleted before the replica applied it,
    /// and no snapshot covers it.
    Compacted {
        /// The first index still held.
        first: u64,
        /// The next index the replica needs.
        needs: u64,
    },
    /// A snapshot could not be restored.
    Restore(String),
}

impl fmt::Display for ReplicaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicaError::OutOfOrder { expected, got } => {
                write!(f, "entry {got} came where {expected} was expected")
            }
            ReplicaError::Compacted { first, needs } => write!(
                f,
                "the history before {first} was deleted but the state needs it from {needs}"
            ),
            ReplicaError::Restore(e) => write!(f, "cannot restore a snapshot: {e}"),
        }
    }
}

impl std::error::Error for ReplicaError {}

/// A [`StateMachine`] kept up with the committed history.
#[derive(Debug)]
pub struct Replica<S> {
    state: S,
    /// The stamps of the entries applied (the snapshot's index onward).
    runs: StampRuns,
    /// Newest last; the first is the state the replica started from.
    snapshots: VecDeque<AppSnapshot>,
    /// Take a snapshot every this many entries.
    every: u64,
}

impl<S: StateMachine> Replica<S> {
    /// A replica of `state` (the state before any entry), taking a snapshot
    /// every `every` entries (at least 1).
    pub fn new(state: S, every: u64) -> Replica<S> {
        let start = AppSnapshot {
            index: 0,
            stamp: Stamp::default(),
            state: state.snapshot(),
        };
        Replica {
            state,
            runs: StampRuns::default(),
            snapshots: VecDeque::from([start]),
            every: every.max(1),
        }
    }

    /// A replica resumed from `snapshot` (saved by an earlier life): `state`
    /// (the state before any entry) is restored from it. It keeps the empty
    /// state too: a rewrite from before the snapshot (its history was
    /// replaced while the process was down) replays from the start.
    pub fn resume(
        mut state: S,
        every: u64,
        snapshot: AppSnapshot,
    ) -> Result<Replica<S>, ReplicaError> {
        let start = AppSnapshot {
            index: 0,
            stamp: Stamp::default(),
            state: state.snapshot(),
        };
        state
            .restore(&snapshot.state)
            .map_err(ReplicaError::Restore)?;
        Ok(Replica {
            state,
            runs: StampRuns::starting_at(snapshot.index, snapshot.stamp),
            snapshots: VecDeque::from([start, snapshot]),
            every: every.max(1),
        })
    }

    /// The state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The last index applied (0: none).
    pub fn applied(&self) -> u64 {
        self.runs.last()
    }

    /// The stamp of the last entry applied.
    pub fn applied_stamp(&self) -> Stamp {
        self.runs.stamp_at(self.applied()).unwrap_or_default()
    }

    /// The newest snapshot (to save, so a restart resumes from it).
    pub fn latest_snapshot(&self) -> Option<&AppSnapshot> {
        self.snapshots.back()
    }

    /// What the replica applied, as runs of stamps: where its history parts
    /// from the log's is found with [`crate::log::Log::shared_with`].
    pub fn seen(&self) -> Vec<SeenRun> {
        self.runs
            .seen(16)
            .into_iter()
            .filter(|r| r.stamp != Stamp::default())
            .collect()
    }

    /// Applies the next committed entry.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), ReplicaError> {
        let expected = self.applied() + 1;
        if entry.index != expected {
            return Err(ReplicaError::OutOfOrder {
                expected,
                got: entry.index,
            });
        }
        self.state.apply(entry);
        self.runs.push(entry.index, entry.stamp());
        let since = self.snapshots.back().map_or(0, |s| s.index);
        if entry.index - since >= self.every {
            self.take_snapshot();
        }
        Ok(())
    }

    fn take_snapshot(&mut self) {
        if self.snapshots.len() > SNAPSHOTS_KEPT {
            // The oldest stays: it answers a rewrite older than the others.
            self.snapshots.remove(1);
        }
        self.snapshots.push_back(AppSnapshot {
            index: self.applied(),
            stamp: self.applied_stamp(),
            state: self.state.snapshot(),
        });
    }

    /// Goes on from `snapshot`, another replica's state (its node's log no
    /// longer holds the entries this one still needs: see [`AppSnapshot`]).
    /// Nothing changes if it is not ahead of this replica.
    pub fn install(&mut self, snapshot: AppSnapshot) -> Result<(), ReplicaError> {
        if snapshot.index <= self.applied() {
            return Ok(());
        }
        self.state
            .restore(&snapshot.state)
            .map_err(ReplicaError::Restore)?;
        self.runs = StampRuns::starting_at(snapshot.index, snapshot.stamp);
        // The empty state stays: it answers a rewrite older than anything.
        self.snapshots.truncate(1);
        self.snapshots.push_back(snapshot);
        Ok(())
    }

    /// The entries from `from` on that were applied have been replaced:
    /// restores the newest snapshot before `from`. Returns the next index to
    /// apply (replay from there).
    pub fn rewritten(&mut self, from: u64) -> Result<u64, ReplicaError> {
        while self.snapshots.len() > 1 && self.snapshots.back().is_some_and(|s| s.index >= from) {
            self.snapshots.pop_back();
        }
        let Some(snap) = self.snapshots.back() else {
            return Err(ReplicaError::Restore("no snapshot kept".into()));
        };
        if snap.index >= from {
            return Err(ReplicaError::Compacted {
                first: snap.index + 1,
                needs: from,
            });
        }
        self.state
            .restore(&snap.state)
            .map_err(ReplicaError::Restore)?;
        self.runs.truncate(snap.index);
        if self.runs.last() < snap.index {
            self.runs = StampRuns::starting_at(snap.index, snap.stamp);
        }
        Ok(snap.index + 1)
    }

    /// The history before `first` was deleted: fine if the replica applied
    /// that far, an error otherwise.
    pub fn compacted(&self, first: u64) -> Result<(), ReplicaError> {
        let needs = self.applied() + 1;
        if needs < first {
            return Err(ReplicaError::Compacted { first, needs });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
