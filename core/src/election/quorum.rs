//! Majority election with terms (Raft's election, with its up-to-date rule).
//!
//! A voter that hears no leader for a randomized election timeout (between one and
//! two timeouts, from the node's seeded rng) starts a new term, votes for itself and
//! asks the other voters. A voter grants at most one vote per term; the term and the
//! vote are persisted (an [`Action::Persist`](crate::Action::Persist) emitted before
//! the reply) so a restart cannot vote twice. A candidate with a majority of the fixed
//! voter set leads that term; any node that sees a newer term follows it.
//!
//! Three refinements keep a healthy cluster stable and failover fast:
//! - pre-vote (as in etcd): before raising its term a voter asks whether the others
//!   would vote for it; they say no while they believe in a live leader, and nobody
//!   changes state either way. A node cut off in a minority, or one rejoining a
//!   healthy cluster, therefore never inflates its term, and on return it simply
//!   follows the leader's claim instead of deposing it;
//! - a follower that heard from its leader within the election timeout refuses to
//!   vote for anyone else (a node returning from a partition with a high term cannot
//!   depose a healthy leader), but drops that lease the moment its failure detector
//!   declares the leader dead or gone, so the first election after a crash is not
//!   refused by voters still holding a lease;
//! - a leader steps down once its failure detector no longer sees a majority of the
//!   voters, which happens within one failure timeout of losing them.

use super::algorithm::{AlgoCtx, ElectionAlgorithm};
use crate::config::Config;
use crate::id::{NodeId, NodeInfo};
use crate::leadership::Role;
use crate::membership::MembershipChange;
use crate::time::Instant;
use crate::wire::ElectionMsg;
use rand::Rng;
use std::collections::BTreeSet;
use std::time::Duration;

/// State of the quorum algorithm.
#[derive(Debug)]
pub struct Quorum {
    voters: Vec<NodeId>,
    timeout: Duration,
    votes: BTreeSet<NodeId>,
    /// Pre-votes gathered for the next term, while asking.
    prevotes: Option<BTreeSet<NodeId>>,
    election_at: Instant,
    lease_until: Instant,
    /// Whether the last candidacy found too few voters reachable (logged once).
    short_of_quorum: bool,
}

impl Quorum {
    pub(crate) fn new(config: &Config) -> Self {
        let mut voters = config.voters.clone();
        voters.sort();
        voters.dedup();
        Quorum {
            voters,
            timeout: config.election_timeout,
            votes: BTreeSet::new(),
            prevotes: None,
            election_at: Instant::MAX,
            lease_until: Instant::ZERO,
            short_of_quorum: false,
        }
    }

    fn majority(&self) -> usize {
        crate::leadership::majority(self.voters.len())
    }

    fn is_voter(&self, id: NodeId) -> bool {
        self.voters.binary_search(&id).is_ok()
    }

    fn reset_timer(&mut self, cx: &mut AlgoCtx<'_>) {
        let spread = self.timeout.as_micros() as u64;
        let jitter = cx.rng.random_range(0..=spread);
        self.election_at = cx.now + self.timeout + Duration::from_micros(jitter);
    }

    /// Voters this node can currently reach, itself included.
    fn reachable_voters(&self, cx: &AlgoCtx<'_>) -> usize {
        self.voters
            .iter()
            .filter(|&&v| v == cx.me.id || cx.view.get(v).is_some_and(|m| m.state.is_live()))
            .count()
    }

    /// Adopts a newer term: no vote in it yet, no leader known.
    fn adopt_term(&mut self, cx: &mut AlgoCtx<'_>, term: u64) {
        if term > cx.persisted.term {
            cx.persisted.term = term;
            cx.persisted.voted_for = None;
            cx.persist();
            cx.set(Role::Follower, None, term);
            if self.election_at == Instant::MAX {
                self.reset_timer(cx); // stepped down from leading
            }
        }
    }

