//! The replicated log: a totally ordered history of client messages (the chat).
//!
//! Entries are numbered from 1 without gaps and carry the stamp (epoch and leader)
//! of the leadership that appended them. The log knows how far it is committed.
//! The commit index never moves backwards, and committed entries are never
//! removed or replaced: a `bully` or `ring` leader never commits a run of its
//! markers alone (see the node's replication part), so what a cut-off leader
//! //! appended for itself gives way on rejoin like any uncommitted suffix. Followers
//! accept entries only where they continue the log consistently (the entry before
//! them matches in index and epoch); a conflicting suffix above the commit index
//! is replaced, as in Raft.
//!
//! Duplicates are recognised per client: a client numbers its messages 1, 2, 3, ...
//! and sends them in order (resending unacknowledged ones with the same numbers), so
//! the log keeps, per client, only the last number appended and where. That makes
//! deduplication cost memory per client, not per entry.
//!
//! The replication protocol that moves entries between nodes is in
//! the node's replication part; the log is durable (see the crate docs).
//!
//! Branches: two logs that hold an entry with the same stamp at the same index
//! hold the same entries up to it (a leadership appends each index once, after
//! what it holds). So a few runs of stamps ([`SeenRun`]) name a history well
//! enough to find where another parts from it, and [`Log::rewrite`] lets a
//! `bully`/`ring` node take the merged history after a split brain healed.
//!
//! Memory: the log keeps only a window of its newest entries in memory (see
//! [`Log::set_memory_limit`]); older ones are on the driver's disk, and read
//! back on request ([`crate::Action::ReadLog`]) into a small [`ReadCache`]. The
//! stamps of every entry ([`StampRuns`]) and the per-client numbering stay in
//! memory whatever the log's length.

mod app_snapshot;
mod cache;
mod compaction;
mod entry;
mod runs;
mod snapshot;
mod state;
mod window;
mod write;

pub use app_snapshot::{AppSnapshot, APP_SNAPSHOT_BYTES_MAX};
pub use cache::{ReadCache, READ_CHUNKS};
pub use compaction::Installed;
pub use entry::{ClientMsgId, Entry, Stamp, MARKER_CLIENT};
pub use runs::{SeenRun, StampRuns};
pub use snapshot::Snapshot;
pub use state::{Log, KEEP_MIN};
pub use window::LogSummary;
pub use write::{LogWrite, WriteMisfit};

/// The most bytes of entries one message carries: half the default frame limit
/// (1 MiB), so the message's own fields and a driver's tag always fit around
/// them. One entry is at most about 16 KB ([`crate::wire::MAX_CHAT_BYTES`] of
/// text, a user name, a few numbers), so a message always carries at least one.
pub const ENTRIES_BYTES_MAX: usize = 512 * 1024;

/// How many of `entries`, in order, fit in [`ENTRIES_BYTES_MAX`] (at least one
/// if there is one).
pub fn fitting<'a>(entries: impl Iterator<Item = &'a Entry>) -> usize {
    let mut bytes = 0usize;
    let mut n = 0usize;
    for e in entries {
        bytes = bytes.saturating_add(e.encoded_len_bound());
        if bytes > ENTRIES_BYTES_MAX && n > 0 {
            break;
        }
        n += 1;
    }
    n
}

use std::fmt;
use std::sync::Arc;

/// What happened to a message offered to the leader's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Appended at this index.
    Appended(u64),
    /// Already in the log, at this index: acknowledge it again, append nothing.
    Duplicate(u64),
    /// Already in the log, but older than the client's last entry, whose index is
    /// given: the client has seen it acknowledged before.
    Old(u64),
    /// The client skipped numbers: it must resend from `expected`.
    Gap {
        /// The number the log expects next from this client.
        expected: u64,
    },
}

/// Why entries offered by a leader were not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// The log has no entry at `prev_index` with stamp `prev`; the leader should
    /// retry from `hint + 1` (the last index this log could possibly share).
    Mismatch {
        /// The last index worth retrying from.
        hint: u64,
    },
    /// The entries would replace committed ones: a leader that should not exist.
    CommittedConflict {
        /// The committed index that would be replaced.
        index: u64,
    },
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::Mismatch { hint } => write!(f, "log does not match; retry after index {hint}"),
            Reject::CommittedConflict { index } => {
                write!(f, "would replace committed entry {index}")
            }
        }
    }
}

