//! The application on the simulated nodes: one [`Replica`] per node, built
//! from the committed history on that node's simulated disk, reset when the
//! node's process dies (it resumes from the last snapshot it saved, which
//! outlives the process as a file would), proposing while its node leads.

use super::spec::{Acked, AppNode, AppView, Invariant, Proposing, SimApp};
use crate::findings::{CheckCount, Violation};
use ringleader_core::app::{AppSnapshot, Replica};
use ringleader_core::log::Log;
use ringleader_core::{Instant, Node, NodeId, ProposalError, Role};
use std::time::Duration;

/// Most proposals a node's application has awaiting their outcome.
const IN_FLIGHT_MAX: usize = 256;
/// Applications stop proposing this long before the end, so the run ends
/// with every proposal settled.
const QUIET: Duration = Duration::from_secs(10);

/// What the world tells the application host of one server.
pub(crate) struct SlotFacts<'a> {
    pub(crate) id: NodeId,
    /// How many times its process started.
    pub(crate) life: u64,
    /// Its node, while its process runs and is not paused.
    pub(crate) node: Option<&'a Node>,
    /// Its clock now.
    pub(crate) local_now: Instant,
    /// What its disk holds (the committed history the application reads).
    pub(crate) history: &'a Log,
}

/// The application as the world drives it, whatever its type.
pub(crate) trait AppHost {
    /// After an event: each node's application follows its history, your
    /// invariants are checked, and what the applications propose is returned
    /// as (server, ticket, payload).
    fn after_event(
        &mut self,
        now: Instant,
        end: Instant,
        slots: &[SlotFacts<'_>],
        clients_acked: &[u64],
    ) -> Vec<(usize, u64, Box<[u8]>)>;
    /// Server `i`'s node told a proposal's outcome.
    fn outcome(&mut self, now: Instant, i: usize, ticket: u64, outcome: Result<u64, ProposalError>);
    /// What simulated client `client` (from 1) writes as its message `seq`:
    /// `None`, it chats.
    fn client_write(&self, client: u32, seq: u64) -> Option<Vec<u8>>;
    /// The snapshots the applications saved since the last call, as (server,
    /// snapshot): each node is told of its own (as a real node's `Follower`
    /// tells it), to send to a follower behind its retained log.
    fn take_saved(&mut self) -> Vec<(usize, AppSnapshot)>;
    /// The index after which server `i`'s disk may not compact: the newest
    /// snapshot its application saved (0: none yet), as a real node's
    /// `Follower` sets it.
    fn floor(&self, i: usize) -> u64;
    /// At the end: the last checks, and everything found.
    fn finish(
        &mut self,
        slots: &[SlotFacts<'_>],
    ) -> (Vec<Violation>, Vec<(&'static str, CheckCount)>);
}

struct NodeApp<S> {
    replica: Replica<S>,
    life: u64,
    /// The newest snapshot saved (outlives the process).
    saved: Option<AppSnapshot>,
    next_propose: Instant,
    proposed: u64,
    in_flight: std::collections::BTreeMap<u64, Vec<u8>>,
    /// The life in which it was found unable to follow (reported once).
    gap_reported: Option<u64>,
}

pub(super) struct Host<S: SimApp> {
    apps: Vec<NodeApp<S>>,
    every: Duration,
    snapshot_every: u64,
    invariants: Vec<(&'static str, Invariant<S>, CheckCount, bool)>,
    acked: Vec<Acked>,
    next_ticket: u64,
    violations: Vec<Violation>,
    rewrites: u64,
    /// Snapshots saved and not yet told to their nodes.
    saved_news: Vec<(usize, AppSnapshot)>,
    /// Times a replica went on from a snapshot its leader sent.
    installs: u64,
}

impl<S: SimApp> Host<S> {
    pub(super) fn new(
        n: usize,
        every: Duration,
        snapshot_every: u64,
        invariants: Vec<(&'static str, Invariant<S>)>,
    ) -> Self {
        Host {
            apps: (0..n)
                .map(|_| NodeApp {
                    replica: Replica::new(S::default(), snapshot_every),
                    life: 0,
                    saved: None,
                    next_propose: Instant::ZERO,
                    proposed: 0,
                    in_flight: Default::default(),
                    gap_reported: None,
                })
                .collect(),
            every,
            snapshot_every,
            invariants: invariants
                .into_iter()
                .map(|(name, f)| (name, f, CheckCount::default(), false))
                .collect(),
            acked: Vec::new(),
            next_ticket: 1,
            violations: Vec::new(),
            rewrites: 0,
            saved_news: Vec::new(),
            installs: 0,
        }
    }

    /// Server `i`'s application catches up with its node's committed history.
    fn follow(&mut self, now: Instant, i: usize, facts: &SlotFacts<'_>) {
        let every = self.snapshot_every;
        let Some(app) = self.apps.get_mut(i) else {
            return;
        };
        if app.life != facts.life {
            // A new process: what the last one saved is where it starts.
            app.life = facts.life;
            app.in_flight.clear();
            app.replica = match app.saved.clone() {
                Some(s) => {
                    // The new process tells its node, as it would after a save.
                    self.saved_news.push((i, s.clone()));
                    Replica::resume(S::default(), every, s)
                        .unwrap_or_else(|_| Replica::new(S::default(), every))
                }
                None => Replica::new(S::default(), every),
            };
        }
        if facts.node.is_none() {
            return;
        }
        let log = facts.history;
        let commit = log.commit_index();
        let applied = app.replica.applied();
        if applied > 0
            && commit >= applied
            && log.stamp_at(applied) != Some(app.replica.applied_stamp())
        {
            let shared = log.shared_with(&app.replica.seen());
            self.rewrites += 1;
            if let Err(e) = app.replica.rewritten(shared + 1) {
                if app.gap_reported != Some(app.life) {
                    app.gap_reported = Some(app.life); // stuck until it restarts
                    self.violations.push(violation(
                        now,
                        facts.id,
                        "app_follows_history",
                        e.to_string(),
                    ));
                }
                return;
            }
        }
        while app.replica.applied() < commit {
            let next = app.replica.applied() + 1;
            if next < log.start() {
                let sent = log.app_snapshot().filter(|a| a.bridges(next, log.start()));
                if let Some(sent) = sent {
                    // Its leader's state, sent with the log's snapshot.
                    if app.replica.install(AppSnapshot::clone(sent)).is_ok() {
                        self.installs += 1;
                        continue;
                    }
                }
                if let Err(e) = app.replica.compacted(log.start()) {
                    if app.gap_reported != Some(app.life) {
                        // Once per life: it stays stuck until it restarts.
                        // A node takes its leader's log snapshot only with
                        // the application's that reaches it: not explained.
                        app.gap_reported = Some(app.life);
                        let v = violation(now, facts.id, "app_follows_history", e.to_string());
                        self.violations.push(v);
                    }
                }
                return;
            }
            let batch = log.entries_from(next, 256);
            if batch.is_empty() {
                return;
            }
            for e in batch.iter().take_while(|e| e.index <= commit) {
                if app.replica.apply(e).is_err() {
                    return;
                }
            }
        }
        if app.replica.latest_snapshot().map(|s| s.index) != app.saved.as_ref().map(|s| s.index) {
            app.saved = app.replica.latest_snapshot().cloned();
            self.saved_news.extend(app.saved.clone().map(|s| (i, s)));
        }
    }

    /// What server `i`'s application proposes now, if its node leads.
    fn propose(
        &mut self,
        now: Instant,
        end: Instant,
        i: usize,
        facts: &SlotFacts<'_>,
    ) -> Option<(usize, u64, Box<[u8]>)> {
        let node = facts.node?;
        let app = self.apps.get_mut(i)?;
        let leads = node.leads_at(facts.local_now) && node.serving();
        if !leads
            || now < app.next_propose
            || now + QUIET >= end
            || app.in_flight.len() >= IN_FLIGHT_MAX
        {
            return None;
        }
        app.next_propose = now + self.every;
        app.proposed += 1;
        let turn = Proposing {
            n: app.proposed,
            node: facts.id,
            epoch: node.leadership().epoch,
        };
        let payload = app.replica.state().proposal(&turn)?;
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        app.in_flight.insert(ticket, payload.clone());
        Some((i, ticket, payload.into_boxed_slice()))
    }

    fn check(&mut self, now: Instant, slots: &[SlotFacts<'_>], clients_acked: &[u64]) {
        let view = AppView {
            now,
            nodes: slots
                .iter()
                .zip(&self.apps)
                .map(|(f, app)| {
                    let lead = f.node.map(Node::leadership);
                    AppNode {
                        id: f.id,
                        replica: f.node.map(|_| &app.replica),
                        role: lead.map_or(Role::Follower, |l| l.role),
                        fenced: f.node.is_some_and(|n| n.fenced_at(f.local_now)),
                        epoch: lead.map_or(0, |l| l.epoch),
                        commit: f.node.map_or(0, |n| n.log().commit_index()),
                    }
                })
                .collect(),
            acked: &self.acked,
            clients_acked,
        };
        for (name, check, count, failed) in &mut self.invariants {
            if *failed {
                continue; // the first failure is the story; later ones follow from it
            }
            count.checked += 1;
            if let Err(detail) = check(&view) {
                *failed = true;
                self.violations.push(Violation {
                    invariant: name,
                    at_ms: now.as_millis(),
                    nodes: Vec::new(),
                    detail,
                    explained_by: None,
                });
            }
        }
    }
}

fn violation(now: Instant, node: NodeId, invariant: &'static str, detail: String) -> Violation {
    Violation {
        invariant,
        at_ms: now.as_millis(),
        nodes: vec![node.0],
        detail,
        explained_by: None,
    }
}

impl<S: SimApp> AppHost for Host<S> {
    fn after_event(
        &mut self,
        now: Instant,
        end: Instant,
        slots: &[SlotFacts<'_>],
        clients_acked: &[u64],
    ) -> Vec<(usize, u64, Box<[u8]>)> {
        for (i, facts) in slots.iter().enumerate() {
            self.follow(now, i, facts);
        }
        self.check(now, slots, clients_acked);
        slots
            .iter()
            .enumerate()
            .filter_map(|(i, facts)| self.propose(now, end, i, facts))
            .collect()
    }

    fn client_write(&self, client: u32, seq: u64) -> Option<Vec<u8>> {
        S::client_write(client, seq)
    }

    fn take_saved(&mut self) -> Vec<(usize, AppSnapshot)> {
        std::mem::take(&mut self.saved_news)
    }

    fn floor(&self, i: usize) -> u64 {
        self.apps
            .get(i)
            .and_then(|a| a.saved.as_ref())
            .map_or(0, |s| s.index)
    }

    fn outcome(
        &mut self,
        now: Instant,
        i: usize,
        ticket: u64,
        outcome: Result<u64, ProposalError>,
    ) {
        let Some(app) = self.apps.get_mut(i) else {
            return;
        };
        let Some(payload) = app.in_flight.remove(&ticket) else {
            return;
        };
        if let Ok(index) = outcome {
            let node = NodeId(u32::try_from(i + 1).unwrap_or(u32::MAX));
            self.acked.push(Acked {
                node,
                index,
                payload,
                at: now,
            });
        }
    }

    fn finish(
        &mut self,
        slots: &[SlotFacts<'_>],
    ) -> (Vec<Violation>, Vec<(&'static str, CheckCount)>) {
        // Nothing acknowledged is lost: every acknowledged proposal is in the
        // committed history of every node that holds that index.
        let mut kept = CheckCount::default();
        let mut missing: Vec<(&Acked, NodeId)> = Vec::new();
        for a in &self.acked {
            for f in slots.iter().filter(|f| f.node.is_some()) {
                let log = f.history;
                if a.index > log.commit_index() || a.index < log.start() {
                    kept.excused += 1;
                    continue;
                }
                kept.checked += 1;
                let entry = log.entries_from(a.index, 1).first().cloned();
                if entry.as_ref().map(|e| e.payload.as_ref()) != Some(a.payload.as_slice()) {
                    missing.push((a, f.id));
                    break;
                }
            }
        }
        if let Some((first, holder)) = missing.first() {
            // One finding, counted: the first lost acknowledgement is the story.
            self.violations.push(Violation {
                invariant: "app_acked_kept",
                at_ms: first.at.as_millis(),
                nodes: vec![first.node.0, holder.0],
                detail: format!(
                    "{} acknowledged proposals are not in every history that holds their index; \
                     the first: {}'s at index {} is not what {holder} holds there",
                    missing.len(),
                    first.node,
                    first.index
                ),
                explained_by: (self.rewrites > 0).then(|| {
                    "a healed split brain under bully/ring rewrote committed entries (a documented limit)"
                        .to_owned()
                }),
            });
        }
        let mut checks: Vec<(&'static str, CheckCount)> = self
            .invariants
            .iter()
            .map(|(name, _, count, _)| (*name, *count))
            .collect();
        checks.push(("app_acked_kept", kept));
        // Not a check: how often a replica followed a rewritten history.
        let followed = CheckCount {
            checked: self.rewrites,
            excused: 0,
        };
        checks.push(("app_rewrites_followed", followed));
        // Not a check either: how often a replica went on from its leader's state.
        let installed = CheckCount {
            checked: self.installs,
            excused: 0,
        };
        checks.push(("app_snapshots_installed", installed));
        (std::mem::take(&mut self.violations), checks)
    }
}
