//! The replication and client invariants, and what they measure.
//!
//! Safety, checked the moment a node's commit index moves or a client is told
//! something:
//! - `committed_agreement`: every node's committed entries agree, index by index,
//!   with the one committed history (built from whichever node commits first).
//! - `no_duplicate`: no client message id is committed twice.
//! - `commit_monotonic`: a node's commit index never moves backwards, within a
//!   life or across a restart (the simulated log is durable).
//! - `ack_means_committed`: a client is acknowledged only messages that are
//!   committed.
//! - `client_order`: every client sees committed entries exactly once, in order,
//!   without gaps: a contiguous slice of the one history.
//!
//! Liveness, judged at the end of a run whose last fault and last client message
//! lie at least `drain_bound` back:
//! - `logs_converge`: every live node has committed the whole history.
//! - `acked_durable`: every acknowledged message is in the committed log of every
//!   live node (its count is `acked_lost`).
//! - `clients_drain`: every client that did not quit has no unacknowledged message
//!   left and has seen the whole history.
//!
//! Under `bully` and `ring` two leaders can exist while a partition lasts: that is
//! their documented limit. In runs with partitions or cuts the safety checks then
//! only count divergence (`divergent_commits`) instead of failing the run.

use super::observed::{up_nodes, Observed};
use crate::findings::{CheckCount, Findings, Violation};
use ringleader_core::client::ClientOutput;
use ringleader_core::log::{ClientMsgId, Stamp};
use ringleader_core::{Instant, Node};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the replication part of a run measured.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplicationStats {
    /// Client messages in the committed history.
    pub committed: u64,
    /// Client messages acknowledged to their client.
    pub acked: u64,
    /// Acknowledged messages missing from a live node's committed log at the end.
    pub acked_lost: u64,
    /// Client message ids committed more than once.
    pub duplicates: u64,
    /// Entries a client saw out of order, twice, or different from the history.
    pub order_violations: u64,
    /// The most unacknowledged messages any client held at once.
    pub max_client_buffer: u64,
    /// Messages the clients handed to their session.
    pub client_sent: u64,
    /// Messages refused because a client's buffer was full.
    pub buffer_full: u64,
    /// Times a client was told its leader changed.
    pub leader_changes: u64,
    /// `bully`/`ring` with partitions: committed entries that disagree between nodes.
    pub divergent_commits: u64,
}

#[derive(Debug, Default, Clone)]
struct ClientView {
    acked: u64,
    seen: u64,
    quit: bool,
}

/// Tracks the committed history and what clients were told.
#[derive(Debug)]
pub struct ReplicationChecker {
    strict: bool,
    history: Vec<(Stamp, ClientMsgId)>,
    ids: BTreeSet<ClientMsgId>,
    /// Per client: the highest number committed.
    committed_seq: BTreeMap<u64, u64>,
    seen_commit: Vec<u64>,
    clients: Vec<ClientView>,
    stats: ReplicationStats,
    findings: Findings,
}

const NAMES: [&str; 8] = [
    "committed_agreement",
    "no_duplicate",
    "commit_monotonic",
    "ack_means_committed",
    "client_order",
    "logs_converge",
    "acked_durable",
    "clients_drain",
];

impl ReplicationChecker {
    /// A checker for `nodes` servers and `clients` clients; `strict` when a split
    /// history is a violation (always under `quorum`, and without partitions).
    pub fn new(nodes: usize, clients: usize, strict: bool) -> Self {
        ReplicationChecker {
            strict,
            history: Vec::new(),
            ids: BTreeSet::new(),
            committed_seq: BTreeMap::new(),
            seen_commit: vec![0; nodes],
            clients: vec![ClientView::default(); clients],
            stats: ReplicationStats::default(),
            findings: Findings::new(&NAMES),
        }
    }

    fn fail(&mut self, name: &'static str, at: Instant, nodes: Vec<u32>, detail: String) {
        self.findings.count(name, false);
        self.findings.fail(name, at, nodes, detail);
    }