    /// Stands for election in the next term, after a majority said it would vote.
    fn campaign(&mut self, cx: &mut AlgoCtx<'_>) {
        self.prevotes = None;
        let term = next_term(cx);
        cx.persisted.term = term;
        cx.persisted.voted_for = Some(cx.me.id);
        // Persist before asking: the request is a promise about this term's vote.
        cx.persist();
        cx.set(Role::Candidate, None, term);
        self.votes.clear();
        self.votes.insert(cx.me.id);
        if self.votes.len() >= self.majority() {
            return self.become_leader(cx);
        }
        let (last_epoch, last_index) = cx.log_tip;
        self.ask_voters(
            cx,
            ElectionMsg::RequestVote {
                term,
                last_epoch,
                last_index,
            },
        );
    }

    /// Sends `msg` to every other voter.
    fn ask_voters(&self, cx: &mut AlgoCtx<'_>, msg: ElectionMsg) {
        let me = cx.me.id;
        for &v in self.voters.iter().filter(|&&v| v != me) {
            cx.send(v, msg.clone());
        }
    }

    /// Whether this node currently believes in a live leader other than `asker`.
    fn has_other_leader(&self, cx: &AlgoCtx<'_>, asker: NodeId) -> bool {
        if cx.lead.role == Role::Leader {
            return self.reachable_voters(cx) >= self.majority();
        }
        cx.now < self.lease_until && cx.lead.leader.is_some_and(|l| l != asker)
    }

    fn become_leader(&mut self, cx: &mut AlgoCtx<'_>) {
        let term = cx.persisted.term;
        self.votes.clear();
        self.election_at = Instant::MAX; // a leader waits for no election
        cx.lead_epoch(term);
    }

    fn check_quorum(&mut self, cx: &mut AlgoCtx<'_>) {
        if cx.lead.role == Role::Leader && self.reachable_voters(cx) < self.majority() {
            tracing::warn!(
                term = cx.persisted.term,
                reachable = self.reachable_voters(cx),
                voters = self.voters.len(),
                "stepping down: a majority of voters is unreachable"
            );
            let term = cx.persisted.term;
            cx.set(Role::Follower, None, term);
            self.reset_timer(cx);
        }
    }
}

impl ElectionAlgorithm for Quorum {
    fn on_start(&mut self, cx: &mut AlgoCtx<'_>) {
        self.reset_timer(cx);
    }

    fn start_election(&mut self, cx: &mut AlgoCtx<'_>) {
        self.reset_timer(cx);
        if !self.is_voter(cx.me.id) || cx.lead.role == Role::Leader {
            return;
        }
        let reachable = self.reachable_voters(cx);
        let short = reachable < self.majority();
        if short && !self.short_of_quorum {
            tracing::warn!(
                reachable,
                voters = self.voters.len(),
                needed = self.majority(),
                "cannot become leader: too few voters reachable for a majority"
            );
        }
        self.short_of_quorum = short;
        // Pre-vote: ask before raising the term, so a node that cannot win (cut off,
        // or facing a healthy leader) leaves everyone's term alone.
        let term = next_term(cx);
        self.prevotes = Some(BTreeSet::from([cx.me.id]));
        if self.majority() <= 1 {
            return self.campaign(cx);
        }
        let (last_epoch, last_index) = cx.log_tip;
        self.ask_voters(
            cx,
            ElectionMsg::PreVote {
                term,
                last_epoch,
                last_index,
            },
        );
    }

