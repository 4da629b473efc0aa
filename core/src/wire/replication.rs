//! The messages that move the log between servers.

use crate::id::NodeId;
use crate::log::{Entry, Snapshot, Stamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A replication message between servers. Every one names the epoch of the
/// leadership it belongs to; a message of another epoch is ignored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplicationMsg {
    /// Leader to follower: `entries` follow the entry at `prev_index` (of
    /// `prev_epoch`); the leader has committed up to `commit`. Empty, it is a probe
    /// that carries the commit index.
    Append {
        /// The leader's epoch.
        epoch: u64,
        /// Index of the entry just before `entries`.
        prev_index: u64,
        /// Stamp of that entry.
        prev: Stamp,
        /// The entries, contiguous.
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: u64,
    },
    /// Follower to leader: how an append went.
    AppendReply {
        /// The epoch of the append answered.
        epoch: u64,
        /// What happened.
        outcome: AppendOutcome,
    },
    /// `bully`/`ring`: a new leader asks every live member how far its log goes,
    /// so it can first take the most up-to-date history.
    TipRequest {
        /// The new leader's epoch.
        epoch: u64,
        /// The highest commit index the asker knows of. Told to every member, so
        /// that should this leader fall before it has the committed entries, the
        /// next one still knows what it must not serve without.
        commit: u64,
    },
    /// The answer to a tip request.
    Tip {
        /// The epoch asked about.
        epoch: u64,
        /// Index of the last entry.
        last_index: u64,
        /// Epoch of the last entry.
        last_epoch: u64,
        /// Commit index.
        commit: u64,
    },
    /// "Send me your entries from index `from`": a new leader syncing from the most
    /// up-to-date node, or a lagging follower catching up from a helper.
    Fetch {
        /// The epoch of the leadership this belongs to.
        epoch: u64,
        /// First index wanted.
        from: u64,
        /// Only committed entries (a helper's uncommitted suffix may still change).
        committed_only: bool,
    },
    /// The answer to a fetch: one chunk of entries.
    Chunk {
        /// The epoch of the fetch.
        epoch: u64,
        /// Index of the entry just before `entries`.
        prev_index: u64,
        /// Stamp of that entry.
        prev: Stamp,
        /// The entries.
        entries: Vec<Entry>,
        /// The sender's commit index.
        commit: u64,
        /// True when the chunk reaches the end of what was asked for.
        complete: bool,
    },
    /// `bully`/`ring` leader to a follower whose committed branch it has taken in
    /// (after a split brain healed): replace everything after `prev_index` with
    /// `entries`, committed or not. Otherwise as [`ReplicationMsg::Append`].
    Rewrite {
        /// The leader's epoch.
        epoch: u64,
        /// The fork point: the last entry both histories share.
        prev_index: u64,
        /// Stamp of that entry.
        prev: Stamp,
        /// The merged history from there, contiguous.
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: u64,
    },
    /// Leader to a lagging follower: "I am busy catching up another server; fetch
    /// your history from `helper`".
    CatchUpFrom {
        /// The leader's epoch.
        epoch: u64,
        /// An in-sync follower to fetch from.
        helper: NodeId,
    },
    /// One part of a snapshot (see [`crate::log::Snapshot`]), for a node too
    /// far behind the sender's retained log: every part carries the same
    /// index, stamp and digest and a share of the per-client numbering, so
    /// that each fits in a frame. Sent by a leader to its follower, or by any
    /// node answering a [`ReplicationMsg::Fetch`] into what it compacted.
    Snapshot {
        /// The leader's epoch (or the fetch's).
        epoch: u64,
        /// This part: its index, stamp and digest, and its share of clients.
        part: Snapshot,
        /// Which part, from 0.
        number: u32,
        /// How many parts.
        of: u32,
        /// The sender's commit index.
        commit: u64,
        /// The index of the application snapshot sent before it (see
        /// [`ReplicationMsg::AppSnapshot`]), if one was: the receiver takes
        /// the log's snapshot only once it holds that one (or a newer), so
        /// its application is never left without the entries or the state.
        app: Option<u64>,
    },
    /// One part of an application snapshot (see
    /// [`crate::log::AppSnapshot`]), sent before the parts of a
    /// [`ReplicationMsg::Snapshot`] when the sender has one at or after the
    /// log snapshot's index: the receiver's application goes on from it.
    /// Every part carries the same index, stamp and length, and a share of
    /// the bytes that fits in a frame.
    AppSnapshot {
        /// The leader's epoch (or the fetch's).
        epoch: u64,
        /// The last index the state applied.
        index: u64,
        /// Its stamp.
        stamp: Stamp,
        /// The whole state's length in bytes.
        len: u64,
        /// Which part, from 0.
        number: u32,
        /// How many parts.
        of: u32,
        /// This part's share of the state.
        #[serde(with = "serde_bytes")]
        bytes: Box<[u8]>,
        /// The sender's commit index.
        commit: u64,
    },
}

/// Most parts of one snapshot: a million clients' numbering, or an
/// application snapshot of [`crate::log::APP_SNAPSHOT_BYTES_MAX`].
pub const SNAPSHOT_PARTS_MAX: u32 = 64;

/// How an append went at the follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AppendOutcome {
    /// The follower's log now matches the leader's up to this index.
    Matched(u64),
    /// The entry before the append did not match; retry after `hint`.
    Mismatch {
        /// The last index worth retrying from.
        hint: u64,
    },
    /// The append would have replaced a committed entry. Under `quorum` a broken
    /// invariant, reported rather than obeyed; under `bully`/`ring` a committed
    /// branch of a split brain, which the leader takes in before it rewrites it.
    Conflict {
        /// The committed index concerned: the branches share what is before it.
        index: u64,
    },
    /// `bully`/`ring`: the follower holds entries of this epoch from another
    /// leader, so the epoch has two leaders; the leader elects again above it.
    EpochTaken,
}

