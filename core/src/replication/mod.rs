//! Replication of the log: the leader sequences client messages and copies them to
//! the followers; what enough of them hold is committed.
//!
//! - The leader appends (a marker of its epoch first, then client messages) and
//!   sends each follower batches of up to `batch_max` entries, with up to
//!   `inflight_max` batches in flight before an acknowledgement (pipelining). A lost
//!   batch is resent after `3 × heartbeat` without progress; an empty append every
//!   heartbeat carries the commit index.
//! - Followers accept entries only where they continue the log (Raft's consistency
//!   check); a mismatch answers with a hint and the leader backs up. A conflicting
//!   uncommitted suffix is replaced; a committed entry never is.
//! - Commit: under `quorum` an index held by a majority of the voters, under `bully`
//!   and `ring` an index held by every live follower that is in sync. Either way only
//!   an entry of the leader's own epoch commits by counting; earlier entries commit
//!   with it (hence the marker).
//! - A follower more than `sync_chunk` entries behind is caught up chunk by chunk,
//!   one chunk in flight, and does not count as in sync meanwhile, so it stalls
//!   nobody. The leader catches up one such follower at a time; while it is busy,
//!   others fetch the committed history from an in-sync follower (their ring
//!   predecessor when it is one).
//! - `bully` and `ring` elect by rank, not by log. So a new leader first asks every
//!   live member for the tip of its log and, if one is more up to date, fetches its
//!   history before serving. Under `quorum` the vote already guarantees that the
//!   leader holds every committed entry (Raft's up-to-date rule, in the election).

mod app_snapshot;
mod follower;
mod leader;
mod merge;
mod progress;
mod settings;
mod snapshot;
#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::context::Ctx;
use crate::id::NodeId;
use crate::log::{Entry, Log, Offer, Snapshot};
use crate::membership::MembershipChange;
use crate::time::Instant;
use crate::wire::ReplicationMsg;
use follower::Follower;
use leader::Leader;
use settings::Settings;

/// Why a client message could not be offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotServing {
    /// This node does not lead.
    NotLeader,
    /// It leads, but is still syncing its log before serving.
    Syncing,
}

#[derive(Clone, Debug)]
enum Part {
    Follower(Follower),
    Leader(Box<Leader>),
}

/// The replication part of a node: the log and this node's role in copying it.
#[derive(Clone, Debug)]
pub(crate) struct Replication {
    log: Log,
    settings: Settings,
    part: Part,
    started_at: Instant,
    /// The highest commit index this node has heard of from anyone; told in tips,
    /// so a new `bully`/`ring` leader knows what it must not go on without.
    heard_commit: u64,
    /// Fetches from peers waiting for entries to be read back from the disk:
    /// answered when they are (a few; the others are asked again by their
    /// fetchers).
    fetches_waiting: Vec<FetchAsk>,
    /// A snapshot arriving in parts.
    assembly: Option<snapshot::Assembly>,
    app_assembly: Option<app_snapshot::AppAssembly>,
}

/// A peer's fetch: who, of which epoch, from where, committed entries only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FetchAsk {
    to: NodeId,
    epoch: u64,
    first: u64,
    committed: bool,
}

/// Most fetches waiting for the disk at once.
const FETCHES_WAITING_MAX: usize = 8;

impl Replication {
    /// Hashes the replication state beyond the node's public view, leaving
    /// out times (see [`crate::Node::fingerprint`]).
    pub(crate) fn fingerprint(&self, mut h: &mut dyn std::hash::Hasher) {
        use std::hash::Hash;
        match &self.part {
            Part::Follower(f) => (0u8, f.fetching()).hash(&mut h),
            Part::Leader(l) => {
                1u8.hash(&mut h);
                l.fingerprint(h);
            }
        }
        self.heard_commit.hash(&mut h);
        self.fetches_waiting.hash(&mut h);
        (self.assembly.is_some(), self.app_assembly.is_some()).hash(&mut h);
    }