impl Log {
    /// Index of the last entry, 0 when empty.
    pub fn last_index(&self) -> u64 {
        self.runs.last()
    }

    /// Epoch of the last entry, 0 when empty.
    pub fn last_epoch(&self) -> u64 {
        self.last_stamp().epoch
    }

    fn last_stamp(&self) -> Stamp {
        self.runs
            .parts()
            .last()
            .map(|(_, s)| *s)
            .unwrap_or_default()
    }

    /// Stamp of the entry at `index`; the zero stamp for index 0; `None` past the end.
    pub fn stamp_at(&self, index: u64) -> Option<Stamp> {
        if index == 0 {
            return Some(Stamp::default());
        }
        self.runs.stamp_at(index)
    }

    /// Epoch of the entry at `index`; 0 for index 0; `None` past the end.
    pub fn epoch_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return Some(0);
        }
        self.get(index).map(|e| e.epoch)
    }

    /// The entry at `index`, if in memory (or read back).
    pub fn get(&self, index: u64) -> Option<&Entry> {
        match index.checked_sub(self.base + 1) {
            Some(offset) => self.entries.get(usize::try_from(offset).ok()?),
            None => self.cache.get(index),
        }
    }

    /// True when nothing a write to the driver's copy carries changed since
    /// the copy stood at `last` entries with commit index `commit`: no entry
    /// appended or replaced, no commit, no snapshot installed or received.
    pub(crate) fn unchanged_since(&self, last: u64, commit: u64) -> bool {
        self.app_received.is_none()
            && self.installed.is_none()
            && self.rewritten_from.is_none()
            && self.last_index() == last
            && self.commit_index() == commit
    }

    /// Every entry in memory from `from` on, however many: for a driver
    /// writing the log to its disk (messages take
    /// [`entries_from`](Self::entries_from)).
    pub fn all_from(&self, from: u64) -> &[Entry] {
        let start = from.saturating_sub(self.base + 1);
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        self.entries.get(start..).unwrap_or_default()
    }

    /// Up to `max` entries starting at `from`, and no more than
    /// [`ENTRIES_BYTES_MAX`] bytes of them (but always the first, if any): every
    /// message that carries entries (a batch, a catch-up chunk, a push to a
    /// client) is cut here, so it fits in a frame whatever the messages' size.
    /// Entries older than the window come from what was read back; none when
    /// they are not (see [`missing`](Self::missing)).
    pub fn entries_from(&self, from: u64, max: usize) -> &[Entry] {
        let from = from.max(1);
        let rest = if from > self.base {
            self.all_from(from)
        } else {
            self.cache.from(from)
        };
        let rest = rest.get(..max.min(rest.len())).unwrap_or_default();
        rest.get(..fitting(rest.iter())).unwrap_or_default()
    }

    /// Whether the log has an entry at `from` that only the disk holds now: a
    /// reader must ask for it to be read back.
    pub fn missing(&self, from: u64) -> bool {
        from >= self.start && from <= self.base && self.cache.get(from).is_none()
    }

    /// How far the log is committed.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    /// The committed entries in memory (all of them, unless a memory limit
    /// was set).
    pub fn committed(&self) -> &[Entry] {
        let n = usize::try_from(self.commit.saturating_sub(self.base)).unwrap_or(usize::MAX);
        self.entries
            .get(..n.min(self.entries.len()))
            .unwrap_or_default()
    }

    /// Leader side: appends a new leader's marker in `epoch`; returns its index.
    pub fn append_marker(&mut self, stamp: Stamp, mut marker: Entry) -> u64 {
        marker.id = ClientMsgId {
            client: MARKER_CLIENT,
            seq: 0,
        };
        marker.epoch = stamp.epoch;
        marker.leader = stamp.leader;
        marker.index = self.last_index() + 1;
        let index = marker.index;
        self.push(marker);
        index
    }

    /// The leader of `epoch`, if the log's last entry belongs to it.
    pub fn leader_of_last_epoch(&self, epoch: u64) -> Option<crate::id::NodeId> {
        Some(self.last_stamp())
            .filter(|s| s.epoch == epoch && self.last_index() > 0)
            .map(|s| s.leader)
    }

    /// Where the log stands for `client`: its last message number and that
    /// message's index (0, 0 when it has none).
    pub fn client_position(&self, client: u64) -> (u64, u64) {
        self.clients.get(&client).copied().unwrap_or((0, 0))
    }

    /// Leader side: offers a client's message for appending by leadership `stamp`.
    pub fn offer(&mut self, stamp: Stamp, mut entry: Entry) -> Offer {
        let ClientMsgId { client, seq } = entry.id;
        if client == MARKER_CLIENT {
            // Reserved for markers; a client claiming it is refused as a gap.
            return Offer::Gap { expected: 1 };
        }
        let (last_seq, last_index) = self.clients.get(&client).copied().unwrap_or((0, 0));
        if seq == last_seq && seq != 0 {
            return Offer::Duplicate(last_index);
        }
        if seq < last_seq {
            return Offer::Old(last_index);
        }
        // A client at the top of the numbers can send no more: a gap, never a wrap.
        if last_seq.checked_add(1) != Some(seq) {
            return Offer::Gap {
                expected: last_seq.saturating_add(1),
            };
        }
        entry.epoch = stamp.epoch;
        entry.leader = stamp.leader;
        entry.index = self.last_index().saturating_add(1);
        let index = entry.index;
        self.push(entry);
        Offer::Appended(index)
    }

    fn push(&mut self, entry: Entry) {
        state::note_client(&mut self.clients, &entry);
        self.runs.push(entry.index, entry.stamp());
        self.memory = self.memory.saturating_add(window::footprint(&entry));
        self.entries.push(entry);
    }

    /// Follower side: accepts `entries` that follow the entry at `prev_index` with
    /// stamp `prev`. Returns the index up to which this log now matches the leader's.
    pub fn accept(
        &mut self,
        prev_index: u64,
        prev: Stamp,
        entries: &[Entry],
    ) -> Result<u64, Reject> {
        if prev_index.saturating_add(1) < self.start {
            // Into what was compacted: go on from the snapshot's entry.
            return Err(Reject::Mismatch {
                hint: self.start - 1,
            });
        }
        match self.stamp_at(prev_index) {
            Some(s) if s == prev => {}
            Some(mine) => {
                // Everything this log holds of that leadership conflicts alike: point
                // before its first entry, so the leader skips the whole run in one
                // round trip instead of backing up one entry per round trip.
                // The hint may point below the commit index: a `bully`/`ring` leader
                // after a split brain looks for the fork of a committed branch
                // (nothing committed is replaced by an append all the same).
                let run_start = self.first_of_run(prev_index, mine);
                return Err(Reject::Mismatch {
                    hint: run_start.saturating_sub(1),
                });
            }
            None => {
                return Err(Reject::Mismatch {
                    hint: self.last_index(),
                })
            }
        }
        // A leader's batch is contiguous; refuse anything else before changing a thing.
        let contiguous = entries
            .iter()
            .enumerate()
            .all(|(offset, e)| e.index == prev_index + 1 + offset as u64);
        if !contiguous {
            return Err(Reject::Mismatch {
                hint: self.last_index().min(prev_index),
            });
        }
        for entry in entries {
            match self.stamp_at(entry.index) {
                Some(s) if s == entry.stamp() => continue,
                Some(_) if entry.index <= self.commit => {
                    return Err(Reject::CommittedConflict { index: entry.index })
                }
                Some(_) => {
                    // An uncommitted suffix from a deposed leader: replace it.
                    self.cut_to(entry.index - 1);
                    self.rewritten_from = Some(
                        self.rewritten_from
                            .map_or(entry.index, |r| r.min(entry.index)),
                    );
                }
                None => {}
            }
            self.push(entry.clone());
        }
        Ok(prev_index + entries.len() as u64)
    }

    /// The lowest index whose entry was replaced since the last call, if any.
    pub fn take_rewritten_from(&mut self) -> Option<u64> {
        self.rewritten_from.take()
    }

    /// The lowest index replaced since [`take_rewritten_from`](Self::take_rewritten_from)
    /// was last called, without taking it.
    pub fn pending_cut(&self) -> Option<u64> {
        self.rewritten_from
    }

    /// Keeps the first `keep` entries, committed or not (a copy of a log
    /// following the cuts of the original).
    fn truncate_to(&mut self, keep: u64) {
        self.cut_to(keep);
        self.commit = self.commit.min(keep);
    }

    /// A log holding `entries` (indexes 1, 2, 3, ... in order) with `commit` of them
    /// committed: what a driver reads back from disk. `None` if the indexes do not
    /// run from 1 without a gap.
    pub fn restore(entries: Vec<Entry>, commit: u64) -> Option<Log> {
        let mut log = Log::default();
        let contiguous = entries
            .iter()
            .enumerate()
            .all(|(i, e)| e.index == i as u64 + 1);
        if !contiguous {
            return None;
        }
        for e in entries {
            log.push(e);
        }
        log.commit_to(commit);
        Some(log)
    }

    /// The first index of the run of entries stamped `stamp` that ends at `index`.
    fn first_of_run(&self, index: u64, stamp: Stamp) -> u64 {
        match self.runs.run_of(index) {
            Some((first, s)) if s == stamp => first,
            _ => index,
        }
    }

    /// Follower side: [`accept`](Self::accept)s `entries`, then commits what the
    /// sender has committed, but only as far as this call proved the log to match
    /// (entries past it may be a deposed leader's suffix).
    pub fn accept_and_commit(
        &mut self,
        prev_index: u64,
        prev: Stamp,
        entries: &[Entry],
        commit: u64,
    ) -> Result<u64, Reject> {
        let matched = self.accept(prev_index, prev, entries)?;
        self.commit_to(commit.min(matched));
        Ok(matched)
    }

    /// Moves the commit index forward to `index` (never back, never past the end).
    /// Returns true if it moved.
    pub fn commit_to(&mut self, index: u64) -> bool {
        let index = index.min(self.last_index());
        if index > self.commit {
            self.commit = index;
            true
        } else {
            false
        }
    }

    /// Raft's voting rule: a log ending at (`last_epoch`, `last_index`) is at least
    /// as up to date as this one.
    pub fn is_behind_or_equal(&self, last_epoch: u64, last_index: u64) -> bool {
        (last_epoch, last_index) >= (self.last_epoch(), self.last_index())
    }
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
        self.runs.shared_with(self.start, runs)
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
        if prev_index.saturating_add(1) < self.start || self.stamp_at(prev_index) != Some(prev) {
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
            self.cut_to(prev_index);
            self.rewritten_from = Some(
                self.rewritten_from
                    .map_or(prev_index + 1, |r| r.min(prev_index + 1)),
            );
            if self.commit > prev_index {
                self.commit = prev_index;
                self.rewrites += 1;
            }
        }
        for entry in entries {
            self.push(entry.clone());
        }
        let matched = prev_index + entries.len() as u64;
        self.commit_to(commit.min(matched));
        Ok(matched)
    }
}

