//! Identities of nodes and of a node's lives.

use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;

/// A server's identity within its cluster, unique and stable across restarts.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// One life of a node: it changes every time the node starts.
///
/// Ordered by the persisted start counter first and the start time second, so a node
/// whose disk was wiped (counter back at 1) still wins over its earlier life by its
/// later start time, and a message from an earlier life is recognised as stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Incarnation {
    /// How many times this node has started, as far as its persisted state knows.
    pub counter: u64,
    /// When this life started, on the node's own clock.
    pub started_at: Instant,
}

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.counter)
    }
}

/// What a node says about itself: enough for a peer to admit it to its view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id.
    pub id: NodeId,
    /// Where peers reach it (its TCP peer address).
    pub addr: SocketAddr,
    /// Which life of the node this is.
    pub incarnation: Incarnation,
}