    pub(crate) fn new(config: &Config, log: Log, now: Instant) -> Self {
        Replication {
            log,
            settings: Settings::new(config),
            part: Part::Follower(Follower::default()),
            started_at: now,
            heard_commit: 0,
            fetches_waiting: Vec::new(),
            assembly: None,
            app_assembly: None,
        }
    }

    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    pub(crate) fn log_mut(&mut self) -> &mut Log {
        &mut self.log
    }

    /// True while this node leads and serves clients.
    pub(crate) fn serving(&self) -> bool {
        matches!(&self.part, Part::Leader(l) if l.serving())
    }

    /// Followers the leader counts as in sync (`None` when not leading).
    pub(crate) fn in_sync(&self) -> Option<Vec<NodeId>> {
        match &self.part {
            Part::Leader(l) => Some(l.in_sync()),
            Part::Follower(_) => None,
        }
    }

    /// Whether [`on_leadership`](Self::on_leadership) would change nothing:
    /// leading `lead`'s epoch already, or following while not leading (the
    /// check a node makes several times a step, without building a context).
    pub(crate) fn in_step_with(&self, lead: &crate::leadership::Leadership, me: NodeId) -> bool {
        let leading_now = lead.leads(me);
        match &self.part {
            Part::Leader(l) => leading_now && l.epoch() == lead.epoch,
            Part::Follower(_) => !leading_now,
        }
    }

    /// Follows the election's view of leadership: starts or stops leading.
    pub(crate) fn on_leadership(&mut self, cx: &mut Ctx<'_>) {
        if self.in_step_with(&cx.lead, cx.me.id) {
            return;
        }
        if cx.leading() {
            let warm_at = self.started_at + self.settings.warmup;
            let known = self.known_commit();
            let leader = Leader::start(&mut self.log, &self.settings, cx, warm_at, known);
            self.part = Part::Leader(Box::new(leader));
        } else {
            tracing::info!(epoch = cx.lead.epoch, "stopped leading; following");
            self.part = Part::Follower(Follower::default());
        }
    }

    /// `bully`/`ring`: the epoch this node leads turned out to be used by another
    /// leader already; returns the newest epoch seen so the node elects above it.
    pub(crate) fn take_epoch_collision(&mut self) -> Option<u64> {
        match &mut self.part {
            Part::Leader(l) => l.take_collision(),
            Part::Follower(_) => None,
        }
    }

    /// The highest commit index this node knows of: its own or one heard of.
    fn known_commit(&self) -> u64 {
        self.log.commit_index().max(self.heard_commit)
    }

    /// Leader side: offers a client's message. `Ok` tells where it is in the log.
    pub(crate) fn propose(&mut self, entry: Entry) -> Result<Offer, NotServing> {
        match &mut self.part {
            Part::Leader(l) if l.serving() => Ok(l.propose(&mut self.log, entry)),
            Part::Leader(_) => Err(NotServing::Syncing),
            Part::Follower(_) => Err(NotServing::NotLeader),
        }
    }

