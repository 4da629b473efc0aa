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
//! challenged if the claimant ranks below this node); of two leaders in the same
//! epoch (they have not heard of each other yet) the higher-ranked is followed,
//! without an election, which both would answer with their claim; under `quorum`
//! a term at least as new is followed.

mod algorithm;
mod bully;
mod chang_roberts;
mod claim;
mod deference;
mod lease;
mod quorum;

use crate::config::Config;
use crate::context::Ctx;
use crate::id::{NodeId, NodeInfo};
use crate::leadership::{Algorithm, Leadership, Role};
use crate::membership::MembershipChange;
use crate::persist::Persisted;
use crate::rank::RankBy;
use crate::time::Instant;
use crate::wire::ElectionMsg;
use algorithm::{AlgoCtx, ElectionAlgorithm, LeaderLoss};

/// The election part of a node: the chosen algorithm and the leadership view.
#[derive(Clone, Debug)]
pub(crate) struct Election {
    algorithm: Algorithm,
    rank: RankBy,
    settle_until: Instant,
    /// How long a node settles when it starts: `settle`, but at least one
    /// announce interval for a node that lived before under bully and ring.
    settle: std::time::Duration,
    lead: Leadership,
    max_seen: u64,
    algo: Box<dyn ElectionAlgorithm>,
    /// The algorithm's next deadline and lease end, as of the last call
    /// that could change them (every one goes through `with`): asked after
    /// every step, they cost no call into the algorithm there.
    algo_times: (Instant, Option<Instant>),
    foreign_reported: bool,
    heartbeat_interval: std::time::Duration,
    /// Term, vote and start count: what must survive a restart.
    persisted: Persisted,
}

impl Election {
    pub(crate) fn new(config: &Config, now: Instant, persisted: Persisted) -> Self {
        let algo: Box<dyn ElectionAlgorithm> = match config.election {
            Algorithm::Bully => Box::new(bully::Bully::new(config)),
            Algorithm::Ring => Box::new(chang_roberts::ChangRoberts::new(config)),
            Algorithm::Quorum => Box::new(quorum::Quorum::new(config)),
        };
        Election {
            algorithm: config.election,
            rank: config.rank,
            settle_until: Instant::MAX,
            // A node back from a crash may find a leader in place whose answer
            // to its probe was lost (or whose link to it is still backing
            // off): leading after a 300 ms settle, it committed its own marker
            // over that leader's history. By the end of one announce interval
            // every live member has announced itself.
            settle: if persisted.starts > 1 && config.election != Algorithm::Quorum {
                config.settle.max(config.announce_interval)
            } else {
                config.settle
            },
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
            algo_times: (algo.next_deadline(), algo.lease_end()),
            algo,
            foreign_reported: false,
            heartbeat_interval: config.heartbeat_interval,
            persisted,
        }
    }

