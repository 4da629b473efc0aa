//! What to explore, and what a violation found is (shared by the search and
//! the scripts it writes).

use super::model::{Broken, Budget, Mode, Move};
use crate::bugs::InjectedBug;
use ringleader_core::Config;

/// Most nodes a script names (the explorer is for small clusters).
pub const NODES_MAX: u8 = 4;

/// Most messages the explorer's client may be handed (each is a move on
/// every path, so a few already make the space large).
pub const CLIENT_MESSAGES_MAX: u32 = 100;

/// Most moves discovery may take before exploring starts.
pub(crate) const SETTLE_MOVES_MAX: usize = 1_000;

/// What to explore.
#[derive(Clone, Debug)]
pub struct ExploreConfig {
    /// Nodes, 2 to 4 (more is allowed; the states grow fast).
    pub nodes: usize,
    /// Every node's configuration (voters filled in when empty).
    pub node: Config,
    /// A bug planted on purpose (see [`crate::bugs`]).
    pub bug: InjectedBug,
    /// Seeds the nodes' random choices (each life's own).
    pub seed: u64,
    /// Most moves on a path.
    pub depth: u32,
    /// Stop after this many distinct states.
    pub max_states: u64,
    /// Most faults on a path.
    pub budget: Budget,
    /// Deliver the messages between two nodes in any order, not only in the
    /// order they were sent (much larger spaces).
    pub any_order: bool,
    /// Clocks and disks (see [`Mode`]).
    pub mode: Mode,
}

/// A violation, with the path that reaches it.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// What broke.
    pub broken: Broken,
    /// The moves from the start, in order.
    pub moves: Vec<Move>,
    /// The same, in words.
    pub steps: Vec<String>,
}
