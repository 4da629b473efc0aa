//! Bounded exhaustive exploration of a small cluster with the same `Node`
//! code the random simulator and the runtime drive: breadth first over every
//! move (see [`Move`]): each order of delivering the messages in flight,
//! losing or duplicating one, firing a node's timer, finishing a disk's sync,
//! crashing a machine or killing a process and restarting it, within a
//! budget of faults and a depth; with a client, handing it a message and its
//! timer too. States met before (by [`fingerprint`]) are not explored again.
//! The safety invariants of the random simulator (one leader per epoch under
//! quorum, one vote per term, committed agreement, commits never going back
//! or changing, no duplicate, the write-ahead rule, and with a client, ack
//! means committed and the client's order) are checked after
//! every move, so the first violation found is one of the shortest: fewest
//! moves, deliveries and faults alike.
//!
//! - `config`: what to explore, and what a violation found is;
//! - `model`: a state and its moves;
//! - `flight`: what travels between the nodes and the client;
//! - `client`: the client (the core's sans-IO one) and its connection;
//! - `arrive`: what a delivered message does, at a node or the client;
//! - `words`: moves and messages in words;
//! - `fingerprint`: what makes two states the same;
//! - `script`: a path as text, the scenario file a counterexample is saved
//!   as, and its replay for `sim replay` and the viewer.

mod arrive;
mod client;
mod config;
pub mod fingerprint;
mod flight;
pub mod model;
pub mod script;
mod words;

use config::SETTLE_MOVES_MAX;
pub use config::{Counterexample, ExploreConfig, CLIENT_MESSAGES_MAX, NODES_MAX};

pub use model::{Broken, Budget, Mode, Model, Move};
pub use script::{Replayed, Script};

use std::collections::HashSet;

/// How far the search is.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Distinct states found.
    pub states: u64,
    /// Moves tried (including those leading to states met before).
    pub moves: u64,
    /// The depth being explored.
    pub depth: u32,
    /// States waiting at this depth.
    pub frontier: usize,
}

/// How a search ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Distinct states found (the start included).
    pub states: u64,
    /// Moves tried.
    pub moves: u64,
    /// Every path of up to this many moves was explored.
    pub depth_done: u32,
    /// No new state was left to explore: the space is exhausted within the
    /// budget (at any depth).
    pub exhausted: bool,
    /// The search stopped at `max_states` before finishing a depth.
    pub hit_state_bound: bool,
    /// The first violation found, if any.
    pub found: Option<Counterexample>,
    /// Moves of the discovery every path starts with (see [`Model::settle`]).
    pub prefix: usize,
}

/// Explores breadth first; `on_progress` hears how far it is now and then.
pub fn explore(cfg: &ExploreConfig, mut on_progress: impl FnMut(&Progress)) -> Outcome {
    let mut root = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed, cfg.mode);
    let prefix = root.settle(SETTLE_MOVES_MAX);
    let mut out = Outcome {
        states: 1,
        moves: 0,
        depth_done: 0,
        exhausted: false,
        hit_state_bound: false,
        found: None,
        prefix: prefix.len(),
    };
    if let Some(broken) = root.broken() {
        out.found = Some(counterexample(&root, broken, Vec::new()));
        return out;
    }
    let mut visited = HashSet::from([fingerprint::of(&root)]);
    // Every state found, as (parent, the move from it): paths without
    // keeping the states themselves.
    let mut tree: Vec<(u32, Move)> = vec![(u32::MAX, Move::Timer(0))];
    let mut frontier: Vec<u32> = vec![0];
    for depth in 1..=cfg.depth {
        let mut next = Vec::new();
        for &id in &frontier {
            let state = replay(&root, &path(&tree, id));
            for m in state.moves(cfg.budget, cfg.any_order) {
                out.moves += 1;
                let mut child = state.clone();
                if !child.apply(m) || !visited.insert(fingerprint::of(&child)) {
                    continue;
                }
                let child_id = u32::try_from(tree.len()).unwrap_or(u32::MAX);
                tree.push((id, m));
                out.states += 1;
                if let Some(broken) = child.broken() {
                    out.found = Some(counterexample(&root, broken, path(&tree, child_id)));
                    return out;
                }
                next.push(child_id);
                if out.states.is_multiple_of(4096) {
                    on_progress(&Progress {
                        states: out.states,
                        moves: out.moves,
                        depth,
                        frontier: next.len(),
                    });
                }
                if out.states >= cfg.max_states || child_id == u32::MAX {
                    out.hit_state_bound = true;
                    return out;
                }
            }
        }
        out.depth_done = depth;
        if next.is_empty() {
            out.exhausted = true;
            return out;
        }
        frontier = next;
    }
    out
}

/// The moves from the start to state `id`.
fn path(tree: &[(u32, Move)], mut id: u32) -> Vec<Move> {
    let mut moves = Vec::new();
    while let Some(&(parent, m)) = tree.get(id as usize) {
        if parent == u32::MAX {
            break;
        }
        moves.push(m);
        id = parent;
    }
    moves.reverse();
    moves
}

/// The state `moves` lead to from `root`.
pub fn replay(root: &Model, moves: &[Move]) -> Model {
    let mut state = root.clone();
    for &m in moves {
        state.apply(m);
    }
    state
}

fn counterexample(root: &Model, broken: Broken, moves: Vec<Move>) -> Counterexample {
    let mut state = root.clone();
    let mut steps = Vec::new();
    for &m in &moves {
        steps.push(state.describe(m));
        state.apply(m);
    }
    Counterexample {
        broken,
        moves,
        steps,
    }
}

#[cfg(test)]
mod tests;
