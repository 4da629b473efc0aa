//! Compaction and snapshots: a log that lives for years does not keep every
//! entry. The driver deletes old entries from its disk (by its retention
//! policy) and tells the node what they amount to: a [`Snapshot`] — the
//! last compacted index, its stamp, the per-client numbering there (so a
//! client resending an old message is still not duplicated), and the
//! driver's digest of the history up to it. For the chat, that is the whole
//! state the compacted entries describe.
//!
//! A follower too far behind for what its leader retains is sent the
//! snapshot instead of the entries, then the entries after it.

use super::runs::StampRuns;
use super::state::Log;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the entries up to `index` amount to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last index compacted.
    pub index: u64,
    /// Its stamp: entries after it continue a log that ends there.
    pub stamp: super::Stamp,
    /// Per client (by client): its last message number up to `index`, and
    /// that message's index.
    pub clients: Vec<(u64, u64, u64)>,
    /// The driver's digest of the committed history up to `index` (opaque to
    /// the node: it carries it to the followers it installs on).
    pub digest: u64,
}

impl Snapshot {
    /// The per-client numbering as a map.
    pub fn client_map(&self) -> BTreeMap<u64, (u64, u64)> {
        self.clients
            .iter()
            .map(|(c, seq, index)| (*c, (*seq, *index)))
            .collect()
    }

    /// Whether its numbers fit together: every client's message at or
    /// before `index`, clients in order.
    pub fn plausible(&self) -> bool {
        let ordered = self
            .clients
            .iter()
            .zip(self.clients.iter().skip(1))
            .all(|(a, b)| a.0 < b.0);
        ordered && self.clients.iter().all(|(_, _, i)| *i <= self.index)
    }
}

/// What a follower did with a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installed {
    /// Its log holds the snapshot's last entry already: nothing replaced.
    Had,
    /// Its log starts over after the snapshot.
    Replaced,
    /// Refused: it would replace committed entries, or does not fit.
    Refused,
}

impl Log {
    /// The first index the log holds (1 unless compacted).
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Whether entry `index` was compacted away: a reader needs the snapshot.
    pub fn compacted(&self, index: u64) -> bool {
        index >= 1 && index < self.start
    }

    /// What the compacted entries amount to, if any were.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// The driver deleted the entries up to `snap.index` from its disk. Kept
    /// only if it names a committed entry this log holds, with its stamp, at
    /// or after what was compacted before. Returns whether it was.
    pub fn compact(&mut self, snap: Snapshot) -> bool {
        let fits = snap.index >= self.start
            && snap.index <= self.commit
            && self.runs.stamp_at(snap.index) == Some(snap.stamp)
            && snap.plausible();
        if !fits {
            return false;
        }
        if snap.index > self.base {
            self.drop_through(snap.index);
        }
        self.start = snap.index + 1;
        self.runs.forget_before(snap.index);
        self.cache.cut_before(self.start);
        self.snapshot = Some(snap);
        true
    }

    /// Follower side: a snapshot from its leader (or a helper), which holds
    /// it committed. A log that holds its last entry keeps what follows;
    /// otherwise the log starts over after it (what it held after its own
    /// commit index was not committed, so nothing committed is lost).
    pub fn install(&mut self, snap: Snapshot) -> Installed {
        if !snap.plausible() || snap.index == 0 {
            return Installed::Refused;
        }
        if self.stamp_at(snap.index) == Some(snap.stamp) {
            self.commit_to(snap.index);
            return Installed::Had;
        }
        if snap.index < self.commit {
            return Installed::Refused; // it would replace committed entries
        }
        self.entries.clear();
        self.memory = 0;
        self.base = snap.index;
        self.start = snap.index + 1;
        self.runs = StampRuns::starting_at(snap.index, snap.stamp);
        self.clients_base = snap.client_map();
        self.clients.clone_from(&self.clients_base);
        self.commit = snap.index;
        self.cache = Default::default();
        self.rewritten_from = None;
        self.installed = Some(snap.clone());
        self.snapshot = Some(snap);
        Installed::Replaced
    }

    /// The snapshot installed since the last call, if any: the driver's copy
    /// starts over from it.
    pub fn take_installed(&mut self) -> Option<Snapshot> {
        self.installed.take()
    }
}
