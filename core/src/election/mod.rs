//! Leader election: one trait, three algorithms chosen by configuration.
//!
//! - [`bully`]: Garcia-Molina's bully algorithm (ELECTION to higher ranks, OK, COORDINATOR).
//! - [`chang_roberts`]: votes travel round the ring; the highest rank wins and is announced round it.
//! - [`quorum`]: terms, vote requests and votes from a majority of a fixed voter set
//!   (Raft's election); the only one that rules out two leaders under partitions.
//!
//! Every leadership carries an epoch (the term under `quorum`). Leaders put their
//! claim, `I lead epoch e`, into every heartbeat, so a lost COORDINATOR or ELECTED
//! message is repaired by the next heartbeat, and two leaders of a healed partition
//! meet within one heartbeat interval. What a node does with a claim is the
//! algorithm's business: under `bully` and `ring` a newer epoch is followed (and
//! challenged if the claimant ranks below this node), a second leader in the same
//! epoch starts a new election; under `quorum` a term at least as new is followed.

pub mod bully;
pub mod chang_roberts;
pub mod quorum;
pub mod rank;

use crate::action::Action;
use crate::config::Config;
use crate::discovery::{Membership, MembershipChange};
use crate::id::{NodeId, NodeInfo};
use crate::persist::Persisted;
use crate::time::Instant;
use crate::wire::Message;
use rand_chacha::ChaCha8Rng;
use rank::{rank_key, RankBy, RankKey};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which election algorithm a cluster runs; every node of a cluster must agree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// Garcia-Molina's bully algorithm.
    #[default]
    Bully,
    /// Chang-Roberts on the logical ring.
    Ring,
    /// Majority votes of a fixed voter set, with terms.
    Quorum,
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bully" => Ok(Algorithm::Bully),
            "ring" => Ok(Algorithm::Ring),
            "quorum" => Ok(Algorithm::Quorum),
            other => Err(format!(
                "unknown election algorithm '{other}' (expected bully, ring or quorum)"
            )),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Bully => "bully",
            Algorithm::Ring => "ring",
            Algorithm::Quorum => "quorum",
        })
    }
}

/// A node's part in leadership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Follows the leader it names, or waits for one.
    Follower,
    /// Taking part in an election it started or joined.
    Candidate,
    /// Leads.
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }
}

/// The election messages of all three algorithms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ElectionMsg {
    /// bully: "I am holding an election", to every higher-ranked node.
    Election {
        /// Highest epoch the sender has seen.
        epoch: u64,
    },
    /// bully: "I outrank you and take over the election".
    Ok {
        /// Highest epoch the sender has seen.
        epoch: u64,
    },
    /// bully: "I am the leader of this epoch", to everyone.
    Coordinator {
        /// The new epoch.
        epoch: u64,
    },
    /// ring: the best candidate so far, travelling to the successor.
    Vote {
        /// The candidate (boxed: rare and large, it would bloat every message).
        candidate: Box<NodeInfo>,
        /// Highest epoch seen along the way.
        epoch: u64,
    },
    /// ring: the winner, announced round the ring.
    Elected {
        /// The new leader (boxed, as the candidate above).
        leader: Box<NodeInfo>,
        /// The new epoch.
        epoch: u64,
    },
    /// quorum: "would you vote for me in this term?", asked before raising the term.
    PreVote {
        /// The term the sender would stand in.
        term: u64,
        /// Epoch of the sender's last log entry.
        last_epoch: u64,
        /// Index of the sender's last log entry.
        last_index: u64,
    },
    /// quorum: the answer to a pre-vote; changes nothing on either side.
    PreVoteReply {
        /// The term asked about.
        term: u64,
        /// Whether the vote would be given.
        granted: bool,
    },
    /// quorum: "your term is behind mine", sent to a leader whose claim is stale so
    /// it steps down and a new election can run above both terms.
    NewerTerm {
        /// The sender's term.
        term: u64,
    },
    /// quorum: "vote for me in this term".
    RequestVote {
        /// The candidate's term.
        term: u64,
        /// Epoch of the candidate's last log entry.
        last_epoch: u64,
        /// Index of the candidate's last log entry.
        last_index: u64,
    },
    /// quorum: the answer to a vote request.
    VoteReply {
        /// The voter's term.
        term: u64,
        /// Whether the vote was given.
        granted: bool,
    },
}

