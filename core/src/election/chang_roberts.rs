//! Chang-Roberts election on the logical ring.
//!
//! An initiator sends its own candidacy to its successor. A node forwards a vote for
//! a candidate that outranks it; a vote for a lower candidate is replaced by its own
//! if it has not voted yet, and dropped if it has (so of concurrent initiators only
//! the best vote survives). A vote that comes back to its candidate has passed every
//! node: the candidate leads, takes an epoch above any seen on the way, and sends
//! ELECTED round the ring. Successors come from the live view, so a dead node is
//! skipped; a vote lost with a node that dies mid-election is re-sent to the new
//! successor, and an election not finished within the timeout starts over.

use super::algorithm::{AlgoCtx, ElectionAlgorithm, LeaderLoss};
use super::claim::{outranks_leader, ranked_claim, Verdict};
use crate::config::Config;
use crate::id::{NodeId, NodeInfo};
use crate::leadership::Role;
use crate::membership::MembershipChange;
use crate::ring::Ring;
use crate::time::Instant;
use crate::wire::ElectionMsg;
use std::collections::BTreeSet;
use std::time::Duration;

/// State of the Chang-Roberts algorithm.
#[derive(Clone, Debug)]
pub struct ChangRoberts {
    timeout: Duration,
    /// Taking part in an election; start over if it has not finished by then.
    participant_until: Option<Instant>,
    /// The last ring message this node passed on, and to whom, for re-sending.
    forwarded: Option<(NodeId, ElectionMsg)>,
    /// Candidates whose votes this node passed on in the current election: a vote that
    /// comes round a second time has not found its candidate on the ring, and is dropped.
    passed: BTreeSet<NodeId>,
}

impl ChangRoberts {
    pub(crate) fn new(config: &Config) -> Self {
        ChangRoberts {
            timeout: config.election_timeout,
            participant_until: None,
            forwarded: None,
            passed: BTreeSet::new(),
        }
    }

    /// Sends `msg` to the live successor, remembering it for a re-send should that
    /// successor die; false when this node is alone on the ring.
    fn pass_on(&mut self, cx: &mut AlgoCtx<'_>, msg: ElectionMsg) -> bool {
        match successor(cx) {
            Some(next) => {
                self.send_to(cx, next.id, msg);
                true
            }
            None => false,
        }
    }

    fn send_to(&mut self, cx: &mut AlgoCtx<'_>, to: NodeId, msg: ElectionMsg) {
        cx.send(to, msg.clone());
        self.forwarded = Some((to, msg));
    }

    fn win(&mut self, cx: &mut AlgoCtx<'_>) {
        self.participant_until = None;
        let epoch = cx.max_seen.saturating_add(1);
        cx.lead_epoch(epoch);
        let me = cx.me;
        if !self.pass_on(
            cx,
            ElectionMsg::Elected {
                leader: Box::new(me),
                epoch,
            },
        ) {
            self.forwarded = None;
        }
    }

    fn join(&mut self, cx: &mut AlgoCtx<'_>) {
        // The timeout bounds the whole election, so it is set once, on joining: an
        // election whose vote was lost must end even while other votes keep coming.
        if self.participant_until.is_none() {
            self.passed.clear();
            self.participant_until = Some(cx.now + self.timeout);
        }
        if cx.lead.role != Role::Leader {
            let epoch = cx.lead.epoch;
            cx.set(Role::Candidate, None, epoch);
        }
    }

    fn handle_verdict(&mut self, cx: &mut AlgoCtx<'_>, verdict: Verdict) -> bool {
        match verdict {
            Verdict::Followed => {
                self.participant_until = None;
                true
            }
            Verdict::Challenge => {
                self.participant_until = None;
                self.start_election(cx);
                false
            }
            Verdict::Stale | Verdict::Kept => false,
        }
    }
}

impl ElectionAlgorithm for ChangRoberts {
    fn boxed_clone(&self) -> Box<dyn ElectionAlgorithm> {
        Box::new(self.clone())
    }

    fn fingerprint(&self, mut h: &mut dyn std::hash::Hasher) {
        use std::hash::Hash;
        self.participant_until.is_some().hash(&mut h);
        self.forwarded.hash(&mut h);
        self.passed.hash(&mut h);
    }

