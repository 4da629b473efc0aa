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
/// Ordered by the persisted start counter first and the start time second: a
/// higher counter is a later life, whatever the clocks say. A node whose data
/// directory was wiped starts again at counter 1, below its earlier lives; it is
/// recognised by [`Incarnation::supersedes`] once its earlier life is gone, by a
/// later start time (which trusts the node's clock not to have run backwards
/// across the restart, and nothing more).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Incarnation {
    /// How many times this node has started, as far as its persisted state knows.
    pub counter: u64,
    /// When this life started, on the node's own clock.
    pub started_at: Instant,
}

impl Incarnation {
    /// True when this life, heard from a node whose known life is `known`,
    /// replaces it: a higher start counter (or the same counter and a later
    /// start), or — once `known` is gone (dead or left) — a lower counter with a
    /// later start time: the node's disk was wiped. While `known` lives, a lower
    /// counter is a stale message of an earlier life, or another process
    /// claiming the id: ignored either way.
    pub fn supersedes(&self, known: &Incarnation, known_gone: bool) -> bool {
        *self > *known
            || (known_gone && self.counter < known.counter && self.started_at > known.started_at)
    }
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
