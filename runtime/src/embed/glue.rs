//! What the event loop keeps for an embedding application: the leadership it
//! publishes, and the proposals awaiting their outcome.

use super::{Fence, Leadership, ProposeError};
use ringleader_core::{Algorithm, Node, NodeId, ProposalError, Role};
use std::collections::BTreeMap;
use tokio::sync::{oneshot, watch};

/// A proposal's answer.
pub(crate) type ProposeReply = oneshot::Sender<Result<u64, ProposeError>>;

/// The driver's side of [`super::NodeHandle`].
#[derive(Debug)]
pub(crate) struct Glue {
    leadership: watch::Sender<Leadership>,
    tickets: BTreeMap<u64, ProposeReply>,
    next_ticket: u64,
}

impl Glue {
    pub(crate) fn new(id: NodeId, algorithm: Algorithm) -> Glue {
        let (leadership, _) = watch::channel(Leadership {
            node: id,
            role: Role::Follower,
            leader: None,
            epoch: 0,
            algorithm,
        });
        Glue {
            leadership,
            tickets: BTreeMap::new(),
            next_ticket: 1,
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Leadership> {
        self.leadership.subscribe()
    }

    /// The node's role changed.
    pub(crate) fn role(&self, role: Role, leader: Option<NodeId>, epoch: u64) {
        self.leadership.send_modify(|l| {
            l.role = role;
            l.leader = leader;
            l.epoch = epoch;
        });
    }

    /// A new proposal's ticket, its answer kept until the node tells it.
    pub(crate) fn ticket(&mut self, reply: ProposeReply) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.tickets.insert(ticket, reply);
        ticket
    }

    /// The node told a proposal's outcome.
    pub(crate) fn answer(&mut self, ticket: u64, outcome: Result<u64, ProposalError>) {
        if let Some(reply) = self.tickets.remove(&ticket) {
            // The application may have stopped waiting: nothing to do then.
            let _ = reply.send(outcome);
        }
    }

    /// Whether `node` leads now with the right to act alone, and on what terms.
    pub(crate) fn fence(
        node: &Node,
        now: ringleader_core::Instant,
        to_std: impl Fn(ringleader_core::Instant) -> std::time::Instant,
    ) -> Result<Fence, ProposeError> {
        let lead = node.leadership();
        if !node.leads_at(now) {
            return Err(ProposeError::NotLeader {
                leader: lead.leader.filter(|l| *l != node.id()),
            });
        }
        if !node.fenced_at(now) {
            // Elected, but its own marker has not committed yet: its commit
            // index may miss what an earlier leader committed.
            return Err(ProposeError::Syncing);
        }
        Ok(Fence {
            epoch: lead.epoch,
            commit: node.log().commit_index(),
            lease_until: node.lease_end().map(to_std),
        })
    }
}
