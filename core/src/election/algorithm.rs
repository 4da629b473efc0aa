//! What every election algorithm is: the trait the three implement, and the
//! context an algorithm handles one input with.

use crate::action::Action;
use crate::durable::Journal;
use crate::id::{NodeId, NodeInfo};
use crate::leadership::{Algorithm, Leadership, Role};
use crate::membership::{Membership, MembershipChange};
use crate::persist::Persisted;
use crate::rank::{rank_key, RankBy, RankKey};
use crate::time::Instant;
use crate::wire::{ElectionMsg, Message};
use rand_chacha::ChaCha8Rng;
use std::fmt;

/// What an algorithm may use and do while handling one input.
pub(crate) struct AlgoCtx<'a> {
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
    /// The writes of this step and the messages that wait for them.
    pub journal: &'a mut Journal,
    /// The disk stalled: no role but follower may be taken.
    pub unfit: bool,
}

impl AlgoCtx<'_> {
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
        let send = self.send_action(to, msg);
        self.out.push(send);
    }

    /// Sends `msg` to `to` once this step's writes (the term and vote it
    /// promises by) are durable.
    pub fn send_durable(&mut self, to: NodeId, msg: ElectionMsg) {
        let send = self.send_action(to, msg);
        self.journal.hold(send);
    }

    fn send_action(&self, to: NodeId, msg: ElectionMsg) -> Action {
        Action::Send {
            to,
            msg: Message::Election {
                from: self.me,
                algorithm: self.algorithm,
                msg,
            },
        }
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
        if self.unfit && role != Role::Follower {
            // A node whose disk stalled neither stands nor leads, and the
            // epochs it would have taken are not seen anywhere.
            return;
        }
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

    /// Asks for the term and vote to be written; what depends on them goes
    /// by [`send_durable`](Self::send_durable).
    pub fn persist(&mut self) {
        self.journal.persist(self.now, *self.persisted, self.out);
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

/// How a node lost the leader it followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeaderLoss {
    /// Suspected: the failure detector declared it dead, or its heartbeat no
    /// longer claims leadership. A partitioned or paused leader looks the same.
    Suspected,
    /// Proof that its process is gone: it left gracefully, or a new life of it
    /// announced itself.
    Gone,
}

/// One election algorithm. Each input may send messages and change the leadership
/// view through the context; deadlines are reported, never slept on.
pub(crate) trait ElectionAlgorithm: fmt::Debug + Send {
    /// A copy of this algorithm's state (a node is cloned whole by the
    /// simulator's exhaustive explorer, which branches from a state).
    fn boxed_clone(&self) -> Box<dyn ElectionAlgorithm>;
    /// Hashes what decides this algorithm's next moves, leaving out times
    /// and deadlines (the explorer tells states apart by it).
    fn fingerprint(&self, h: &mut dyn std::hash::Hasher);
    /// The node started.
    fn on_start(&mut self, _cx: &mut AlgoCtx<'_>) {}
    /// Runs (or joins) an election now.
    fn start_election(&mut self, cx: &mut AlgoCtx<'_>);
    /// An election message from a peer running the same algorithm.
    fn on_message(&mut self, cx: &mut AlgoCtx<'_>, from: &NodeInfo, msg: &ElectionMsg);
    /// A peer's heartbeat says it leads `epoch`.
    fn on_claim(&mut self, cx: &mut AlgoCtx<'_>, from: &NodeInfo, epoch: u64);
    /// The leader this node followed is lost: `how` says whether that is a
    /// suspicion or proof that its process is gone.
    fn on_leader_lost(&mut self, cx: &mut AlgoCtx<'_>, leader: NodeId, how: LeaderLoss);
    /// Member `peer`'s process is proven gone (after it was reported dead).
    fn on_process_gone(&mut self, _cx: &mut AlgoCtx<'_>, _peer: NodeId) {}
    /// The membership view changed (a member joined, came back, or its
    /// liveness changed), before the change is handed on: what an algorithm
    /// keeps worked out from the view is stale.
    fn view_changed(&mut self) {}
    /// Some other member changed.
    fn on_member(&mut self, cx: &mut AlgoCtx<'_>, node: &NodeInfo, change: MembershipChange);
    /// Time has passed.
    fn on_tick(&mut self, cx: &mut AlgoCtx<'_>);
    /// When `on_tick` next has work.
    fn next_deadline(&self) -> Instant;
    /// While this node leads under a lease: when the lease runs out on its clock.
    fn lease_end(&self) -> Option<Instant> {
        None
    }
    /// Whether the settle period should end with an election (no leader, or, under
    /// rank-based algorithms, one this node outranks).
    fn elect_after_settle(&self, cx: &AlgoCtx<'_>) -> bool;

    /// Gives up leading or standing at once, saying why (the disk stalled).
    fn resign(&mut self, cx: &mut AlgoCtx<'_>, why: &str) {
        if cx.lead.role != Role::Follower {
            tracing::warn!(epoch = cx.lead.epoch, "stepping down: {why}");
        }
        let epoch = cx.lead.epoch;
        let leader = cx.lead.leader.filter(|l| *l != cx.me.id);
        cx.set(Role::Follower, leader, epoch);
    }
}

impl Clone for Box<dyn ElectionAlgorithm> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}
