//! State a node asks its driver to keep across restarts.

use crate::id::NodeId;
use serde::{Deserialize, Serialize};

/// What survives a restart: handed back to [`Node::restore`](crate::Node::restore).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Persisted {
    /// How many times the node has started; gives each life a new incarnation.
    pub starts: u64,
    /// `quorum`: the latest term this node has seen.
    pub term: u64,
    /// `quorum`: whom it voted for in that term.
    pub voted_for: Option<NodeId>,
}