impl ElectionMsg {
    /// A short name, for traces and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            ElectionMsg::Election { .. } => "Election",
            ElectionMsg::Ok { .. } => "Ok",
            ElectionMsg::Coordinator { .. } => "Coordinator",
            ElectionMsg::Vote { .. } => "Vote",
            ElectionMsg::Elected { .. } => "Elected",
            ElectionMsg::PreVote { .. } => "PreVote",
            ElectionMsg::PreVoteReply { .. } => "PreVoteReply",
            ElectionMsg::NewerTerm { .. } => "NewerTerm",
            ElectionMsg::RequestVote { .. } => "RequestVote",
            ElectionMsg::VoteReply { .. } => "VoteReply",
        }
    }
}

impl fmt::Display for ElectionMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElectionMsg::Election { epoch }
            | ElectionMsg::Ok { epoch }
            | ElectionMsg::Coordinator { epoch } => {
                write!(f, "{} e{epoch}", self.kind())
            }
            ElectionMsg::Vote { candidate, epoch } => write!(f, "Vote {} e{epoch}", candidate.id),
            ElectionMsg::Elected { leader, epoch } => write!(f, "Elected {} e{epoch}", leader.id),
            ElectionMsg::PreVote {
                term,
                last_epoch,
                last_index,
            } => write!(f, "PreVote t{term} log {last_index}/e{last_epoch}"),
            ElectionMsg::PreVoteReply { term, granted } => {
                write!(
                    f,
                    "PreVoteReply t{term} {}",
                    if *granted { "yes" } else { "no" }
                )
            }
            ElectionMsg::NewerTerm { term } => write!(f, "NewerTerm t{term}"),
            ElectionMsg::RequestVote {
                term,
                last_epoch,
                last_index,
            } => write!(f, "RequestVote t{term} log {last_index}/e{last_epoch}"),
            ElectionMsg::VoteReply { term, granted } => {
                write!(
                    f,
                    "VoteReply t{term} {}",
                    if *granted { "yes" } else { "no" }
                )
            }
        }
    }
}

/// Who leads, as far as this node knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leadership {
    /// This node's role.
    pub role: Role,
    /// The leader it names, if any.
    pub leader: Option<NodeId>,
    /// The epoch of that leadership (the current term under `quorum`).
    pub epoch: u64,
    /// When this view of leadership began, on this node's clock.
    pub since: Instant,
}

/// What an algorithm may use and do while handling one input.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub me: NodeInfo,
    pub view: &'a Membership,
    pub rank: RankBy,
    pub algorithm: Algorithm,
    pub rng: &'a mut ChaCha8Rng,
    pub out: &'a mut Vec<Action>,
    pub lead: &'a mut Leadership,
    pub persisted: &'a mut Persisted,
    /// Highest epoch seen anywhere.
    pub max_seen: &'a mut u64,
    /// The node is still in its settle period: it follows, but does not challenge.
    pub settling: bool,
    /// (epoch, index) of the last entry of this node's log.
    pub log_tip: (u64, u64),
}

impl Ctx<'_> {
    pub fn rank_of(&self, node: &NodeInfo) -> RankKey {
        rank_key(self.rank, node)
    }

    pub fn my_rank(&self) -> RankKey {
        rank_key(self.rank, &self.me)
    }

    pub fn observe_epoch(&mut self, epoch: u64) {
        *self.max_seen = (*self.max_seen).max(epoch);
    }

    pub fn send(&mut self, to: NodeId, msg: ElectionMsg) {
        self.out.push(Action::Send {
            to,
            msg: Message::Election {
                from: self.me,
                algorithm: self.algorithm,
                msg,
            },
        });
    }

    /// Sends to every member not known to be gone.
    pub fn broadcast(&mut self, msg: ElectionMsg) {
        let view = self.view; // a shared borrow of its own, so sending can borrow self
        for m in view.live() {
            self.send(m.info.id, msg.clone());
        }
    }

    /// Changes the leadership view, reporting the change if there is one.
    pub fn set(&mut self, role: Role, leader: Option<NodeId>, epoch: u64) {
        self.observe_epoch(epoch);
        let old = *self.lead;
        if (old.role, old.leader, old.epoch) == (role, leader, epoch) {
            return;
        }
        *self.lead = Leadership {
            role,
            leader,
            epoch,
            since: self.now,
        };
        self.out.push(Action::RoleChanged {
            old: old.role,
            new: role,
            leader,
            epoch,
        });
    }

    pub fn follow(&mut self, leader: NodeId, epoch: u64) {
        self.set(Role::Follower, Some(leader), epoch);
    }

    pub fn lead_epoch(&mut self, epoch: u64) {
        let me = self.me.id;
        self.set(Role::Leader, Some(me), epoch);
    }

    pub fn persist(&mut self) {
        self.out.push(Action::Persist(*self.persisted));
    }

    /// Live members that outrank this node.
    pub fn higher(&self) -> Vec<NodeId> {
        let mine = self.my_rank();
        self.view
            .live()
            .filter(|m| rank_key(self.rank, &m.info) > mine)
            .map(|m| m.info.id)
            .collect()
    }
}

