//! Everything a node asks its driver to do: the one output of [`Node::step`](crate::Node::step).

use crate::id::{NodeId, NodeInfo};
use crate::leadership::Role;
use crate::log::LogWrite;
use crate::membership::MembershipChange;
use crate::persist::Persisted;
use crate::proposals::error::ProposalError;
use crate::wire::{ClientId, Message, ServerMsg};

/// An output of a node, to be carried out by the driver in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send `msg` to peer `to` over its link. Best effort: the node copes with loss.
    Send {
        /// The receiving peer.
        to: NodeId,
        /// The message.
        msg: Message,
    },
    /// Send `msg` to every node on the multicast channel.
    Multicast(Message),
    /// Store this state: a write, in order with every other (see
    /// [`durable`](crate::durable)); report [`Event::Durable`](crate::Event::Durable)
    /// with `token` once it is on stable storage.
    Persist {
        /// This write's place in the order of writes.
        token: u64,
        /// What to store.
        state: Persisted,
    },
    /// Apply what a step changed in the log to the copy on stable storage: a
    /// write, in order with every other; report
    /// [`Event::Durable`](crate::Event::Durable) with `token` once it is on
    /// stable storage.
    WriteLog {
        /// This write's place in the order of writes.
        token: u64,
        /// The changes (boxed, as `ToClient`'s message: the two largest
        /// payloads would otherwise size every action, and actions are moved
        /// several times on every message a node sends).
        write: Box<LogWrite>,
    },
    /// Read entries back from the copy on stable storage (older than the
    /// log's window in memory: see [`crate::reads`]): up to `max` of them from
    /// index `from` on, and no more than
    /// [`ENTRIES_BYTES_MAX`](crate::log::ENTRIES_BYTES_MAX) bytes (at least
    /// one). Answer with [`Event::LogRead`](crate::Event::LogRead), off the
    /// node's event loop if you like; no answer, or an empty one, counts as a
    /// failed read (asked again later).
    ReadLog {
        /// The first index wanted.
        from: u64,
        /// Most entries wanted.
        max: usize,
    },
    /// A member's state changed in this node's view.
    Member {
        /// The member, as it last described itself.
        node: NodeInfo,
        /// What happened to it.
        change: MembershipChange,
    },
    /// This node's view of leadership changed: its role, the leader it names, or the epoch.
    RoleChanged {
        /// The role before.
        old: Role,
        /// The role now.
        new: Role,
        /// The leader now named, if any.
        leader: Option<NodeId>,
        /// The epoch of that leadership.
        epoch: u64,
    },
    /// Send `msg` to a client: on its stream, or to the datagram source a probe
    /// came from. Best effort: a client that is gone is simply skipped.
    ToClient {
        /// The client.
        client: ClientId,
        /// The message (boxed: see `WriteLog`).
        msg: Box<ServerMsg>,
    },
    /// Close a client's stream (its session ended at this server).
    CloseClient(ClientId),
    /// The fate of the application's proposal `ticket` (see
    /// [`Event::Propose`](crate::Event::Propose)): the index it committed at, or
    /// why it did not (and will not) commit.
    Proposal {
        /// The ticket of the proposal.
        ticket: u64,
        /// Its committed index, or why not.
        outcome: Result<u64, ProposalError>,
    },
}
