//! Everything that can happen to a node: the one input of [`Node::step`](crate::Node::step).

use crate::wire::Message;

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
}