    fn start_election(&mut self, cx: &mut AlgoCtx<'_>) {
        if self.participant_until.is_some() {
            return;
        }
        self.join(cx);
        let vote = own_vote(cx);
        if !self.pass_on(cx, vote) {
            self.win(cx); // alone on the ring
        }
    }

    fn on_message(&mut self, cx: &mut AlgoCtx<'_>, _from: &NodeInfo, msg: &ElectionMsg) {
        match msg {
            ElectionMsg::Vote { candidate, epoch } => {
                if *epoch < cx.lead.epoch && cx.lead.leader.is_some() {
                    // A vote of an election that ended: its winner took an
                    // epoch above it, and this node follows (or is) a leader
                    // of that epoch or later. Passing it on would start the
                    // election again and re-elect the same leader a term later.
                    return;
                }
                cx.observe_epoch(*epoch);
                let epoch = *cx.max_seen;
                if candidate.id == cx.me.id {
                    self.win(cx);
                } else if cx.rank_of(candidate) > cx.my_rank() && on_ring(cx, candidate) {
                    self.join(cx);
                    if self.passed.insert(candidate.id) {
                        let vote = ElectionMsg::Vote {
                            candidate: candidate.clone(),
                            epoch,
                        };
                        self.pass_on(cx, vote);
                    }
                } else if self.participant_until.is_none() {
                    self.join(cx);
                    let vote = own_vote(cx);
                    self.pass_on(cx, vote);
                }
            }
            ElectionMsg::Elected { leader, epoch } => {
                if leader.id == cx.me.id {
                    // Back round the ring: everyone has heard.
                    self.forwarded = None;
                    return;
                }
                let verdict = ranked_claim(cx, leader, *epoch);
                if self.handle_verdict(cx, verdict) {
                    // The announcement stops before it reaches the leader again.
                    if let Some(next) = successor(cx).filter(|n| n.id != leader.id) {
                        self.send_to(cx, next.id, msg.clone());
                    }
                }
            }
            _ => {}
        }
    }

    fn on_claim(&mut self, cx: &mut AlgoCtx<'_>, from: &NodeInfo, epoch: u64) {
        if self.participant_until.is_some() && epoch <= cx.lead.epoch {
            // The leader this election replaces still heartbeats: only a newer
            // epoch ends the election; ELECTED will bring it.
            return;
        }
        let verdict = ranked_claim(cx, from, epoch);
        self.handle_verdict(cx, verdict);
    }

    fn on_leader_lost(&mut self, cx: &mut AlgoCtx<'_>, _leader: NodeId, _how: LeaderLoss) {
        self.participant_until = None;
        self.start_election(cx);
    }

    fn on_member(&mut self, cx: &mut AlgoCtx<'_>, node: &NodeInfo, change: MembershipChange) {
        let gone = matches!(change, MembershipChange::Died | MembershipChange::Left);
        if !gone || self.participant_until.is_none() {
            return;
        }
        if let Some((to, msg)) = self.forwarded.clone() {
            if to == node.id {
                self.pass_on(cx, msg);
            }
        }
    }

    fn on_tick(&mut self, cx: &mut AlgoCtx<'_>) {
        if self.participant_until.is_some_and(|at| cx.now >= at) {
            self.participant_until = None;
            self.forwarded = None;
            self.start_election(cx);
        }
    }

    fn next_deadline(&self) -> Instant {
        self.participant_until.unwrap_or(Instant::MAX)
    }

    fn elect_after_settle(&self, cx: &AlgoCtx<'_>) -> bool {
        outranks_leader(cx)
    }
}

/// Whether `candidate` is alive, in that life, in this node's view; a vote for a dead
/// candidate is treated like a vote for a lower one.
fn on_ring(cx: &AlgoCtx<'_>, candidate: &NodeInfo) -> bool {
    cx.view
        .get(candidate.id)
        .is_some_and(|m| m.state.is_live() && m.info.incarnation == candidate.incarnation)
}

/// This node's live successor on the ring, if it is not alone.
fn successor(cx: &AlgoCtx<'_>) -> Option<NodeInfo> {
    Ring::new(&cx.me, cx.view, cx.rank).successor(cx.me.id)
}

/// This node's own candidacy, carrying the highest epoch it has seen.
fn own_vote(cx: &AlgoCtx<'_>) -> ElectionMsg {
    ElectionMsg::Vote {
        candidate: Box::new(cx.me),
        epoch: *cx.max_seen,
    }
}