    /// A replication message from a peer.
    pub(crate) fn on_message(&mut self, cx: &mut Ctx<'_>, from: NodeId, msg: &ReplicationMsg) {
        if let ReplicationMsg::Append { commit, .. }
        | ReplicationMsg::Chunk { commit, .. }
        | ReplicationMsg::Tip { commit, .. }
        | ReplicationMsg::TipRequest { commit, .. }
        | ReplicationMsg::Snapshot { commit, .. }
        | ReplicationMsg::AppSnapshot { commit, .. } = msg
        {
            self.heard_commit = self.heard_commit.max(*commit);
        }
        match msg {
            ReplicationMsg::Snapshot { .. } => return self.on_snapshot_part(cx, from, msg),
            ReplicationMsg::AppSnapshot { .. } => return self.on_app_snapshot_part(cx, from, msg),
            _ => {}
        }
        // Questions anyone answers, whatever its role.
        match msg {
            ReplicationMsg::TipRequest { epoch, .. } => {
                let tip = ReplicationMsg::Tip {
                    epoch: *epoch,
                    last_index: self.log.last_index(),
                    last_epoch: self.log.last_epoch(),
                    commit: self.known_commit(),
                };
                return cx.send_replication(from, tip);
            }
            ReplicationMsg::Fetch {
                epoch,
                from: first,
                committed_only,
            } => {
                let ask = FetchAsk {
                    to: from,
                    epoch: *epoch,
                    first: *first,
                    committed: *committed_only,
                };
                return self.serve_fetch(cx, ask);
            }
            _ => {}
        }
        let known = self.known_commit();
        match &mut self.part {
            Part::Leader(l) => l.on_message(&mut self.log, &self.settings, cx, from, msg, known),
            Part::Follower(f) => f.on_message(&mut self.log, &self.settings, cx, from, msg),
        }
    }

    fn serve_fetch(&mut self, cx: &mut Ctx<'_>, ask: FetchAsk) {
        let FetchAsk {
            to,
            epoch,
            first,
            committed,
        } = ask;
        let end = if committed {
            self.log.commit_index()
        } else {
            self.log.last_index()
        };
        let first = first.max(1);
        let prev_index = first - 1;
        let Some(prev) = self.log.stamp_at(prev_index) else {
            // The asker is ahead of this node: nothing to give.
            return cx.send_replication(
                to,
                ReplicationMsg::Chunk {
                    epoch,
                    prev_index,
                    prev: Default::default(),
                    entries: Vec::new(),
                    commit: self.log.commit_index(),
                    complete: true,
                },
            );
        };
        if self.log.compacted(first) {
            // Compacted away: the snapshot, then the asker fetches on from it.
            if let Some(snap) = self.log.snapshot() {
                let app = self.log.app_snapshot().map(AsRef::as_ref);
                snapshot::send(cx, to, epoch, (snap, app), self.log.commit_index());
            }
            return;
        }
        if first <= end && self.log.missing(first) {
            cx.want_read(first);
            if !self.fetches_waiting.contains(&ask)
                && self.fetches_waiting.len() < FETCHES_WAITING_MAX
            {
                self.fetches_waiting.push(ask);
            }
            return;
        }
        let room = usize::try_from(end.saturating_sub(prev_index)).unwrap_or(usize::MAX);
        let entries = self
            .log
            .entries_from(first, room.min(self.settings.chunk))
            .to_vec();
        let complete = prev_index + entries.len() as u64 >= end;
        cx.send_replication(
            to,
            ReplicationMsg::Chunk {
                epoch,
                prev_index,
                prev,
                entries,
                commit: self.log.commit_index(),
                complete,
            },
        );
    }

    /// A member changed: a peer that died, left or came back in a new life starts
    /// over as far as the leader's bookkeeping goes.
    pub(crate) fn on_member(&mut self, node: NodeId, change: MembershipChange) {
        if let Part::Leader(l) = &mut self.part {
            match change {
                MembershipChange::Joined | MembershipChange::Rejoined => l.arrived(node),
                _ => l.forget(node),
            }
        }
    }

    /// Writes became durable (see [`crate::durable`]).
    pub(crate) fn on_durable(&mut self) {
        if let Part::Leader(l) = &mut self.part {
            l.on_durable();
        }
    }

    /// A whole snapshot from `from`: taken from the leader this node follows,
    /// from the helper it fetches from, or (a syncing `bully`/`ring` leader)
    /// from its source; anyone else's is dropped.
    fn on_snapshot(&mut self, cx: &mut Ctx<'_>, from: NodeId, epoch: u64, snap: Snapshot) {
        let index = snap.index;
        match &mut self.part {
            Part::Follower(f) => {
                f.on_snapshot(&mut self.log, &self.settings, cx, from, epoch, snap)
            }
            Part::Leader(l) => l.on_snapshot(&mut self.log, &self.settings, cx, from, snap),
        }
        tracing::debug!(%from, index, "snapshot handled");
    }