    fn with<R>(
        &mut self,
        cx: &mut Ctx<'_>,
        f: impl FnOnce(&mut dyn ElectionAlgorithm, &mut AlgoCtx<'_>) -> R,
    ) -> R {
        let settling = self.settling();
        let mut acx = AlgoCtx {
            now: cx.now,
            me: cx.me,
            view: cx.view,
            rank: self.rank,
            algorithm: self.algorithm,
            rng: &mut *cx.rng,
            out: &mut *cx.out,
            lead: &mut self.lead,
            persisted: &mut self.persisted,
            max_seen: &mut self.max_seen,
            settling,
            log_tip: cx.log_tip,
            journal: &mut *cx.journal,
            unfit: cx.unfit,
        };
        let result = f(self.algo.as_mut(), &mut acx);
        self.algo_times = (self.algo.next_deadline(), self.algo.lease_end());
        result
    }

    /// Hashes what decides the election's next moves beyond the node's
    /// public view, leaving out times (see [`crate::Node::fingerprint`]).
    pub(crate) fn fingerprint(&self, mut h: &mut dyn std::hash::Hasher) {
        use std::hash::Hash;
        self.max_seen.hash(&mut h);
        self.foreign_reported.hash(&mut h);
        self.algo.fingerprint(h);
    }

    pub(crate) fn leadership(&self) -> Leadership {
        self.lead
    }

    /// The highest epoch (term) this node has seen anywhere.
    pub(crate) fn highest_epoch(&self) -> u64 {
        self.max_seen // every epoch the node took on went through `observe_epoch`
    }

    /// Term, vote and start count as last persisted (or asked to be).
    pub(crate) fn persisted(&self) -> Persisted {
        self.persisted
    }

    /// While this node leads under a lease (`quorum`): when the lease runs out.
    pub(crate) fn lease_end(&self) -> Option<Instant> {
        debug_assert_eq!(self.algo_times.1, self.algo.lease_end(), "stale lease end");
        self.algo_times.1.filter(|_| self.lead.role == Role::Leader)
    }

    /// Whether this node leads under a lease that has run out by `now`: it must
    /// step down before it handles anything else.
    pub(crate) fn lease_lapsed(&self, now: Instant) -> bool {
        self.lease_end().is_some_and(|end| now >= end)
    }

    /// `Some(epoch)` while this node leads: the claim its heartbeats carry.
    pub(crate) fn claim(&self) -> Option<u64> {
        (self.lead.role == Role::Leader).then_some(self.lead.epoch)
    }

    pub(crate) fn start(&mut self, cx: &mut Ctx<'_>) {
        self.settle_until = cx.now + self.settle;
        self.with(cx, |algo, cx| algo.on_start(cx));
    }

    pub(crate) fn next_deadline(&self) -> Instant {
        debug_assert_eq!(
            self.algo_times.0,
            self.algo.next_deadline(),
            "stale deadline"
        );
        self.settle_until.min(self.algo_times.0)
    }

    fn settling(&self) -> bool {
        self.settle_until != Instant::MAX
    }

    /// The disk stalled: give up leading or standing.
    pub(crate) fn resign(&mut self, cx: &mut Ctx<'_>, why: &str) {
        self.with(cx, |algo, cx| algo.resign(cx, why));
    }

    /// The disk caught up: with no leader in sight, stand again.
    pub(crate) fn recovered(&mut self, cx: &mut Ctx<'_>) {
        if self.lead.leader.is_none() && !self.settling() {
            self.with(cx, |algo, cx| algo.start_election(cx));
        }
    }

    pub(crate) fn tick(&mut self, cx: &mut Ctx<'_>) {
        if cx.unfit {
            return; // an unfit node starts nothing (see `crate::durable`)
        }
        let settle_over = self.settling() && cx.now >= self.settle_until;
        if settle_over {
            self.settle_until = Instant::MAX;
        }
        self.with(cx, |algo, cx| {
            if settle_over && algo.elect_after_settle(cx) {
                algo.start_election(cx);
            }
            algo.on_tick(cx);
        });
    }

    pub(crate) fn on_message(
        &mut self,
        cx: &mut Ctx<'_>,
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
        if cx.unfit {
            return; // it plays dead: no answers, no votes
        }
        self.with(cx, |algo, cx| algo.on_message(cx, from, msg));
    }

    /// The leader this node follows sent a heartbeat without a claim: it no longer leads.
    ///
    /// One sent just before its sender became leader can arrive after the
    /// COORDINATOR or ELECTED that made it one (a datagram overtaken by a
    /// stream): within one heartbeat interval of following a leader, an
    /// unclaimed heartbeat is taken for such a straggler, and a leader that
    /// really stepped down is dropped at its next heartbeat.
    pub(crate) fn on_unclaimed_heartbeat(&mut self, cx: &mut Ctx<'_>, from: &NodeInfo) {
        if self.lead.leader != Some(from.id) || from.id == cx.me.id {
            return;
        }
        if cx.now < self.lead.since + self.heartbeat_interval {
            tracing::debug!(leader = %from.id, "ignoring an unclaimed heartbeat sent before it led");
            return;
        }
        self.with(cx, |algo, cx| {
            drop_leader(algo, cx, from.id, LeaderLoss::Suspected)
        });
    }

    /// `bully`/`ring`: this node leads an epoch that another leader already used
    /// (they never heard of each other). Entries are known by (index, epoch), so
    /// one epoch must have one leader: give it up and elect again above `epoch`.
    pub(crate) fn supersede(&mut self, cx: &mut Ctx<'_>, epoch: u64) {
        if self.algorithm == Algorithm::Quorum {
            return; // terms are unique by the vote
        }
        self.with(cx, |algo, cx| {
            cx.observe_epoch(epoch);
            let current = cx.lead.epoch;
            cx.set(Role::Follower, None, current);
            algo.start_election(cx);
        });
    }

    /// The process of member `peer` is proven gone (it was declared dead just
    /// before): whatever was promised to it as leader is over.
    pub(crate) fn on_process_gone(&mut self, cx: &mut Ctx<'_>, peer: NodeId) {
        self.with(cx, |algo, cx| algo.on_process_gone(cx, peer));
    }

    pub(crate) fn on_claim(&mut self, cx: &mut Ctx<'_>, from: &NodeInfo, epoch: u64) {
        self.with(cx, |algo, cx| algo.on_claim(cx, from, epoch));
    }

    pub(crate) fn on_member(
        &mut self,
        cx: &mut Ctx<'_>,
        node: &NodeInfo,
        change: MembershipChange,
    ) {
        // A leader that restarted (a new life) no longer leads, even if nobody saw it die.
        let how = match change {
            MembershipChange::Died => Some(LeaderLoss::Suspected),
            MembershipChange::Left | MembershipChange::Rejoined => Some(LeaderLoss::Gone),
            _ => None,
        };
        let lost = how.filter(|_| self.lead.leader == Some(node.id) && node.id != cx.me.id);
        self.with(cx, |algo, cx| {
            algo.view_changed();
            if let Some(how) = lost {
                drop_leader(algo, cx, node.id, how);
            } else {
                algo.on_member(cx, node, change);
            }
        });
    }
}

/// The leader this node followed is lost: name none, and let the algorithm react.
fn drop_leader(
    algo: &mut dyn ElectionAlgorithm,
    cx: &mut AlgoCtx<'_>,
    leader: NodeId,
    how: LeaderLoss,
) {
    let epoch = cx.lead.epoch;
    cx.set(Role::Follower, None, epoch);
    algo.on_leader_lost(cx, leader, how);
}

#[cfg(test)]
mod lease_tests;
#[cfg(test)]
mod tests;
