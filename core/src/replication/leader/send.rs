//! The leader's sending: what every live follower needs on each pass
//! (appends, heartbeats that carry the commit index, catch-up notices), and
//! the commit index that follows from what they hold.

use super::{Leader, Progress};
use crate::context::Ctx;
use crate::id::NodeId;
use crate::leadership::Algorithm;
use crate::log::{Entry, Log};
use crate::replication::merge;
use crate::replication::settings::Settings;
use crate::ring::Ring;
use crate::time::Instant;
use crate::wire::ReplicationMsg;

impl Leader {
    fn advance_commit(&mut self, log: &mut Log, s: &Settings, cx: &Ctx<'_>) {
        // The leader counts itself only for what its disk holds.
        let last = cx.durable_tip.min(log.last_index());
        let candidate = match s.algorithm {
            Algorithm::Quorum => {
                let matched = &mut self.matched;
                matched.clear();
                matched.extend(s.voters.iter().map(|v| {
                    if *v == cx.me.id {
                        last
                    } else {
                        self.progress.get(*v).map_or(0, |p| p.matched)
                    }
                }));
                matched.sort_unstable_by(|a, b| b.cmp(a));
                let majority = crate::leadership::majority(s.voters.len());
                matched.get(majority - 1).copied().unwrap_or(0)
            }
            Algorithm::Bully | Algorithm::Ring => {
                let held = |p: &Progress| if p.probing { 0 } else { p.matched };
                let by_all_in_sync = self
                    .progress
                    .values()
                    .filter(|p| p.in_sync)
                    .map(held)
                    .fold(last, u64::min);
                // Laggards are not waited for, but an entry never commits on the
                // leader alone while a follower is live: were every follower
                // lagging, the leader's crash would take committed entries with it.
                let by_some_follower = self.progress.values().map(held).max().unwrap_or(last);
                by_all_in_sync.min(by_some_follower)
            }
        };
        if candidate > log.commit_index() && log.stamp_at(candidate) == Some(self.stamp) {
            log.commit_to(commit_point(log, s.algorithm, candidate));
        }
    }

    /// Sends every live follower what it needs. `beat` is the periodic pass:
    /// retransmissions, empty appends that carry the commit index, catch-up notices.
    pub(super) fn replicate(&mut self, log: &mut Log, s: &Settings, cx: &mut Ctx<'_>, beat: bool) {
        self.dirty = false;
        let now = cx.now;
        let last = log.last_index();
        self.progress.sync(cx.view.live().map(|m| m.info.id), || {
            Progress::new(now, last)
        });
        if self.catching_up.is_some_and(|c| !self.progress.contains(c)) {
            self.catching_up = None;
        }
        let window = (s.inflight_max * s.batch_max) as u64;
        let commit = log.commit_index();
        // By position: nothing in the pass adds or removes a follower.
        for k in 0..self.progress.len() {
            let Some((id, mut p)) = self.progress.nth(k) else {
                continue;
            };
            if !p.probing && p.next > p.matched + 1 && now >= p.last_progress + s.retransmit {
                // No progress for a while: something was lost. Go back, and give
                // the resent entries their own time before going back again.
                p.next = p.matched + 1;
                p.last_progress = now;
            }
            if p.merge.is_some() {
                merge::step(log, s, cx, self.stamp.epoch, id, &mut p);
            } else if p.probing {
                if now >= p.last_sent + s.retransmit || p.last_sent == Instant::ZERO {
                    self.append(log, cx, id, &mut p, 0, commit);
                }
            } else if last.saturating_sub(p.matched) > s.chunk as u64 {
                self.catch_up(log, s, cx, id, &mut p, beat);
            } else {
                if self.catching_up == Some(id) {
                    self.catching_up = None;
                }
                let mut sent = false;
                while p.next <= last && (p.next - 1).saturating_sub(p.matched) < window {
                    let in_flight = (p.next - 1).saturating_sub(p.matched);
                    let room = (window - in_flight).min(s.batch_max as u64);
                    if !self.append(log, cx, id, &mut p, room as usize, commit) {
                        break;
                    }
                    sent = true;
                }
                let due = if p.told_commit < commit {
                    s.heartbeat
                } else {
                    s.retransmit
                };
                if !sent && beat && now >= p.last_sent + due {
                    self.heartbeat(log, cx, id, &mut p, commit);
                }
            }
            self.progress.set(k, p);
        }
        self.advance_commit(log, s, cx);
    }

