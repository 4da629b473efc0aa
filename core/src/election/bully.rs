//! Garcia-Molina's bully algorithm.
//!
//! A node that wants a leader sends ELECTION to every live node that outranks it. If
//! none answers OK within the election timeout, it leads: it takes an epoch above any
//! it has seen and sends COORDINATOR to everyone. A node that gets ELECTION from a
//! lower rank answers OK and holds its own election (or, if it already leads,
//! re-sends COORDINATOR to the asker). A node that got OK waits twice the timeout for
//! COORDINATOR, then starts over.

use super::algorithm::{AlgoCtx, ElectionAlgorithm, LeaderLoss};
use super::claim::{outranks_leader, ranked_claim, Verdict};
use crate::config::Config;
use crate::id::{NodeId, NodeInfo};
use crate::leadership::Role;
use crate::membership::MembershipChange;
use crate::time::Instant;
use crate::wire::ElectionMsg;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    /// ELECTION sent to higher ranks; lead if no OK by then.
    AwaitOk(Instant),
    /// OK received; start over if no COORDINATOR by then.
    AwaitCoordinator(Instant),
}

/// State of the bully algorithm.
#[derive(Clone, Debug)]
pub struct Bully {
    timeout: Duration,
    phase: Phase,
}

impl Bully {
    pub(crate) fn new(config: &Config) -> Self {
        Bully {
            timeout: config.election_timeout,
            phase: Phase::Idle,
        }
    }

    fn become_leader(&mut self, cx: &mut AlgoCtx<'_>) {
        self.phase = Phase::Idle;
        let epoch = cx.max_seen.saturating_add(1);
        cx.lead_epoch(epoch);
        cx.broadcast(ElectionMsg::Coordinator { epoch });
    }

    fn handle_verdict(&mut self, cx: &mut AlgoCtx<'_>, verdict: Verdict) {
        match verdict {
            Verdict::Followed => self.phase = Phase::Idle,
            Verdict::Challenge => {
                self.phase = Phase::Idle;
                self.start_election(cx);
            }
            Verdict::Stale | Verdict::Kept => {}
        }
    }
}

impl ElectionAlgorithm for Bully {
    fn boxed_clone(&self) -> Box<dyn ElectionAlgorithm> {
        Box::new(self.clone())
    }

    fn fingerprint(&self, h: &mut dyn std::hash::Hasher) {
        h.write_u8(match self.phase {
            Phase::Idle => 0,
            Phase::AwaitOk(_) => 1,
            Phase::AwaitCoordinator(_) => 2,
        });
    }

    fn start_election(&mut self, cx: &mut AlgoCtx<'_>) {
        if self.phase != Phase::Idle {
            return;
        }
        let higher = cx.higher();
        if higher.is_empty() {
            return self.become_leader(cx);
        }
        let epoch = *cx.max_seen;
        let current = cx.lead.epoch;
        cx.set(Role::Candidate, None, current);
        for to in higher {
            cx.send(to, ElectionMsg::Election { epoch });
        }
        self.phase = Phase::AwaitOk(cx.now + self.timeout);
    }

    fn on_message(&mut self, cx: &mut AlgoCtx<'_>, from: &NodeInfo, msg: &ElectionMsg) {
        match *msg {
            ElectionMsg::Election { epoch } => {
                cx.observe_epoch(epoch);
                if cx.rank_of(from) >= cx.my_rank() {
                    return; // only lower ranks ask us
                }
                let ok = ElectionMsg::Ok {
                    epoch: *cx.max_seen,
                };
                cx.send(from.id, ok);
                if follows_a_higher_leader(cx) {
                    // The asker wrote to our leader too; its COORDINATOR will answer.
                    return;
                }
                if cx.lead.role == Role::Leader {
                    if *cx.max_seen > cx.lead.epoch {
                        // Someone saw a newer epoch than ours: lead again above it, or
                        // our claims would be ignored as stale.
                        self.become_leader(cx);
                    } else {
                        let epoch = cx.lead.epoch;
                        cx.send(from.id, ElectionMsg::Coordinator { epoch });
                    }
                } else {
                    self.start_election(cx);
                }
            }
            ElectionMsg::Ok { epoch } => {
                cx.observe_epoch(epoch);
                if let Phase::AwaitOk(_) = self.phase {
                    self.phase = Phase::AwaitCoordinator(cx.now + self.timeout * 2);
                }
            }
            ElectionMsg::Coordinator { epoch } => {
                let verdict = ranked_claim(cx, from, epoch);
                self.handle_verdict(cx, verdict);
            }
            _ => {}
        }
    }

    fn on_claim(&mut self, cx: &mut AlgoCtx<'_>, from: &NodeInfo, epoch: u64) {
        let verdict = ranked_claim(cx, from, epoch);
        self.handle_verdict(cx, verdict);
    }

    fn on_leader_lost(&mut self, cx: &mut AlgoCtx<'_>, _leader: NodeId, _how: LeaderLoss) {
        self.phase = Phase::Idle;
        self.start_election(cx);
    }

    fn on_member(&mut self, cx: &mut AlgoCtx<'_>, _node: &NodeInfo, change: MembershipChange) {
        // A higher-ranked newcomer holds its own election once it has settled. A
        // member dying while we wait for OK may leave nobody above us: lead now
        // instead of waiting out the timeout for an answer that cannot come.
        let gone = matches!(change, MembershipChange::Died | MembershipChange::Left);
        if gone && matches!(self.phase, Phase::AwaitOk(_)) && cx.higher().is_empty() {
            self.become_leader(cx);
        }
    }

    fn on_tick(&mut self, cx: &mut AlgoCtx<'_>) {
        match self.phase {
            Phase::AwaitOk(at) if cx.now >= at => self.become_leader(cx),
            Phase::AwaitCoordinator(at) if cx.now >= at => {
                self.phase = Phase::Idle;
                self.start_election(cx);
            }
            _ => {}
        }
    }

    fn next_deadline(&self) -> Instant {
        match self.phase {
            Phase::Idle => Instant::MAX,
            Phase::AwaitOk(at) | Phase::AwaitCoordinator(at) => at,
        }
    }

    fn elect_after_settle(&self, cx: &AlgoCtx<'_>) -> bool {
        outranks_leader(cx)
    }
}

/// True when this node follows a live leader that outranks it.
fn follows_a_higher_leader(cx: &AlgoCtx<'_>) -> bool {
    cx.lead.role == Role::Follower
        && cx.lead.leader.is_some_and(|l| {
            cx.view
                .get(l)
                .is_some_and(|m| m.state.is_live() && cx.rank_of(&m.info) > cx.my_rank())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{DefaultHasher, Hasher};

    fn fingerprint(phase: Phase) -> u64 {
        let bully = Bully {
            timeout: Duration::from_secs(1),
            phase,
        };
        let mut h = DefaultHasher::new();
        bully.fingerprint(&mut h);
        h.finish()
    }

    /// The explorer's fingerprint tells the phases apart, not their deadlines.
    #[test]
    fn the_fingerprint_tells_phases_apart_and_leaves_their_deadlines_out() {
        let at = |ms| Instant::from_millis(ms);
        assert_eq!(
            fingerprint(Phase::AwaitOk(at(5))),
            fingerprint(Phase::AwaitOk(at(900)))
        );
        let [idle, ok, coordinator] = [
            fingerprint(Phase::Idle),
            fingerprint(Phase::AwaitOk(at(5))),
            fingerprint(Phase::AwaitCoordinator(at(5))),
        ];
        assert!(idle != ok && ok != coordinator && idle != coordinator);
    }
}
