//! The discovery and failure-detection invariants.
//!
//! With `A` the announce interval, `H` the heartbeat interval, `F` the failure timeout
//! (each converted to virtual time at the slowest drift the node's clock ever had)
//! and `D` the network's maximum delay (reordering included):
//!
//! - `discovery`: two nodes up since `t` hold each other alive by `t + A + D`.
//! - `rejoin`: after a node restarts at `t`, every node up holds its new life alive by `t + A + D`.
//! - `heal`: after a partition heals at `t`, reconnected nodes hold each other alive by `t + A + D`.
//! - `crash_detection`: after a crash at `t`, every node up has it dead (or never
//!   knew it) by `t + F + H + D`. Holds under any loss: loss only makes it sooner.
//! - `leave_detection`: after a graceful leave at `t`, every node up has it as left by `t + D`.
//! - `false_death` (safety): a node never declares a member dead while that member
//!   is up and every message between the two in the last `F` (at the fastest drift
//!   the declarer's clock ever had) got through.
//!
//! The liveness bounds hold when no message between the two nodes was lost or cut in
//! the window; under loss `p` with `k = F / H` heartbeats per failure timeout, a false
//! suspicion needs `k` heartbeats lost in a row (probability about `p^k` per window:
//! with the defaults `k = 5`, at 5 % loss about 3 in 10 million).

use super::observed::Observed;
use crate::clock::virtual_duration;
use crate::findings::Findings;
use crate::findings::{CheckCount, Violation};
use crate::queue::EventQueue;
use ringleader_core::{Config, Incarnation, Instant, MemberState, NodeId};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `observer` must hold `subject`'s life alive.
    Sees(&'static str),
    /// `observer` must not hold `subject`'s crashed life alive.
    Detects,
    /// `observer` must hold `subject`'s life as left.
    SeesLeft,
}

#[derive(Clone, Copy, Debug)]
struct Obligation {
    kind: Kind,
    created: Instant,
    observer: usize,
    subject: usize,
    observer_life: Option<Incarnation>,
    subject_life: Incarnation,
}

/// Tracks what each node must know by when, and checks it.
#[derive(Debug)]
pub struct DiscoveryChecker {
    nodes: usize,
    announce: Duration,
    heartbeat: Duration,
    failure: Duration,
    max_delay: Duration,
    min_ppm: Vec<i32>,
    max_ppm: Vec<i32>,
    /// `disturbed[from * nodes + to]`: last time a message on that link was
    /// dropped, or the path was cut or mended.
    disturbed: Vec<Option<Instant>>,
    /// `cut[from * nodes + to]`: the path is cut now. Messages that wait for a
    /// connection over it are not dropped, yet do not get through either.
    cut: Vec<bool>,
    pending: EventQueue<Obligation>,
    findings: Findings,
}

fn id(i: usize) -> u32 {
    i as u32 + 1
}

impl DiscoveryChecker {
    /// A checker for `nodes` nodes configured with `config` on a network whose
    /// longest delay is `max_delay`.
    pub fn new(nodes: usize, config: &Config, max_delay: Duration) -> Self {
        let findings = Findings::new(&[
            "discovery",
            "rejoin",
            "heal",
            "crash_detection",
            "leave_detection",
            "false_death",
        ]);
        DiscoveryChecker {
            nodes,
            announce: config.announce_interval,
            heartbeat: config.heartbeat_interval,
            failure: config.failure_timeout,
            max_delay,
            min_ppm: vec![0; nodes],
            max_ppm: vec![0; nodes],
            disturbed: vec![None; nodes * nodes],
            cut: vec![false; nodes * nodes],
            pending: EventQueue::default(),
            findings,
        }
    }

    fn slowest(&self, i: usize) -> i32 {
        self.min_ppm.get(i).copied().unwrap_or(0)
    }

    fn fastest(&self, i: usize) -> i32 {
        self.max_ppm.get(i).copied().unwrap_or(0)
    }

    fn disturbed_since(&self, a: usize, b: usize, since: Instant) -> bool {
        let at = |from: usize, to: usize| {
            self.disturbed
                .get(from * self.nodes + to)
                .copied()
                .flatten()
        };
        let cut = |from: usize, to: usize| self.cut.get(from * self.nodes + to) == Some(&true);
        at(a, b).is_some_and(|t| t >= since)
            || at(b, a).is_some_and(|t| t >= since)
            || cut(a, b)
            || cut(b, a)
    }

