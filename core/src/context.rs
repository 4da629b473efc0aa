//! What a node lends each of its parts (election, replication, client sessions)
//! while they handle one input: the one context type of the node's layer.
//!
//! Discovery is the exception: it owns the membership view that every context
//! lends out, so it takes the time and the output buffer directly.

use crate::action::Action;
use crate::durable::Journal;
use crate::id::{NodeId, NodeInfo};
use crate::leadership::Leadership;
use crate::membership::Membership;
use crate::reads::Reads;
use crate::time::Instant;
use crate::wire::{ClientId, Message, ReplicationMsg, ServerMsg};
use rand_chacha::ChaCha8Rng;

/// The node's state a part may read, and the outputs it may write, for one input.
pub(crate) struct Ctx<'a> {
    /// The time of the input.
    pub now: Instant,
    /// This node as it describes itself.
    pub me: NodeInfo,
    /// The membership view, as discovery left it for this input.
    pub view: &'a Membership,
    /// Who leads, as the election part stood when this context was made; the
    /// election part itself reads and changes its own copy.
    pub lead: Leadership,
    /// (epoch, index) of the last entry of this node's log.
    pub log_tip: (u64, u64),
    /// The node's one seeded rng.
    pub rng: &'a mut ChaCha8Rng,
    /// The actions of this step, in order.
    pub out: &'a mut Vec<Action>,
    /// The writes of this step and the messages that wait for them.
    pub journal: &'a mut Journal,
    /// The highest log index durable as the log holds it now: how far the
    /// leader counts itself toward commit.
    pub durable_tip: u64,
    /// The disk stalled: the node takes no role but follower (see
    /// [`crate::durable`]).
    pub unfit: bool,
    /// The entries to read back from the disk (see [`crate::reads`]).
    pub reads: &'a mut Reads,
}

impl Ctx<'_> {
    /// Sends `msg` to peer `to`.
    pub fn send(&mut self, to: NodeId, msg: Message) {
        self.out.push(Action::Send { to, msg });
    }

    /// `msg` from this node, as a peer receives it.
    fn replication(&self, msg: ReplicationMsg) -> Message {
        Message::Replication {
            from: self.me,
            msg: Box::new(msg),
        }
    }

    /// Sends a replication message to peer `to`.
    pub fn send_replication(&mut self, to: NodeId, msg: ReplicationMsg) {
        let msg = self.replication(msg);
        self.send(to, msg);
    }

    /// Sends a replication message to peer `to` once this step's writes are
    /// durable: it acknowledges what they hold.
    pub fn send_replication_durable(&mut self, to: NodeId, msg: ReplicationMsg) {
        let msg = self.replication(msg);
        self.journal.hold(Action::Send { to, msg });
    }

    /// The entries from `from` on are needed but only the disk holds them:
    /// they are read back (see [`crate::reads`]) and the step that brings
    /// them in lets the parts try again.
    pub fn want_read(&mut self, from: u64) {
        self.reads.want(from);
    }

    /// Sends `msg` to a client.
    pub fn send_client(&mut self, client: ClientId, msg: ServerMsg) {
        self.out.push(Action::ToClient {
            client,
            msg: Box::new(msg),
        });
    }

    /// Whether `id` is a member this node counts as alive (alive or suspect).
    pub fn is_live(&self, id: NodeId) -> bool {
        self.view.get(id).is_some_and(|m| m.state.is_live())
    }

    /// Whether this node leads.
    pub fn leading(&self) -> bool {
        self.lead.leads(self.me.id)
    }

    /// The leader this node names, as that leader last described itself.
    pub fn leader_info(&self) -> Option<NodeInfo> {
        let leader = self.lead.leader?;
        if leader == self.me.id {
            Some(self.me)
        } else {
            self.view.get(leader).map(|m| m.info)
        }
    }
}