impl Log {
    /// Applies a write to a copy of a log (a driver's, or a simulated disk's):
    /// cut, append, commit. Nothing changes if the entries do not continue the
    /// log as cut.
    pub fn apply(&mut self, write: &LogWrite) -> Result<(), WriteMisfit> {
        self.cut_for(write)?;
        self.append_then_commit(write.entries.iter().cloned(), write.commit);
        Ok(())
    }

    /// [`apply`](Self::apply), taking the write's entries instead of copying
    /// them (a simulated disk's sync, say, which is done with the write).
    pub fn apply_owned(&mut self, write: LogWrite) -> Result<(), WriteMisfit> {
        self.cut_for(&write)?;
        self.append_then_commit(write.entries, write.commit);
        Ok(())
    }

    /// The part of a write after the cut: its entries, then its commit index.
    fn append_then_commit(
        &mut self,
        entries: impl IntoIterator<Item = Entry>,
        commit: Option<u64>,
    ) {
        for e in entries {
            self.push(e);
        }
        if let Some(commit) = commit {
            self.commit_to(commit);
        }
    }

    /// The part of a write before its entries: the snapshots it carries, and
    /// the cut, once its entries are known to continue the log as cut.
    fn cut_for(&mut self, write: &LogWrite) -> Result<(), WriteMisfit> {
        if let Some(app) = &write.app {
            self.keep_app(Arc::clone(app));
        }
        if let Some(snap) = &write.install {
            let mut fresh = Log {
                memory_limit: self.memory_limit,
                keep: self.keep,
                app: self.app.take(),
                ..Log::default()
            };
            fresh.install(snap.clone());
            fresh.installed = None;
            *self = fresh;
        }
        let keep = write.cut_from.map_or(self.last_index(), |c| {
            c.saturating_sub(1).min(self.last_index())
        });
        for (offset, e) in write.entries.iter().enumerate() {
            let expected = keep.saturating_add(1).saturating_add(offset as u64);
            if e.index != expected {
                return Err(WriteMisfit {
                    expected,
                    got: e.index,
                });
            }
        }
        if keep < self.last_index() {
            self.truncate_to(keep);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