    /// A part of the log's snapshot; the whole once every part is in,
    /// taken only with the application snapshot it names (if it names one).
    fn on_snapshot_part(&mut self, cx: &mut Ctx<'_>, from: NodeId, msg: &ReplicationMsg) {
        let ReplicationMsg::Snapshot {
            epoch,
            part,
            number,
            of,
            app,
            ..
        } = msg
        else {
            return;
        };
        let Some(snap) = snapshot::receive(&mut self.assembly, from, *epoch, part, *number, *of)
        else {
            return;
        };
        let held = self.log.app_snapshot().map_or(0, |a| a.index);
        if let Some(wanted) = app.filter(|w| *w > held) {
            // Its parts are lost or still on the way: the sender sends
            // both again when this node answers its next append.
            tracing::debug!(%from, through = snap.index, wanted, "a snapshot without the application's that came with it; not taken yet");
            return;
        }
        self.on_snapshot(cx, from, *epoch, snap);
    }

    /// A part of an application snapshot: taken only from whom this node
    /// would take the log's snapshot (see [`Replication::on_snapshot`]); the
    /// whole kept in the log, to go to its disk and its application.
    fn on_app_snapshot_part(&mut self, cx: &mut Ctx<'_>, from: NodeId, msg: &ReplicationMsg) {
        let ReplicationMsg::AppSnapshot {
            epoch,
            index,
            stamp,
            len,
            number,
            of,
            bytes,
            commit,
        } = msg
        else {
            return;
        };
        let head = app_snapshot::Head {
            from,
            epoch: *epoch,
            index: *index,
            stamp: *stamp,
            len: *len,
            of: *of,
        };
        let takes = match &self.part {
            Part::Follower(f) => f.takes_snapshot_from(cx, head.from, head.epoch),
            Part::Leader(l) => l.takes_snapshot_from(head.from),
        };
        if !takes {
            return;
        }
        let Some(app) = app_snapshot::receive(&mut self.app_assembly, head, *number, bytes) else {
            return;
        };
        let kept = self.log.receive_app(std::sync::Arc::new(app), *commit);
        tracing::info!(from = %head.from, at = head.index, kept, "application snapshot received");
    }

    /// Entries were read back from the disk: whoever waited for them goes on.
    pub(crate) fn on_read(&mut self, cx: &mut Ctx<'_>) {
        if let Part::Leader(l) = &mut self.part {
            l.on_durable();
        }
        for ask in std::mem::take(&mut self.fetches_waiting) {
            self.serve_fetch(cx, ask);
        }
    }

    /// Time passed.
    pub(crate) fn tick(&mut self, cx: &mut Ctx<'_>) {
        let known = self.known_commit();
        match &mut self.part {
            Part::Leader(l) => l.tick(&mut self.log, &self.settings, cx, known),
            Part::Follower(f) => f.tick(&self.log, &self.settings, cx),
        }
    }

    /// Whether [`flush`](Self::flush) would change nothing (a follower's
    /// never does anything).
    pub(crate) fn nothing_to_flush(&self) -> bool {
        match &self.part {
            Part::Leader(l) => l.nothing_to_flush(),
            Part::Follower(_) => true,
        }
    }

    /// End of a step: the leader sends what became sendable during it, so client
    /// messages that arrived together travel in one batch.
    pub(crate) fn flush(&mut self, cx: &mut Ctx<'_>) {
        let known = self.known_commit();
        if let Part::Leader(l) = &mut self.part {
            l.flush(&mut self.log, &self.settings, cx, known);
        }
    }

    pub(crate) fn next_deadline(&self) -> Instant {
        match &self.part {
            Part::Leader(l) => l.next_deadline(),
            Part::Follower(f) => f.next_deadline(),
        }
    }
}
