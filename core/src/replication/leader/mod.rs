//! The leader's side: sync first (`bully`/`ring`), then sequence, replicate, commit.

use super::merge;
use super::progress::{Followers, Progress};
use super::settings::Settings;
use crate::context::Ctx;
use crate::id::NodeId;
use crate::leadership::Algorithm;
use crate::log::{Entry, Installed, Log, Offer, Reject, Snapshot, Stamp};
use crate::time::Instant;
use crate::wire::{AppendOutcome, ReplicationMsg};
use std::collections::BTreeSet;

mod send;

/// How many failed fetches a syncing leader tolerates before it serves with the
/// log it has (the source's answers keep not fitting: a broken invariant, logged).
const MAX_SYNC_TRIES: u32 = 20;

#[derive(Clone, Debug)]
enum Phase {
    /// `bully`/`ring`: waiting for the live members' log tips.
    Gathering {
        waiting: BTreeSet<NodeId>,
        /// The most up-to-date tip heard so far, if better than ours:
        /// (last epoch, last index, node).
        best: Option<(u64, u64, NodeId)>,
        /// The longest log heard of (whatever its epoch): the committed entries
        /// this leader must not serve without may be on a branch of a split brain
        /// with a lower last epoch, taken in when its holder follows.
        longest: u64,
        /// When the members were asked; answers from before the warm-up ended
        /// may miss members the view did not hold yet.
        asked_at: Instant,
        /// When to ask the silent members again.
        retry_at: Instant,
        /// Last resort against a member that stays live but never answers (a
        /// one-way cut): serve with the answers heard.
        until: Instant,
    },
    /// `bully`/`ring`: taking the history of the most up-to-date member.
    Fetching {
        source: NodeId,
        next: u64,
        retry_at: Instant,
        tries: u32,
    },
    /// Sequencing and replicating client messages.
    Serving,
}

/// The leader's replication state for one epoch.
#[derive(Clone, Debug)]
pub(super) struct Leader {
    /// This leadership: its epoch and this node.
    stamp: Stamp,
    phase: Phase,
    progress: Followers,
    /// Scratch for the quorum commit rule: what each voter holds.
    matched: Vec<u64>,
    /// The lagging follower the leader catches up itself; others go to a helper.
    catching_up: Option<NodeId>,
    next_beat: Instant,
    /// A member's log already holds entries of this epoch (or a later one): the
    /// epoch has another leader and must not be served.
    collision: Option<u64>,
    /// `bully`/`ring`: serve no sooner than this (see `Settings::warmup`).
    warm_at: Instant,
    /// A member joined or came back before serving began: its log may be the most
    /// up to date (a restart brings its durable log back), so everyone is asked again.
    view_grew: bool,
    /// Something the end-of-step flush acts on happened: entries were appended, a
    /// follower answered, or a member came or went. Without it the flush is skipped;
    /// timers are checked on the heartbeat tick.
    dirty: bool,
}

impl Leader {
    /// Hashes the leader's state but for its times (see
    /// [`crate::Node::fingerprint`]).
    pub(super) fn fingerprint(&self, mut h: &mut dyn std::hash::Hasher) {
        use std::hash::Hash;
        match &self.phase {
            Phase::Gathering {
                waiting,
                best,
                longest,
                ..
            } => (0u8, waiting, best, longest).hash(&mut h),
            Phase::Fetching {
                source,
                next,
                tries,
                ..
            } => (1u8, source, next, tries).hash(&mut h),
            Phase::Serving => 2u8.hash(&mut h),
        }
        for (id, p) in self.progress.iter() {
            let merge = p.merge.map(|m| m.fork);
            (
                id,
                p.next,
                p.matched,
                p.probing,
                p.in_sync,
                p.told_commit,
                merge,
            )
                .hash(&mut h);
        }
        (self.catching_up, self.collision, self.view_grew, self.dirty).hash(&mut h);
    }

    /// Starts leading. `known_commit` is the highest commit index this node has
    /// heard of: under `bully`/`ring` it does not serve without those entries.
    pub(super) fn start(
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        warm_at: Instant,
        known_commit: u64,
    ) -> Leader {
        let mut leader = Leader {
            stamp: Stamp {
                epoch: cx.lead.epoch,
                leader: cx.me.id,
            },
            phase: Phase::Serving,
            progress: Followers::default(),
            matched: Vec::new(),
            catching_up: None,
            next_beat: cx.now,
            collision: None,
            warm_at,
            view_grew: false,
            dirty: false,
        };
        if s.algorithm == Algorithm::Quorum {
            leader.serve(log, cx);
            return leader;
        }
        tracing::info!(
            epoch = leader.stamp.epoch,
            "leading; asking the members how far their logs go before serving"
        );
        leader.gather(s, cx, known_commit);
        if let Phase::Gathering { waiting, .. } = &leader.phase {
            if waiting.is_empty() {
                leader.finish_gathering(log, s, cx, known_commit);
            }
        }
        leader
    }