    fn on_message(&mut self, cx: &mut AlgoCtx<'_>, from: &NodeInfo, msg: &ElectionMsg) {
        match *msg {
            ElectionMsg::PreVote {
                term,
                last_epoch,
                last_index,
            } => {
                let granted = term > cx.persisted.term
                    && (last_epoch, last_index) >= cx.log_tip
                    && self.is_voter(from.id)
                    && !self.has_other_leader(cx, from.id);
                cx.send(from.id, ElectionMsg::PreVoteReply { term, granted });
            }
            ElectionMsg::PreVoteReply { term, granted } => {
                let asked = next_term(cx);
                let voter = self.is_voter(from.id);
                let Some(prevotes) = self.prevotes.as_mut() else {
                    return;
                };
                if granted && term == asked && voter {
                    prevotes.insert(from.id);
                    if prevotes.len() >= self.majority() {
                        self.campaign(cx);
                    }
                }
            }
            ElectionMsg::NewerTerm { term } => self.adopt_term(cx, term),
            ElectionMsg::RequestVote {
                term,
                last_epoch,
                last_index,
            } => {
                if self.has_other_leader(cx, from.id) {
                    let mine = cx.persisted.term;
                    let reply = ElectionMsg::VoteReply {
                        term: mine,
                        granted: false,
                    };
                    cx.send(from.id, reply);
                    return;
                }
                self.adopt_term(cx, term);
                let mine = cx.persisted.term;
                let free = cx.persisted.voted_for.is_none_or(|v| v == from.id);
                // Raft's up-to-date rule: a candidate whose log is behind this
                // voter's could lack committed entries, so it gets no vote.
                let up_to_date = (last_epoch, last_index) >= cx.log_tip;
                let granted = term == mine && free && up_to_date && self.is_voter(from.id);
                if granted && cx.persisted.voted_for != Some(from.id) {
                    cx.persisted.voted_for = Some(from.id);
                    cx.persist(); // before the reply that depends on it
                }
                if granted {
                    self.reset_timer(cx);
                }
                cx.send(
                    from.id,
                    ElectionMsg::VoteReply {
                        term: mine,
                        granted,
                    },
                );
            }
            ElectionMsg::VoteReply { term, granted } => {
                self.adopt_term(cx, term);
                if cx.lead.role == Role::Candidate
                    && term == cx.persisted.term
                    && granted
                    && self.is_voter(from.id)
                {
                    self.votes.insert(from.id);
                    if self.votes.len() >= self.majority() {
                        self.become_leader(cx);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_claim(&mut self, cx: &mut AlgoCtx<'_>, from: &NodeInfo, term: u64) {
        if term < cx.persisted.term {
            // This node moved past the leader's term (a lost election) and cannot
            // follow it; a leader that keeps its majority would never learn that,
            // so tell it: it steps down and the next election runs above both.
            let mine = cx.persisted.term;
            cx.send(from.id, ElectionMsg::NewerTerm { term: mine });
            return;
        }
        self.adopt_term(cx, term);
        if cx.lead.role == Role::Leader && cx.lead.leader != Some(from.id) {
            // Two leaders in one term would mean a broken vote count; never follow.
            tracing::error!(term, other = %from.id, "another leader claims this node's term");
            return;
        }
        cx.follow(from.id, term);
        self.prevotes = None;
        self.lease_until = cx.now + self.timeout;
        self.reset_timer(cx);
    }

    fn on_leader_lost(&mut self, cx: &mut AlgoCtx<'_>) {
        // The failure detector has spoken: no lease. The survivors stand one after
        // the other, highest id first, a slot of an eighth of the timeout apart (plus
        // a little jitter): standing all at once would split the vote, and a split
        // costs a whole randomized timeout. A slot is far longer than a vote's round
        // trip, so the first candidate has its votes before the second would stand.
        self.lease_until = Instant::ZERO;
        let slot = self.timeout.as_micros() as u64 / 8;
        let ahead = self
            .voters
            .iter()
            .filter(|&&v| v > cx.me.id && cx.view.get(v).is_some_and(|m| m.state.is_live()))
            .count() as u64;
        let jitter = cx.rng.random_range(0..=slot / 2);
        let wait = Duration::from_micros(ahead * slot + jitter);
        self.election_at = self.election_at.min(cx.now + wait);
    }

    fn on_member(&mut self, cx: &mut AlgoCtx<'_>, _node: &NodeInfo, change: MembershipChange) {
        if matches!(change, MembershipChange::Died | MembershipChange::Left) {
            self.check_quorum(cx);
        }
    }

    fn on_tick(&mut self, cx: &mut AlgoCtx<'_>) {
        self.check_quorum(cx);
        if cx.lead.role != Role::Leader && cx.now >= self.election_at {
            self.start_election(cx);
        }
    }

    fn next_deadline(&self) -> Instant {
        self.election_at
    }

    fn elect_after_settle(&self, _cx: &AlgoCtx<'_>) -> bool {
        false // the randomized election timer decides
    }
}

/// The term a candidate stands in: above the persisted term and above the epoch of
/// its last log entry (a log restored without its term must not reuse an epoch).
fn next_term(cx: &AlgoCtx<'_>) -> u64 {
    cx.persisted.term.max(cx.log_tip.0) + 1
}
