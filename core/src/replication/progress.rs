//! How the leader's replication to one follower stands.

use crate::id::NodeId;
use crate::time::Instant;

/// How one follower's replication stands.
#[derive(Debug, Clone, Copy)]
pub(super) struct Progress {
    /// Next index to send.
    pub(super) next: u64,
    /// Highest index known to match the leader's log.
    pub(super) matched: u64,
    /// Until the first successful answer, the leader only probes where the
    /// follower's log ends.
    pub(super) probing: bool,
    /// Counted by the `bully`/`ring` commit rule. Presumed until the follower shows
    /// it lags (so a follower is never skipped merely for being new), regained
    /// once it holds everything committed.
    pub(super) in_sync: bool,
    pub(super) last_progress: Instant,
    pub(super) last_sent: Instant,
    /// The commit index last sent: an idle follower that has it hears from
    /// replication only every retransmit interval, not every heartbeat.
    pub(super) told_commit: u64,
    pub(super) told_helper: Option<Instant>,
    /// `bully`/`ring`: the follower holds a committed branch this log lacks, being
    /// taken in before the follower is rewritten (see [`Merge`]).
    pub(super) merge: Option<Merge>,
}

/// Taking in a follower's committed branch of a healed split brain: its client
/// messages are fetched and appended here (each once, in the follower's order),
/// then the follower is told to replace its branch with this history.
#[derive(Debug, Clone, Copy)]
pub(super) struct Merge {
    /// The last index both histories share.
    pub(super) fork: u64,
    /// The next index of the follower's branch to fetch; `None` once all is in
    /// and the rewrite is due.
    pub(super) next: Option<u64>,
    /// When to ask again for a chunk that did not come.
    pub(super) retry_at: Instant,
}

impl Progress {
    pub(super) fn new(now: Instant, last: u64) -> Self {
        Progress {
            next: last + 1,
            matched: 0,
            probing: true,
            in_sync: true,
            last_progress: now,
            last_sent: Instant::ZERO,
            told_commit: 0,
            told_helper: None,
            merge: None,
        }
    }
}

/// Every live follower's progress, ordered by id: a short sorted list, so the
/// leader's pass over its followers (every heartbeat, every write) neither
/// allocates nor walks a tree.
#[derive(Debug, Clone, Default)]
pub(super) struct Followers(Vec<(NodeId, Progress)>);

impl Followers {
    fn find(&self, id: NodeId) -> Result<usize, usize> {
        self.0.binary_search_by_key(&id, |(k, _)| *k)
    }

    pub(super) fn get(&self, id: NodeId) -> Option<&Progress> {
        let k = self.find(id).ok()?;
        self.0.get(k).map(|(_, p)| p)
    }

    pub(super) fn get_mut(&mut self, id: NodeId) -> Option<&mut Progress> {
        let k = self.find(id).ok()?;
        self.0.get_mut(k).map(|(_, p)| p)
    }

    pub(super) fn contains(&self, id: NodeId) -> bool {
        self.find(id).is_ok()
    }

    pub(super) fn remove(&mut self, id: NodeId) {
        if let Ok(k) = self.find(id) {
            self.0.remove(k);
        }
    }

    /// Follows exactly the members of `live` (by id): drops the others, adds
    /// each not yet followed as `new` makes it.
    pub(super) fn sync(
        &mut self,
        live: impl Iterator<Item = NodeId> + Clone,
        new: impl Fn() -> Progress,
    ) {
        if live.clone().eq(self.0.iter().map(|(id, _)| *id)) {
            return; // the common case: the same followers as last time
        }
        self.0.retain(|(id, _)| live.clone().any(|l| l == *id));
        for id in live {
            if let Err(k) = self.find(id) {
                self.0.insert(k, (id, new()));
            }
        }
    }

    /// The `k`th follower by id, as a copy to update and [`Followers::set`] back.
    pub(super) fn nth(&self, k: usize) -> Option<(NodeId, Progress)> {
        self.0.get(k).copied()
    }

    /// Stores the `k`th follower's progress.
    pub(super) fn set(&mut self, k: usize, p: Progress) {
        if let Some((_, slot)) = self.0.get_mut(k) {
            *slot = p;
        }
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// Every follower, by id.
    pub(super) fn iter(&self) -> impl Iterator<Item = (NodeId, &Progress)> {
        self.0.iter().map(|(id, p)| (*id, p))
    }

    /// Every follower's progress, by id.
    pub(super) fn values(&self) -> impl Iterator<Item = &Progress> {
        self.0.iter().map(|(_, p)| p)
    }
}