    /// Asks every live member for the tip of its log (again).
    fn gather(&mut self, s: &Settings, cx: &mut Ctx<'_>, known_commit: u64) {
        let waiting: BTreeSet<NodeId> = cx.view.live().map(|m| m.info.id).collect();
        for &id in &waiting {
            cx.send_replication(
                id,
                ReplicationMsg::TipRequest {
                    epoch: self.stamp.epoch,
                    commit: known_commit,
                },
            );
        }
        self.phase = Phase::Gathering {
            waiting,
            best: None,
            longest: 0,
            asked_at: cx.now,
            retry_at: cx.now + s.retransmit,
            until: cx.now + s.gather_timeout * 10,
        };
    }

    pub(super) fn epoch(&self) -> u64 {
        self.stamp.epoch
    }

    pub(super) fn take_collision(&mut self) -> Option<u64> {
        self.collision.take()
    }

    pub(super) fn serving(&self) -> bool {
        matches!(self.phase, Phase::Serving)
    }

    pub(super) fn in_sync(&self) -> Vec<NodeId> {
        self.progress
            .iter()
            .filter(|(_, p)| p.in_sync && !p.probing)
            .map(|(id, _)| id)
            .collect()
    }

    /// Starts serving: the marker of this epoch goes first.
    fn serve(&mut self, log: &mut Log, cx: &mut Ctx<'_>) {
        self.phase = Phase::Serving;
        self.dirty = true;
        let index = log.append_marker(self.stamp, Entry::marker(cx.me.id, cx.now));
        tracing::info!(
            epoch = self.stamp.epoch,
            marker = index,
            commit = log.commit_index(),
            "leading: serving clients"
        );
        self.next_beat = cx.now;
    }

    /// Writes became durable: the leader's own count toward commit may grow.
    pub(super) fn on_durable(&mut self) {
        self.dirty = true;
    }

    pub(super) fn propose(&mut self, log: &mut Log, entry: Entry) -> Offer {
        let offer = log.offer(self.stamp, entry);
        self.dirty |= matches!(offer, Offer::Appended(_));
        offer
    }

    pub(super) fn forget(&mut self, node: NodeId) {
        self.dirty = true;
        self.progress.remove(node);
        if self.catching_up == Some(node) {
            self.catching_up = None;
        }
        if let Phase::Gathering { waiting, .. } = &mut self.phase {
            // Finishing waits for the next tick: the node's step is not over.
            waiting.remove(&node);
        }
    }

    /// A member joined or came back in a new life.
    pub(super) fn arrived(&mut self, node: NodeId) {
        self.forget(node);
        if !self.serving() {
            self.view_grew = true;
        }
    }

    pub(super) fn next_deadline(&self) -> Instant {
        match self.phase {
            Phase::Gathering {
                retry_at, until, ..
            } => retry_at.min(until),
            Phase::Fetching { retry_at, .. } => retry_at,
            Phase::Serving => self.next_beat,
        }
    }

    pub(super) fn tick(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        known_commit: u64,
    ) {
        match &mut self.phase {
            Phase::Gathering { until, .. } if cx.now >= *until && self.collision.is_none() => {
                tracing::warn!(
                    epoch = self.stamp.epoch,
                    "a live member never told its log tip; going on with the answers heard"
                );
                self.finish_gathering(log, s, cx, known_commit);
            }
            Phase::Gathering {
                waiting, retry_at, ..
            } if cx.now >= *retry_at => {
                *retry_at = cx.now + s.retransmit;
                waiting.retain(|id| cx.is_live(*id));
                if waiting.is_empty() {
                    return self.finish_gathering(log, s, cx, known_commit);
                }
                for &id in waiting.iter() {
                    cx.send_replication(
                        id,
                        ReplicationMsg::TipRequest {
                            epoch: self.stamp.epoch,
                            commit: known_commit,
                        },
                    );
                }
            }
            Phase::Fetching {
                source,
                next,
                retry_at,
                ..
            } if cx.now >= *retry_at => {
                let (source, next) = (*source, *next);
                if cx.is_live(source) {
                    *retry_at = cx.now + s.retransmit;
                    self.fetch(cx, source, next);
                } else {
                    tracing::info!(epoch = self.stamp.epoch, %source, "the most up-to-date member is gone; asking again");
                    self.gather(s, cx, known_commit);
                }
            }
            Phase::Serving if cx.now >= self.next_beat => {
                self.next_beat = cx.now + s.heartbeat;
                self.replicate(log, s, cx, true);
            }
            _ => {}
        }
    }

