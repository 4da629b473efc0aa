//! The run loop: take the earliest item, check what fell due, handle it; at
//! the end, judge liveness and write the report.

use super::error::SimError;
use super::state::World;
use crate::findings::{CheckCount, Violation};
use crate::invariants::Observed;
use crate::report::Report;
use ringleader_core::Instant;
use std::time::Duration;

/// A stretch of virtual time in which more than [`BUSY_LOOP_EVENTS`] events
/// happen is a busy loop (nodes that answer each other as fast as messages
/// travel), not a workload: a heavy-fault run with clients has a few
/// thousand events in a virtual second. The run stops and says so instead of
/// running on (and growing) for ever.
const BUSY_LOOP_WINDOW: Duration = Duration::from_millis(100);
const BUSY_LOOP_EVENTS: u64 = 500_000;

/// How much busier than its heartbeats and announcements an idle node may be
/// (`idle_quiet`): replies to the leader's empty appends and the odd probe fit
/// in it; a node answering as fast as messages travel does not.
const IDLE_SLACK: f64 = 1.5;
/// The shortest idle stretch worth judging.
const IDLE_MIN: Duration = Duration::from_secs(2);

/// Messages a second an idle node of `members` configured with `config` may
/// send: `IDLE_SLACK × (members / heartbeat + 1 / announce)`, and under
/// `quorum` the lease: a renewal to every other voter each heartbeat interval.
pub(super) fn idle_budget(config: &ringleader_core::Config, members: usize) -> f64 {
    let heartbeat = config.heartbeat_interval.as_secs_f64();
    // `config` is the run's node configuration, whose voters are filled in.
    let lease = if config.election == ringleader_core::Algorithm::Quorum {
        config.voters.len().saturating_sub(1) as f64 / heartbeat
    } else {
        0.0
    };
    IDLE_SLACK * (members as f64 / heartbeat + 1.0 / config.announce_interval.as_secs_f64()) + lease
}

/// Whether `invariant` rests on what a node wrote surviving it (a vote, a
/// term, an acknowledged entry, a client's numbering): every one about the
/// log but the write-ahead check itself, and the election's safety.
fn rests_on_durability(invariant: &str) -> bool {
    let election = [
        "one_leader_per_epoch",
        "one_vote_per_term",
        "one_leader_at_a_time",
        "leader_agreement",
    ];
    invariant != "durable_before_ack"
        && (crate::invariants::REPLICATION_INVARIANTS.contains(&invariant)
            || election.contains(&invariant))
}

