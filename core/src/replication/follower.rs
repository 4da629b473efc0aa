//! The follower's side: accept appends in order, catch up from a helper when told.

use super::settings::Settings;
use crate::context::Ctx;
use crate::id::NodeId;
use crate::log::{Installed, Log, Reject, Snapshot};
use crate::time::Instant;
use crate::wire::{AppendOutcome, ReplicationMsg};

/// A catch-up from a helper in progress.
#[derive(Debug, Clone, Copy)]
struct HelperFetch {
    helper: NodeId,
    epoch: u64,
    retry_at: Instant,
}

/// The follower's replication state.
#[derive(Clone, Debug, Default)]
pub(super) struct Follower {
    fetch: Option<HelperFetch>,
}

impl Follower {
    /// Whose committed entries it is fetching, if anyone's.
    pub(super) fn fetching(&self) -> Option<(NodeId, u64)> {
        self.fetch.map(|f| (f.helper, f.epoch))
    }

    pub(super) fn next_deadline(&self) -> Instant {
        self.fetch.map_or(Instant::MAX, |f| f.retry_at)
    }

    pub(super) fn tick(&mut self, log: &Log, s: &Settings, cx: &mut Ctx<'_>) {
        let Some(f) = self.fetch.as_mut() else {
            return;
        };
        if cx.now < f.retry_at {
            return;
        }
        if !cx.is_live(f.helper) || cx.lead.epoch != f.epoch {
            self.fetch = None; // the leader will name another helper if need be
            return;
        }
        f.retry_at = cx.now + s.retransmit;
        let (helper, epoch) = (f.helper, f.epoch);
        ask(cx, helper, epoch, log.commit_index() + 1);
    }

    /// Whether a snapshot from `from` in `epoch` is taken: from the leader
    /// this node follows, or the helper it catches up from.
    pub(super) fn takes_snapshot_from(&self, cx: &Ctx<'_>, from: NodeId, epoch: u64) -> bool {
        let follows = cx.lead.leader == Some(from) && cx.lead.epoch == epoch;
        follows
            || self
                .fetch
                .is_some_and(|f| f.helper == from && f.epoch == epoch)
    }

    pub(super) fn on_message(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        from: NodeId,
        msg: &ReplicationMsg,
    ) {
        let follows = cx.lead.leader == Some(from) && cx.lead.epoch == msg.epoch();
        match msg {
            ReplicationMsg::Append { .. } if follows => on_append(log, cx, from, msg),
            ReplicationMsg::Rewrite {
                epoch,
                prev_index,
                prev,
                entries,
                commit,
            } if follows => {
                let before = log.commit_index();
                let outcome = outcome_of(log.rewrite(*prev_index, *prev, entries, *commit));
                if let AppendOutcome::Matched(_) = outcome {
                    tracing::info!(leader = %from, fork = prev_index, committed_before = before, "took the merged history of a healed split brain from the fork on");
                }
                reply(cx, from, *epoch, outcome);
            }
            ReplicationMsg::CatchUpFrom { epoch, helper } if follows && self.fetch.is_none() => {
                tracing::info!(%helper, from = log.commit_index() + 1, "catching up from a helper: the leader is busy");
                self.fetch = Some(HelperFetch {
                    helper: *helper,
                    epoch: *epoch,
                    retry_at: cx.now + s.retransmit,
                });
                ask(cx, *helper, *epoch, log.commit_index() + 1);
            }
            ReplicationMsg::Chunk { .. } => self.on_chunk(log, s, cx, from, msg),
            _ => {}
        }
    }

    /// A whole snapshot: from the leader this node follows (answered as an
    /// append would be), or from the helper it catches up from (fetching on
    /// after it).
    pub(super) fn on_snapshot(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        from: NodeId,
        epoch: u64,
        snap: Snapshot,
    ) {
        if !self.takes_snapshot_from(cx, from, epoch) {
            return;
        }
        let follows = cx.lead.leader == Some(from) && cx.lead.epoch == epoch;
        let index = snap.index;
        let installed = log.install(snap);
        tracing::info!(%from, through = index, ?installed, "snapshot received");
        if follows {
            let outcome = match installed {
                Installed::Had | Installed::Replaced => AppendOutcome::Matched(index),
                Installed::Refused => AppendOutcome::Conflict {
                    index: log.commit_index(),
                },
            };
            return reply(cx, from, epoch, outcome);
        }
        if let Some(f) = self
            .fetch
            .as_mut()
            .filter(|_| installed != Installed::Refused)
        {
            f.retry_at = cx.now + s.retransmit;
            ask(cx, from, epoch, index + 1);
        } else {
            self.fetch = None;
        }
    }