    /// After node `i` took a step: checks what it newly committed.
    pub fn after_step(&mut self, at: Instant, i: usize, node: &Node) {
        let log = node.log();
        let commit = log.commit_index();
        let Some(seen) = self.seen_commit.get_mut(i) else {
            return;
        };
        let before = *seen;
        if commit <= before {
            if commit < before {
                *seen = commit;
                self.commit_went_back(at, node, before, commit);
            }
            return;
        }
        *seen = commit;
        self.findings.count("commit_monotonic", false);
        let from = before + 1;
        for index in from..=commit {
            let Some(entry) = log.get(index) else { break };
            let here = (entry.stamp(), entry.id);
            let slot = usize::try_from(index - 1).unwrap_or(usize::MAX);
            match self.history.get(slot) {
                Some(known) if *known == here => self.findings.count("committed_agreement", false),
                Some(known) => {
                    let known = *known;
                    if self.strict {
                        self.fail(
                            "committed_agreement",
                            at,
                            vec![node.id().0],
                            format!(
                                "{} committed {}/{} = {:?} but the history has {} = {:?} there",
                                node.id(),
                                index,
                                here.0,
                                here.1,
                                known.0,
                                known.1
                            ),
                        );
                    } else {
                        self.stats.divergent_commits += 1;
                    }
                }
                None => {
                    if !entry.is_marker() {
                        if !self.ids.insert(entry.id) {
                            self.stats.duplicates += 1;
                            self.fail(
                                "no_duplicate",
                                at,
                                vec![node.id().0],
                                format!("{:?} committed a second time, at {index}", entry.id),
                            );
                        }
                        self.findings.count("no_duplicate", false);
                        self.stats.committed += 1;
                        let top = self.committed_seq.entry(entry.id.client).or_default();
                        *top = (*top).max(entry.id.seq);
                    }
                    self.history.push(here);
                }
            }
        }
    }

    /// A node restarted with its durable log: its commit index is what it was.
    pub fn on_restart(&mut self, at: Instant, i: usize, node: &Node) {
        let commit = node.log().commit_index();
        let Some(seen) = self.seen_commit.get_mut(i) else {
            return;
        };
        let before = std::mem::replace(seen, commit);
        if commit < before {
            self.commit_went_back(at, node, before, commit);
        } else {
            self.findings.count("commit_monotonic", false);
        }
    }

    fn commit_went_back(&mut self, at: Instant, node: &Node, before: u64, now: u64) {
        self.fail(
            "commit_monotonic",
            at,
            vec![node.id().0],
            format!(
                "{}'s commit index went back from {before} to {now}",
                node.id()
            ),
        );
    }

    /// Client `c` (index from 0, named `c<c + 1>`) was told `output`.
    pub fn on_client_output(&mut self, at: Instant, c: usize, output: &ClientOutput) {
        let id = u64::from(crate::clients::number(c));
        match output {
            ClientOutput::Acked { seq } => {
                let committed = self.committed_seq.get(&id).copied().unwrap_or(0);
                let Some(view) = self.clients.get_mut(c) else {
                    return;
                };
                let fresh = seq.saturating_sub(view.acked);
                view.acked = view.acked.max(*seq);
                self.stats.acked += fresh;
                if *seq > committed && self.strict {
                    self.fail(
                        "ack_means_committed",
                        at,
                        Vec::new(),
                        format!("c{id} was acknowledged #{seq}, but only up to #{committed} is committed"),
                    );
                } else {
                    self.findings.count("ack_means_committed", false);
                }
            }
            ClientOutput::Entry(e) => {
                let Some(view) = self.clients.get_mut(c) else {
                    return;
                };
                let expected = view.seen + 1;
                view.seen = view.seen.max(e.index);
                let slot = usize::try_from(e.index.saturating_sub(1)).unwrap_or(usize::MAX);
                let matches = self.history.get(slot) == Some(&(e.stamp(), e.id));
                if e.index != expected || (!matches && self.strict) {
                    self.stats.order_violations += 1;
                    self.fail(
                        "client_order",
                        at,
                        Vec::new(),
                        format!(
                            "c{id} saw index {} ({:?}, e{}) but expected index {expected}{}",
                            e.index,
                            e.id,
                            e.epoch,
                            if matches {
                                ""
                            } else {
                                ", and it differs from the committed history"
                            }
                        ),
                    );
                } else {
                    self.findings.count("client_order", false);
                }
            }
            ClientOutput::LeaderChanged { .. } => self.stats.leader_changes += 1,
            _ => {}
        }
    }

