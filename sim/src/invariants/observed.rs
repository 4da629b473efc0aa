//! What the checkers see of the world: the nodes that are up.

use ringleader_core::log::Log;
use ringleader_core::{Instant, Node};

/// What the checkers may look at of a node: its current life and its state machine.
pub trait Observed {
    /// Number of nodes.
    fn len(&self) -> usize;
    /// The running node at index `i`, if up.
    fn node(&self, i: usize) -> Option<&Node>;
    /// The whole log the node at index `i` holds, if up (the node keeps only
    /// a window of it in memory; the rest is on its disk).
    fn history(&self, i: usize) -> Option<&Log> {
        self.node(i).map(Node::log)
    }
    /// When the node at index `i` last came up, if it is up.
    fn up_since(&self, i: usize) -> Option<Instant>;
    /// The node at index `i` if it runs, paused or not, with its clock's reading
    /// at virtual time `at`: a paused leader still holds its lease.
    fn node_and_clock(&self, i: usize, at: Instant) -> Option<(&Node, Instant)> {
        self.node(i).map(|n| (n, at))
    }
    /// True when no node exists.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every node that is up, in index order.
pub(super) fn up_nodes(world: &dyn Observed) -> impl Iterator<Item = &Node> + '_ {
    (0..world.len()).filter_map(move |i| world.node(i))
}
