//! How the leader's replication to one follower stands.

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