    /// The path from `from` to `to` was cut (`up` false) or mended at `at`.
    pub fn on_path(&mut self, at: Instant, from: usize, to: usize, up: bool) {
        if let Some(cut) = self.cut.get_mut(from * self.nodes + to) {
            if *cut == up {
                *cut = !up;
                self.on_drop(at, from, to);
            }
        }
    }

    /// A message from `from` to `to` was lost or cut at `at`.
    pub fn on_drop(&mut self, at: Instant, from: usize, to: usize) {
        if let Some(slot) = self.disturbed.get_mut(from * self.nodes + to) {
            *slot = Some(at);
        }
    }

    /// Node `i`'s clock now drifts by `ppm`.
    pub fn on_drift(&mut self, i: usize, ppm: i32) {
        if let (Some(lo), Some(hi)) = (self.min_ppm.get_mut(i), self.max_ppm.get_mut(i)) {
            *lo = (*lo).min(ppm);
            *hi = (*hi).max(ppm);
        }
    }

    fn sees_deadline(&self, a: usize, b: usize, at: Instant) -> Instant {
        let ppm = self.slowest(a).min(self.slowest(b));
        at + virtual_duration(self.announce, ppm) + self.max_delay
    }

    fn oblige(
        &mut self,
        kind: Kind,
        at: Instant,
        deadline: Instant,
        observer: usize,
        subject: usize,
        world: &dyn Observed,
    ) {
        let Some(subject_life) = world.node(subject).map(|n| n.info().incarnation) else {
            return;
        };
        let observer_life = world.node(observer).map(|n| n.info().incarnation);
        self.pending.push(
            deadline,
            Obligation {
                kind,
                created: at,
                observer,
                subject,
                observer_life,
                subject_life,
            },
        );
    }

    /// Node `i` came up at `at` (`first` on its first start).
    pub fn on_up(&mut self, at: Instant, i: usize, first: bool, world: &dyn Observed) {
        let name = if first { "discovery" } else { "rejoin" };
        for j in (0..world.len()).filter(|&j| j != i && world.node(j).is_some()) {
            let deadline = self.sees_deadline(i, j, at);
            // A newcomer's discovery of the others is "discovery" too; a restarted
            // node being seen again by the others is "rejoin".
            self.oblige(Kind::Sees(name), at, deadline, j, i, world);
            self.oblige(Kind::Sees("discovery"), at, deadline, i, j, world);
        }
    }

    /// Nodes `a` and `b` can reach each other again, both ways, from `at`.
    pub fn on_reconnect(&mut self, at: Instant, a: usize, b: usize, world: &dyn Observed) {
        if world.node(a).is_none() || world.node(b).is_none() {
            return;
        }
        let deadline = self.sees_deadline(a, b, at);
        self.oblige(Kind::Sees("heal"), at, deadline, a, b, world);
        self.oblige(Kind::Sees("heal"), at, deadline, b, a, world);
    }

    /// Node `i` is about to crash (`left`: it left gracefully) at `at`.
    pub fn on_down(&mut self, at: Instant, i: usize, left: bool, world: &dyn Observed) {
        for j in (0..world.len()).filter(|&j| j != i && world.node(j).is_some()) {
            if left {
                self.oblige(Kind::SeesLeft, at, at + self.max_delay, j, i, world);
            } else {
                let f = virtual_duration(self.failure, self.slowest(j));
                let deadline = at + f + self.heartbeat + self.max_delay;
                self.oblige(Kind::Detects, at, deadline, j, i, world);
            }
        }
    }

