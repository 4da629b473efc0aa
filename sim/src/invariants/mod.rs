//! Invariants, checked while the run goes, never only at the end.
//!
//! Safety properties are checked the moment an action could break them. Bounded
//! liveness properties become obligations with a deadline when their trigger happens
//! (a start, a crash, a heal) and are evaluated at the first step past the deadline.
//! An obligation is excused, and counted as such, only when a fault inside its window
//! makes the bound inapplicable: a message between the two nodes was lost or cut, or
//! one of them crashed or restarted (which raises a fresh obligation of its own).

mod discovery;
mod election;
mod replication;

pub use discovery::DiscoveryChecker;
pub use election::{ElectionChecker, ElectionStats};
pub use replication::{ReplicationChecker, ReplicationStats};

use crate::report::{CheckCount, Violation};
use ringleader_core::{Instant, Node};
use std::collections::BTreeMap;

/// What the checkers may look at of a node: its current life and its state machine.
pub trait Observed {
    /// Number of nodes.
    fn len(&self) -> usize;
    /// The running node at index `i`, if up.
    fn node(&self, i: usize) -> Option<&Node>;
    /// When the node at index `i` last came up, if it is up.
    fn up_since(&self, i: usize) -> Option<Instant>;
    /// True when no node exists.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every node that is up, in index order.
pub(crate) fn up_nodes(world: &dyn Observed) -> impl Iterator<Item = &Node> + '_ {
    (0..world.len()).filter_map(move |i| world.node(i))
}

/// What a checker found: how often each invariant was checked or excused, and
/// every violation.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    counts: BTreeMap<&'static str, CheckCount>,
    violations: Vec<Violation>,
}

impl Findings {
    /// Findings that list `names` even if they are never checked.
    pub(crate) fn new(names: &[&'static str]) -> Self {
        Findings {
            counts: names.iter().map(|n| (*n, CheckCount::default())).collect(),
            violations: Vec::new(),
        }
    }

    pub(crate) fn count(&mut self, name: &'static str, excused: bool) {
        let c = self.counts.entry(name).or_default();
        if excused {
            c.excused += 1;
        } else {
            c.checked += 1;
        }
    }

    pub(crate) fn fail(
        &mut self,
        invariant: &'static str,
        at: Instant,
        nodes: Vec<u32>,
        detail: String,
    ) {
        self.violations.push(Violation {
            invariant,
            at_ms: at.as_millis(),
            nodes,
            detail,
        });
    }

    pub(crate) fn counts(&self) -> &BTreeMap<&'static str, CheckCount> {
        &self.counts
    }

    pub(crate) fn violations(&self) -> &[Violation] {
        &self.violations
    }

    pub(crate) fn finish(self) -> (Vec<Violation>, BTreeMap<&'static str, CheckCount>) {
        (self.violations, self.counts)
    }
}