    fn catch_up(
        &mut self,
        log: &Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        id: NodeId,
        p: &mut Progress,
        beat: bool,
    ) {
        let commit = log.commit_index();
        // Behind the retained log, the leader sends its snapshot itself (a
        // helper may have compacted as far).
        let mine = p.next < log.start() || self.catching_up.is_none_or(|c| c == id);
        let helper = if mine {
            None
        } else {
            self.helper_for(s, cx, id)
        };
        match helper {
            None => {
                self.catching_up.get_or_insert(id);
                let sent = p.next == p.matched + 1 && self.append(log, cx, id, p, s.chunk, commit);
                if !sent && beat && cx.now >= p.last_sent + s.heartbeat {
                    self.heartbeat(log, cx, id, p, commit);
                }
            }
            Some(helper) => {
                if p.told_helper.is_none_or(|t| cx.now >= t + s.retransmit) {
                    p.told_helper = Some(cx.now);
                    cx.send_replication(
                        id,
                        ReplicationMsg::CatchUpFrom {
                            epoch: self.stamp.epoch,
                            helper,
                        },
                    );
                }
                if beat && cx.now >= p.last_sent + s.heartbeat {
                    self.heartbeat(log, cx, id, p, commit);
                }
            }
        }
    }

    /// An in-sync follower to catch `id` up from: its ring predecessor if that one
    /// is in sync, else the first in-sync follower before it on the ring.
    fn helper_for(&self, s: &Settings, cx: &Ctx<'_>, id: NodeId) -> Option<NodeId> {
        let ring = Ring::new(&cx.me, cx.view, s.rank);
        let order: Vec<NodeId> = ring.order().collect();
        let at = order.iter().position(|n| *n == id)?;
        (1..order.len())
            .filter_map(|back| order.get((at + order.len() - back) % order.len()))
            .copied()
            .find(|n| {
                *n != cx.me.id
                    && self
                        .progress
                        .get(*n)
                        .is_some_and(|p| p.in_sync && !p.probing && p.matched >= 1)
            })
    }

    /// An empty append that carries the commit index. Anchored where the follower
    /// is known to match, so it never causes a spurious mismatch while batches are
    /// in flight.
    fn heartbeat(&self, log: &Log, cx: &mut Ctx<'_>, id: NodeId, p: &mut Progress, commit: u64) {
        let prev_index = p.matched;
        // The whole commit index, though the follower commits only what it matches:
        // a lagging follower then still knows what was committed, and tells a
        // later leader that must not serve without it.
        self.send_append(log, cx, id, p, prev_index, 0, commit);
    }

    /// Sends up to `max` entries after `prev_index`; returns how many, or `None`
    /// when this log has no entry at `prev_index`.
    #[allow(clippy::too_many_arguments)]
    fn send_append(
        &self,
        log: &Log,
        cx: &mut Ctx<'_>,
        id: NodeId,
        p: &mut Progress,
        prev_index: u64,
        max: usize,
        commit: u64,
    ) -> Option<u64> {
        let prev = log.stamp_at(prev_index)?;
        let entries = log.entries_from(prev_index + 1, max).to_vec();
        let sent = entries.len() as u64;
        p.last_sent = cx.now;
        p.told_commit = commit;
        cx.send_replication(
            id,
            ReplicationMsg::Append {
                epoch: self.stamp.epoch,
                prev_index,
                prev,
                entries,
                commit,
            },
        );
        Some(sent)
    }

    /// Sends up to `max` entries from the follower's next; returns false
    /// (and sends nothing) when they must be read back from the disk first.
    fn append(
        &self,
        log: &Log,
        cx: &mut Ctx<'_>,
        id: NodeId,
        p: &mut Progress,
        max: usize,
        commit: u64,
    ) -> bool {
        if p.next < log.start() {
            // Behind the retained log: the snapshot, then entries after it.
            let Some(snap) = log.snapshot() else {
                return false;
            };
            let app = log.app_snapshot().map(AsRef::as_ref);
            if !crate::replication::snapshot::send(cx, id, self.stamp.epoch, (snap, app), commit) {
                return false;
            }
            p.next = snap.index + 1;
            p.last_sent = cx.now;
            p.told_commit = commit;
            return true;
        }
        if max > 0 && log.missing(p.next) {
            cx.want_read(p.next);
            return false;
        }
        match self.send_append(log, cx, id, p, p.next - 1, max, commit) {
            Some(sent) => p.next += sent,
            None => p.next = log.last_index() + 1,
        }
        if max > 0 && log.missing(p.next) {
            // Read the next entries while these travel: catch-up from the
            // disk then waits for the network only.
            cx.want_read(p.next);
        }
        true
    }
}

/// How far to commit when everything up to `candidate` may commit.
///
/// Under `bully` and `ring` the commit index stops at the last client message:
/// leaders' markers at the end of the log carry no message and nobody was
/// acknowledged anything for them, so they wait uncommitted until a client
/// message after them commits them along. A leader cut off from the others
/// (alone, or with a few in a minority) therefore never holds committed entries
/// the rest of the cluster lacks merely for having led: its markers give way on
/// rejoin like any uncommitted suffix, and the commit index never has to move
/// back. Which client messages commit, and when, is unchanged. Under `quorum` a
/// majority's commit is final and the marker commits at once, as Raft's no-op
/// entry does.
fn commit_point(log: &Log, algorithm: Algorithm, candidate: u64) -> u64 {
    if algorithm == Algorithm::Quorum {
        return candidate;
    }
    let mut point = candidate;
    while point > log.commit_index() && log.get(point).is_some_and(Entry::is_marker) {
        point -= 1;
    }
    point
}
