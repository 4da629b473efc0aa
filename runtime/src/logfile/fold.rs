//! What the writer knows of the committed history without holding it: the
//! stamps of every entry, each client's last message number, and the rolling
//! digest, folded forward as entries commit. It is what a restart starts
//! from instead of reading every segment (see [`super::summary`]), and what
//! the status page shows as the digest.

use super::digest::CommitDigest;
use ringleader_core::log::{Entry, LogSummary, StampRuns};
use std::collections::{BTreeMap, VecDeque};

/// The committed history, folded: every entry up to `digest.upto`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// The stamps of the folded entries.
    pub runs: StampRuns,
    /// Per client: its last message number among them, and its index.
    pub clients: BTreeMap<u64, (u64, u64)>,
    /// Their digest; `upto` is the last folded index.
    pub digest: CommitDigest,
}

impl Folded {
    /// The last index folded.
    pub fn upto(&self) -> u64 {
        self.digest.upto
    }

    fn fold(&mut self, e: &Entry) {
        self.runs.push(e.index, e.stamp());
        if !e.is_marker() {
            self.clients.insert(e.id.client, (e.id.seq, e.index));
        }
        self.digest.fold(e);
    }

    /// The fold of a history compacted into `snap`.
    pub fn from_snapshot(snap: &ringleader_core::log::Snapshot) -> Folded {
        Folded {
            runs: StampRuns::starting_at(snap.index, snap.stamp),
            clients: snap.client_map(),
            digest: CommitDigest {
                value: snap.digest,
                upto: snap.index,
            },
        }
    }

    /// What the core's log needs of the folded entries to resume from them.
    pub fn log_summary(&self) -> LogSummary {
        LogSummary {
            runs: self.runs.clone(),
            clients: self.clients.clone(),
        }
    }
}

/// A cut below what was folded: committed entries were replaced (a healed
/// split brain under bully or ring) and the fold must start again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeepCut;

/// The fold and the entries written but not yet committed.
#[derive(Debug, Default)]
pub struct Folder {
    folded: Folded,
    /// Entries `folded.upto() + 1 ..`, written, not committed.
    pending: VecDeque<Entry>,
}

impl Folder {
    /// A folder that continues `folded`.
    pub fn new(folded: Folded) -> Folder {
        Folder {
            folded,
            pending: VecDeque::new(),
        }
    }

    /// What is folded.
    pub fn folded(&self) -> &Folded {
        &self.folded
    }

    /// The entries written past the fold.
    pub fn pending(&self) -> &VecDeque<Entry> {
        &self.pending
    }

    /// The last index written (folded or pending).
    pub fn last(&self) -> u64 {
        self.pending.back().map_or(self.folded.upto(), |e| e.index)
    }

    /// Entry `e` was written after the last.
    pub fn entry(&mut self, e: Entry) {
        if e.index == self.last() + 1 {
            self.pending.push_back(e);
        }
    }

    /// Entries from `from` on were replaced.
    pub fn cut(&mut self, from: u64) -> Result<(), DeepCut> {
        if from <= self.folded.upto() {
            return Err(DeepCut);
        }
        let keep = self.pending.partition_point(|e| e.index < from);
        self.pending.truncate(keep);
        Ok(())
    }

    /// The commit index is `commit`: what it covers is folded.
    pub fn commit(&mut self, commit: u64) {
        self.commit_with(commit, |_| {});
    }

    /// [`commit`](Self::commit), showing `each` the fold after every entry
    /// (retention takes its checkpoints exactly where segments end).
    pub fn commit_with(&mut self, commit: u64, mut each: impl FnMut(&Folded)) {
        while let Some(e) = self.pending.front().filter(|e| e.index <= commit) {
            self.folded.fold(e);
            self.pending.pop_front();
            each(&self.folded);
        }
    }
}
