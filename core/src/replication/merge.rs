//! `bully`/`ring`: taking in a follower's committed branch of a healed split
//! brain (see [`Merge`]): its client messages are fetched and appended to
//! the leader's history, each once, then the follower is rewritten from the
//! fork point.

use super::progress::{Merge, Progress};
use super::settings::Settings;
use crate::context::Ctx;
use crate::id::NodeId;
use crate::log::{Entry, Log, Offer, Stamp};
use crate::wire::ReplicationMsg;

/// A chunk of follower `from`'s committed branch (its progress `p`): its
/// client messages are appended by leadership `stamp` in order, each once (a
/// message this log holds already is skipped by the log's per-client
/// numbering). Returns whether the chunk was the one awaited.
#[allow(clippy::too_many_arguments)]
pub(super) fn take_chunk(
    log: &mut Log,
    s: &Settings,
    cx: &mut Ctx<'_>,
    stamp: Stamp,
    (from, p): (NodeId, &mut Progress),
    prev_index: u64,
    entries: &[Entry],
    complete: bool,
) -> bool {
    let Some(m) = p.merge.as_mut() else {
        return false;
    };
    if m.next != Some(prev_index + 1) {
        return false; // stale or duplicated
    }
    let mut taken = 0u64;
    for e in entries.iter().filter(|e| !e.is_marker()) {
        match log.offer(stamp, e.clone()) {
            Offer::Appended(_) => taken += 1,
            Offer::Duplicate(_) | Offer::Old(_) => {}
            Offer::Gap { expected } => {
                // Cannot happen: every log holds each client's numbers from 1.
                tracing::error!(follower = %from, id = ?e.id, expected, "a merged message skips numbers; left out");
            }
        }
    }
    if taken > 0 {
        tracing::info!(follower = %from, taken, "took in messages of another branch");
    }
    let fetched_to = prev_index + entries.len() as u64;
    if complete || entries.is_empty() {
        m.next = None;
    } else {
        m.next = Some(fetched_to + 1);
        m.retry_at = cx.now + s.retransmit;
        fetch_branch(cx, stamp.epoch, from, fetched_to + 1);
    }
    true
}

/// Follower `id` (progress `p`) whose branch is being taken in: ask again
/// for a lost chunk, or, once all is in, rewrite it from the fork point.
pub(super) fn step(
    log: &Log,
    s: &Settings,
    cx: &mut Ctx<'_>,
    epoch: u64,
    id: NodeId,
    p: &mut Progress,
) {
    let Some(m) = p.merge.as_mut() else {
        return;
    };
    match m.next {
        Some(next) => {
            if cx.now >= m.retry_at {
                m.retry_at = cx.now + s.retransmit;
                fetch_branch(cx, epoch, id, next);
            }
        }
        None => {
            let fork = m.fork;
            let Some(prev) = log.stamp_at(fork) else {
                p.merge = None;
                return;
            };
            let entries = log.entries_from(fork + 1, s.batch_max).to_vec();
            tracing::info!(follower = %id, fork, "rewriting the follower's branch with the merged history");
            p.merge = None;
            p.matched = fork;
            p.next = fork + 1 + entries.len() as u64;
            p.probing = false;
            p.last_sent = cx.now;
            p.last_progress = cx.now;
            let commit = log.commit_index();
            p.told_commit = commit;
            cx.send_replication(
                id,
                ReplicationMsg::Rewrite {
                    epoch,
                    prev_index: fork,
                    prev,
                    entries,
                    commit,
                },
            );
        }
    }
}

/// Starts taking in follower `from`'s branch after `fork` (its progress `p`).
pub(super) fn begin(
    cx: &mut Ctx<'_>,
    s: &Settings,
    epoch: u64,
    (from, p): (NodeId, &mut Progress),
    fork: u64,
) {
    p.merge = Some(Merge {
        fork,
        next: Some(fork + 1),
        retry_at: cx.now + s.retransmit,
    });
    fetch_branch(cx, epoch, from, fork + 1);
}

fn fetch_branch(cx: &mut Ctx<'_>, epoch: u64, from: NodeId, first: u64) {
    cx.send_replication(
        from,
        ReplicationMsg::Fetch {
            epoch,
            from: first,
            committed_only: true,
        },
    );
}