    /// Whether [`flush`](Self::flush) would change nothing: serving with
    /// nothing new to send, or gathering with no member arrived.
    pub(super) fn nothing_to_flush(&self) -> bool {
        if self.serving() {
            !self.dirty
        } else {
            !self.view_grew
        }
    }

    pub(super) fn flush(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        known_commit: u64,
    ) {
        if self.serving() {
            if std::mem::take(&mut self.dirty) {
                self.replicate(log, s, cx, false);
            }
        } else if std::mem::take(&mut self.view_grew) && self.collision.is_none() {
            tracing::info!(
                epoch = self.stamp.epoch,
                "a member arrived before serving began; asking every member again"
            );
            self.gather(s, cx, known_commit);
        }
    }

    fn fetch(&self, cx: &mut Ctx<'_>, source: NodeId, from: u64) {
        cx.send_replication(
            source,
            ReplicationMsg::Fetch {
                epoch: self.stamp.epoch,
                from,
                committed_only: false,
            },
        );
    }

    /// Every live member answered (or the last resort came): serve, or first
    /// fetch the most up-to-date history, or keep asking.
    fn finish_gathering(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        known_commit: u64,
    ) {
        let Phase::Gathering {
            best,
            longest,
            asked_at,
            ..
        } = self.phase
        else {
            return;
        };
        if self.collision.is_some() {
            return; // the node elects again above the epoch
        }
        if cx.now < self.warm_at {
            return; // the retries bring this back once the view is whole
        }
        if asked_at < self.warm_at {
            return self.gather(s, cx, known_commit); // ask the whole view, now that it is whole
        }
        let reachable = longest.max(log.last_index());
        if reachable < known_commit {
            // Committed entries exist that no live member holds (or an index
            // heard of on another branch of a split brain). Logs are durable: a
            // member that comes back with them follows this leader, and its
            // committed branch is taken in then (see `Merge`), so there is no
            // need to stop serving meanwhile.
            tracing::info!(
                epoch = self.stamp.epoch,
                known_commit,
                reachable,
                "some committed entries are on members that are down; taken in when they return"
            );
        }
        match best {
            Some((e, i, source)) if (e, i) > (log.last_epoch(), log.last_index()) => {
                tracing::info!(epoch = self.stamp.epoch, %source, last = i, "syncing the log from the most up-to-date member before serving");
                let next = log.commit_index() + 1;
                self.phase = Phase::Fetching {
                    source,
                    next,
                    retry_at: cx.now + s.retransmit,
                    tries: 0,
                };
                self.fetch(cx, source, next);
            }
            _ => self.serve(log, cx),
        }
    }