impl ReplicationMsg {
    /// A short name, for traces and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            ReplicationMsg::Append { .. } => "Append",
            ReplicationMsg::AppendReply { .. } => "AppendReply",
            ReplicationMsg::TipRequest { .. } => "TipRequest",
            ReplicationMsg::Tip { .. } => "Tip",
            ReplicationMsg::Fetch { .. } => "Fetch",
            ReplicationMsg::Chunk { .. } => "Chunk",
            ReplicationMsg::CatchUpFrom { .. } => "CatchUpFrom",
            ReplicationMsg::Rewrite { .. } => "Rewrite",
            ReplicationMsg::Snapshot { .. } => "Snapshot",
            ReplicationMsg::AppSnapshot { .. } => "AppSnapshot",
        }
    }

    /// The epoch the message belongs to.
    pub fn epoch(&self) -> u64 {
        match self {
            ReplicationMsg::Append { epoch, .. }
            | ReplicationMsg::AppendReply { epoch, .. }
            | ReplicationMsg::TipRequest { epoch, .. }
            | ReplicationMsg::Tip { epoch, .. }
            | ReplicationMsg::Fetch { epoch, .. }
            | ReplicationMsg::Chunk { epoch, .. }
            | ReplicationMsg::CatchUpFrom { epoch, .. }
            | ReplicationMsg::Rewrite { epoch, .. }
            | ReplicationMsg::Snapshot { epoch, .. }
            | ReplicationMsg::AppSnapshot { epoch, .. } => *epoch,
        }
    }
}

impl ReplicationMsg {
    fn fmt_app_snapshot(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ReplicationMsg::AppSnapshot {
            epoch,
            index,
            stamp,
            len,
            number,
            of,
            bytes,
            commit,
        } = self
        else {
            return Ok(());
        };
        write!(
            f,
            "AppSnapshot e{epoch} at {index}/{stamp} part {}/{of} ({} of {len} bytes) commit {commit}",
            number.saturating_add(1),
            bytes.len()
        )
    }
}

impl ReplicationMsg {
    fn fmt_snapshot(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ReplicationMsg::Snapshot {
            epoch,
            part,
            number,
            of,
            commit,
            app,
        } = self
        else {
            return Ok(());
        };
        write!(
            f,
            "Snapshot e{epoch} through {}/{} part {}/{of} ({} clients) commit {commit}",
            part.index,
            part.stamp,
            number + 1,
            part.clients.len()
        )?;
        match app {
            Some(at) => write!(f, " with the application's at {at}"),
            None => Ok(()),
        }
    }
}

/// `first..=last` of a run of entries, `-` when empty.
struct Span<'a>(&'a [Entry]);

impl fmt::Display for Span<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.first(), self.0.last()) {
            (Some(a), Some(b)) if a.index == b.index => write!(f, "[{}]", a.index),
            (Some(a), Some(b)) => write!(f, "[{}..{}]", a.index, b.index),
            _ => f.write_str("[]"),
        }
    }
}

impl fmt::Display for ReplicationMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicationMsg::Append {
                epoch,
                prev_index,
                prev,
                entries,
                commit,
            } => write!(
                f,
                "Append e{epoch} after {prev_index}/{prev} {} commit {commit}",
                Span(entries)
            ),
            ReplicationMsg::AppendReply { epoch, outcome } => match outcome {
                AppendOutcome::Matched(i) => write!(f, "AppendReply e{epoch} matched {i}"),
                AppendOutcome::Mismatch { hint } => {
                    write!(f, "AppendReply e{epoch} mismatch, hint {hint}")
                }
                AppendOutcome::Conflict { index } => {
                    write!(f, "AppendReply e{epoch} conflict at committed {index}")
                }
                AppendOutcome::EpochTaken => write!(f, "AppendReply e{epoch} epoch taken"),
            },
            ReplicationMsg::TipRequest { epoch, commit } => {
                write!(f, "TipRequest e{epoch} commit {commit}")
            }
            ReplicationMsg::Tip {
                epoch,
                last_index,
                last_epoch,
                commit,
            } => write!(
                f,
                "Tip e{epoch} last {last_index}/e{last_epoch} commit {commit}"
            ),
            ReplicationMsg::Fetch {
                epoch,
                from,
                committed_only,
            } => write!(
                f,
                "Fetch e{epoch} from {from}{}",
                if *committed_only { " committed" } else { "" }
            ),
            ReplicationMsg::Chunk {
                epoch,
                entries,
                commit,
                complete,
                ..
            } => write!(
                f,
                "Chunk e{epoch} {} commit {commit}{}",
                Span(entries),
                if *complete { " complete" } else { "" }
            ),
            ReplicationMsg::CatchUpFrom { epoch, helper } => {
                write!(f, "CatchUpFrom e{epoch} {helper}")
            }
            ReplicationMsg::Snapshot { .. } => self.fmt_snapshot(f),
            ReplicationMsg::AppSnapshot { .. } => self.fmt_app_snapshot(f),
            ReplicationMsg::Rewrite {
                epoch,
                prev_index,
                prev,
                entries,
                commit,
            } => write!(
                f,
                "Rewrite e{epoch} after {prev_index}/{prev} {} commit {commit}",
                Span(entries)
            ),
        }
    }
}