    /// `observer` declared `subject` (in life `life`) dead at `at`.
    pub fn on_died(
        &mut self,
        at: Instant,
        observer: usize,
        subject: NodeId,
        life: Incarnation,
        world: &dyn Observed,
    ) {
        let Some(s) = (subject.0 as usize).checked_sub(1) else {
            return;
        };
        let Some(s_node) = world.node(s) else {
            return self.findings.count("false_death", false);
        };
        if s_node.info().incarnation != life {
            return self.findings.count("false_death", false);
        }
        let window = virtual_duration(self.failure, self.fastest(observer));
        let from = at - window;
        let both_up = world.up_since(s).is_some_and(|t| t <= from)
            && world.up_since(observer).is_some_and(|t| t <= from);
        if !both_up || self.disturbed_since(observer, s, from) {
            return self.findings.count("false_death", true);
        }
        self.findings.count("false_death", false);
        self.findings.fail(
            "false_death",
            at,
            vec![id(observer), subject.0],
            format!(
                "n{} declared {subject} dead although it was up and every message between them since {from} got through",
                id(observer)
            ),
        );
    }

    /// Evaluates every obligation due before `now`.
    #[inline]
    pub fn check_due(&mut self, now: Instant, world: &dyn Observed) {
        // Asked before every event; something falls due now and then.
        if self.pending.peek_time().is_some_and(|t| t < now) {
            self.evaluate_due(now, world);
        }
    }

    #[inline(never)]
    fn evaluate_due(&mut self, now: Instant, world: &dyn Observed) {
        while self.pending.peek_time().is_some_and(|t| t < now) {
            let Some((deadline, ob)) = self.pending.pop() else {
                break;
            };
            self.evaluate(deadline, ob, world);
        }
    }

    fn evaluate(&mut self, deadline: Instant, ob: Obligation, world: &dyn Observed) {
        let observer = world.node(ob.observer);
        let subject_life = world.node(ob.subject).map(|n| n.info().incarnation);
        let observer_life = observer.map(|n| n.info().incarnation);
        let view = observer.and_then(|n| n.member(NodeId(id(ob.subject))));
        let (o, s) = (id(ob.observer), id(ob.subject));
        match ob.kind {
            Kind::Sees(name) => {
                let holds = view
                    .is_some_and(|m| m.state.is_live() && m.info.incarnation >= ob.subject_life);
                // A bound that held is a pass whatever happened in its window; one
                // that did not hold is excused only by a fault in the window.
                let excused = !holds
                    && (observer_life != ob.observer_life
                        || subject_life != Some(ob.subject_life)
                        || self.disturbed_since(ob.observer, ob.subject, ob.created));
                self.findings.count(name, excused);
                if !excused && !holds {
                    let seen = view.map_or("unknown".to_owned(), |m| {
                        format!("{} #{}", m.state, m.info.incarnation)
                    });
                    self.findings.fail(name, deadline, vec![o, s], format!(
                        "by {deadline} n{o} should hold n{s}#{} alive (up since {}), but has it {seen}",
                        ob.subject_life, ob.created
                    ));
                }
            }
            Kind::Detects => {
                let excused = observer.is_none();
                self.findings.count("crash_detection", excused);
                let still_alive = view
                    .is_some_and(|m| m.state.is_live() && m.info.incarnation == ob.subject_life);
                if !excused && still_alive {
                    self.findings.fail(
                        "crash_detection",
                        deadline,
                        vec![o, s],
                        format!(
                            "n{s} crashed at {}, but by {deadline} n{o} still holds it {}",
                            ob.created,
                            view.map_or(MemberState::Alive, |m| m.state)
                        ),
                    );
                }
            }
            Kind::SeesLeft => {
                let holds = view.is_none_or(|m| {
                    m.state == MemberState::Left || m.info.incarnation > ob.subject_life
                });
                let excused = !holds
                    && (observer_life != ob.observer_life
                        || self.disturbed_since(ob.observer, ob.subject, ob.created));
                self.findings.count("leave_detection", excused);
                if !excused && !holds {
                    self.findings.fail(
                        "leave_detection",
                        deadline,
                        vec![o, s],
                        format!(
                            "n{s} left at {}, but by {deadline} n{o} does not hold it as left",
                            ob.created
                        ),
                    );
                }
            }
        }
    }

    /// Counts of checks run and excused, by invariant.
    pub fn counts(&self) -> BTreeMap<&'static str, CheckCount> {
        self.findings.counts()
    }

    /// Every violation found so far.
    pub fn violations(&self) -> &[Violation] {
        self.findings.violations()
    }

    /// Hands over the findings.
    pub fn finish(self) -> (Vec<Violation>, BTreeMap<&'static str, CheckCount>) {
        self.findings.finish()
    }
}

#[cfg(test)]
mod tests;
