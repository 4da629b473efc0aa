//! Everything that can happen to a node: the one input of [`Node::step`](crate::Node::step).

use crate::id::{Incarnation, NodeId};
use crate::log::{AppSnapshot, Entry, Snapshot};
use crate::wire::{ClientId, ClientMsg, Message};

/// An input to a node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Begin: announce this node and probe for the group. Sent once, first.
    Start,
    /// Time has reached (or passed) [`Node::next_deadline`](crate::Node::next_deadline).
    /// Early or repeated ticks are harmless: the node acts on what is due.
    Tick,
    /// A message from a peer, by datagram or stream.
    Received(Message),
    /// Leave the cluster gracefully: tell the peers, then stop.
    Leave,
    /// A message from a client: on its stream, or (a [`ClientMsg::Probe`]) by datagram.
    FromClient {
        /// The client, as it named itself; the driver maps it to the connection or
        /// datagram source it came from.
        client: ClientId,
        /// The message.
        msg: ClientMsg,
    },
    /// Every write up to and including the one of `token` (see
    /// [`Action::Persist`](crate::Action::Persist) and
    /// [`Action::WriteLog`](crate::Action::WriteLog)) is on stable storage, or
    /// in the process-crash mode handed to the operating system.
    Durable {
        /// The highest token done.
        token: u64,
    },
    /// The answer to [`Action::ReadLog`](crate::Action::ReadLog) of `from`:
    /// the entries read back in order from `from` on, or none when the read
    /// failed (or the disk does not hold them).
    LogRead {
        /// The `from` of the read answered.
        from: u64,
        /// The entries.
        entries: Vec<Entry>,
    },
    /// The driver deleted the log's entries up to `snapshot.index` from its
    /// disk (its retention policy): `snapshot` is what they amount to. A node
    /// keeps it (and sends it to a follower too far behind) if it names a
    /// committed entry of its log with its stamp.
    LogCompacted {
        /// What the deleted entries amount to.
        snapshot: Snapshot,
    },
    /// The embedding application saved a snapshot of its state (see
    /// [`crate::app`]). The node sends the newest one it has, with the log's
    /// snapshot, to a follower too far behind its retained log, so that the
    /// follower's application goes on from that state instead of entries
    /// that were deleted. Kept if newer than the one it has and at most
    /// [`APP_SNAPSHOT_BYTES_MAX`](crate::log::APP_SNAPSHOT_BYTES_MAX); sent
    /// once this node's commit index reaches it.
    AppSnapshot {
        /// The snapshot.
        snapshot: std::sync::Arc<AppSnapshot>,
    },
    /// The embedding application proposes an entry (see [`proposals`](crate::proposals)).
    /// The node answers with one [`Action::Proposal`](crate::Action::Proposal)
    /// carrying `ticket`: at once if it cannot take it, else once its fate is known.
    Propose {
        /// The driver's number for this proposal, echoed in the answer.
        ticket: u64,
        /// What to append.
        payload: Box<[u8]>,
    },
    /// A client's stream closed.
    ClientGone {
        /// The client.
        client: ClientId,
    },
    /// The links proved life `life` of `peer` over (its connection ended and a
    /// fresh dial was refused: see [`link`](crate::link)). It is declared dead at
    /// once, and under `quorum` a promise made to it as leader ends.
    PeerGone {
        /// The peer.
        peer: NodeId,
        /// The life that is over.
        life: Incarnation,
    },
}