    pub(super) fn on_message(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        from: NodeId,
        msg: &ReplicationMsg,
        known_commit: u64,
    ) {
        if msg.epoch() != self.stamp.epoch {
            return;
        }
        match msg {
            ReplicationMsg::Tip {
                last_index,
                last_epoch,
                ..
            } => {
                let Phase::Gathering {
                    waiting,
                    best,
                    longest,
                    ..
                } = &mut self.phase
                else {
                    return;
                };
                waiting.remove(&from);
                *longest = (*longest).max(*last_index);
                if *last_epoch >= self.stamp.epoch {
                    tracing::warn!(epoch = self.stamp.epoch, member = %from, their_epoch = last_epoch, "another leader already used this epoch; electing again above it");
                    self.collision = Some(*last_epoch);
                    return;
                }
                let theirs = (*last_epoch, *last_index);
                if theirs > (log.last_epoch(), log.last_index())
                    && best.is_none_or(|(e, i, _)| theirs > (e, i))
                {
                    *best = Some((*last_epoch, *last_index, from));
                }
                if waiting.is_empty() {
                    self.finish_gathering(log, s, cx, known_commit);
                }
            }
            ReplicationMsg::Chunk {
                prev_index,
                prev,
                entries,
                commit,
                complete,
                ..
            } if self.serving() => {
                let stamp = self.stamp;
                if let Some(p) = self.progress.get_mut(from) {
                    let chunk = (*prev_index, entries, *complete);
                    if merge::take_chunk(log, s, cx, stamp, (from, p), chunk.0, chunk.1, chunk.2) {
                        self.dirty = true;
                    }
                }
            }
            ReplicationMsg::Chunk {
                prev_index,
                prev,
                entries,
                commit,
                complete,
                ..
            } => self.on_chunk(
                log,
                s,
                cx,
                from,
                (*prev_index, *prev),
                entries,
                *commit,
                *complete,
            ),
            ReplicationMsg::AppendReply { outcome, .. } => {
                self.on_reply(log, s, cx, from, *outcome);
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_chunk(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        from: NodeId,
        prev: (u64, Stamp),
        entries: &[Entry],
        commit: u64,
        complete: bool,
    ) {
        let Phase::Fetching {
            source,
            next,
            retry_at,
            tries,
        } = &mut self.phase
        else {
            return;
        };
        if *source != from || prev.0 + 1 != *next {
            return; // a stale or duplicated answer
        }
        // The source's committed entries are committed everywhere.
        match log.accept_and_commit(prev.0, prev.1, entries, commit) {
            Ok(matched) => {
                if complete {
                    return self.serve(log, cx);
                }
                *next = matched + 1;
            }
            Err(Reject::Mismatch { hint }) => {
                *tries += 1;
                *next = hint + 1;
            }
            Err(Reject::CommittedConflict { index }) => {
                // A branch of a split brain: this node's committed history goes
                // first, the source's branch is taken in once it follows.
                tracing::info!(epoch = self.stamp.epoch, %from, fork = index - 1, "the most up-to-date member holds another committed branch; serving with this history and taking that branch in");
                return self.serve(log, cx);
            }
        }
        if *tries > MAX_SYNC_TRIES {
            tracing::error!(epoch = self.stamp.epoch, %from, "cannot sync from the most up-to-date member; serving with this log");
            return self.serve(log, cx);
        }
        *retry_at = cx.now + s.retransmit;
        let (source, next) = (*source, *next);
        self.fetch(cx, source, next);
    }

    /// Whether a snapshot from `from` is taken: a syncing leader's source's.
    pub(super) fn takes_snapshot_from(&self, from: NodeId) -> bool {
        matches!(self.phase, Phase::Fetching { source, .. } if source == from)
    }

    /// A whole snapshot: a syncing leader takes its source's, then fetches
    /// on after it.
    pub(super) fn on_snapshot(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        from: NodeId,
        snap: Snapshot,
    ) {
        let Phase::Fetching {
            source,
            next,
            retry_at,
            ..
        } = &mut self.phase
        else {
            return;
        };
        if *source != from {
            return;
        }
        let index = snap.index;
        if log.install(snap) == Installed::Refused {
            tracing::warn!(%from, index, "the sync source's snapshot does not fit; serving with this log");
            return self.serve(log, cx);
        }
        *next = index + 1;
        *retry_at = cx.now + s.retransmit;
        let (source, next) = (*source, *next);
        self.fetch(cx, source, next);
    }

    fn on_reply(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        from: NodeId,
        outcome: AppendOutcome,
    ) {
        if !self.serving() {
            return;
        }
        self.dirty = true;
        let last = log.last_index();
        let commit = log.commit_index();
        let Some(p) = self.progress.get_mut(from) else {
            return;
        };
        match outcome {
            AppendOutcome::Matched(m) => {
                let m = m.min(last);
                p.probing = false;
                if m > p.matched {
                    p.matched = m;
                    p.last_progress = cx.now;
                }
                p.next = p.next.max(m + 1);
                if !p.in_sync && p.matched >= commit {
                    tracing::info!(follower = %from, matched = p.matched, "follower in sync");
                    p.in_sync = true;
                }
                if last.saturating_sub(p.matched) > s.chunk as u64 {
                    p.in_sync = false;
                }
            }
            AppendOutcome::Mismatch { hint } => {
                // A hint below what the follower was proven to hold answers an
                // older append, or points before a whole run of entries of one
                // leadership (the follower's guess, blind to what is committed):
                // either way the next probe goes right after the proven match.
                // Ignoring it instead left a follower with an old leader's
                // uncommitted tail probed at the same index for ever (seed 96).
                let next = hint.max(p.matched).min(last) + 1;
                if next < p.next {
                    // The hint moved: probe again at once. Otherwise the same probe
                    // waits for the retransmit interval, never a busy loop.
                    p.last_sent = Instant::ZERO;
                }
                p.next = next;
                p.probing = true;
                if last.saturating_sub(hint) > s.chunk as u64 {
                    p.in_sync = false;
                }
            }
            AppendOutcome::Conflict { index } if s.algorithm != Algorithm::Quorum => {
                if p.merge.is_none() && index > 0 {
                    tracing::info!(follower = %from, fork = index - 1, "follower holds a committed branch of a split brain; taking it in");
                    p.in_sync = false;
                    merge::begin(cx, s, self.stamp.epoch, (from, p), index - 1);
                }
            }
            AppendOutcome::Conflict { index } => {
                tracing::error!(follower = %from, index, "follower refuses to replace a committed entry: two histories exist");
            }
            AppendOutcome::EpochTaken => {
                tracing::warn!(epoch = self.stamp.epoch, follower = %from, "a follower took entries of this epoch from another leader; electing again above it");
                self.collision = Some(self.stamp.epoch);
            }
        }
        // The commit index moves in the flush that ends every step.
    }
}
