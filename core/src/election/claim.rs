//! The ranked-claim rule `bully` and `ring` share: what a leadership claim means
//! to a node that elects by rank.

use super::algorithm::AlgoCtx;
use crate::id::NodeInfo;

/// What a `bully` or `ring` node makes of a leadership claim.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Followed, or already followed.
    Followed,
    /// Followed, but this node outranks the claimant: challenge it.
    Challenge,
    /// Two leaders in one epoch, and the one followed outranks the claimant:
    /// kept. (An election would not settle it: both leaders answer one with
    /// their claim, and a node that re-elects at every such claim feeds a storm
    /// of elections while the two have not heard of each other.)
    Kept,
    /// An older epoch: ignored.
    Stale,
}

/// The shared claim rule of `bully` and `ring`.
pub(crate) fn ranked_claim(cx: &mut AlgoCtx<'_>, from: &NodeInfo, epoch: u64) -> Verdict {
    cx.observe_epoch(epoch);
    if epoch < cx.lead.epoch {
        return Verdict::Stale;
    }
    if epoch == cx.lead.epoch && cx.lead.leader.is_some() && cx.lead.leader != Some(from.id) {
        // Two leaders of one epoch that have not heard of each other yet: the
        // higher-ranked one is followed, by this node and, once the two meet
        // (its claims reach the other), by the lower one too.
        let current = cx.lead.leader.and_then(|l| {
            if l == cx.me.id {
                Some(cx.my_rank())
            } else {
                cx.view.get(l).map(|m| cx.rank_of(&m.info))
            }
        });
        if current.is_some_and(|rank| rank > cx.rank_of(from)) {
            return Verdict::Kept;
        }
    }
    cx.follow(from.id, epoch);
    // While settling, the view may still miss higher nodes: the end of the settle
    // period decides whether to challenge.
    if cx.rank_of(from) < cx.my_rank() && !cx.settling {
        Verdict::Challenge
    } else {
        Verdict::Followed
    }
}

/// True when there is no leader, or this node outranks the one it follows.
pub(crate) fn outranks_leader(cx: &AlgoCtx<'_>) -> bool {
    match cx.lead.leader {
        None => true,
        Some(id) if id == cx.me.id => false,
        Some(id) => cx
            .view
            .get(id)
            .is_none_or(|m| cx.rank_of(&m.info) < cx.my_rank()),
    }
}