/// What a `bully` or `ring` node makes of a leadership claim.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Followed, or already followed.
    Followed,
    /// Followed, but this node outranks the claimant: challenge it.
    Challenge,
    /// Two leaders in one epoch: elect again.
    Conflict,
    /// An older epoch: ignored.
    Stale,
}

/// The shared claim rule of `bully` and `ring`.
pub(crate) fn ranked_claim(cx: &mut Ctx<'_>, from: &NodeInfo, epoch: u64) -> Verdict {
    cx.observe_epoch(epoch);
    if epoch < cx.lead.epoch {
        return Verdict::Stale;
    }
    if epoch == cx.lead.epoch && cx.lead.leader.is_some() && cx.lead.leader != Some(from.id) {
        return Verdict::Conflict;
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

/// One election algorithm. Each input may send messages and change the leadership
/// view through the context; deadlines are reported, never slept on.
pub(crate) trait ElectionAlgorithm: fmt::Debug {
    /// The node started.
    fn on_start(&mut self, _cx: &mut Ctx<'_>) {}
    /// Runs (or joins) an election now.
    fn start_election(&mut self, cx: &mut Ctx<'_>);
    /// An election message from a peer running the same algorithm.
    fn on_message(&mut self, cx: &mut Ctx<'_>, from: &NodeInfo, msg: &ElectionMsg);
    /// A peer's heartbeat says it leads `epoch`.
    fn on_claim(&mut self, cx: &mut Ctx<'_>, from: &NodeInfo, epoch: u64);
    /// The leader this node followed died or left.
    fn on_leader_lost(&mut self, cx: &mut Ctx<'_>);
    /// Some other member changed.
    fn on_member(&mut self, cx: &mut Ctx<'_>, node: &NodeInfo, change: MembershipChange);
    /// Time has passed.
    fn on_tick(&mut self, cx: &mut Ctx<'_>);
    /// When `on_tick` next has work.
    fn next_deadline(&self) -> Instant;
    /// Whether the settle period should end with an election (no leader, or, under
    /// rank-based algorithms, one this node outranks).
    fn elect_after_settle(&self, cx: &Ctx<'_>) -> bool;
}

/// The election part of a node: the chosen algorithm and the leadership view.
#[derive(Debug)]
pub(crate) struct Election {
    algorithm: Algorithm,
    rank: RankBy,
    settle: std::time::Duration,
    settle_until: Instant,
    lead: Leadership,
    max_seen: u64,
    algo: Box<dyn ElectionAlgorithm>,
    foreign_reported: bool,
}

/// Everything the election part needs from its node for one input.
pub(crate) struct Parts<'a> {
    pub now: Instant,
    pub me: NodeInfo,
    pub view: &'a Membership,
    pub rng: &'a mut ChaCha8Rng,
    pub out: &'a mut Vec<Action>,
    pub persisted: &'a mut Persisted,
    /// (epoch, index) of the last entry of this node's log.
    pub log_tip: (u64, u64),
}

impl Election {
    pub(crate) fn new(config: &Config, now: Instant, persisted: &Persisted) -> Self {
        let algo: Box<dyn ElectionAlgorithm> = match config.election {
            Algorithm::Bully => Box::new(bully::Bully::new(config)),
            Algorithm::Ring => Box::new(chang_roberts::ChangRoberts::new(config)),
            Algorithm::Quorum => Box::new(quorum::Quorum::new(config)),
        };
        Election {
            algorithm: config.election,
            rank: config.rank,
            settle: config.settle,
            settle_until: Instant::MAX,
            lead: Leadership {
                role: Role::Follower,
                leader: None,
                epoch: if config.election == Algorithm::Quorum {
                    persisted.term
                } else {
                    0
                },
                since: now,
            },
            max_seen: persisted.term,
            algo,
            foreign_reported: false,
        }
    }

    fn with<R>(
        &mut self,
        p: Parts<'_>,
        f: impl FnOnce(&mut dyn ElectionAlgorithm, &mut Ctx<'_>) -> R,
    ) -> R {
        let settling = self.settling();
        let mut cx = Ctx {
            now: p.now,
            me: p.me,
            view: p.view,
            rank: self.rank,
            algorithm: self.algorithm,
            rng: p.rng,
            out: p.out,
            lead: &mut self.lead,
            persisted: p.persisted,
            max_seen: &mut self.max_seen,
            settling,
            log_tip: p.log_tip,
        };
        f(self.algo.as_mut(), &mut cx)
    }

    pub(crate) fn leadership(&self) -> Leadership {
        self.lead
    }

    /// `Some(epoch)` while this node leads: the claim its heartbeats carry.
    pub(crate) fn claim(&self) -> Option<u64> {
        (self.lead.role == Role::Leader).then_some(self.lead.epoch)
    }

    pub(crate) fn start(&mut self, p: Parts<'_>) {
        self.settle_until = p.now + self.settle;
        self.with(p, |algo, cx| algo.on_start(cx));
    }

    pub(crate) fn next_deadline(&self) -> Instant {
        self.settle_until.min(self.algo.next_deadline())
    }

    fn settling(&self) -> bool {
        self.settle_until != Instant::MAX
    }

    pub(crate) fn tick(&mut self, p: Parts<'_>) {
        let settle_over = self.settling() && p.now >= self.settle_until;
        if settle_over {
            self.settle_until = Instant::MAX;
        }
        self.with(p, |algo, cx| {
            if settle_over && algo.elect_after_settle(cx) {
                algo.start_election(cx);
            }
            algo.on_tick(cx);
        });
    }

    pub(crate) fn on_message(
        &mut self,
        p: Parts<'_>,
        from: &NodeInfo,
        algorithm: Algorithm,
        msg: &ElectionMsg,
    ) {
        if algorithm != self.algorithm {
            if !self.foreign_reported {
                self.foreign_reported = true;
                tracing::warn!(peer = %from.id, theirs = %algorithm, ours = %self.algorithm,
                    "ignoring a peer configured with another election algorithm");
            }
            return;
        }
        self.with(p, |algo, cx| algo.on_message(cx, from, msg));
    }

    /// The leader this node follows sent a heartbeat without a claim: it no longer leads.
    pub(crate) fn on_unclaimed_heartbeat(&mut self, p: Parts<'_>, from: &NodeInfo) {
        if self.lead.leader != Some(from.id) || from.id == p.me.id {
            return;
        }
        self.with(p, drop_leader);
    }

    /// `bully`/`ring`: this node leads an epoch that another leader already used
    /// (they never heard of each other). Entries are known by (index, epoch), so
    /// one epoch must have one leader: give it up and elect again above `epoch`.
    pub(crate) fn supersede(&mut self, p: Parts<'_>, epoch: u64) {
        if self.algorithm == Algorithm::Quorum {
            return; // terms are unique by the vote
        }
        self.with(p, |algo, cx| {
            cx.observe_epoch(epoch);
            let current = cx.lead.epoch;
            cx.set(Role::Follower, None, current);
            algo.start_election(cx);
        });
    }

    pub(crate) fn on_claim(&mut self, p: Parts<'_>, from: &NodeInfo, epoch: u64) {
        self.with(p, |algo, cx| algo.on_claim(cx, from, epoch));
    }

    pub(crate) fn on_member(&mut self, p: Parts<'_>, node: &NodeInfo, change: MembershipChange) {
        // A leader that restarted (a new life) no longer leads, even if nobody saw it die.
        let lost = matches!(
            change,
            MembershipChange::Died | MembershipChange::Left | MembershipChange::Rejoined
        ) && self.lead.leader == Some(node.id)
            && node.id != p.me.id;
        self.with(p, |algo, cx| {
            if lost {
                drop_leader(algo, cx);
            } else {
                algo.on_member(cx, node, change);
            }
        });
    }
}

/// The leader this node followed is gone: name none, and let the algorithm react.
fn drop_leader(algo: &mut dyn ElectionAlgorithm, cx: &mut Ctx<'_>) {
    let epoch = cx.lead.epoch;
    cx.set(Role::Follower, None, epoch);
    algo.on_leader_lost(cx);
}

#[cfg(test)]
mod tests;
