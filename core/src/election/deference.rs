//! Rank deference under `quorum`: a voter keeps its (pre-)vote from a
//! candidate while a better-ranked voter could stand instead.
//!
//! Voters stand in `--rank` order, a slot apart (see `Quorum::standing_delay`),
//! which elects the best-ranked survivor when all notice a lost leader at about
//! the same time. A survivor that notices a slot late (its process was not
//! scheduled, its machine stood still) would otherwise hand the next term to a
//! worse-ranked one the moment it asks. So a voter refuses a candidate while it
//! knows a better-ranked voter that can stand: itself (a fit voter whose log is
//! at least the candidate's), or another voter its failure detector holds
//! alive. The refusal is bounded, for the case where that voter cannot win (a
//! one-way cut, a log behind): one election timeout from the first refusal
//! since this node last followed a leader; after it, any candidate the usual
//! rules allow gets the vote.

use super::algorithm::AlgoCtx;
use crate::id::NodeId;
use crate::membership::MemberState;
use crate::time::Instant;
use std::time::Duration;

/// Whom a refusal defers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Deferral {
    /// This node: it should stand itself, soon.
    ToMe,
    /// Another voter its failure detector holds alive.
    ToOther,
}

/// The window in which this node defers, while no leader is followed.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Deference {
    /// When deferring stops: set at the first refusal, cleared when a leader
    /// is followed.
    until: Option<Instant>,
}

impl Deference {
    /// A leader is followed (or this node leads): the next loss starts a new
    /// window.
    pub(super) fn reset(&mut self) {
        self.until = None;
    }

    /// Whether a window is open (for state fingerprints, which leave times out).
    pub(super) fn running(&self) -> bool {
        self.until.is_some()
    }

    /// Whether to refuse `candidate`, whose log ends at `tip`, and to whom.
    pub(super) fn defer(
        &mut self,
        cx: &AlgoCtx<'_>,
        voters: &[NodeId],
        candidate: NodeId,
        tip: (u64, u64),
        window: Duration,
    ) -> Option<Deferral> {
        let asker = cx.view.get(candidate)?;
        let theirs = cx.rank_of(&asker.info);
        let me_first =
            voters.contains(&cx.me.id) && !cx.unfit && cx.log_tip >= tip && cx.my_rank() > theirs;
        let to = if me_first {
            Deferral::ToMe
        } else {
            let better = voters.iter().filter_map(|&v| cx.view.get(v)).any(|m| {
                m.info.id != candidate
                    && m.state == MemberState::Alive
                    && cx.rank_of(&m.info) > theirs
            });
            if !better {
                return None;
            }
            Deferral::ToOther
        };
        let until = *self.until.get_or_insert(cx.now + window);
        (cx.now < until).then_some(to)
    }
}
