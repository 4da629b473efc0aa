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

use super::holders::Holders;
use super::node_commits::{Change, NodeCommits};
use super::observed::Observed;
use crate::findings::{CheckCount, Findings, Violation};
use ringleader_core::client::ClientOutput;
use ringleader_core::log::Log;
use ringleader_core::log::{ClientMsgId, Entry, Stamp};
use ringleader_core::{Instant, Node};
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// `bully`/`ring`: times a node took the merged history of a healed split brain.
    pub rewrites: u64,
    /// `bully`/`ring`: rewrite notices clients were given.
    pub client_rewrites: u64,
}

#[derive(Debug, Default, Clone)]
struct ClientView {
    acked: u64,
    seen: u64,
    quit: bool,
}

/// Tracks the committed history and what clients were told.
#[derive(Clone, Debug)]
pub struct ReplicationChecker {
    strict: bool,
    history: Vec<(Stamp, ClientMsgId)>,
    /// Per client: the highest number committed.
    committed_seq: BTreeMap<u64, u64>,
    /// What each node has committed, as last seen.
    nodes: Vec<NodeCommits>,
    /// Committed entries are final (`quorum`): a rewrite is a violation.
    final_commits: bool,
    /// Per node, up to where `committed_on_majority` has checked its commits.
    majority_checked: Vec<u64>,
    clients: Vec<ClientView>,
    stats: ReplicationStats,
    findings: Findings,
    /// Who holds each committed entry, and when nodes were down.
    holders: Holders,
    /// Set once a committed entry was lost while all its holders were down:
    /// the end-of-run checks that follow from such a loss are explained by it.
    loss_explained: Option<String>,
    /// Set once a node lost writes it had counted on (see
    /// [`on_unsynced_loss`](Self::on_unsynced_loss)).
    unsynced_loss: Option<(Instant, String)>,
}

/// Every invariant this checker checks.
pub(crate) const NAMES: [&str; 11] = [
    "committed_agreement",
    "committed_on_majority",
    "no_duplicate",
    "commit_monotonic",
    "commit_stable",
    "ack_means_committed",
    "client_order",
    "logs_converge",
    "acked_durable",
    "clients_drain",
    "durable_before_ack",
];

impl ReplicationChecker {
    /// A checker for `nodes` servers and `clients` clients; `strict` when a split
    /// history is a violation (always under `quorum`, and without partitions);
    /// `final_commits` when no committed entry may ever be rewritten (`quorum`).
    pub fn new(nodes: usize, clients: usize, strict: bool, final_commits: bool) -> Self {
        ReplicationChecker {
            strict,
            history: Vec::new(),
            committed_seq: BTreeMap::new(),
            nodes: vec![NodeCommits::default(); nodes],
            final_commits,
            majority_checked: vec![0; nodes],
            clients: vec![ClientView::default(); clients],
            stats: ReplicationStats::default(),
            findings: Findings::new(&NAMES),
            holders: Holders::new(nodes),
            loss_explained: None,
            unsynced_loss: None,
        }
    }

    fn fail(&mut self, name: &'static str, at: Instant, nodes: Vec<u32>, detail: String) {
        self.findings.count(name, false);
        self.findings.fail(name, at, nodes, detail);
        let follows = matches!(name, "logs_converge" | "acked_durable" | "clients_drain");
        if let Some(why) = self.loss_explained.clone().filter(|_| follows) {
            self.findings.explain_last(why);
        }
    }

    /// A node lost writes it had counted on (`process` durability, a machine
    /// crash): what follows from the loss is explained by `why`.
    pub fn on_unsynced_loss(&mut self, at: Instant, why: String) {
        self.unsynced_loss.get_or_insert((at, why));
    }

    /// The first loss of writes a node had counted on: when, and why.
    pub fn unsynced_loss(&self) -> Option<&(Instant, String)> {
        self.unsynced_loss.as_ref()
    }

