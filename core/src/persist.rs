//! State a node asks its driver to keep across restarts.

use serde::{Deserialize, Serialize};

/// What survives a restart: handed back to [`Node::restore`](crate::Node::restore).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Persisted {
    /// How many times the node has started; gives each life a new incarnation.
    pub starts: u64,
}