    /// A chunk of committed entries from the helper this node catches up from.
    fn on_chunk(
        &mut self,
        log: &mut Log,
        s: &Settings,
        cx: &mut Ctx<'_>,
        from: NodeId,
        msg: &ReplicationMsg,
    ) {
        let ReplicationMsg::Chunk {
            epoch,
            prev_index,
            prev,
            entries,
            commit,
            complete,
        } = msg
        else {
            return;
        };
        let Some(f) = self.fetch.as_mut() else {
            return;
        };
        if f.helper != from || f.epoch != *epoch {
            return;
        }
        // The helper sends committed entries only: they are final.
        match log.accept_and_commit(*prev_index, *prev, entries, *commit) {
            Ok(matched) => {
                if *complete {
                    tracing::info!(%from, commit = log.commit_index(), "caught up from the helper");
                    self.fetch = None;
                } else {
                    f.retry_at = cx.now + s.retransmit;
                    let (helper, epoch) = (f.helper, f.epoch);
                    ask(cx, helper, epoch, matched + 1);
                }
            }
            Err(e) => {
                tracing::warn!(%from, error = %e, "helper's chunk does not fit; leaving catch-up to the leader");
                self.fetch = None;
            }
        }
    }
}

fn ask(cx: &mut Ctx<'_>, helper: NodeId, epoch: u64, from: u64) {
    cx.send_replication(
        helper,
        ReplicationMsg::Fetch {
            epoch,
            from,
            committed_only: true,
        },
    );
}

/// An append from the leader this node follows.
fn on_append(log: &mut Log, cx: &mut Ctx<'_>, from: NodeId, msg: &ReplicationMsg) {
    let ReplicationMsg::Append {
        epoch,
        prev_index,
        prev,
        entries,
        commit,
    } = msg
    else {
        return;
    };
    // Under bully and ring two leaders can claim one epoch until they hear of
    // each other; taking entries of one epoch from both would mix two
    // histories. The log's last stamp says whom it took from.
    if log.leader_of_last_epoch(*epoch).is_some_and(|l| l != from) {
        tracing::warn!(leader = %from, epoch, "refusing appends from a second leader of one epoch");
        return cx.send_replication(
            from,
            ReplicationMsg::AppendReply {
                epoch: *epoch,
                outcome: AppendOutcome::EpochTaken,
            },
        );
    }
    let outcome = outcome_of(log.accept_and_commit(*prev_index, *prev, entries, *commit));
    if let AppendOutcome::Conflict { index } = outcome {
        tracing::error!(leader = %from, epoch, index, "leader would replace a committed entry; refused");
    }
    reply(cx, from, *epoch, outcome);
}

/// Answers the leader. A match acknowledges entries, so it leaves once they
/// are durable; a refusal promises nothing and leaves at once.
fn reply(cx: &mut Ctx<'_>, leader: NodeId, epoch: u64, outcome: AppendOutcome) {
    let msg = ReplicationMsg::AppendReply { epoch, outcome };
    if matches!(outcome, AppendOutcome::Matched(_)) {
        cx.send_replication_durable(leader, msg);
    } else {
        cx.send_replication(leader, msg);
    }
}

/// What the leader is told of entries this log took or refused.
fn outcome_of(result: Result<u64, Reject>) -> AppendOutcome {
    match result {
        Ok(matched) => AppendOutcome::Matched(matched),
        Err(Reject::Mismatch { hint }) => AppendOutcome::Mismatch { hint },
        Err(Reject::CommittedConflict { index }) => AppendOutcome::Conflict { index },
    }
}
