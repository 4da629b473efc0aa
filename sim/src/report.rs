//! What a run reports.

use crate::invariants::{ElectionStats, ReplicationStats};
use serde::Serialize;
use std::collections::BTreeMap;

pub use crate::findings::{CheckCount, Violation};

/// The outcome of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Number of servers.
    pub nodes: u32,
    /// Events taken from the queue and delivered: messages, timer ticks, faults, starts.
    pub events: u64,
    /// Messages delivered to a running node.
    pub messages: u64,
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages the network lost.
    pub lost: u64,
    /// Messages dropped by a cut link.
    pub cut: u64,
    /// Extra copies the network delivered.
    pub duplicated: u64,
    /// Messages that arrived at a node that was down.
    pub to_down_node: u64,
    /// Faults applied.
    pub faults: u64,
    /// Virtual time simulated, in milliseconds.
    pub virtual_ms: u64,
    /// Wall time the run took, in milliseconds.
    pub wall_ms: u64,
    /// Digest of the whole trace: equal digests, equal runs.
    pub digest: String,
    /// Every invariant that failed.
    pub violations: Vec<Violation>,
    /// Bounded invariants: how often each was checked and excused.
    pub checks: BTreeMap<&'static str, CheckCount>,
    /// The election algorithm.
    pub election: String,
    /// Election measurements.
    #[serde(flatten)]
    pub election_stats: ElectionStats,
    /// Each live node's view of the leader at the end (`null`: none), by node id.
    pub leaders: BTreeMap<u32, Option<u32>>,
    /// Simulated clients.
    pub clients: u32,
    /// Replication and client measurements.
    #[serde(flatten)]
    pub replication: ReplicationStats,
}

impl Report {
    /// True when every invariant held.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// Violations no documented limit explains: bugs.
    pub fn unexplained(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.explained_by.is_none())
    }

    /// What went wrong, one violation a line, and how to run it again: for a
    /// test's failure message.
    pub fn failure_text(&self) -> String {
        let mut text = format!("seed {}: ", self.seed);
        if self.violations.is_empty() {
            text.push_str("every invariant held");
            return text;
        }
        text.push_str(&format!("{} violation(s)\n", self.violations.len()));
        for v in &self.violations {
            let why = v
                .explained_by
                .as_ref()
                .map_or(String::new(), |w| format!(" (explained: {w})"));
            text.push_str(&format!(
                "  {} at {} ms, {}: {}{why}\n",
                v.invariant,
                v.at_ms,
                crate::findings::nodes_text(&v.nodes),
                v.detail
            ));
        }
        text.push_str(&format!(
            "replay: the same run with seed {} gives the same events, byte for byte (trace digest {})",
            self.seed, self.digest
        ));
        text
    }
}
