//! Compacting the log and installing a snapshot (see [`super::Snapshot`]).

use super::app_snapshot::AppSnapshot;
use super::runs::StampRuns;
use super::snapshot::Snapshot;
use super::state::Log;
use std::sync::Arc;

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

    /// The snapshot of this log through committed entry `index`, carrying
    /// `digest`: for a driver whose copy holds those entries in memory (a
    /// simulated or test disk). `None` if they are not all there.
    pub fn snapshot_through(&self, index: u64, digest: u64) -> Option<Snapshot> {
        if index > self.commit || index < self.base {
            return None;
        }
        let mut clients = self.clients_base.clone();
        for e in self.committed().iter().take_while(|e| e.index <= index) {
            super::state::note_client(&mut clients, e);
        }
        Some(Snapshot {
            index,
            stamp: self.stamp_at(index)?,
            clients: clients.into_iter().map(|(c, (s, i))| (c, s, i)).collect(),
            digest,
        })
    }

    /// The snapshot installed since the last call, if any: the driver's copy
    /// starts over from it.
    pub fn take_installed(&mut self) -> Option<Snapshot> {
        self.installed.take()
    }

    /// The newest application snapshot this node knows (see
    /// [`AppSnapshot`]), sent to a follower with the log's snapshot.
    pub fn app_snapshot(&self) -> Option<&Arc<AppSnapshot>> {
        self.app.as_ref()
    }

    /// Keeps `snap` as the application snapshot to send if it is newer than
    /// the one kept: this node's own application's (built from entries
    /// committed here; the commit index may be lower after a restart, so it
    /// is sent only once the commit index reaches it), or one its driver's
    /// disk holds already. Returns whether it was kept.
    pub fn keep_app(&mut self, snap: Arc<AppSnapshot>) -> bool {
        let newer = self.app.as_ref().is_none_or(|a| snap.index > a.index);
        if !newer || snap.index == 0 {
            return false;
        }
        self.app = Some(snap);
        true
    }

    /// A snapshot from the leader, which sent it with commit index `commit`:
    /// kept as [`Log::keep_app`] does if it is at most that, and handed to
    /// the driver's copy (see [`Log::take_app_received`]). Returns whether it
    /// was kept.
    pub fn receive_app(&mut self, snap: Arc<AppSnapshot>, commit: u64) -> bool {
        if snap.index > commit || !self.keep_app(Arc::clone(&snap)) {
            return false;
        }
        self.app_received = Some(snap);
        true
    }

    /// The application snapshot received since the last call, if any: the
    /// driver keeps it on disk, so that after a restart the node still has
    /// it and its application can restore it.
    pub fn take_app_received(&mut self) -> Option<Arc<AppSnapshot>> {
        self.app_received.take()
    }
}