    /// A node sent a message that depends on a write (an acknowledgement, a
    /// vote): `broken` says how, if the write was not durable yet.
    pub fn on_dependent_send(&mut self, at: Instant, node: u32, broken: Option<String>) {
        match broken {
            Some(detail) => self.fail("durable_before_ack", at, vec![node], detail),
            None => self.findings.count("durable_before_ack", false),
        }
    }

    /// What failed so far (the exhaustive explorer checks after every
    /// transition).
    pub fn violations(&self) -> &[crate::findings::Violation] {
        self.findings.violations()
    }

    /// `committed_on_majority`, under `quorum`: every entry node `i` newly
    /// counts committed is in the logs of at least `majority` of the nodes
    /// (`logs`: each node's disk, up or down; an entry a log compacted away
    /// was committed there, so it counts). A leader that counts an
    /// acknowledgement for entries the follower does not hold breaks it the
    /// moment it commits, before any second leader shows the split.
    pub fn check_majority<'a>(
        &mut self,
        at: Instant,
        i: usize,
        node: &Node,
        logs: impl Iterator<Item = &'a Log> + Clone,
        majority: usize,
    ) {
        let Some(checked) = self.majority_checked.get_mut(i) else {
            return;
        };
        let own = node.log();
        let commit = own.commit_index();
        if !self.final_commits || commit <= *checked {
            *checked = (*checked).min(commit);
            return;
        }
        let from = *checked + 1;
        *checked = commit;
        for index in from..=commit {
            let Some(stamp) = own.stamp_at(index) else {
                continue; // compacted here: checked when it was committed
            };
            let held = logs
                .clone()
                .filter(|log| index < log.start() || log.stamp_at(index) == Some(stamp))
                .count();
            if held >= majority {
                self.findings.count("committed_on_majority", false);
            } else {
                self.fail(
                    "committed_on_majority",
                    at,
                    vec![node.id().0],
                    format!(
                        "{} counts entry {index} committed, but only {held} node(s) hold it, fewer than a majority ({majority})",
                        node.id()
                    ),
                );
                return;
            }
        }
    }

    /// Node `i` goes down at `at`.
    pub fn on_down(&mut self, at: Instant, i: usize) {
        self.holders.down(i, at);
    }

    /// After node `i` took a step: checks what it newly committed.
    /// `log` is the whole history the node holds (its disk's copy: the node
    /// keeps only a window in memory).
    #[inline]
    pub fn after_step(&mut self, at: Instant, i: usize, node: &Node, log: &Log) {
        let rewrites = node.log().rewrites();
        if self.nodes.get(i).is_none_or(|t| t.unchanged(log, rewrites)) {
            return;
        }
        self.check_commits(at, i, node, log);
    }

    /// What node `i` committed (or un-committed) in its last step.
    #[inline(never)]
    fn check_commits(&mut self, at: Instant, i: usize, node: &Node, log: &Log) {
        let Some(track) = self.nodes.get_mut(i) else {
            return;
        };
        let from = match track.observe(log, node.log().rewrites()) {
            Change::None | Change::Installed => return,
            Change::Grew { from } => from,
            Change::WentBack { before } => {
                return self.commit_went_back(at, node, before, log.commit_index());
            }
            Change::Replaced { index } => {
                return self.fail(
                    "commit_stable",
                    at,
                    vec![node.id().0],
                    format!(
                        "{}'s committed entry {index} changed without a rewrite",
                        node.id()
                    ),
                );
            }
            Change::Rewritten => {
                self.stats.rewrites += 1;
                if self.final_commits {
                    self.fail(
                        "commit_stable",
                        at,
                        vec![node.id().0],
                        format!("{} rewrote committed entries under quorum", node.id()),
                    );
                } else {
                    self.findings.count("commit_stable", false);
                }
                return;
            }
        };
        self.findings.count("commit_monotonic", false);
        self.findings.count("commit_stable", false);
        for index in from..=log.commit_index() {
            let Some(entry) = log.get(index) else { break };
            self.newly_committed(at, i, node, entry);
        }
    }

    /// One entry node `i` committed: in its client's order there, and in the one
    /// history (under `quorum`, or without partitions).
    fn newly_committed(&mut self, at: Instant, i: usize, node: &Node, entry: &Entry) {
        let index = entry.index;
        let here = (entry.stamp(), entry.id);
        if let Some(Err(o)) = self.nodes.get_mut(i).map(|t| t.take(entry)) {
            self.stats.duplicates += u64::from(o.seq < o.expected);
            return self.fail(
                "no_duplicate",
                at,
                vec![node.id().0],
                format!(
                    "{} committed message {} of client {} at {} where it expected number {}",
                    node.id(),
                    o.seq,
                    o.client,
                    o.index,
                    o.expected
                ),
            );
        }
        if !entry.is_marker() {
            self.findings.count("no_duplicate", false);
            let top = self.committed_seq.entry(entry.id.client).or_default();
            *top = (*top).max(entry.id.seq);
        }
        let slot = usize::try_from(index - 1).unwrap_or(usize::MAX);
        match self.history.get(slot) {
            Some(known) if *known == here => {
                self.holders.committed(slot, i, at);
                self.findings.count("committed_agreement", false);
            }
            Some(known) => {
                let known = *known;
                if self.strict {
                    self.fail(
                        "committed_agreement",
                        at,
                        vec![node.id().0],
                        format!(
                            "{} committed #{index} as {} (stamp {}) but the history has {} (stamp {}) there",
                            node.id(),
                            here.1,
                            here.0,
                            known.1,
                            known.0
                        ),
                    );
                    let why = self.holders.all_down_at_once(slot, at).map(|t| format!(
                            "every node that had committed entry {index} was down at {t}: a leader that never heard of it served (bully and ring commit on the live followers)"
                        )).or_else(|| self.unsynced_loss.as_ref().map(|(_, why)| why.clone()));
                    if let Some(why) = why {
                        self.findings.explain_last(why.clone());
                        self.loss_explained.get_or_insert(why);
                        // When the holders come back the two branches are
                        // merged, as after a partition: from now on the run
                        // counts divergence, and the end judges the history
                        // the live nodes converged on.
                        self.strict = false;
                    }
                } else {
                    self.stats.divergent_commits += 1;
                }
            }
            None if slot == self.history.len() => {
                if !entry.is_marker() {
                    self.stats.committed += 1;
                }
                self.history.push(here);
                self.holders.committed(slot, i, at);
            }
            None => {}
        }
    }

    /// A node restarted with its durable log: its commit index is what it was,
    /// unless its machine lost power (`lost_power`): then what no sync made
    /// stable is gone, the commit index it wrote last among it (a majority
    /// holds what was committed), and the check is excused.
    pub fn on_restart(&mut self, at: Instant, i: usize, node: &Node, log: &Log, lost_power: bool) {
        self.holders.up(i, at);
        let Some(track) = self.nodes.get_mut(i) else {
            return;
        };
        match track.observe(log, node.log().rewrites()) {
            Change::WentBack { .. } if lost_power => self.findings.count("commit_monotonic", true),
            Change::WentBack { before } => {
                self.commit_went_back(at, node, before, log.commit_index());
            }
            _ => self.findings.count("commit_monotonic", false),
        }
    }

    /// Compacted away at the leader: client `c`'s stream goes on from `first`.
    fn history_starts(&mut self, c: usize, first: u64) {
        if let Some(view) = self.clients.get_mut(c) {
            view.seen = view.seen.max(first.saturating_sub(1));
        }
    }

    fn commit_went_back(&mut self, at: Instant, node: &Node, before: u64, now: u64) {
        self.fail(
            "commit_monotonic",
            at,
            vec![node.id().0],
            format!(
                "{}'s commit index went back from {before} to {now} without a rewrite",
                node.id()
            ),
        );
    }

    /// Per client (index from 0), the highest message number it was told
    /// is committed.
    pub fn clients_acked(&self) -> Vec<u64> {
        self.clients.iter().map(|c| c.acked).collect()
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
                view.seen = e.index;
                let slot = usize::try_from(e.index.saturating_sub(1)).unwrap_or(usize::MAX);
                let matches = self.history.get(slot) == Some(&(e.stamp(), e.id));
                if e.index != expected || (!matches && self.strict) {
                    self.stats.order_violations += 1;
                    self.fail(
                        "client_order",
                        at,
                        Vec::new(),
                        format!(
                            "c{id} saw index {} ({}, epoch {}) but expected index {expected}{}",
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
                    // In order, but from the history that replaced a lost entry.
                    if e.index == expected {
                        if let Some(why) = self.loss_explained.clone() {
                            self.findings.explain_last(why);
                        }
                    }
                } else {
                    self.findings.count("client_order", false);
                }
            }
            ClientOutput::LeaderChanged { .. } => self.stats.leader_changes += 1,
            ClientOutput::HistoryStarts { first } => self.history_starts(c, *first),
            ClientOutput::Rewritten { from } => {
                self.stats.client_rewrites += 1;
                let Some(view) = self.clients.get_mut(c) else {
                    return;
                };
                // The stream starts again at `from`: a contiguous slice of the
                // merged history from there.
                view.seen = view.seen.min(from.saturating_sub(1));
                if self.final_commits {
                    self.fail(
                        "client_order",
                        at,
                        Vec::new(),
                        format!(
                            "c{id} was told its history was rewritten from {from} under quorum"
                        ),
                    );
                }
            }
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

    /// Judges one live node at the end: has it committed the one history, and
    /// every acknowledged message?
    fn judge_node(
        &mut self,
        at: Instant,
        (node, log): (&Node, &Log),
        (total, tip): (u64, Option<Stamp>),
        acked_ids: &[(u64, u64)],
        settled: bool,
    ) {
        let committed = log.committed();
        // What was compacted away counts too, numbered as it was.
        let mut top: BTreeMap<u64, u64> = log
            .summary()
            .clients
            .into_iter()
            .map(|(c, (seq, _))| (c, seq))
            .collect();
        for e in committed.iter().filter(|e| !e.is_marker()) {
            let t = top.entry(e.id.client).or_default();
            *t = (*t).max(e.id.seq);
        }
        let lost: u64 = acked_ids
            .iter()
            .map(|(client, acked)| acked.saturating_sub(top.get(client).copied().unwrap_or(0)))
            .sum();
        if settled {
            let commit = log.commit_index();
            let other = tip.is_some() && log.stamp_at(total) != tip;
            if commit < total || other {
                self.fail(
                    "logs_converge",
                    at,
                    vec![node.id().0],
                    format!(
                        "{} committed {commit} of {total} entries by the end{}",
                        node.id(),
                        if other { ", on another branch" } else { "" }
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
        let live: Vec<(&Node, &Log)> = (0..world.len())
            .filter_map(|i| Some((world.node(i)?, world.history(i)?)))
            .collect();
        // The one history: the first committer's under `quorum` (or without
        // partitions); otherwise whatever the live nodes converged on, judged by
        // its longest copy, whose last stamp stands for all of it.
        let longest = live
            .iter()
            .map(|(_, log)| (log.commit_index(), log.stamp_at(log.commit_index())))
            .max_by_key(|(c, _)| *c);
        let (total, tip) = if self.strict {
            (self.history.len() as u64, None)
        } else {
            longest.unwrap_or((0, None))
        };
        // Acked messages: (client, seq) for every seq up to each client's ack.
        let mut acked_ids: Vec<(u64, u64)> = Vec::new();
        for (c, v) in self.clients.iter().enumerate() {
            acked_ids.push((u64::from(crate::clients::number(c)), v.acked));
        }
        for node in &live {
            self.judge_node(at, *node, (total, tip), &acked_ids, settled);
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