impl World<'_> {
    /// Runs to the end and reports.
    pub(super) fn run(mut self) -> Result<Report, SimError> {
        let wall = std::time::Instant::now();
        let mut window = (Instant::ZERO, 0u64);
        while let Some(at) = self.queue.peek_time() {
            if at > self.end {
                break;
            }
            let Some((at, item)) = self.queue.pop() else {
                break;
            };
            self.checker.check_due(at, &self.slots);
            self.election.check_due(at, &self.slots);
            self.now = at;
            self.handle(item);
            if self.app.is_some() {
                self.app_step();
            }
            if at >= window.0 + BUSY_LOOP_WINDOW {
                window = (at, self.counters.events);
            } else if self.counters.events - window.1 > BUSY_LOOP_EVENTS {
                self.busy_loop = Some(Violation {
                    invariant: "busy_loop",
                    at_ms: at.as_millis(),
                    nodes: Vec::new(),
                    detail: format!(
                        "more than {BUSY_LOOP_EVENTS} events in {BUSY_LOOP_WINDOW:?} of virtual time since {}: the run stops here",
                        window.0
                    ),
                    explained_by: None,
                });
                break;
            }
        }
        self.now = self.end;
        self.checker
            .check_due(self.end + Duration::from_micros(1), &self.slots);
        if let Some(e) = self.tracer.take_error() {
            return Err(SimError::Trace(e));
        }
        Ok(self.report(wall.elapsed().as_millis() as u64))
    }

    /// `idle_quiet`: once the cluster is idle (no fault, no client message, and
    /// everything they caused settled), each node that was up all along sends at
    /// most `IDLE_SLACK × (members / heartbeat + 1 / announce)` messages a second.
    fn judge_idle(&self) -> (Vec<Violation>, CheckCount) {
        let mut found = Vec::new();
        let mut count = CheckCount::default();
        let idle = self.end.saturating_since(self.idle_from);
        if idle < IDLE_MIN {
            return (found, count);
        }
        let secs = idle.as_secs_f64();
        let budget = self.idle_budget;
        for (i, slot) in self.slots.0.iter().enumerate() {
            if slot.node.is_none() || slot.up_since > self.idle_from {
                count.excused += 1;
                continue;
            }
            count.checked += 1;
            let sent = self.idle_sent.get(i).copied().unwrap_or(0);
            let rate = sent as f64 / secs;
            if rate > budget {
                found.push(Violation {
                    invariant: "idle_quiet",
                    at_ms: self.end.as_millis(),
                    nodes: vec![slot.id.0],
                    detail: format!(
                        "{} sent {rate:.0} messages a second while the cluster was idle (from {} on): more than {budget:.0}",
                        slot.id, self.idle_from
                    ),
                    explained_by: None,
                });
            }
        }
        (found, count)
    }

    /// Judges what is judged at the end and gathers every finding.
    fn report(mut self, wall_ms: u64) -> Report {
        let digest = self.tracer.digest().hex();
        let leaders = (0..self.slots.0.len())
            .filter_map(|i| self.slots.node(i))
            .map(|n| (n.id().0, n.leadership().leader.map(|l| l.0)))
            .collect();
        let algorithm = self
            .slots
            .0
            .first()
            .map(|s| s.config.election.to_string())
            .unwrap_or_default();
        let app_findings = self.app.take().map(|mut app| app.finish(&self.app_facts()));
        let (idle_violations, idle_checks) = self.judge_idle();
        let (mut violations, mut checks) = self.checker.finish();
        violations.extend(self.busy_loop.take());
        violations.extend(idle_violations);
        checks.insert("idle_quiet", idle_checks);
        let (more, more_checks, election_stats) = self.election.finish(self.end);
        violations.extend(more);
        checks.extend(more_checks);
        let unacked: Vec<usize> = self.clients.iter().map(|c| c.client.unacked()).collect();
        let settled = self.end >= self.last_disturbance + self.drain_bound;
        let clients = self.clients.len() as u32;
        // Without clients only leaders' markers are replicated: safety is still
        // checked as the run goes, liveness needs no judging.
        let judge_liveness = clients > 0 && settled;
        let unsynced_loss = self.replication.unsynced_loss().cloned();
        let (more, mut more_checks, replication) =
            self.replication
                .finish(self.end, &self.slots, &unacked, judge_liveness);
        if clients == 0 {
            more_checks.retain(|name, _| {
                !matches!(*name, "logs_converge" | "acked_durable" | "clients_drain")
            });
        }
        violations.extend(more);
        checks.extend(more_checks);
        if let Some((found, app_checks)) = app_findings {
            violations.extend(found);
            checks.extend(app_checks);
        }
        violations.sort_by_key(|v| v.at_ms);
        if let Some((at, why)) = &unsynced_loss {
            // What rests on durable writes no longer holds once a node lost
            // some it had counted on: named, not hidden.
            let after = violations
                .iter_mut()
                .filter(|v| v.at_ms >= at.as_millis() && v.explained_by.is_none())
                .filter(|v| rests_on_durability(v.invariant));
            for v in after {
                v.explained_by = Some(why.clone());
            }
        }
        let c = &self.counters;
        Report {
            seed: self.seed,
            nodes: self.slots.0.len() as u32,
            events: c.events,
            messages: c.messages,
            sent: c.sent,
            lost: c.lost,
            cut: c.cut,
            duplicated: c.duplicated,
            to_down_node: c.to_down,
            faults: c.faults,
            virtual_ms: self.end.as_millis(),
            wall_ms,
            digest,
            violations,
            checks,
            election: algorithm,
            election_stats,
            leaders,
            clients,
            replication,
        }
    }

    /// What the application host needs of every server.
    fn app_facts(&self) -> Vec<crate::app::host::SlotFacts<'_>> {
        self.slots
            .0
            .iter()
            .map(|slot| crate::app::host::SlotFacts {
                id: slot.id,
                life: slot.lives,
                node: slot.node.as_ref().filter(|_| slot.paused_until.is_none()),
                local_now: slot.clock.local(self.now),
                history: slot.disk.written_log(),
            })
            .collect()
    }

    /// After an event: the applications follow their nodes and propose.
    fn app_step(&mut self) {
        let Some(mut app) = self.app.take() else {
            return;
        };
        let acked = self.replication.clients_acked();
        let proposals = app.after_event(self.now, self.end, &self.app_facts(), &acked);
        let saved = app.take_saved();
        self.app = Some(app);
        for (i, snapshot) in saved {
            let snapshot = std::sync::Arc::new(snapshot);
            self.step(i, ringleader_core::Event::AppSnapshot { snapshot });
        }
        for (i, ticket, payload) in proposals {
            self.step(i, ringleader_core::Event::Propose { ticket, payload });
        }
    }
}