    /// Client `c` handed a message to its session, or had it refused.
    pub fn on_client_send(&mut self, accepted: bool, unacked: usize) {
        if accepted {
            self.stats.client_sent += 1;
        } else {
            self.stats.buffer_full += 1;
        }
        self.stats.max_client_buffer = self.stats.max_client_buffer.max(unacked as u64);
    }

    /// Client `c` quit.
    pub fn on_client_quit(&mut self, c: usize) {
        if let Some(v) = self.clients.get_mut(c) {
            v.quit = true;
        }
    }

    /// The end-of-run checks. `settled` is false when the last fault or client
    /// message came too close to the end for liveness to be judged; `unacked`
    /// gives each client's buffer at the end.
    pub fn finish(
        mut self,
        at: Instant,
        world: &dyn Observed,
        unacked: &[usize],
        settled: bool,
    ) -> (
        Vec<Violation>,
        BTreeMap<&'static str, CheckCount>,
        ReplicationStats,
    ) {
        let total = self.history.len() as u64;
        let live: Vec<&Node> = up_nodes(world).collect();
        // Acked messages: (client, seq) for every seq up to each client's ack.
        let mut acked_ids: Vec<(u64, u64)> = Vec::new();
        for (c, v) in self.clients.iter().enumerate() {
            acked_ids.push((u64::from(crate::clients::number(c)), v.acked));
        }
        for node in &live {
            let committed = node.log().committed();
            let mut top: BTreeMap<u64, u64> = BTreeMap::new();
            for e in committed.iter().filter(|e| !e.is_marker()) {
                let t = top.entry(e.id.client).or_default();
                *t = (*t).max(e.id.seq);
            }
            let lost: u64 = acked_ids
                .iter()
                .map(|(client, acked)| acked.saturating_sub(top.get(client).copied().unwrap_or(0)))
                .sum();
            if settled {
                let commit = node.log().commit_index();
                if commit < total {
                    self.fail(
                        "logs_converge",
                        at,
                        vec![node.id().0],
                        format!(
                            "{} committed {commit} of {total} entries by the end",
                            node.id()
                        ),
                    );
                } else {
                    self.findings.count("logs_converge", false);
                }
                self.stats.acked_lost = self.stats.acked_lost.max(lost);
                if lost > 0 {
                    self.fail(
                        "acked_durable",
                        at,
                        vec![node.id().0],
                        format!(
                            "{} lacks {lost} acknowledged messages at the end",
                            node.id()
                        ),
                    );
                } else {
                    self.findings.count("acked_durable", false);
                }
            } else {
                self.findings.count("logs_converge", true);
                self.findings.count("acked_durable", true);
            }
        }
        let clients = std::mem::take(&mut self.clients);
        for (c, v) in clients.iter().enumerate() {
            if v.quit {
                continue;
            }
            let left = unacked.get(c).copied().unwrap_or(0);
            if !settled {
                self.findings.count("clients_drain", true);
            } else if left > 0 || v.seen < total {
                self.fail(
                    "clients_drain",
                    at,
                    Vec::new(),
                    format!(
                        "c{} ends with {left} unacknowledged messages and has seen {} of {total} entries",
                        crate::clients::number(c),
                        v.seen
                    ),
                );
            } else {
                self.findings.count("clients_drain", false);
            }
        }
        let (violations, counts) = self.findings.finish();
        (violations, counts, self.stats)
    }
}
