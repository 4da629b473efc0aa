//! What each node has committed, checked as it grows: the commit index never
//! moves back and committed entries never change, except through a rewrite (a
//! `bully`/`ring` node taking the merged history of a healed split brain), and
//! each client's messages are committed once each, numbered 1, 2, 3, ...

use ringleader_core::log::{Entry, Log, Stamp};
use std::collections::BTreeMap;

/// One node's committed log as last seen.
#[derive(Debug, Default, Clone)]
pub(super) struct NodeCommits {
    commit: u64,
    /// The stamp at `commit`: by the log matching property it stands for the
    /// whole committed prefix.
    tip: Stamp,
    rewrites: u64,
    /// Where the node's log starts: a snapshot installed moves it.
    start: u64,
    /// Per client: the last number committed.
    last_seq: BTreeMap<u64, u64>,
}

/// What changed since the node was last seen.
pub(super) enum Change {
    /// Nothing committed since.
    None,
    /// The commit index moved back from `before` without a rewrite.
    WentBack { before: u64 },
    /// The entry at the old commit index changed without a rewrite.
    Replaced { index: u64 },
    /// The node took a merged history: tracking starts again from its log.
    Rewritten,
    /// The node's log starts over after a snapshot (it was too far behind):
    /// tracking starts again from it.
    Installed,
    /// New committed entries after `from - 1`.
    Grew { from: u64 },
}

/// A committed message out of its client's order.
pub(super) struct OutOfOrder {
    pub(super) index: u64,
    pub(super) client: u64,
    pub(super) seq: u64,
    pub(super) expected: u64,
}

impl NodeCommits {
    /// True when [`observe`](Self::observe) would find nothing changed: most
    /// steps commit nothing, and this is all the checker asks of them.
    #[inline]
    pub(super) fn unchanged(&self, log: &Log, rewrites: u64) -> bool {
        rewrites == self.rewrites
            && log.commit_index() == self.commit
            && log.start() <= self.commit.saturating_add(1)
    }

    /// Compares the node's log with what was seen last.
    /// `rewrites`: how many times the node replaced committed entries.
    pub(super) fn observe(&mut self, log: &Log, rewrites: u64) -> Change {
        let commit = log.commit_index();
        if rewrites != self.rewrites {
            self.rewrites = rewrites;
            self.restart_from(log);
            return Change::Rewritten;
        }
        if log.start() > self.commit.saturating_add(1) {
            self.restart_from(log);
            return Change::Installed;
        }
        if commit < self.commit {
            let before = self.commit;
            self.restart_from(log);
            return Change::WentBack { before };
        }
        if commit == self.commit {
            return Change::None;
        }
        if log.stamp_at(self.commit) != Some(self.tip) {
            let index = self.commit;
            self.restart_from(log);
            return Change::Replaced { index };
        }
        let from = self.commit + 1;
        self.commit = commit;
        self.tip = log.stamp_at(commit).unwrap_or_default();
        Change::Grew { from }
    }

    /// Checks one newly committed entry against its client's numbering.
    pub(super) fn take(&mut self, e: &Entry) -> Result<(), OutOfOrder> {
        if e.is_marker() {
            return Ok(());
        }
        let last = self.last_seq.entry(e.id.client).or_default();
        let expected = *last + 1;
        *last = (*last).max(e.id.seq);
        if e.id.seq == expected {
            Ok(())
        } else {
            Err(OutOfOrder {
                index: e.index,
                client: e.id.client,
                seq: e.id.seq,
                expected,
            })
        }
    }

    /// Forgets what was seen and takes the node's committed log as it is.
    fn restart_from(&mut self, log: &Log) {
        self.commit = log.commit_index();
        self.tip = log.stamp_at(self.commit).unwrap_or_default();
        self.start = log.start();
        // What was compacted away counts as committed, numbered as it was.
        self.last_seq = log
            .summary()
            .clients
            .into_iter()
            .map(|(c, (seq, _))| (c, seq))
            .collect();
        for e in log.committed().iter().filter(|e| !e.is_marker()) {
            let last = self.last_seq.entry(e.id.client).or_default();
            *last = (*last).max(e.id.seq);
        }
    }
}
